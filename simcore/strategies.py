"""The ways to run a workflow (ORDER #1001, in the course) that the course compares. Same workflow
code, same activities, same world; what differs is where progress lives and what happens after a crash.

- plain:      progress in local variables; a crash loses it, nobody runs the order again.
- cron:       plain, plus a job that re-runs unfinished orders every minute, from line one.
- checkpoint: each step's result is appended to the history file; a restart skips recorded steps.
- durable:    the engine: history, task queue, leases, replay with determinism checks.

Plain, cron and checkpoint are plain Python: the part a scene shows (`cron_job`, `checkpoint_loop`, a
plain function whose calls are `call(activity)`) is the part that runs. Under them, `Shop.wait` runs
the simulated world forward until the call at hand has its answer, so no SimPy shows in them. The
durable engine is SimPy processes (its workers, its timers) and runs as one.
"""
from __future__ import annotations

import sys
from types import SimpleNamespace

import simpy

from . import events as ev
from .engine import Engine
from .faults import KillWorker, ProcessCrashed, Redeploy
from .replay import Machine
from .sim import Outcome, Run, Sim, perform, recorded
from .trace import show
from .workflow import ActivityDef, ActivityError, WorkflowDef

STRATEGIES = ("plain", "cron", "checkpoint", "durable")
CRON_EVERY = 60.0   # seconds
MAX_RESTARTS = 50   # a process that crashes more often than this is given up on
NO_ANSWER = Outcome(False, error_type="TimeoutError", message="no response: the call timed out")


# -- plain and cron: the lesson is plain Python ------------------------------------------------------
# What scene 01 shows is what runs: `cron_job` below, and a plain function such as
# `simcore.scenarios.s01.fulfill_order` whose calls are `call(activity)`. `Shop` and `Process`, under
# them, are the simulation's plumbing: the orders table, the clock, a process and its RAM.

def cron_job(shop):
    """Every minute: find the orders never marked done and run them again, from line one."""
    for _minute in shop.every_minute():
        for order in shop.orders_not_marked_done():
            shop.run_again(order)   # a new process: nothing remembers which steps already ran


def plain(sim: Sim, workflow, activities, wid: str, args, horizon: float | None = None):
    """Run the function once, in one process. Its progress lives in its local variables."""
    Shop(sim, workflow, activities, {wid: args}, horizon).run(wid)


def cron(sim: Sim, workflow, activities, wid: str, args, horizon: float | None = None):
    """The order runs once, as plain runs it; then the cron job re-runs it until it is marked done."""
    shop = Shop(sim, workflow, activities, {wid: args}, horizon)
    shop.run(wid)
    cron_job(shop)


class OutOfTime(BaseException):
    """The simulation reached its horizon while a process waited: it is still waiting there. A
    BaseException, as `ProcessCrashed` is: code that catches `Exception` must not swallow it."""


