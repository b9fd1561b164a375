"""Scene 10 · Sagas: undoing what can't be rolled back.

ORDER #1001 is charged, the mug reserved, the confirmation emailed; then ShipPackage fails for good
(InvalidAddress, not retryable: one attempt). Each step done registered its undo with a `Saga` (plain
workflow code, as Java's `io.temporal.workflow.Saga`), which runs them in reverse: release, refund. The
email has no undo, only a second email. The workflow then fails as the real Temporal run does: "order
failed, compensated: InvalidAddress: invalid address". Controls: a crash while compensating; a release
that fails for an hour or for good, and the saga's choice then; ChargeCard's answer (or request) lost
on every attempt, with the refund registered after the step or before it.
"""
from __future__ import annotations

import math
import re

from .. import events as ev
from ..engine import Engine
from ..faults import CallFault, Crash, FaultPlan
from ..orders import charge_card_keyed as charge_card
from ..orders import refund_card_keyed as refund_card
from ..orders import refund_charge_keyed as refund_charge
from ..orders import release_inventory_keyed as release_inventory
from ..orders import reserve_inventory_keyed as reserve_inventory
from ..orders import send_confirmation_email_keyed as send_confirmation_email
from ..retry import RetryPolicy
from ..sim import Run, Sim
from ..trace import Recorder
from ..workflow import ActivityError, Saga, activity, workflow
from ..world import Downstream
from . import Control

NUMBER = 10
TITLE = "Sagas: undoing what can't be rolled back"
CENTS, STOCK, WID, ORDER = 4200, 10, "order-1001", "1001"
HOUR, HORIZON = 3600.0, 3 * 3600.0
FORWARD = ("ChargeCard", "ReserveInventory", "SendConfirmationEmail", "ShipPackage")
UNDO = ("ReleaseInventory", "RefundCard", "SendCancellationEmail")
STEPS = FORWARD + UNDO
CRASHES = {
    "none": None,
    "before_release": Crash("ReleaseInventory", "before_effect"),
    "release_unrecorded": Crash("ReleaseInventory", "after_effect"),
    "after_release": Crash("ReleaseInventory", "after_step"),
    "before_refund": Crash("RefundCard", "before_effect"),
    "refund_unrecorded": Crash("RefundCard", "after_effect"),
    "after_refund": Crash("RefundCard", "after_step"),
}
RELEASE_ATTEMPTS = {"works": 0, "down_for_an_hour": 0, "down_an_hour_max_5_attempts": 5, "down_forever": 0,
                    "fails_for_good": 0}
CHARGE_FAULTS = {"ok": (), "response_lost": (CallFault("ChargeCard", "response_lost", attempts=(1, 2, 3)),),
                 "request_lost": (CallFault("ChargeCard", "request_lost", attempts=(1, 2, 3)),)}
CONTROLS = (
    Control("crash", tuple(CRASHES), "none", "where the worker dies while compensating (the engine restarts it "
            "and replay resumes): before a compensation's effect, after it but before it is recorded, or after"),
    Control("release", tuple(RELEASE_ATTEMPTS), "works", "the release compensation: works; the warehouse's API is "
            "down for an hour (the default retry policy retries forever; or at most 5 attempts) or never comes "
            "back; or the warehouse refuses for good (AlreadyPicked, not retryable)"),
    Control("on_failure", ("stop", "continue"), "stop", "when a compensation fails for good: stop there (Java "
            "Saga's default) or carry on with the rest (continue_with_error=True)"),
    Control("charge", tuple(CHARGE_FAULTS), "ok", "ChargeCard's answer (or its request) lost on every one of its "
            "3 attempts: it times out, and whether the card was charged is unknown"),
    Control("register", ("after", "before", "before_blind"), "after", "when the refund is registered: after "
            "ChargeCard succeeds; before the call (a refund of what the network says was charged); or before, "
            "as a blind refund of $42.00"),
)


class InvalidAddress(Exception):
    non_retryable = True   # another attempt gets the same answer (Temporal: ApplicationError(non_retryable=True))


class AlreadyPicked(InvalidAddress):
    """The warehouse cannot release the mug: it was picked for packing. Not retryable either."""


