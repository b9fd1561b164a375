"""Scene 08 · Durable timers: sleep for thirty days.

ORDER #1001 ships, then waits 30 days and asks for a review. Three ways to wait:

- durable:    `yield ctx.sleep(days=30)` writes TimerStarted; the engine keeps the timer in its timer
              queue, writes TimerFired on day 30 with or without a worker alive, and the workflow
              resumes by replay on whichever worker takes the next task. Workers are killed and
              redeployed `crashes` times during the month; with `day_30="down"` a three-hour deploy
              covers the moment the timer is due.
- plain:      the same code run as one plain process, as strategy "plain" runs it: the activities are
              called in the process and the sleep is `time.sleep` in it. A plain process has no workers
              to kill, so the scene kills the process itself (a SimPy interrupt at the first crash or
              redeploy time, as kill -9 would): its RAM, and the sleep in it, are gone, and nobody runs
              it again. (This module runs the process itself rather than through `strategies.plain`,
              so that the kill can land inside the sleep.)
- cron_table: the order process writes a row (order, shipped_at, sent=0) to a table; a daily cron
              job at 09:00 scans the table for rows 30 days old and sends those emails. The job is real
              code against SQLite; a crash of the machine between two ticks loses nothing.

Nothing here decides when the email goes: the engine, `time.sleep` or the cron schedule does.

The scene's second half, a subscription that continues as new, is `simcore.scenarios.subscription`.
"""
from __future__ import annotations

import random
import sqlite3
import time  # noqa: F401 (review_later_plain, shown as the plain version, is never called)

import simpy

from .. import events as ev
from ..engine import Engine
from ..faults import FaultPlan, KillWorker, Redeploy
from ..orders import send_review_request_keyed as send_review_request
from ..orders import ship_package_keyed as ship_package
from ..replay import Machine
from ..sim import Run, Sim, perform, recorded
from ..trace import Recorder
from ..workflow import workflow
from . import Control

NUMBER = 8
TITLE = "Durable timers: sleep for thirty days"
DAY = 24 * 3600.0
MONTH = 30 * DAY
WID, ORDER = "order-1001", "1001"
HORIZON = 33 * DAY
CRON_AT = 0.0                 # the cron tick: every day at 09:00 (t=0 is 09:00, Tuesday 24 November)
DEPLOY_DOWN = 600.0           # a routine redeploy: the worker is down for 10 minutes
LONG_DEPLOY = 3 * 3600.0      # day_30="down": a deploy that keeps every worker down for 3 hours
RESTART = 300.0               # a killed worker is restarted by its supervisor 5 minutes later
DUE = 3.5 + MONTH             # a workflow task (0.25 s), shipping (3 s), a workflow task: TimerStarted at 3.5 s
STEPS = ("ShipPackage", "timer", "SendReviewRequest")
CONTROLS = (
    Control("strategy", ("durable", "plain", "cron_table"), "durable",
            "durable timer (ctx.sleep), time.sleep in a plain process, or a daily cron job scanning a table"),
    Control("crashes", (0, 1, 3, 10), 3, "crashes and redeploys of the worker (or the process, or the cron "
            "machine) during the month"),
    Control("day_30", ("up", "down"), "up", "at the moment the 30 days are up: a worker is up, or every worker "
            "is down for a 3-hour deploy"),
)


ACTIVITIES = (ship_package, send_review_request)


@workflow
def review_later(ctx, order_id):
    yield ctx.activity(ship_package, order_id)
    yield ctx.sleep(days=30)                  # TimerStarted: a row in the history, an entry in the timer queue
    yield ctx.activity(send_review_request, order_id)
    return f"review requested for order {order_id}"


def review_later_plain(order_id):
    ship_package(order_id)
    time.sleep(30 * 24 * 3600)                # the process waits; only its RAM knows why
    send_review_request(order_id)
    return f"review requested for order {order_id}"


# -- the cron job: a table and a daily scan (real code, against SQLite) ------------------------------
def on_shipped(db, world, order_id, now):
    world.ship(order_id)
    db.execute("INSERT INTO reviews (order_id, shipped_at, sent) VALUES (?, ?, 0)", (order_id, now))
    db.commit()


def review_job(db, world, now):               # cron: 0 9 * * *  (every day at 09:00)
    due = db.execute("SELECT order_id FROM reviews WHERE sent = 0 AND shipped_at <= ?",
                     (now - 30 * 24 * 3600,)).fetchall()
    for (order_id,) in due:
        world.email(order_id, "ReviewRequest")
        db.execute("UPDATE reviews SET sent = 1 WHERE order_id = ?", (order_id,))
        db.commit()
    return len(due)