class Shop:
    """The application around a plain function: its orders, the table of orders marked done
    (`sim.done`), and processes that run the function in simulated time. A call blocks while the
    world runs (`wait`), so the function and the cron job are plain Python, with no SimPy in them."""

    def __init__(self, sim: Sim, function, activities: dict, orders: dict, horizon: float | None = None):
        self.sim, self.function, self.activities, self.orders, self.horizon = sim, function, activities, orders, horizon
        self.running = None   # the SimPy process the order's process is waiting on, if one is running
        for fault in sim.faults.plan.workers:   # a plain process has no worker: kill -9, a host down or a
            at = getattr(fault, "at", None)     # deploy all end the process that is running then
            if isinstance(fault, (KillWorker, Redeploy)):
                sim.env.timeout(max(0.0, at - sim.env.now)).callbacks.append(lambda _, f=fault: self._kill(f))

    def _kill(self, fault) -> None:
        if self.running is not None and self.running.is_alive:
            what = "a deploy stops the process" if isinstance(fault, Redeploy) else "the process is killed (kill -9)"
            self.sim.faults.fired.append((self.sim.env.now, fault))
            self.running.interrupt(what)   # it dies where it is: mid-call, its request perhaps in flight

    def run(self, wid: str) -> None:
        """One process runs the function for this order, from line one, until it returns or dies."""
        sim, args = self.sim, self.orders[wid]
        try:
            if isinstance(self.function, WorkflowDef):   # workflow code (a generator), run as a plain process
                result = self.wait(sim.env.process(_plain_workflow(sim, self.function, self.activities, wid, args)))
            else:
                run_id = sim.started(SimpleNamespace(name=self.function.__name__), wid, args).run_id
                result = Process(self, wid, run_id).run(self.function, args)
            sim.done.add(wid)   # the application marks the order done in its database
            sim.trace.frame(f"order marked done: {result}", step=None)
        except ProcessCrashed as crash:
            sim.trace.crash(crash.point, crash.after)
        except OutOfTime:
            pass

    def run_again(self, wid: str) -> None:
        self.sim.trace.frame(f"cron: {wid} is not marked done; run it again from line one")
        self.run(wid)

    def orders_not_marked_done(self) -> list[str]:
        return [wid for wid in self.orders if wid not in self.sim.done]

    def every_minute(self):
        """The cron schedule: at each whole minute, while an order is not done (at most MAX_RESTARTS)."""
        for minute in range(MAX_RESTARTS):
            if not self.orders_not_marked_done():
                return
            now = self.sim.env.now
            self.wait(self.sim.env.timeout(CRON_EVERY - now % CRON_EVERY))
            yield minute

    def wait(self, event):
        """Run the world until `event` happens and return its value (raise its error). At the horizon,
        `OutOfTime`: the caller is still waiting when the run ends."""
        env = self.sim.env
        until = event if self.horizon is None else env.any_of([event, env.timeout(max(0.0, self.horizon - env.now))])
        outer, self.running = self.running, event if isinstance(event, simpy.Process) else self.running
        try:
            self.sim.run(until=until)
        except simpy.Interrupt as killed:
            raise ProcessCrashed(killed.cause) from None
        finally:
            self.running = outer
        if not event.triggered:
            raise OutOfTime()
        return event.value


_current: list = []   # the processes whose function is running, innermost last: what `call` reaches


def call(activity: ActivityDef):
    """`activity` as a plain function for plain code: `charge_card = call(orders.charge_card)`. Called
    from a function that a `Process` runs, it runs the activity there, in simulated time, and returns
    its result (raising `ActivityError` if it failed)."""
    def plain_call(*args):
        if not _current:
            raise RuntimeError(f"{activity.name} is called as a plain function inside a process (strategies.plain or cron)")
        return _current[-1].call(activity, args)
    plain_call.__name__ = plain_call.__qualname__ = activity.fn.__name__
    plain_call.activity = activity
    return plain_call


