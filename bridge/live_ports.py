"""The scenarios `python -m bridge.live` runs: each one a run on a real Temporal server and the same
run on the course's engine.

A scenario is (scene, what it shows, the server side, the course side). The server side drives a
`Live` run (workers of the ports named, the workflow, the SIGKILL, signals, queries, updates) and
returns what the server recorded; the course side runs the course's own workflow through its engine
under the same faults, in simulated time, and returns what it recorded. The ports are the bridge's
Temporal versions of the course's workflows (`PORTS`, by the names the worker takes).
"""
from __future__ import annotations

import asyncio

from bridge.live import Side, course_side
from bridge.order_workflow import FulfillOrder
from bridge.saga_workflow import OrderSaga
from bridge.signals_workflow import CancellableOrder
from bridge.clock_workflow import FulfillOrderByClock
from bridge.soon import CancelSoon, ReviewSoon, SubscriptionSoon, VersionedSoonV1, VersionedSoonV2

PORTS = {"order": FulfillOrder, "clock": FulfillOrderByClock, "signals": CancellableOrder, "cancel": CancelSoon,
         "review": ReviewSoon, "subscription": SubscriptionSoon, "saga": OrderSaga, "v1": VersionedSoonV1,
         "v2": VersionedSoonV2}
WID = "order-1001"
# A new worker starts this long after a kill inside an activity: the attempt times out at 10 s anyway, and
# the workflow task after it then comes well past the 10 s in which the server still trusts the dead
# worker's sticky queue (as in the course's engine, whose activity takes its simulated seconds on top).
AFTER_KILL = 12.0


# -- ORDER #1001, killed after the card was charged (scenes 01, 02, 04, 07) ------------------------
async def order_on_server(live) -> Side:
    first = await live.worker("order", crash_after="ChargeCard")
    await live.start("fulfill_order", WID, "1001", 4200)
    await live.died(first)                     # SIGKILL: the card charged, the result never reported
    await asyncio.sleep(AFTER_KILL)
    await live.worker("order")
    return await live.side()


def order_on_course() -> Side:
    from simcore import orders
    from simcore.engine import Engine
    from simcore.faults import Crash, FaultPlan
    from simcore.sim import Sim
    sim = Sim(faults=FaultPlan(crashes=(Crash("ChargeCard", "after_effect"),)))
    engine = Engine(sim, [orders.fulfill_order], orders.KEYED_ACTIVITIES)
    engine.start(orders.fulfill_order, WID, "1001", 4200)
    sim.run()
    return course_side(sim, WID)


# -- scene 03: the fixed workflow reads ctx.now(); killed after ReserveInventory acted ---------------
async def clock_on_server(live) -> Side:
    first = await live.worker("clock", crash_after="ReserveInventory")
    await live.start("fulfill_order", WID, "1001", 4200)
    await live.died(first)
    await asyncio.sleep(AFTER_KILL)
    await live.worker("clock")
    return await live.side()


def clock_on_course() -> Side:
    """At today's time of day, as the server's run: workflow.now() and ctx.now() pick the same branch."""
    from datetime import datetime, timezone

    from simcore import orders
    from simcore.engine import Engine
    from simcore.faults import Crash, FaultPlan
    from simcore.scenarios import s03
    from simcore.sim import Sim
    sim = Sim(faults=FaultPlan(crashes=(Crash("ReserveInventory", "after_effect"),)), epoch=datetime.now(timezone.utc))
    engine = Engine(sim, [s03.fulfill_ctx_now], orders.KEYED_ACTIVITIES + (s03.ship_express, s03.ship_standard))
    engine.start(s03.fulfill_ctx_now, WID, "1001", 4200)
    sim.run()
    return course_side(sim, WID)


# -- scene 09: an update and a query while packing, the worker killed, a cancel signal while no
#    worker runs, a new worker refunds; a query after the end --------------------------------------
async def signals_on_server(live) -> Side:
    first = await live.worker("signals")
    handle = await live.start("cancellable_order", WID, "1001", 4200)
    await live.until(lambda t: "TimerStarted" in t, 30, "the packing timer")
    await asyncio.wait_for(handle.execute_update("change_address", "2 New Street"), 20)
    await asyncio.wait_for(handle.query("status"), 20)
    live.kill(first)
    await asyncio.sleep(1)   # as on the course's side: sent just after, the server may still hand the task
    await handle.signal("cancel", "customer changed mind")   # to the dead worker's poll (Started, TimedOut)
    await asyncio.sleep(1)
    await live.worker("signals")
    side = await live.side()
    await asyncio.wait_for(handle.query("status"), 20)       # a closed workflow, replayed to answer
    return side


