"""Scene 09 · Signals and queries: talking to a running workflow.

ORDER #1001 is charged and reserved, then packed for two hours before it ships, then has a 14-day
return window. The customer may cancel: a *signal* `cancel`, sent by the shop's web server with
`engine.signal(...)`. The engine records it at once (WorkflowExecutionSignaled), with or without a
worker alive, and the workflow reacts at its next workflow task: before shipping it refunds and
releases the mug; after shipping it can only send a return label.

The shop also asks the workflow its status (`engine.query(...)`): a query runs the workflow's query
handler on a worker and writes nothing; with every worker down it fails ("no poller seen"). The
scene sends three: while packing, one minute after the customer's moment, and after the workflow
has closed (a worker that no longer holds it replays the history to answer).

With `workers="down"` the only worker is killed five minutes before the customer's moment and its
supervisor restarts it an hour later.
"""
from __future__ import annotations

from .. import events as ev
from ..engine import Engine
from ..faults import FaultPlan, KillWorker
from ..orders import charge_card_keyed as charge_card
from ..orders import refund_card_keyed as refund_card
from ..orders import release_inventory_keyed as release_inventory
from ..orders import reserve_inventory_keyed as reserve_inventory
from ..orders import send_return_label_keyed as send_return_label
from ..orders import ship_package_keyed as ship_package
from ..service import QueryFailed, UpdateRejected, WorkflowClosed
from ..sim import Run, Sim
from ..trace import Recorder
from ..workflow import workflow
from . import Control

NUMBER = 9
TITLE = "Signals and queries: talking to a running workflow"
CENTS = 4200
WID, ORDER = "order-1001", "1001"
MINUTE, HOUR, DAY = 60.0, 3600.0, 24 * 3600.0
MOMENT = {"before_shipping": 20 * MINUTE, "after_shipping": 2 * DAY, "never": 20 * MINUTE}
DOWN = HOUR                  # workers="down": the worker's supervisor restarts it this long after the kill
HORIZON = 16 * DAY
STEPS = ("ChargeCard", "ReserveInventory", "ShipPackage", "RefundCard", "ReleaseInventory", "SendReturnLabel")
CONTROLS = (
    Control("cancel", ("never", "before_shipping", "after_shipping"), "before_shipping",
            "when the customer cancels: never, 20 minutes in (while packing), or on day 2 (shipped)"),
    Control("workers", ("up", "down"), "up",
            "at the customer's moment: the worker is up, or it was killed 5 minutes before (back an hour later)"),
    Control("update", ("none", "while_packing", "after_shipping"), "none",
            "the customer changes the delivery address (an update): at 09:05 while packing, or on day 1, shipped"),
)
UPDATE_AT = {"while_packing": 5 * MINUTE, "after_shipping": DAY}
NEW_ADDRESS = "2 New Street"


ACTIVITIES = (charge_card, reserve_inventory, ship_package, refund_card, release_inventory, send_return_label)


@workflow
def cancellable_order(ctx, order_id, cents):
    status, address = "received", "1 Old Street"
    ctx.set_query_handler("status", lambda: status)          # a query reads this; it writes nothing

    def change_address(new):                                 # an update: recorded, and it returns a result
        nonlocal address
        before, address = address, new
        return f"{before} -> {new}"

    def not_shipped_yet(new):                                # its validator: raising rejects it, writing nothing
        if not status.startswith(("received", "packing")):
            raise ValueError(f"too late, the order is {status.split(':')[0]}")
    ctx.set_update_handler("change_address", change_address, validator=not_shipped_yet)
    yield ctx.activity(charge_card, order_id, cents)
    yield ctx.activity(reserve_inventory, order_id)
    status = "packing: ships within 2 hours"
    which, why = yield ctx.first(ctx.sleep(2 * 3600), ctx.signal("cancel"))
    if which == 1:                                           # cancelled before shipping: undo it all
        yield ctx.activity(refund_card, order_id, cents)
        yield ctx.activity(release_inventory, order_id)
        status = f"cancelled before shipping ({why}): refunded"
        return status
    yield ctx.activity(ship_package, order_id)
    status = f"shipped to {address}: the 14-day return window is open"
    which, why = yield ctx.first(ctx.sleep(days=14), ctx.signal("cancel"))
    if which == 1:                                           # the parcel is gone: send a return label
        yield ctx.activity(send_return_label, order_id)
        status = f"cancelled after shipping ({why}): return label sent"
        return status
    status = "delivered; the return window has closed"
    return status