class Process:
    """One run of a plain function in a process. Each call it makes is a frame, with the line it is
    on and its local variables (its RAM), read from its own frame as it calls; a profile hook reads
    them once more as it returns. A crash raises `ProcessCrashed` out of the call it is in."""

    def __init__(self, shop: Shop, wid: str, run_id: str):
        self.shop, self.sim, self.wid, self.run_id = shop, shop.sim, wid, run_id
        self.calls, self.done_step, self.code = 0, None, None
        self.last_ram, self.last_line = {}, None

    def run(self, function, args):
        self.code, outer = function.__code__, sys.getprofile()
        _current.append(self)
        try:
            self._watch(outer)
            try:
                result = function(*args)
            except Exception:   # an error the function does not catch ends it, as a return would
                result = None
        finally:
            sys.setprofile(outer)
            _current.pop()
        self.sim.trace.frame(f"the workflow returns: {show(result)}", step=None, line=self._line(self.last_line),
                             ram=self.last_ram, replaying=False, cursor=None)
        self._after_step()
        return result

    def call(self, activity: ActivityDef, args):
        sim, outer = self.sim, self._outer
        sys.setprofile(outer)   # the world runs unwatched
        here = sys._getframe(1)
        while here is not None and here.f_code is not self.code:
            here = here.f_back
        ram = _ram(here.f_locals) if here else {}
        sim.trace.frame(f"{activity.name}: called", step=activity.name, line=self._line(here and here.f_lineno),
                        ram=ram, replaying=False, cursor=None)
        self._after_step()   # the step before this one is done, its result in the function's hands
        self.calls += 1
        scheduled = ev.ActivityTaskScheduled(self.calls, sim.env.now, str(self.calls), activity.name, list(args))
        outcome = self.shop.wait(sim.env.process(perform(sim, activity, self.wid, scheduled, 1, run_id=self.run_id)))
        outcome = outcome or NO_ANSWER
        self.done_step = activity.name
        self._watch(outer)
        if not outcome.ok:
            raise ActivityError(activity.name, outcome.error_type, outcome.message)
        return outcome.value

    def _after_step(self) -> None:
        if self.done_step:
            step, self.done_step = self.done_step, None
            self.sim.faults.reached("after_step", step)

    def _line(self, lineno) -> int | None:
        return lineno - self.code.co_firstlineno + 1 if lineno else None

    def _watch(self, outer) -> None:
        """Remember the function's locals and line as it leaves its frame (unless a profiler is on)."""
        self._outer = outer
        if outer is not None:
            return
        code = self.code

        def watch(frame, event, arg):
            if event == "return" and frame.f_code is code:
                self.last_ram, self.last_line = _ram(frame.f_locals), frame.f_lineno
        sys.setprofile(watch)


def _ram(local: dict) -> dict:
    return {k: show(v) for k, v in local.items() if k != "ctx" and not k.startswith("_")}


def _plain_workflow(sim: Sim, workflow, activities, wid: str, args):
    """Workflow code (a generator) run the plain way: its history is RAM only, and each result goes
    straight back to the code. What `Shop.run` does for a workflow rather than a plain function."""
    m = Machine(workflow, wid, live=sim.live, on_step=sim.trace.step_hook)   # its history: RAM only
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
    return _ended(m)


# -- checkpoint: the lesson is the loop ---------------------------------------------------------------
# What scene 02 shows is what runs: `checkpoint_loop`; `Checkpointed` under it is the plumbing (the
# history file, the replay machine that runs the workflow's code, simulated time).

def checkpoint_loop(process, record_first=False):
    """Skip the steps the history holds; do each other step, then append its result to the history."""
    process.read_history()                 # after a restart: what it holds is answered, not run again
    for step in process.steps():           # each step the code calls next, until it returns
        if record_first:                   # the other order: write down 'done', then do it
            process.append(step.done())
            step.run()
        else:
            process.append(step.run())     # do it, then append its result: one commit
    process.mark_done()


def checkpoint(sim: Sim, workflow, activities, wid: str, args, record_first: bool = False,
               horizon: float | None = None):
    """Run `checkpoint_loop` in a process; after a crash, restart it (a new process) until it is done."""
    shop = Shop(sim, workflow, activities, {wid: args}, horizon)
    for _ in range(MAX_RESTARTS):
        try:
            checkpoint_loop(Checkpointed(shop, wid), record_first)
        except ProcessCrashed as crash:
            sim.trace.crash(crash.point, crash.after)
        except OutOfTime:
            return
        if wid in sim.done:
            return
        try:
            shop.wait(sim.env.timeout(sim.restart_delay))
        except OutOfTime:
            return
        sim.trace.frame("the process restarts and reads its history file", ram={})