def signals_on_course() -> Side:
    from simcore.engine import Engine
    from simcore.faults import FaultPlan, KillWorker
    from simcore.scenarios import s09
    from simcore.sim import Sim
    sim = Sim(faults=FaultPlan(workers=(KillWorker("worker-1", at=60),)), restart_delay=30)
    engine = Engine(sim, [s09.cancellable_order], s09.ACTIVITIES)
    engine.start(s09.cancellable_order, WID, "1001", 4200)
    engine.later(20, engine.update, WID, "change_address", "2 New Street")
    engine.later(40, engine.query, WID, "status")
    engine.later(61, engine.signal, WID, "cancel", "customer changed mind")   # (a second after the kill)
    sim.run(until=3 * 3600)
    engine.query(WID, "status")
    return course_side(sim, WID)


# -- scene 09: a cancellation request with no worker alive; the code refunds and ends cancelled -------
async def cancel_on_server(live) -> Side:
    first = await live.worker("cancel")
    handle = await live.start("cancel_soon", WID, "1001", 4200, 60.0)
    await live.until(lambda t: "TimerStarted" in t, 30, "the day to change one's mind")
    live.kill(first)
    await asyncio.sleep(0.5)   # as on the course's side (see signals_on_server)
    await handle.cancel()
    await asyncio.sleep(1)
    await live.worker("cancel")
    return await live.side()


def cancel_on_course() -> Side:
    from bridge.soon import cancel_soon
    from simcore import orders
    from simcore.engine import Engine
    from simcore.faults import FaultPlan, KillWorker
    from simcore.sim import Sim
    sim = Sim(faults=FaultPlan(workers=(KillWorker("worker-1", at=3.0),)), restart_delay=5.0)
    engine = Engine(sim, [cancel_soon], orders.KEYED_ACTIVITIES + (orders.refund_card_keyed,))
    engine.start(cancel_soon, WID, "1001", 4200, 60.0)
    engine.later(3.5, engine.cancel, WID, "customer")
    sim.run()
    return course_side(sim, WID)


# -- scene 08: the worker SIGKILLed while the workflow sleeps; the timer fires with no worker ------------
async def review_on_server(live) -> Side:
    first = await live.worker("review")
    await live.start("review_soon", WID, "1001", 8.0)
    await live.until(lambda t: "TimerStarted" in t, 30, "the timer")
    live.kill(first)
    await live.until(lambda t: "TimerFired" in t, 30, "the timer firing with no worker")
    await live.worker("review")
    return await live.side()


def review_on_course() -> Side:
    from bridge.soon import review_soon
    from simcore.engine import Engine
    from simcore.faults import FaultPlan, KillWorker
    from simcore.scenarios.s08 import ACTIVITIES
    from simcore.sim import Sim
    sim = Sim(faults=FaultPlan(workers=(KillWorker("worker-1", at=4.0),)), restart_delay=10.0)
    engine = Engine(sim, [review_soon], ACTIVITIES)
    engine.start(review_soon, WID, "1001", 8.0)
    sim.run()
    return course_side(sim, WID)


# -- scene 08: a subscription continuing as new every 2 months; the worker SIGKILLed in the second run --
async def subscription_on_server(live) -> Side:
    first = await live.worker("subscription")
    await live.start("subscription_soon", "sub-42", "c-42", 1, 4, 2.0, 2)
    deadline = asyncio.get_running_loop().time() + 60
    while (await live.chain()).count("TimerStarted") < 3:   # the first month of run 2 is asleep
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("[subscription] run 2 never started its first month")
        await asyncio.sleep(0.1)
    live.kill(first)
    await asyncio.sleep(1)
    await live.worker("subscription")
    side = await live.side()
    return Side(await live.chain(), side.result, side.statement_cents, side.effects)


def subscription_on_course() -> Side:
    from bridge.soon import subscription_soon
    from simcore import orders
    from simcore.engine import Engine
    from simcore.faults import FaultPlan, KillWorker
    from simcore.sim import Sim
    sim = Sim(faults=FaultPlan(workers=(KillWorker("worker-1", at=12.0),)), restart_delay=1.0)
    engine = Engine(sim, [subscription_soon], orders.KEYED_ACTIVITIES)
    engine.start(subscription_soon, "sub-42", "c-42", 1, 4, 2.0, 2)
    sim.run()
    sides = [course_side(sim, "sub-42", run) for run in engine.runs("sub-42")]
    types = [t for n, side in enumerate(sides, 1) for t in [f"(run {n})"] + side.types]
    return Side(types, sides[-1].result, sim.world.statement_cents(), dict(sim.world.effects()))