class OrderFailed(Exception):
    """What the workflow fails with: WorkflowExecutionFailed OrderFailed, its message saying what was undone."""


@activity("ShipPackage", seconds=3)
def ship_package(act, order_id):
    raise InvalidAddress("invalid address")   # the carrier refuses the label: nothing ships


@activity("SendCancellationEmail", seconds=1)
def send_cancellation_email(act, order_id):
    return act.world.email(order_id, "Cancellation", key=act.idempotency_key)


ACTIVITIES = (charge_card, reserve_inventory, send_confirmation_email, ship_package, release_inventory,
              send_cancellation_email)   # and one RefundCard body: the worker registers one per activity type
SECONDS = {a.name: a.seconds for a in ACTIVITIES + (refund_charge,)}
CHARGE_RETRY = RetryPolicy(maximum_attempts=3)   # in this scene: 3 attempts of 5 s each, then ChargeCard fails


@workflow
def order_saga(ctx, order_id, cents, register, on_failure, release_attempts):
    saga = Saga(ctx, continue_with_error=on_failure == "continue")
    undo_charge = (refund_card, order_id, cents) if register == "before_blind" else (refund_charge, order_id)
    try:
        if register != "after":                  # before the call: a charge that timed out may have happened
            saga.add(*undo_charge)
        yield ctx.activity(charge_card, order_id, cents, retry=CHARGE_RETRY, start_to_close=5)
        if register == "after":                  # "as each step completes" (Temporal's saga page)
            saga.add(*undo_charge)
        yield ctx.activity(reserve_inventory, order_id)
        saga.add(release_inventory, order_id, retry=RetryPolicy(maximum_attempts=release_attempts))
        yield ctx.activity(send_confirmation_email, order_id)   # nothing unsends it: no compensation
        yield ctx.activity(ship_package, order_id)               # InvalidAddress: not retryable
    except ActivityError as failed:
        try:
            yield from saga.compensate()         # in reverse: release the mug, then refund
        except ActivityError as undo_failed:     # a person must finish what the saga could not
            raise OrderFailed(f"order failed, not fully compensated: {undo_failed}")
        yield ctx.activity(send_cancellation_email, order_id)   # a new effect, not an undo
        raise OrderFailed(f"order failed, compensated: {failed.error_type}: {failed.message}")
    return f"order {order_id} fulfilled"


class Refusing:
    """The warehouse refuses every release: the mug was picked for packing, and a person must put it back."""

    def call(self):
        raise AlreadyPicked("the mug was picked for packing; a person must put it back")


class SagaWatched(Recorder):
    """Every frame carries the saga's compensations as the workflow's RAM holds them (None: wiped by a
    crash); a result the world gave from its key table is said as such."""

    def __init__(self, sim: Sim):
        base = sim.trace
        super().__init__(base.now, base.effects, base.history, detail=True)
        self.sim, self.saga = sim, None

    def on_step(self, machine, cmd, event, replayed):
        saga = (machine.ram or {}).get("saga")
        self.saga = None if saga is None else [a.name for a, _, _ in saga.compensations]
        super().on_step(machine, cmd, event, replayed)

    def frame(self, caption: str, **changes):
        returned = re.match(r"(\w+) returned '(\w+)'$", caption)
        if returned:   # the effect is older than this attempt: the world answered from its key table
            name, ref = returned.groups()
            first = next((e for e in self.sim.world.log if e.ref == ref), None)
            if first and first.t < self.now() - SECONDS[name]:
                caption += ": the first attempt's result, from its key (nothing done again)"
        return super().frame(caption, extra={"saga": self.saga, "sent": len(self.sim.messages)}, **changes)

    def crash(self, point: str, after: str | None = None) -> None:
        self.saga = None
        super().crash(point, after)


def simulate(crash="none", release="works", on_failure="stop", charge="ok", register="after", seed=0) -> Run:
    controls = dict(crash=crash, release=release, on_failure=on_failure, charge=charge, register=register)
    plan = FaultPlan(crashes=(CRASHES[crash],) if CRASHES[crash] else (), calls=CHARGE_FAULTS[charge])
    return run_saga(plan, release, on_failure, register, seed, controls)