def crash_times(crashes: int, seed: int) -> list[float]:
    """`crashes` moments spread over days 1-29, one in each equal slice, at a seeded hour."""
    rng = random.Random(f"s08/{seed}")
    span = 28 * DAY / max(crashes, 1)
    return [round(DAY + (k + rng.uniform(0.15, 0.85)) * span) for k in range(crashes)]


def plan(crashes: int, day_30: str, seed: int, due: float) -> FaultPlan:
    """Kills and redeploys, alternating; with day_30="down", a long deploy over the moment `due`."""
    faults = [KillWorker("worker-1", at=t) if k % 2 == 0 else Redeploy(at=t, down_for=DEPLOY_DOWN, rolling=False)
              for k, t in enumerate(crash_times(crashes, seed))]
    if day_30 == "down":
        faults.append(Redeploy(at=due - 3600, down_for=LONG_DEPLOY, rolling=False))
    return FaultPlan(workers=tuple(faults))


class Dated(Recorder):
    """Every frame carries what the side panels draw: the engine's timer queue and its workers, the
    process's state (plain), or the table and the scans (cron)."""

    def __init__(self, base: Recorder, side):
        super().__init__(base.now, base.effects, base.history, detail=True)
        self.side = side

    def frame(self, caption: str, **changes):
        return super().frame(caption, extra=self.side(), **changes)


def day_of(t: float) -> str:
    """`day 30, 09:00:03`: the calendar day since the order's, and the time of day (t=0 is 09:00)."""
    d, rest = divmod(t + 9 * 3600, DAY)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"day {int(d)}, {int(h):02d}:{int(m):02d}" + (f":{int(s):02d}" if int(s) else "")