class Watched(Recorder):
    """Every frame carries the workers' states, for the messages panel; a wait lights no step."""

    def __init__(self, base: Recorder):
        super().__init__(base.now, base.effects, base.history, detail=True)
        self.engine = None

    def frame(self, caption: str, **changes):
        if caption.startswith("waits:"):   # waiting for a signal or a timer: between steps, not in the last one
            changes["step"] = "waiting"
        workers = [(w.name, w.status) for w in self.engine.workers.values()] if self.engine else []
        return super().frame(caption, extra={"workers": workers}, **changes)


def when(t: float) -> str:
    """`day 2, 09:20`: the day since the order (t=0 is 09:00 on day 0) and the time of day."""
    d, rest = divmod(t + 9 * HOUR, DAY)
    return f"day {int(d)}, {int(rest // HOUR):02d}:{int(rest % HOUR // MINUTE):02d}"


def simulate(cancel: str = "before_shipping", workers: str = "up", update: str = "none", seed: int = 0) -> Run:
    controls = dict(cancel=cancel, workers=workers, update=update)
    moment = MOMENT[cancel]
    faults = FaultPlan(workers=(KillWorker("worker-1", at=moment - 5 * MINUTE),)) if workers == "down" else FaultPlan()
    sim = Sim(seed=seed, faults=faults, restart_delay=DOWN)
    sim.trace = Watched(sim.trace)
    engine = sim.trace.engine = Engine(sim, [cancellable_order], ACTIVITIES, workers=1)
    sim.watch = WID
    messages: list[dict] = []   # what the outside sent: signals and queries, with what each did to the history
    sim.trace.frame("ORDER #1001 starts: charge, reserve, pack for 2 hours, ship, then a 14-day return window")
    engine.start(cancellable_order, WID, ORDER, CENTS)
    engine.later(10 * MINUTE, _query, sim, engine, messages)
    if update != "none":
        engine.later(UPDATE_AT[update], _update, sim, engine, messages)
    if cancel != "never":
        engine.later(moment, _signal, sim, engine, messages, "customer changed mind")
    engine.later(moment + MINUTE, _query, sim, engine, messages)
    engine.later(HORIZON - HOUR, _query, sim, engine, messages)
    engine.later(HORIZON - HOUR + MINUTE, _late_signal, sim, engine, messages)
    sim.run(until=HORIZON)
    history = sim.history.read(WID)
    run = Run("09", controls, seed, sim, cancellable_order, WID, "completed" if WID in engine.closed else "running",
              history, extra=dict(messages=messages, moment=moment))
    run.engine = engine
    return run


def _alive(engine) -> bool:
    return any(w.status not in ("dead", "deploying") for w in engine.workers.values())


def _query(sim, engine, messages):
    before = sim.history.length(WID)
    replays = engine.query_replays
    try:
        answer, error = engine.query(WID, "status"), ""
    except QueryFailed as e:
        answer, error = None, str(e)
    after = sim.history.length(WID)
    how = ("failed" if error else "a worker replayed the history to answer" if engine.query_replays > replays
           else "the worker holding it answered from its cache")
    messages.append(dict(t=sim.env.now, kind="query", name="status", answer=answer, error=error, before=before,
                         after=after, how=how, closed=WID in engine.closed))
    sim.trace.frame("query 'status' " + ("FAILED: no poller seen for task queue recently (no worker is up)" if error
                                         else f"-> {answer!r} ({how}; history {before} -> {after} events)"),
                    kind="refused" if error else "")


