"""The ways to run a workflow (ORDER #1001, in the course) that the course compares. Same workflow
code, same activities, same world; what differs is where progress lives and what happens after a crash.

- plain:      progress in local variables; a crash loses it, nobody runs the order again.
- cron:       plain, plus a job that re-runs unfinished orders every minute, from line one.
- checkpoint: each step's result is appended to the history file; a restart skips recorded steps.
- durable:    the engine: history, task queue, leases, replay with determinism checks.
"""
from __future__ import annotations

from . import events as ev
from .engine import Engine
from .faults import ProcessCrashed
from .replay import Machine
from .sim import Outcome, Run, Sim, perform, recorded

STRATEGIES = ("plain", "cron", "checkpoint", "durable")
CRON_EVERY = 60.0   # seconds
MAX_RESTARTS = 50   # a process that crashes more often than this is given up on
NO_ANSWER = Outcome(False, error_type="TimeoutError", message="no response: the call timed out")


def plain(sim: Sim, workflow, activities, wid: str, args):
    """Run the function once, in one process. Its progress lives in its local variables."""
    m = Machine(workflow, wid, live=sim.live, on_step=sim.trace.on_step)   # its history: RAM only
    try:
        m.feed([sim.started(workflow, wid, args)])
        while not m.closed:
            scheduled = _awaited(m)
            if isinstance(scheduled, ev.TimerStarted):   # time.sleep: only this process's RAM holds the place
                m.feed([(yield from _sleep(sim, m, scheduled))])
                continue
            began = sim.env.now
            outcome = yield from perform(sim, activities[scheduled.activity_type], wid, scheduled, 1,
                                         run_id=m.ctx.run_id)
            outcome = outcome or NO_ANSWER
            m.feed(recorded(m.length + 1, sim.env.now, scheduled, 1, outcome, started=began))
            sim.faults.reached("after_step", scheduled.activity_type)
        sim.done.add(wid)   # the application marks the order done in its database
        sim.trace.frame(f"order marked done: {m.result}", step=None)
    except ProcessCrashed as crash:
        sim.trace.crash(crash.point)


def cron(sim: Sim, workflow, activities, wid: str, args):
    """The first run, then every minute: re-run the orders not marked done, from line one."""
    yield sim.env.process(plain(sim, workflow, activities, wid, args))
    for _ in range(MAX_RESTARTS):
        if wid in sim.done:
            return
        yield sim.env.timeout(CRON_EVERY - sim.env.now % CRON_EVERY)
        sim.trace.frame(f"cron: {wid} is not marked done; run it again from line one")
        yield sim.env.process(plain(sim, workflow, activities, wid, args))


def checkpoint(sim: Sim, workflow, activities, wid: str, args, record_first: bool = False):
    """Append each step's result to the history; after a crash, restart and skip the recorded steps.
    With `record_first` the record is written before the effect instead of after it."""
    for _ in range(MAX_RESTARTS):
        yield sim.env.process(_checkpointed(sim, workflow, activities, wid, args, record_first))
        if wid in sim.done:
            return
        yield sim.env.timeout(sim.restart_delay)
        sim.trace.frame("the process restarts and reads its history file", ram={})


def _checkpointed(sim, workflow, activities, wid, args, record_first):
    history = sim.history.read(wid)
    if not history:
        history = [sim.started(workflow, wid, args)]
        sim.history.append(wid, history)
    m = Machine(workflow, wid, live=sim.live, strict=False, on_step=sim.trace.on_step)
    try:
        m.feed(history)
        while not m.closed:
            scheduled = _awaited(m)
            if isinstance(scheduled, ev.TimerStarted):   # sleeps in the process; a restart sleeps again in full
                result = [(yield from _sleep(sim, m, scheduled))]
                sim.history.append(wid, m.take_new() + result)
                m.feed(result)
                continue
            if record_first:   # write down that it is done, then do it
                result = recorded(m.length + 1, sim.env.now, scheduled, 1, Outcome(True, None))
                sim.history.append(wid, m.take_new() + result)
                sim.trace.frame(f"{scheduled.activity_type}: recorded as done (before doing it)")
                yield from perform(sim, activities[scheduled.activity_type], wid, scheduled, 1, run_id=m.ctx.run_id)
            else:              # do it, then write down its result
                began = sim.env.now
                outcome = yield from perform(sim, activities[scheduled.activity_type], wid, scheduled, 1,
                                             run_id=m.ctx.run_id)
                outcome = outcome or NO_ANSWER
                result = recorded(m.length + 1, sim.env.now, scheduled, 1, outcome, started=began)
                sim.history.append(wid, m.take_new() + result)
                sim.trace.frame(f"{scheduled.activity_type}: result recorded in the history (committed)")
            m.feed(result)
            sim.faults.reached("after_step", scheduled.activity_type)
        sim.history.append(wid, m.take_new())
        sim.done.add(wid)
        sim.trace.frame(f"order marked done: {m.result}", step=None)
    except ProcessCrashed as crash:
        sim.trace.crash(crash.point)


def _awaited(m: Machine) -> ev.Event:
    """The command event the code waits on: a plain process can run an activity or sleep, nothing more."""
    if m.waiting.event_id is None or len(m.waiting.options) > 1:
        raise ValueError(f"{m.workflow.name} waits on {m.waiting.command.describe()}: a plain process has no way "
                         "to receive a signal or wait on several things; run it with strategy 'durable'")
    return m.events[m.waiting.event_id - 1]


def _sleep(sim: Sim, m: Machine, started: ev.TimerStarted):
    """`time.sleep` in a process: it waits, and then its timer has fired."""
    sim.trace.frame(f"time.sleep({started.seconds:g}): the process waits; only its RAM knows why")
    yield sim.env.timeout(started.seconds)
    return ev.TimerFired(m.length + 1, sim.env.now, started.timer_id, started.event_id)


def durable(sim: Sim, workflow, activities, wid: str, args, workers: int = 1, task_timeout: float = 10.0):
    engine = Engine(sim, [workflow], activities.values(), workers=workers, task_timeout=task_timeout)
    engine.start(workflow, wid, *args)
    yield sim.env.timeout(0)
    return engine


def run_workflow(strategy: str, workflow, activities, args, *, wid: str, sim: Sim, scene: str = "",
                 controls: dict | None = None, horizon: float = 60 * 24 * 3600, **options) -> Run:
    """Run one workflow under a strategy to the end (or the horizon) and collect the Run."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    table = {a.name: a for a in activities}
    sim.watch = wid if strategy in ("checkpoint", "durable") else None
    sim.trace.frame(f"{wid} starts ({strategy})")
    runner = {"plain": plain, "cron": cron, "checkpoint": checkpoint, "durable": durable}[strategy]
    proc = sim.env.process(runner(sim, workflow, table, wid, args, **options))
    sim.run(until=horizon)
    engine = proc.value if strategy == "durable" else None
    if engine and wid in engine.unreadable:
        outcome, error = "corrupt_history", str(engine.unreadable[wid])
    elif engine and engine.stuck:
        outcome, error = "nondeterminism", str(engine.stuck[wid])
    elif engine and wid not in sim.done:   # the history is open: the workflow is alive, at the horizon
        outcome, error = "running", ""
    else:
        outcome, error = ("completed" if wid in sim.done else "lost"), ""
    history = sim.history.read(wid) if sim.watch and outcome != "corrupt_history" else []
    if history and isinstance(history[-1], ev.WorkflowExecutionFailed):
        outcome = "failed"
    extra = engine.steps if engine else {}
    return Run(scene, controls or {}, sim.seed, sim, workflow, wid, outcome, history, error, extra)