def run_saga(plan: FaultPlan, release="works", on_failure="stop", register="after", seed=0, controls=None) -> Run:
    """The saga under any fault plan (the property tests give it crash plans of their own)."""
    sim = Sim(seed=seed, faults=plan, watch=WID)
    sim.trace = SagaWatched(sim)
    sim.world.stock["mug"] = STOCK
    if release.startswith("down"):
        sim.world.downstream["ReleaseInventory"] = Downstream(lambda: sim.env.now,
                                                              sick_until=math.inf if release == "down_forever" else HOUR)
    elif release == "fails_for_good":
        sim.world.downstream["ReleaseInventory"] = Refusing()
    engine = Engine(sim, [order_saga], ACTIVITIES + (refund_card if register == "before_blind" else refund_charge,))
    sim.trace.frame("ORDER #1001: charge, reserve, email, ship; each step done registers its undo with the saga")
    engine.start(order_saga, WID, ORDER, CENTS, register, on_failure, RELEASE_ATTEMPTS[release])
    sim.run(until=HORIZON)
    history = sim.history.read(WID)
    outcome = "running" if WID not in engine.closed else \
        "failed" if history[-1].type.endswith("Failed") else "completed"
    run = Run("10", controls or {}, seed, sim, order_saga, WID, outcome, history)
    run.engine = engine
    return run


# -- what the run shows -------------------------------------------------------------------------------
def activity_record(run, name: str) -> dict | None:
    """How the history recorded activity `name` (None: never scheduled): its final attempt, its last event,
    and how many requests the workers sent for it (a request per attempt, one the crash killed included)."""
    scheduled = next((e for e in run.history if isinstance(e, ev.ActivityTaskScheduled) and e.activity_type == name),
                     None)
    if scheduled is None:
        return None
    mine = [e for e in run.history if getattr(e, "scheduled_event_id", None) == scheduled.event_id]
    started = next((e for e in mine if isinstance(e, ev.ActivityTaskStarted)), None)
    end = next((e for e in mine if not isinstance(e, ev.ActivityTaskStarted)), None)
    sent = sum(1 for m in run.sim.messages if m.dst == "world" and m.text.startswith(f"{name} #"))
    return dict(attempt=started.attempt if started else 0, end=end, ok=isinstance(end, ev.ActivityTaskCompleted),
                at=end.time if end else None, sent=sent)


def registered(run) -> list[str]:
    """The compensations the saga held when the run ended, in the order they were added."""
    return next((f.extra["saga"] for f in reversed(run.frames) if f.extra.get("saga") is not None), [])


def money(cents: int) -> str:
    return f"{'+' if cents > 0 else '-' if cents < 0 else ''}${abs(cents) / 100:.2f}"


def clock(t: float) -> str:
    """09:00:00 is t=0."""
    t = int(t) + 9 * 3600
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}"


def undo_text(run, name: str) -> str:
    r, n = activity_record(run, name), run.world.effects()[name]
    if r is None:
        return f"{name} " + ("never ran (the saga stopped at the first failure)" if run.outcome == "failed"
                             else "waits behind it")
    if r["end"] is None:
        last = [a for a in run.engine.attempts if a[1] == name]
        return f"{name} still retrying ({len(last)} attempts so far, the last {last[-1][4]})" if last else \
            f"{name} running"
    if not r["ok"]:
        return f"{name} FAILED ({r['end'].error_type}, attempt {r['attempt']})"
    if r["end"].result == "nothing to refund":
        return f"{name}: nothing to refund (the card network holds no charge for the order)"
    late = r["at"] >= HOUR and name == "ReleaseInventory"
    return f"{name} x{n}" + (f" (attempt {r['attempt']}, at {clock(r['at'])}, once the warehouse was back)" if late
                             else f" (attempt {r['attempt']})" if r["attempt"] > 1 else "")


def crash_text(run, t: float, crash: Crash) -> str:
    r, n = activity_record(run, crash.step), run.world.effects()[crash.step]
    head = f"{crash} at {t:g}s: "
    if r is None or not r["ok"]:
        return head + "the worker restarted and replay resumed the workflow"
    if crash.when == "after_step":
        return head + (f"{crash.step} was recorded; the restarted worker replayed the history, which answered "
                       f"{crash.step} without running it again ({r['sent']} request): x{n}")
    if crash.when == "after_effect":
        return head + (f"it acted, then the worker died before anyone recorded it; attempt {r['attempt']} sent the "
                       f"same key and got the first result back: x{n} from {r['sent']} requests")
    return head + f"the worker died before it acted; attempt {r['attempt']} did it: x{n}"