def day_number(t: float) -> int:
    """The calendar day of `t`, counted from the order's day (day 0, Tuesday 24 November 2026)."""
    return int((t + 9 * 3600) // DAY)


def simulate(strategy: str = "durable", crashes: int = 3, day_30: str = "up", seed: int = 0) -> Run:
    controls = dict(strategy=strategy, crashes=crashes, day_30=day_30)
    due = DUE
    faults = plan(crashes, day_30, seed, due)
    sim = Sim(seed=seed, faults=FaultPlan() if strategy != "durable" else faults, restart_delay=RESTART)
    marks: list[tuple[float, str]] = []   # (time, kind) for the calendar: crash, deploy, ship, fired, email
    state = {"engine": None, "process": "starting", "table": None, "scans": 0}
    sim.trace = Dated(sim.trace, lambda: _side(strategy, state))
    sim.world.on_effect = _marking(sim, marks)
    run_fn = {"durable": _durable, "plain": _plain, "cron_table": _cron}[strategy]
    extra = run_fn(sim, state, marks, faults)
    sim.env.process(_daily(sim, strategy, state))
    sim.run(until=HORIZON)
    engine = state["engine"]
    if engine is not None:
        marks += [(t, "crash" if kind == "crash" else "deploy") for t, kind, *_ in engine.incidents
                  if kind in ("crash", "deploy")]
        marks += [(e.time, "fired") for e in sim.history.read(WID) if isinstance(e, ev.TimerFired)]
        outcome = "completed" if WID in engine.closed else "running"
        history = sim.history.read(WID)
    else:
        outcome = "completed" if WID in sim.done or "email" in {k for _, k in marks} else "lost"
        history = []
    extra.update(marks=sorted(marks), due=due, crash_times=[f.at for f in faults.workers], scans=state["scans"])
    run = Run("08", controls, seed, sim, review_later, WID, outcome, history, extra=extra)
    run.engine = engine
    return run


def _marking(sim, marks):
    before = sim.world.on_effect

    def on_effect(kind):
        marks.append((sim.env.now, {"ShipPackage": "ship", "SendReviewRequestEmail": "email"}.get(kind, kind)))
        before(kind)
    return on_effect


def _side(strategy, state) -> dict:
    if strategy == "durable" and state["engine"] is not None:
        e = state["engine"]
        return {"timers": sorted(e.timers.items()), "workers": [(w.name, w.status) for w in e.workers.values()],
                "queue": [str(t) for t in e.queue.pending]}
    if strategy == "plain":
        return {"process": state["process"]}
    if strategy == "cron_table" and state["table"] is not None:
        rows = state["table"].execute("SELECT order_id, shipped_at, sent FROM reviews").fetchall()
        return {"rows": rows, "scans": state["scans"], "machine": state["process"]}
    return {}


def _durable(sim, state, marks, faults):
    engine = state["engine"] = Engine(sim, [review_later], ACTIVITIES, workers=1)
    sim.watch = WID
    sim.trace.frame("ORDER #1001 starts (durable): ship, sleep 30 days, ask for a review")
    engine.start(review_later, WID, ORDER)
    return {}


def _plain(sim, state, marks, faults):
    """The same code as one plain process: activities called in it, the sleep a time.sleep in it (as
    strategy "plain" runs it). The process is killed (a SimPy interrupt, as kill -9) at the first crash
    time, if any, and nobody runs it again."""
    sim.trace.frame("ORDER #1001 starts (plain process): ship, time.sleep 30 days, ask for a review")
    state["process"] = "running"

    def process():
        m = Machine(review_later, WID, live=sim.live, on_step=sim.trace.on_step)   # its state: RAM only
        m.feed([sim.started(review_later, WID, [ORDER])])
        table = {a.name: a for a in ACTIVITIES}
        try:
            while not m.closed:
                waits_on = m.events[m.waiting.event_id - 1]
                if isinstance(waits_on, ev.TimerStarted):   # time.sleep: only this process's RAM holds the place
                    sim.trace.frame(f"time.sleep({waits_on.seconds:g}): the process waits; only its RAM knows why")
                    yield sim.env.timeout(waits_on.seconds)
                    m.feed([ev.TimerFired(m.length + 1, sim.env.now, waits_on.timer_id, waits_on.event_id)])
                    continue
                began = sim.env.now
                outcome = yield from perform(sim, table[waits_on.activity_type], WID, waits_on, 1, run_id=m.ctx.run_id)
                m.feed(recorded(m.length + 1, sim.env.now, waits_on, 1, outcome, started=began))
            state["process"] = "finished"
            sim.done.add(WID)
            sim.trace.frame(f"the process returns: {m.result}", step=None)
        except simpy.Interrupt as why:
            state["process"] = "dead"
            marks.append((sim.env.now, "crash" if why.cause == "killed" else "deploy"))
            sim.trace.crash(f"{'kill -9' if why.cause == 'killed' else 'redeploy'} on {day_of(sim.env.now)}")
            sim.trace.frame("its time.sleep went with it; nobody runs it again: no record says a review is owed",
                            ram=None)

    proc = sim.env.process(process())
    times = [(f.at, "killed" if isinstance(f, KillWorker) else "redeploy") for f in faults.workers]
    if times:
        def killer():
            at, cause = min(times)
            yield sim.env.timeout(at)
            if proc.is_alive:
                proc.interrupt(cause)
        sim.env.process(killer())
    return {}


def _cron(sim, state, marks, faults):
    db = state["table"] = sqlite3.connect(":memory:")   # stands for a table on disk: it survives the crashes
    db.execute("CREATE TABLE reviews (order_id TEXT PRIMARY KEY, shipped_at REAL, sent INTEGER)")
    state["process"] = "up"
    crashes = sorted(f.at for f in faults.workers if isinstance(f, (KillWorker, Redeploy)))
    sim.trace.frame("ORDER #1001 starts (cron): ship, write a row; a daily job at 09:00 scans the table")

    def order():
        yield sim.env.timeout(3.5)
        on_shipped(db, sim.world, ORDER, sim.env.now)
        sim.trace.frame("shipped; the order process wrote (1001, shipped_at, sent=0) and ended")

    def machine():
        for t in crashes:
            yield sim.env.timeout(t - sim.env.now)
            state["process"] = "rebooting"
            marks.append((t, "crash"))
            sim.trace.crash(f"the cron machine, on {day_of(t)}")
            yield sim.env.timeout(DEPLOY_DOWN)
            state["process"] = "up"
            sim.trace.frame("the cron machine is back; crond runs the next tick as scheduled", ram=None)

    def cron():
        tick = CRON_AT + DAY
        while tick < HORIZON:
            yield sim.env.timeout(tick - sim.env.now)
            if state["process"] == "up":
                state["scans"] += 1
                sent = review_job(db, sim.world, sim.env.now)
                if sent:
                    sim.trace.frame(f"cron tick, {day_of(tick)}: the scan found {sent} due review; email sent, "
                                    "row marked sent=1")
            tick += DAY

    sim.env.process(order())
    sim.env.process(machine())
    sim.env.process(cron())
    return {}


def _daily(sim, strategy, state):
    """A frame at noon each day, so the calendar moves while nothing happens (which is the point). The
    clock says the day; the caption does not say it again."""
    t = 3 * 3600.0
    while t < HORIZON:
        yield sim.env.timeout(t - sim.env.now)
        idle = WID in state["engine"].closed if strategy == "durable" else state["process"] != "running"
        sim.trace.frame(_asleep(strategy, state), **({"line": None, "step": None} if idle else {}))
        t += DAY


def _asleep(strategy, state) -> str:
    if strategy == "durable":
        e = state["engine"]
        if WID in e.closed:
            return "the workflow has completed"
        if e.timers:
            (_, tid), due = next(iter(e.timers.items()))
            return (f"asleep: TimerStarted in the history, timer {tid} in the engine's timer queue "
                    f"(due {day_of(due)}); no worker needs to hold it")
        return "the timer has fired; the next workflow task runs on a worker"
    if strategy == "plain":
        return {"running": "time.sleep: the process waits; only its RAM knows why",
                "dead": "nothing runs; nothing on disk says a review is owed",
                "finished": "the process has finished"}.get(state["process"], state["process"])
    return f"the table holds the row; {state['scans']} daily scans so far"


def so_far(run, frame) -> str:
    """The frame's line: the scene's story is the email, not a card."""
    done = [e.kind for e in run.world.log[:frame.effects]]
    emails = done.count("SendReviewRequestEmail")
    text = f"shipped: {'yes' if 'ShipPackage' in done else 'not yet'} · {emails} review email{'s' * (emails != 1)} sent"
    return text + (f" · {frame.history:,} events in the history" if run.history else "")


def outcome_lines(run) -> list[str]:
    c, x = run.controls, run.extra
    emails = [t for t, k in x["marks"] if k == "email"]
    crashes = x["crash_times"][:c["crashes"]]
    lines = []
    if crashes:
        lines.append("crashes and redeploys on: " + ", ".join(day_of(t).split(",")[0] for t in crashes))
    if c["day_30"] == "down" and c["strategy"] == "durable":
        lines.append(f"every worker down for a deploy from {day_of(x['due'] - 3600)} to "
                     f"{day_of(x['due'] - 3600 + LONG_DEPLOY)}")
    lines.append(f"review emails sent: {len(emails)}" + (f", on {day_of(emails[0])}" if len(emails) == 1 else ""))
    lines.append(f"due: {day_of(x['due'])} (30 days after the wait began)")
    if c["strategy"] == "durable":
        lines += _durable_lines(run)
    elif c["strategy"] == "plain":
        died = [t for t, k in x["marks"] if k in ("crash", "deploy")]
        lines.append(f"time.sleep: the process died on {day_of(died[0])}; its sleep was in RAM; nobody ran it again"
                     if died else "time.sleep: no crash, so the process slept the month through and sent it")
        lines.append("Temporal's Python sandbox refuses time.sleep in workflow code outright")
    else:
        late = emails[0] - x["due"] if emails else None
        lines.append(f"cron: {x['scans']} daily scans of the table; the email went at the first tick after it "
                     f"was due, {late / 3600:.1f} hours late" if late is not None else "cron: never sent")
        lines.append("cron: a crash between the email and the UPDATE would send it again at the next tick")
    lines.append(f"outcome: {run.outcome}")
    return lines


def _durable_lines(run) -> list[str]:
    e, h = run.engine, run.history
    started = [x for x in h if isinstance(x, ev.TimerStarted)]
    fired = [x for x in h if isinstance(x, ev.TimerFired)]
    lines = [f"history: TimerStarted (event {started[0].event_id}, {started[0].seconds / DAY:g} days) on "
             f"{day_of(started[0].time)}, TimerFired (event {fired[0].event_id}) on {day_of(fired[0].time)}"
             if fired else "history: the timer has not fired"]
    if fired:
        at = h.index(fired[0])
        after = [x for x in h[at + 1:] if isinstance(x, ev.WorkflowTaskStarted)]
        alive = _worker_up_at(run, fired[0].time)
        lines.append("the engine wrote TimerFired with " + ("a worker up" if alive else "no worker alive") +
                     "; " + (f"the workflow task waited in the queue until {day_of(after[0].time)}"
                             if after and not alive else "a worker took the workflow task at once"))
    lines.append(f"replays: {e.replays}" + (" (a worker without the workflow in its cache replayed the history)"
                                            if e.replays else " (the worker that started the timer still held it)"))
    lines.append(f"history: {len(h)} events")
    return lines


def _worker_up_at(run, t: float) -> bool:
    frame = next((f for f in reversed(run.frames) if f.t <= t), None)
    workers = frame.extra.get("workers", []) if frame else []
    return any(status not in ("dead", "deploying") for _, status in workers)
