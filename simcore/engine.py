"""The durable engine: a history service, a task queue, and workers that poll it.

The engine never pushes work. Starting a workflow appends `WorkflowExecutionStarted` and queues a
*workflow task*; a worker takes it, runs the workflow code (replaying the history if it does not hold
the workflow in its cache) and appends the commands the code produced; each scheduled activity
becomes an *activity task*; its completion is appended and queues the next workflow task.

Every workflow task is on record, as a Temporal server records it: WorkflowTaskScheduled when the
engine wants the code to run, WorkflowTaskStarted when a worker takes it (its time is the code's
`ctx.now()`), WorkflowTaskCompleted followed by the commands when the worker answers. A task whose
lease runs out is WorkflowTaskTimedOut, and its retry is *transient*: its Scheduled and Started events
are written only when it completes. Code that disagrees with its history is WorkflowTaskFailed
(non-determinism), and the workflow stays open, stuck; a Temporal server would go on retrying that
task (transient attempts, recorded nowhere) until code that fits the history is deployed, where this
engine stops trying.

A worker that takes a task holds a lease on it, with a fencing token. If the worker dies, nothing
tells the engine: the lease simply runs out and the task goes back in the queue with a new token, for
whichever worker polls next. A completion carrying an old token is refused, so a late "zombie"
cannot record over its successor. Recovery is not a special path: it is a lease running out.

Activities are retried by the engine, following their retry policy (simcore.retry): a failure, a
timeout and a missed heartbeat are all just a failed attempt. Only the final attempt is written to
the history (its ActivityTaskStarted carries the attempt number), as a Temporal server does.
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field, replace

import simpy

from . import events as ev
from .faults import KillWorker, PauseWorker, ProcessCrashed, Redeploy
from .replay import Machine, NonDeterminismError
from .retry import ActivityOptions
from .sim import Outcome, Sim, perform, recorded
from .taskqueue import TaskQueue
from .workflow import WorkflowDef


@dataclass(frozen=True)
class Task:
    kind: str                     # "workflow" or "activity"
    workflow_id: str
    scheduled: ev.ActivityTaskScheduled | None = None   # activity tasks: what to run
    attempt: int = 1
    token: int = 0                # fencing: only the newest lease may complete the task
    sticky: str | None = None     # workflow tasks: the worker holding the workflow in its cache
    options: ActivityOptions = ActivityOptions()   # activity tasks: retry policy and timeouts
    run_id: str = ""              # activity tasks: the run that scheduled it (part of its idempotency key)

    @property
    def key(self):
        return (self.kind, self.workflow_id, self.scheduled.event_id if self.scheduled else 0)

    def __str__(self):
        what = self.scheduled.activity_type if self.scheduled else "workflow task"
        return f"{what} of {self.workflow_id}" + (f" (attempt {self.attempt})" if self.attempt > 1 else "")


@dataclass
class Worker:
    name: str
    status: str = "idle"          # idle | busy | dead | paused | deploying
    task: Task | None = None
    cache: dict = field(default_factory=dict)     # sticky: workflow id -> Machine
    frozen_until: float = 0.0
    draining: bool = False
    process: object = None
    poll: object = None
    incarnation: int = 0          # a restart or a deploy is a new process, with a sticky queue of its own

    @property
    def sticky_queue(self) -> str:
        return f"{self.name}#{self.incarnation}"


class Engine:
    def __init__(self, sim: Sim, workflows: list[WorkflowDef], activities, *, workers: int = 1,
                 task_timeout: float = 10.0, decide_seconds: float = 0.25, sticky_timeout: float = 5.0):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if task_timeout <= 0:
            raise ValueError(f"task_timeout must be positive seconds, got {task_timeout}")
        self.sim, self.env = sim, sim.env
        self.workflows = {w.name: w for w in workflows}
        self.activities = {a.name: a for a in activities}
        self.task_timeout, self.decide_seconds = task_timeout, decide_seconds
        self.queue_name = "durable-sim"
        self.queue = TaskQueue(self.env, sticky_timeout, on_unstick=self._sticky_timed_out)
        self.leases: dict[tuple, int] = {}   # task key -> the token of its current lease
        self._tokens = itertools.count(1)
        self.rng = random.Random(f"engine/{sim.seed}")   # retry jitter
        self.first_scheduled: dict[tuple, float] = {}  # activity key -> when its first attempt was queued
        self.heartbeats: dict[tuple, float] = {}
        self.began: dict[tuple, float] = {}          # activity key -> when its current attempt started
        self.last_failure: dict[tuple, dict] = {}    # activity key -> the previous attempt's failure
        self.workflow_task: dict[str, tuple] = {}    # workflow id -> (scheduled id, started id) of its task
        self.sticky: dict[str, str] = {}   # workflow id -> the sticky queue of the worker that ran its last task
        self.stuck: dict[str, NonDeterminismError] = {}
        self.unreadable: dict[str, ev.HistoryError] = {}   # histories that failed their checks on read
        self.executed = 0                    # activity steps decided live and made durable
        self.closed: set[str] = set()
        self.rejected = 0                    # completions refused for a stale token
        self.replays = 0                     # full replays: a workflow task on a worker without the cache
        self.attempts: list[tuple] = []      # (time, activity type, workflow id, attempt, outcome)
        self.waits: list[tuple] = []         # (time taken, kind, seconds waited in the queue)
        self.machines: list[Machine] = []    # every workflow machine any worker built
        self.incidents: list[tuple] = []     # (time, kind, text, details): crashes, leases lost, deploys...
        self.workers = {f"worker-{n + 1}": Worker(f"worker-{n + 1}") for n in range(workers)}
        for w in self.workers.values():
            self._spawn(w)
        for fault in sim.faults.plan.workers:
            self.env.process(self._worker_fault(fault))

    # -- the service side ----------------------------------------------------------------------
    def start(self, workflow: WorkflowDef, workflow_id: str, *args) -> None:
        started = self.sim.started(workflow, workflow_id, args)
        self.sim.history.append(workflow_id, [started, self._scheduled(2)])
        self.workflow_task[workflow_id] = (2, 0)
        self.dispatch(Task("workflow", workflow_id))

    def _scheduled(self, event_id: int, attempt: int = 1) -> ev.WorkflowTaskScheduled:
        return ev.WorkflowTaskScheduled(event_id, self.env.now, self.queue_name, self.task_timeout, attempt)

    def _schedule_workflow_task(self, wid: str, first: list | None = None, sticky: str | None = None) -> None:
        """Record the results in `first` (a list of events, or none) with a new WorkflowTaskScheduled,
        in one append, and queue the task."""
        events = list(first or [])
        scheduled = self._scheduled(self.sim.history.length(wid) + len(events) + 1)
        self.sim.history.append(wid, events + [scheduled])
        self.workflow_task[wid] = (scheduled.event_id, 0)
        self.dispatch(Task("workflow", wid, sticky=sticky))

    def _sticky_timed_out(self, task: Task) -> None:
        """The sticky worker did not come for the task in time: on record, then on the normal queue."""
        wid = task.workflow_id
        scheduled, _ = self.workflow_task[wid]
        self.incident("sticky", f"{task}: {task.sticky} did not take it within {self.queue.sticky_timeout:g}s; "
                      "any worker may take it now (it will replay)")
        timed_out = ev.WorkflowTaskTimedOut(self.sim.history.length(wid) + 1, self.env.now, scheduled, 0,
                                            "SCHEDULE_TO_START")
        self._schedule_workflow_task(wid, [timed_out])

    def dispatch(self, task: Task) -> None:
        task = replace(task, token=next(self._tokens))
        self.leases[task.key] = task.token
        if task.kind == "activity":
            self.first_scheduled.setdefault(task.key, self.env.now)
            s2s = task.options.schedule_to_start
            if s2s:
                self.env.process(self._schedule_to_start(task, s2s))
        self.queue.put(task)

    def _lease(self, task: Task):
        """Runs beside a taken task: if it is not completed in time, the attempt has failed."""
        opts = task.options
        limit = (opts.start_to_close or self.task_timeout) if task.kind == "activity" else self.task_timeout
        deadline, beat = self.env.now + limit, opts.heartbeat
        self.heartbeats[task.key] = self.env.now
        while self.leases.get(task.key) == task.token:
            until = min(deadline, self.heartbeats[task.key] + beat) if beat else deadline
            if self.env.now >= until:
                reason = "StartToCloseTimeout" if until == deadline else "HeartbeatTimeout"
                self.incident("lease", f"{task}: {reason}, the lease is taken back")
                if task.kind == "workflow":
                    self._workflow_task_timed_out(task)
                else:
                    self._attempt_failed(task, reason, f"no result within {limit:g}s" if until == deadline
                                         else f"no heartbeat for {beat:g}s")
                return
            yield self.env.timeout(until - self.env.now)

    def _workflow_task_timed_out(self, task: Task) -> None:
        """The worker holding a workflow task never answered. The first attempt's failure is recorded;
        the retries are transient (nothing is written until one completes)."""
        del self.leases[task.key]
        wid = task.workflow_id
        if task.attempt == 1:
            scheduled, started = self.workflow_task[wid]
            self.sim.history.append(wid, [ev.WorkflowTaskTimedOut(self.sim.history.length(wid) + 1, self.env.now,
                                                                  scheduled, started, "START_TO_CLOSE")])
        self.dispatch(replace(task, attempt=task.attempt + 1, sticky=None))

    def _schedule_to_start(self, task: Task, seconds: float):
        yield self.env.timeout(seconds)
        if task in self.queue.pending:   # still waiting for a worker: not retried, the queue is the problem
            self.queue.pending.remove(task)
            del self.leases[task.key]
            self._record(task, ev_failed("ScheduleToStartTimeout", f"no worker took it within {seconds:g}s"))

    def _settle(self, task: Task) -> bool:
        """Close the task's lease if `task` still holds it; False for a stale (fenced) completion."""
        if self.leases.get(task.key) != task.token:
            self.rejected += 1
            self.incident("stale", f"stale completion of {task} refused (token {task.token})", task=str(task))
            return False
        del self.leases[task.key]
        return True

    def _attempt_failed(self, task: Task, error_type: str, message: str, retryable: bool = True) -> None:
        """One attempt failed (an error, a timeout): retry it later, or record the failure for good."""
        self.leases.pop(task.key, None)
        opts = task.options
        wait = opts.retry.interval(task.attempt, self.rng)
        deadline = opts.schedule_to_close and self.first_scheduled[task.key] + opts.schedule_to_close
        retry = retryable and opts.retry.retries(task.attempt, error_type)
        out_of_time = deadline and self.env.now + wait >= deadline
        if retry and not out_of_time:
            self.last_failure[task.key] = {"error_type": error_type, "message": message}   # for the next attempt's record
            self.incident("retry", f"{task} failed ({error_type}); retry in {wait:g}s")
            self.env.process(self._retry_later(task, wait))
            return
        if retry:   # the policy would try again, but the whole activity's deadline comes first
            error_type, message = "ScheduleToCloseTimeout", f"{message}; no time left for another attempt"
        self._record(task, ev_failed(error_type, message))

    def _retry_later(self, task: Task, wait: float):
        yield self.env.timeout(wait)
        self.dispatch(replace(task, attempt=task.attempt + 1))

    def _finish(self, task: Task, outcome) -> None:
        """A worker's result: recorded if the worker still holds the lease, refused if not."""
        if self._settle(task):
            self._record(task, outcome)

    def _record(self, task: Task, outcome) -> None:
        """Write an activity's final outcome to the history and wake its workflow, in one append."""
        wid, key = task.workflow_id, task.key
        failure = self.last_failure.pop(key, None)
        result = recorded(self.sim.history.length(wid) + 1, self.env.now, task.scheduled, task.attempt, outcome,
                          started=self.began.pop(key, None), last_failure=failure)
        self.first_scheduled.pop(key, None)
        self._schedule_workflow_task(wid, result, sticky=self._holder(wid))
        self.sim.trace.note(f"{task.scheduled.activity_type}: result recorded in the history (committed)")

    # -- the worker side -----------------------------------------------------------------------
    def _spawn(self, w: Worker) -> None:
        """Start a fresh incarnation of `w`: empty memory. One that is still running (two deploys
        overlapping, a restart racing a deploy) is replaced: it stops where it is."""
        if w.process is not None and w.process.is_alive:
            w.process.interrupt("replaced")
        w.status, w.cache, w.draining, w.task, w.poll = "idle", {}, False, None, None
        w.incarnation += 1
        w.process = self.env.process(self.worker(w))

    def worker(self, w: Worker):
        me, poll = self.env.active_process, None
        try:
            while not w.draining:
                poll = w.poll = self.queue.poll(w.sticky_queue)
                task = yield poll
                poll, w.poll, w.task, w.status = None, None, task, "busy"
                self.waits.append((self.env.now, task.kind, self.queue.taken(task)))
                self.env.process(self._lease(task))
                if task.kind == "workflow":
                    yield from self._workflow_task(w, task)
                else:
                    yield from self._activity_task(w, task)
                w.task, w.status = None, "idle"
        except (ProcessCrashed, simpy.Interrupt) as crash:
            if poll is not None:   # stop polling; a task handed over but never seen goes back
                self.queue.cancel(w.sticky_queue, poll)
            cause = crash.cause if isinstance(crash, simpy.Interrupt) else None
            if w.process is not me or cause == "replaced":
                return   # a replaced incarnation: the worker's state is its successor's now
            if cause == "deploying":
                w.status, w.cache, w.poll = "deploying", {}, None
                return
            point = crash.point if isinstance(crash, ProcessCrashed) else cause
            w.status, w.cache, w.task, w.poll = "dead", {}, None, None
            self.incidents.append((self.env.now, "crash", f"{w.name}: {point}", {"worker": w.name}))
            self.sim.trace.crash(f"{w.name}: {point}")
            if cause != "killed for good":
                self.env.process(self._restart(w, self.sim.restart_delay))
        else:
            if w.process is me:
                w.status, w.cache = "deploying", {}

    def _restart(self, w: Worker, delay: float):
        yield self.env.timeout(delay)
        self._spawn(w)
        self.incident("start", f"{w.name} starts with an empty memory; it polls the task queue", worker=w.name)

    def _hold(self, w: Worker):
        """A paused worker does nothing until its pause ends, then carries on as if no time passed."""
        if w.frozen_until > self.env.now:
            w.status = "paused"
            yield self.env.timeout(w.frozen_until - self.env.now)
            w.status = "busy"

    def _workflow_task(self, w: Worker, task: Task):
        wid, sim = task.workflow_id, self.sim
        transient = self._task_started(w, task)
        yield self.env.timeout(self.decide_seconds)
        m = w.cache.get(wid)   # held in the cache: read only what came after (a sticky task's partial history)
        try:
            fresh = sim.history.read(wid, start=m.length + 1 if m else 1) + transient
        except ev.HistoryError as err:   # a hole, an unknown event, a payload that is not JSON
            self._settle(task)
            self.unreadable[wid] = err
            self.incident("unreadable", f"HISTORY UNREADABLE: {err}", replaying=False)
            return
        try:
            if m is None:
                m = w.cache[wid] = self._machine(fresh[0].workflow_type, wid, w.name)
                if any(type(e) is ev.WorkflowTaskCompleted for e in fresh):   # the code ran here before
                    self.replays += 1
                    self.incident("replay", f"{w.name} has no cached state for {wid}: replay {len(fresh)} "
                                  "events from line one", ram={}, replaying=True, cursor=1)
            m.feed(fresh)
        except NonDeterminismError as err:
            w.cache.pop(wid, None)
            if self._settle(task):
                self._workflow_task_failed(w, task, transient, err)
            return
        for e in fresh:   # each result the code has now received is a point a crash can hit
            if isinstance(e, ev.ActivityTaskCompleted):
                sim.faults.reached("after_step", m.events[e.scheduled_event_id - 1].activity_type)
        yield from self._hold(w)
        new = transient + m.take_new()
        if not self._settle(task):
            w.cache.pop(wid, None)
            return
        sim.history.append(wid, new)
        for e in new:
            if isinstance(e, ev.ActivityTaskScheduled):
                self.executed += 1
                self.dispatch(Task("activity", wid, e, options=ActivityOptions.from_json(e.options),
                                   run_id=m.ctx.run_id))
        self.sticky[wid] = w.sticky_queue
        if m.closed:
            w.cache.pop(wid, None)
            self.closed.add(wid)
            sim.done.add(wid)
            sim.trace.note(f"{wid} completed: its history is closed", step=None)

    def _task_started(self, w: Worker, task: Task) -> list:
        """The worker takes a workflow task: WorkflowTaskStarted is written now, or, for a retried
        (transient) task, made and kept back with its WorkflowTaskScheduled until the task completes."""
        wid, history = task.workflow_id, self.sim.history
        n = history.length(wid)
        if task.attempt == 1:
            scheduled, _ = self.workflow_task[wid]
            history.append(wid, [ev.WorkflowTaskStarted(n + 1, self.env.now, scheduled, w.name)])
            self.workflow_task[wid] = (scheduled, n + 1)
            return []
        self.workflow_task[wid] = (n + 1, n + 2)
        return [self._scheduled(n + 1, task.attempt), ev.WorkflowTaskStarted(n + 2, self.env.now, n + 1, w.name)]

    def _workflow_task_failed(self, w: Worker, task: Task, transient: list, err: NonDeterminismError) -> None:
        """The code does not fit its history: the first failure is recorded, and the workflow is stuck."""
        wid = task.workflow_id
        if task.attempt == 1:
            scheduled, started = self.workflow_task[wid]
            self.sim.history.append(wid, [ev.WorkflowTaskFailed(self.sim.history.length(wid) + 1, self.env.now,
                                                                scheduled, started, "NON_DETERMINISTIC_ERROR",
                                                                str(err), w.name)])
        self.stuck[wid] = err
        self.incident("stuck", f"STUCK: {err}", replaying=False)

    def _activity_task(self, w: Worker, task: Task):
        scheduled = task.scheduled
        opts = task.options
        self.began[task.key] = self.env.now

        def beat():
            if self.leases.get(task.key) == task.token and w.frozen_until <= self.env.now:
                self.heartbeats[task.key] = self.env.now
        outcome = yield from perform(self.sim, self.activities[scheduled.activity_type], task.workflow_id,
                                     scheduled, task.attempt, caller=w.name, hold=lambda: self._hold(w),
                                     heartbeat=(opts.heartbeat / 2, beat) if opts.heartbeat else None,
                                     run_id=task.run_id)
        yield from self._hold(w)
        self.attempts.append((self.env.now, scheduled.activity_type, task.workflow_id, task.attempt,
                              "no response" if outcome is None else "ok" if outcome.ok else outcome.error_type))
        if outcome is None:   # nothing came back: the worker waits out its timeout; the lease decides
            return
        if outcome.ok:
            self._finish(task, outcome)
        elif self.leases.get(task.key) == task.token:
            self._attempt_failed(task, outcome.error_type, outcome.message, outcome.retryable)
        else:
            self._settle(task)   # counts the stale report

    # -- faults in time ------------------------------------------------------------------------
    def _worker_fault(self, fault):
        yield self.env.timeout(max(0.0, fault.at - self.env.now))
        if isinstance(fault, KillWorker):
            w = self.workers[fault.worker]
            if w.status not in ("dead", "deploying"):
                w.process.interrupt("killed" if fault.restart else "killed for good")
        elif isinstance(fault, PauseWorker):
            self.workers[fault.worker].frozen_until = self.env.now + fault.seconds
            self.incident("pause", f"{fault.worker} freezes for {fault.seconds:g}s", worker=fault.worker)
        elif isinstance(fault, Redeploy):
            alive = [w for w in self.workers.values() if w.status != "dead"]
            for group in ([w] for w in alive) if fault.rolling else [alive]:
                for w in group:
                    w.draining = True
                    if w.poll is not None:   # idle: stop polling now; busy: finish the task in hand
                        w.process.interrupt("deploying")
                self.incident("deploy", f"deploy: {', '.join(w.name for w in group)} going down")
                yield simpy.AllOf(self.env, [w.process for w in group])
                yield self.env.timeout(fault.down_for)
                for w in group:
                    self._spawn(w)
                self.incident("deployed", f"deploy: {', '.join(w.name for w in group)} back, with new code and "
                              "empty caches")

    # -- what a view can draw ------------------------------------------------------------------
    def incident(self, kind: str, text: str, **details) -> None:
        """Something a learner should see (a lease lost, a stale completion refused, a deploy): kept
        in `incidents` with its time, and drawn as a frame."""
        changes = {k: details.pop(k) for k in ("ram", "replaying", "cursor") if k in details}
        self.incidents.append((self.env.now, kind, text, details))
        self.sim.trace.frame(text, **changes)

    def snapshot(self) -> dict:
        """The engine's state now, as plain data: workers (with their cache sizes), the queue, the counts."""
        now = self.env.now
        return {
            "workers": [(w.name, w.status, str(w.task) if w.task else "", len(w.cache)) for w in self.workers.values()],
            "queue": [str(t) for t in self.queue.pending],
            "oldest": max((now - self.queue.queued_at.get(t.key, now) for t in self.queue.pending), default=0.0),
            "closed": len(self.closed), "stuck": len(self.stuck),
            "rejected": self.rejected, "replays": self.replays,
        }

    def start_every(self, workflow: WorkflowDef, orders, every: float):
        """A SimPy process: start one workflow per (workflow id, args) in `orders`, `every` seconds."""
        for wid, args in orders:
            self.start(workflow, wid, *args)
            yield self.env.timeout(every)

    # -- helpers -------------------------------------------------------------------------------
    def _holder(self, wid: str) -> str | None:
        """Where the workflow's next task goes: the sticky queue of the worker process that ran its last
        one. If that process has died since, nobody polls there, and the task waits out the sticky
        timeout, as on a Temporal server, which cannot tell a dead worker from a slow one."""
        return self.sticky.get(wid)

    def _machine(self, workflow_type: str, wid: str, identity: str) -> Machine:
        if workflow_type not in self.workflows:
            raise NonDeterminismError(wid, None, f"no workflow named {workflow_type!r} is registered on "
                                      f"this worker (it has: {', '.join(self.workflows)})", 1)
        m = Machine(self.workflows[workflow_type], wid, live=self.sim.live, on_step=self.sim.trace.on_step,
                    epoch=self.sim.epoch, identity=identity)
        self.machines.append(m)
        return m

    @property
    def steps(self) -> dict:
        """Activity steps answered from history vs run live, over every replay."""
        return {"steps_replayed": sum(m.steps_replayed for m in self.machines),
                "steps_executed": self.executed}   # a decision lost in a crash before its append is not a step


def ev_failed(error_type: str, message: str) -> Outcome:
    return Outcome(False, error_type=error_type, message=message)
