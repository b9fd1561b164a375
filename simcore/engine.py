"""The durable engine: a history service, a task queue, and workers that poll it.

The engine never pushes work. Starting a workflow appends `WorkflowExecutionStarted` and queues a
*workflow task*; a worker takes it, runs the workflow code (replaying the history if it does not hold
the workflow in its cache) and appends the commands the code produced; each scheduled activity
becomes an *activity task*; its completion is appended and queues the next workflow task.

A worker that takes a task holds a lease on it, with a fencing token. If the worker dies, nothing
tells the engine: the lease simply expires and the task goes back in the queue with a new token, for
whichever worker polls next. A completion carrying an old token is refused, so a late "zombie"
cannot record over its successor. Recovery is not a special path: it is a lease running out.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import simpy

from . import events as ev
from .faults import ProcessCrashed
from .replay import Machine, NonDeterminismError
from .sim import Sim, perform, recorded
from .workflow import WorkflowDef


@dataclass(frozen=True)
class Task:
    kind: str                     # "workflow" or "activity"
    workflow_id: str
    scheduled: ev.ActivityTaskScheduled | None = None   # activity tasks: what to run
    attempt: int = 1
    token: int = 0                # fencing: only the newest lease may complete the task

    @property
    def key(self):
        return (self.kind, self.workflow_id, self.scheduled.event_id if self.scheduled else 0)


class Engine:
    def __init__(self, sim: Sim, workflows: list[WorkflowDef], activities, *, workers: int = 1,
                 task_timeout: float = 10.0, decide_seconds: float = 0.25):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if task_timeout <= 0:
            raise ValueError(f"task_timeout must be positive seconds, got {task_timeout}")
        self.sim, self.env = sim, sim.env
        self.workflows = {w.name: w for w in workflows}
        self.activities = {a.name: a for a in activities}
        self.task_timeout, self.decide_seconds = task_timeout, decide_seconds
        self.queue = simpy.Store(self.env)
        self.leases: dict[tuple, int] = {}   # task key -> the token of its current lease
        self._tokens = itertools.count(1)
        self.stuck: dict[str, NonDeterminismError] = {}
        self.closed: set[str] = set()
        self.rejected = 0                    # completions refused for a stale token
        self.machines: list[Machine] = []    # every workflow machine any worker built
        for n in range(workers):
            self.env.process(self.worker(f"worker-{n + 1}"))

    # -- the service side ----------------------------------------------------------------------
    def start(self, workflow: WorkflowDef, workflow_id: str, *args) -> None:
        self.sim.history.append(workflow_id, [self.sim.started(workflow, workflow_id, args)])
        self.dispatch(Task("workflow", workflow_id))

    def dispatch(self, task: Task) -> None:
        task = replace(task, token=next(self._tokens))
        self.leases[task.key] = task.token
        self.queue.put(task)

    def _lease(self, task: Task):
        """Runs beside a taken task: if it is not completed in time, hand it to someone else."""
        yield self.env.timeout(self.task_timeout)
        if self.leases.get(task.key) == task.token:
            self.sim.trace.frame(f"lease on {task.kind} task of {task.workflow_id} expired: queued again")
            self.dispatch(replace(task, attempt=task.attempt + 1))

    def _settle(self, task: Task) -> bool:
        """Close the task's lease if `task` still holds it; False for a stale (fenced) completion."""
        if self.leases.get(task.key) != task.token:
            self.rejected += 1
            self.sim.trace.frame(f"stale completion of {task.kind} task refused (token {task.token})")
            return False
        del self.leases[task.key]
        return True

    # -- the worker side -----------------------------------------------------------------------
    def worker(self, name: str):
        cache: dict[str, Machine] = {}   # sticky: workflows this worker holds in memory
        try:
            while True:
                task = yield self.queue.get()
                self.env.process(self._lease(task))
                if task.kind == "workflow":
                    yield from self._workflow_task(task, cache)
                else:
                    yield from self._activity_task(task)
        except ProcessCrashed as crash:
            self.sim.trace.crash(crash.point)
            self.env.process(self._restart(name))

    def _restart(self, name: str):
        yield self.env.timeout(self.sim.restart_delay)
        self.sim.trace.frame(f"{name} restarts with an empty memory; it polls the task queue")
        self.env.process(self.worker(name))

    def _workflow_task(self, task: Task, cache: dict):
        wid, sim = task.workflow_id, self.sim
        yield self.env.timeout(self.decide_seconds)
        history = sim.history.read(wid)
        m = cache.get(wid)
        try:
            if m is None or m.length > len(history):
                m = cache[wid] = self._machine(history[0].workflow_type, wid)
                if len(history) > 1:
                    sim.trace.frame(f"no cached state for {wid}: replay {len(history)} events from line one",
                                    ram={}, replaying=True, cursor=1)
                fresh = history
            else:
                fresh = history[m.length:]
            m.feed(fresh)
        except NonDeterminismError as err:
            cache.pop(wid, None)
            self._settle(task)
            self.stuck[wid] = err
            sim.trace.frame(f"STUCK: {err}", replaying=False)
            return
        for e in fresh:   # each result the code has now received is a point a crash can hit
            if isinstance(e, ev.ActivityTaskCompleted):
                sim.faults.reached("after_step", history[e.scheduled_event_id - 1].activity_type)
        new = m.take_new()
        if not self._settle(task):
            cache.pop(wid, None)
            return
        sim.history.append(wid, new)
        for e in new:
            if isinstance(e, ev.ActivityTaskScheduled):
                self.dispatch(Task("activity", wid, e))
        if m.closed:
            self.closed.add(wid)
            sim.done.add(wid)
            sim.trace.frame(f"{wid} completed: its history is closed", step=None)

    def _activity_task(self, task: Task):
        wid, sim, scheduled = task.workflow_id, self.sim, task.scheduled
        outcome = yield from perform(sim, self.activities[scheduled.activity_type], wid, scheduled,
                                     task.attempt)
        if not self._settle(task):
            return
        sim.history.append(wid, recorded(sim.history.length(wid) + 1, self.env.now, scheduled,
                                         task.attempt, outcome))
        sim.trace.frame(f"{scheduled.activity_type}: result recorded in the history (committed)")
        self.dispatch(Task("workflow", wid))

    def _machine(self, workflow_type: str, wid: str) -> Machine:
        if workflow_type not in self.workflows:
            raise NonDeterminismError(wid, None, f"no workflow named {workflow_type!r} is registered on "
                                      f"this worker (it has: {', '.join(self.workflows)})", 1)
        m = Machine(self.workflows[workflow_type], wid, live=self.sim.live, on_step=self.sim.trace.on_step)
        self.machines.append(m)
        return m

    @property
    def steps(self) -> dict:
        """Activity steps answered from history vs run live, over every replay."""
        return {"steps_replayed": sum(m.steps_replayed for m in self.machines),
                "steps_executed": sum(m.steps_executed for m in self.machines)}