def _update(sim, engine, messages):
    """The customer changes the address: validated on a worker first; accepted, it is recorded at the next
    workflow task; rejected (or refused by a closed workflow), nothing is written."""
    before = sim.history.length(WID)
    m = dict(t=sim.env.now, kind="update", name="change_address", input=NEW_ADDRESS, before=before, error="",
             result=None)
    try:
        update_id = engine.update(WID, "change_address", NEW_ADDRESS)
    except (UpdateRejected, WorkflowClosed, QueryFailed) as e:
        m["error"] = str(e)
        sim.trace.frame(f"update 'change_address' REJECTED: {str(e).split(': ', 1)[-1]}; nothing written",
                        kind="refused")
    else:
        sim.trace.frame("update 'change_address' accepted by its validator; the next workflow task records it")
    messages.append(m)

    def settle():
        m["after"] = sim.history.length(WID)
        m["new"] = [e.type for e in sim.history.read(WID)[before:m["after"]]]
        if not m["error"]:
            m["result"] = engine.update_result(update_id)
    engine.later(sim.env.now + MINUTE, settle)


def _signal(sim, engine, messages, why):
    alive = _alive(engine)
    engine.signal(WID, "cancel", why)
    event = next(e for e in reversed(sim.history.read(WID)) if isinstance(e, ev.WorkflowExecutionSignaled))
    messages.append(dict(t=sim.env.now, kind="signal", name="cancel", input=why, event_id=event.event_id,
                         alive=alive))
    sim.trace.frame(f"signal 'cancel' recorded as event {event.event_id}" +
                    ("" if alive else ", with no worker alive: the workflow task waits in the queue"))


def _late_signal(sim, engine, messages):
    """A signal to the workflow after it has closed: refused (Temporal: 'workflow execution already completed')."""
    try:
        engine.signal(WID, "cancel", "too late")
        messages.append(dict(t=sim.env.now, kind="late", error=""))
    except WorkflowClosed as e:
        messages.append(dict(t=sim.env.now, kind="late", error=str(e)))
        sim.trace.frame("a signal to the closed workflow is refused: workflow execution already completed",
                        kind="refused")


def outcome_lines(run) -> list[str]:
    x, h, w = run.extra, run.history, run.world
    effects = w.effects()
    cents = w.statement_cents()
    lines = []
    for m in x["messages"]:
        if m["kind"] == "signal":
            lines.append(f"signal 'cancel' at {when(m['t'])}: recorded as event {m['event_id']} "
                         + ("while every worker was down: not lost" if not m["alive"] else "with a worker up"))
            handled = next(e for e in h if isinstance(e, ev.WorkflowTaskStarted) and e.event_id > m["event_id"])
            lines.append(f"the workflow reacted at its next workflow task, {when(handled.time)}")
        elif m["kind"] == "query":
            lines.append(f"query 'status' at {when(m['t'])}: " + (
                f"failed: {m['error'].split(' (')[0]}" if m["error"] else
                f"{m['answer']!r}; history {m['before']} -> {m['after']} events ({m['how']})"))
        elif m["kind"] == "late" and m["error"]:
            lines.append("signal after the workflow closed: refused (workflow execution already completed)")
        elif m["kind"] == "update":
            head = f"update 'change_address' at {when(m['t'])}: "
            if m["error"]:
                lines.append(head + f"rejected ({m['error'].split(': ', 1)[-1]}); history {m['before']} -> "
                             f"{m['after']} events: nothing written, not even a workflow task")
            else:
                recorded = [t for t in m["new"] if t.startswith("WorkflowExecutionUpdate")]
                lines.append(head + f"accepted, result {m['result']!r}; history {m['before']} -> {m['after']} "
                             f"events ({', '.join(recorded)} in a workflow task)")
    charges, refunds = (sum(e.cents > 0 for e in w.statement()), sum(e.cents < 0 for e in w.statement()))
    lines.append(f"card: {charges} charge{'s' * (charges != 1)}, {refunds or 'no'} refund{'s' * (refunds > 1)}, "
                 f"net ${cents / 100:.2f}")
    mug = ("released back to stock" if effects["ReleaseInventory"] else "shipped" if effects["ShipPackage"]
           else "held for the order")
    lines.append(f"mug: {mug}; packages shipped: {effects['ShipPackage']}; return-label emails: "
                 f"{effects['SendReturnLabelEmail']}")
    signals = sum(isinstance(e, ev.WorkflowExecutionSignaled) for e in h)
    lines.append(f"history: {len(h)} events, {signals} signal{'s' * (signals != 1)}; queries wrote none")
    lines.append(f"result: {h[-1].result}" if run.outcome == "completed" else "outcome: running")
    return lines