def outcome_lines(run) -> list[str]:
    w, effects, c = run.world, run.world.effects(), run.controls
    net = w.statement_cents()
    statement = ", ".join(f"{money(e.cents)} {e.kind}" for e in w.statement()) or "no charge, no refund"
    lines = [f"card statement: {statement}; net {money(net) if net else '$0.00'}"]
    charge = activity_record(run, "ChargeCard")
    if not charge["ok"]:
        lines.append(f"ChargeCard: {charge['sent']} attempts, no answer ({charge['end'].summary().split(' ', 2)[-1]}); "
                     f"the card network charged {effects['ChargeCard']} time{'s' * (effects['ChargeCard'] != 1)}")
    lines.append(f"mug: stock {w.stock['mug']} of {STOCK}" + (
        " (reserved, then released)" if effects["ReleaseInventory"] else " (reserved, never released)"
        if effects["ReserveInventory"] else " (never reserved)"))
    ship = activity_record(run, "ShipPackage")
    if ship:
        lines.append(f"ShipPackage: failed for good on attempt {ship['attempt']} ({ship['end'].error_type}: "
                     f"{ship['end'].message}, not retryable)")
    saga = registered(run)
    lines.append(f"saga: registered {', '.join(saga) or 'nothing'}" + (
        "; compensated in reverse: " + ", ".join(undo_text(run, name) for name in reversed(saga)) if saga else ""))
    sent = effects["SendConfirmationEmail"]
    lines.append(f"emails: confirmation x{sent}" + (" (nothing unsends it)" if sent else "") +
                 f", cancellation x{effects['SendCancellationEmail']} (a new email, not an undo)")
    lines += [crash_text(run, t, crash) for t, crash in run.sim.faults.fired]
    if CRASHES.get(c.get("crash")) and not run.sim.faults.fired:
        lines.append(f"crash {c['crash']}: never reached in this run")
    if not charge["ok"] and effects["ChargeCard"] and not effects["RefundCard"]:
        lines.append(f"the card keeps {money(net)[1:]} for a charge that did happen: its refund was to be "
                     "registered after a success, and none came")
    if net < 0:
        lines.append(f"a blind refund credited {money(-net)[1:]} that was never charged")
    left = (["the mug is still held"] if effects["ReserveInventory"] > effects["ReleaseInventory"] else []) + \
        ([f"the card keeps {money(net)[1:]}"] if net > 0 and charge["ok"] else [])
    if left:
        lines.append(("left for a person: " if run.outcome != "running" else "not undone, and nothing tells anyone: ")
                     + " and ".join(left))
    end = run.history[-1]
    lines.append(f"workflow: {end.summary()}" if run.outcome != "running" else
                 f"workflow: still compensating at {clock(HORIZON)}, {HORIZON / HOUR:g} hours in")
    lines.append(f"history: {len(run.history)} events")
    return lines


def crash_table(seed: int = 0) -> list[str]:
    """Every crash point while compensating, each a run of the engine: net, stock, each undo's effects."""
    lines = [f"{'crash':20}{'net':>7}{'stock':>7}{'release':>9}{'refund':>8}{'requests':>10}{'attempt':>9}"]
    for crash in CRASHES:
        run = simulate(crash=crash, seed=seed)
        e, r = run.world.effects(), [activity_record(run, n) for n in ("ReleaseInventory", "RefundCard")]
        lines.append(f"{crash:20}{'$%.2f' % (run.world.statement_cents() / 100):>7}{run.world.stock['mug']:>7}"
                     f"{'x%d' % e['ReleaseInventory']:>9}{'x%d' % e['RefundCard']:>8}"
                     f"{'%d, %d' % (r[0]['sent'], r[1]['sent']):>10}{'%d, %d' % (r[0]['attempt'], r[1]['attempt']):>9}")
    return lines