class Checkpointed:
    """A process that keeps each step's result in the history file (`sim.history`) and, started
    again, reads it back first. The workflow's code runs on a replay `Machine` that matches steps by
    position only (a hand-rolled checkpoint checks no names), which hands it each result."""

    def __init__(self, shop: Shop, wid: str):
        self.shop, self.sim, self.wid = shop, shop.sim, wid

    def read_history(self) -> None:
        sim, wid, shop = self.sim, self.wid, self.shop
        history = sim.history.read(wid)
        if not history:
            history = [sim.started(shop.function, wid, shop.orders[wid])]
            sim.history.append(wid, history)
        self.m = Machine(shop.function, wid, live=sim.live, strict=False, on_step=sim.trace.step_hook)
        self.m.feed(history)

    def steps(self):
        """The activity steps the code calls, one at a time; a sleep it waits out here (a restart
        sleeps again in full). Each step's result goes back to the code before the next one."""
        sim, m = self.sim, self.m
        while not m.closed:
            scheduled = _awaited(m)
            if isinstance(scheduled, ev.TimerStarted):
                sim.trace.frame(f"time.sleep({scheduled.seconds:g}): the process waits; only its RAM knows why")
                self.shop.wait(sim.env.timeout(scheduled.seconds))
                fired = [ev.TimerFired(m.length + 1, sim.env.now, scheduled.timer_id, scheduled.event_id)]
                sim.history.append(self.wid, m.take_new() + fired)
                m.feed(fired)
                continue
            step = Step(self, scheduled)
            yield step
            m.feed(step.result)
            sim.faults.reached("after_step", scheduled.activity_type)
        _ended(m)

    def append(self, events: list) -> None:
        """Append the step's events (and the command before them) to the history: one commit."""
        self.sim.history.append(self.wid, self.m.take_new() + events)
        step = self._step
        name = step.scheduled.activity_type
        self.sim.trace.frame(f"{name}: result recorded in the history (committed)" if step.ran else
                             f"{name}: recorded as done (before doing it)")

    def mark_done(self) -> None:
        self.sim.history.append(self.wid, self.m.take_new())
        self.sim.done.add(self.wid)
        self.sim.trace.frame(f"order marked done: {self.m.result}", step=None)


class Step:
    """One activity step of a checkpointed process: `run()` does it (in simulated time) and gives
    the events recording its outcome; `done()` gives the events saying it succeeded, without doing it."""

    def __init__(self, process: Checkpointed, scheduled: ev.ActivityTaskScheduled):
        self.process, self.scheduled, self.ran, self.result = process, scheduled, False, None
        process._step = self

    def run(self) -> list:
        p, scheduled = self.process, self.scheduled
        sim, m = p.sim, p.m
        began = sim.env.now
        outcome = p.shop.wait(sim.env.process(perform(sim, p.shop.activities[scheduled.activity_type], p.wid,
                                                      scheduled, 1, run_id=m.ctx.run_id)))
        self.ran = True
        if self.result is None:   # record first: the result on record is the one written before
            self.result = recorded(m.length + 1, sim.env.now, scheduled, 1, outcome or NO_ANSWER, started=began)
        return self.result

    def done(self) -> list:
        p = self.process
        self.result = recorded(p.m.length + 1, p.sim.env.now, self.scheduled, 1, Outcome(True, None))
        return self.result


def _ended(m: Machine):
    """The result of code that ran to its end the plain way; one that continued as new has no next run here."""
    if isinstance(m.events[-1], ev.WorkflowExecutionContinuedAsNew):
        raise ValueError(f"{m.workflow.name} continues as new: a plain process has no next run to start with its "
                         "input (it would return here); run it with strategy 'durable'")
    return m.result


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
    engine = None
    if strategy == "durable":
        proc = sim.env.process(durable(sim, workflow, table, wid, args, **options))
        sim.run(until=horizon)
        engine = proc.value
    else:   # plain Python: it runs the world forward itself
        runner = {"plain": plain, "cron": cron, "checkpoint": checkpoint}[strategy]
        runner(sim, workflow, table, wid, args, horizon=horizon, **options)
        if sim.env.now < horizon:
            sim.run(until=horizon)
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