# -- scene 11: v1 workers stopped and v2-patched ones started, with C past the change point (asleep on
#    its review timer) and A before it (in the kiln) ----------------------------------------------
async def patch_on_server(live) -> Side:
    v1 = await live.worker("v1")
    c = await live.start("versioned_soon", "C", "C", 4200, 1.0, 20.0)
    await live.until(lambda t: t.count("TimerStarted") == 2, 30, "C asleep after shipping")
    a = await live.start("versioned_soon", "A", "A", 4200, 15.0, 1.0)
    await live.until(lambda t: "TimerStarted" in t, 30, "A in the kiln")
    live.kill(v1)                              # the deploy: v1 stops, v2 (patched) starts
    await live.worker("v2")
    sides = []
    for handle in (a, c):
        live.handle = handle
        sides.append(await live.side())
    return _both(*sides)


def patch_on_course() -> Side:
    from bridge.soon import versioned_soon_v1, versioned_soon_v2
    from simcore.engine import Engine
    from simcore.scenarios.versions import ACTIVITIES
    from simcore.sim import Sim
    sim = Sim()
    engine = Engine(sim, [versioned_soon_v1], ACTIVITIES)
    engine.start(versioned_soon_v1, "C", "C", 4200, 1.0, 20.0)
    engine.later(9.0, engine.start, versioned_soon_v1, "A", "A", 4200, 15.0, 1.0)
    engine.deploy([versioned_soon_v2], at=13.0)
    sim.run()
    return _both(course_side(sim, "A"), course_side(sim, "C"))


# -- scene 10: ShipPackage refused for good; the compensations run in reverse, and the worker is
#    SIGKILLed after the refund acted, before it was recorded ----------------------------------------
async def saga_on_server(live) -> Side:
    first = await live.worker("saga", crash_after="RefundCard", refuse="ShipPackage")
    await live.start("order_saga", WID, "1001", 4200, "after", "stop", 0)
    await live.died(first)
    await asyncio.sleep(AFTER_KILL)
    await live.worker("saga", refuse="ShipPackage")
    return await live.side()


def saga_on_course() -> Side:
    from simcore.scenarios import s10
    run = s10.simulate(crash="refund_unrecorded")
    return course_side(run.sim, WID)


def _both(a: Side, c: Side) -> Side:
    """Two workflows' histories as one list, A's then C's; the world is the same for both."""
    return Side(["(order A)"] + a.types + ["(order C)"] + c.types, [a.result, c.result], c.statement_cents,
                c.effects)


SCENARIOS = {
    "order": ("01-07", "ORDER #1001, the worker SIGKILLed after the card was charged, a new worker finishes",
              order_on_server, order_on_course),
    "clock": ("03", "the fixed workflow reads ctx.now() (Temporal: workflow.now()) to choose the shipping; the "
              "worker SIGKILLed after ReserveInventory acted; the new worker's replay takes the same branch",
              clock_on_server, clock_on_course),
    "signals": ("09", "an update and a query while packing, the worker SIGKILLed, a cancel signal with no worker "
                "alive, a new worker refunds, a query after the end", signals_on_server, signals_on_course),
    "cancel": ("09", "a cancellation request (not a signal) while no worker runs; the code catches it, refunds, "
               "and the workflow ends cancelled", cancel_on_server, cancel_on_course),
    "subscription": ("08", "billed every 2 s for 4 months, continuing as new every 2 months; the worker SIGKILLed "
                     "in the second run", subscription_on_server, subscription_on_course),
    "review": ("08", "the worker SIGKILLed while the workflow sleeps (the month as 8 s); the timer fires with no "
               "worker; a new worker sends the review request", review_on_server, review_on_course),
    "saga": ("10", "ShipPackage refused for good: release, then refund, in reverse; the worker SIGKILLed after the "
             "refund acted and before it was recorded; a new worker finishes the compensation", saga_on_server,
             saga_on_course),
    "patch": ("11", "v1 workers stopped, v2 with a patch started: order A in the kiln takes FraudCheck live, "
              "order C, shipped under v1, replays the old path", patch_on_server, patch_on_course),
}
