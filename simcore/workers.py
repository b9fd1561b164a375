"""The workers: processes that poll the task queue, run workflow and activity tasks, and die.

A worker keeps the workflows it ran in a sticky cache (workflow id -> its `Machine`), so the next task
of one of them needs only the events that came after; a worker without it replays the history from
line one. A restart or a deploy is a new process with an empty cache and a sticky queue of its own.
Faults in time (kill, pause, redeploy) are data, applied here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from . import events as ev
from .faults import KillWorker, PauseWorker, ProcessCrashed, Redeploy
from .replay import Machine, NonDeterminismError
from .service import keep_last
from .sim import perform
from .taskqueue import Task


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
    build: str = "v1"             # the code it runs (worker versioning: a pinned workflow stays on its build)

    @property
    def sticky_queue(self) -> str:
        return f"{self.name}#{self.incarnation}"


class WorkerSide:
    """The engine's worker side (a part of `simcore.engine.Engine`, which holds its state)."""

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
                poll = w.poll = self.queue.poll(w.sticky_queue, w.build)
                task = yield poll
                poll, w.poll, w.task, w.status = None, None, task, "busy"
                self.waits.append((self.env.now, task.kind, self.queue.taken(task)))
                self._lease(task)
                if task.kind == "workflow":
                    yield from self._workflow_task(w, task)
                else:
                    yield from self._activity_task(w, task)
                w.task, w.status = None, "idle"
        except (ProcessCrashed, simpy.Interrupt) as crash:
            self.queue.stopped_polling(w.sticky_queue)
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
            self.sim.trace.crash(f"{w.name}: {point}", getattr(crash, "after", None))
            if cause != "killed for good":
                self.env.process(self._restart(w, self.sim.restart_delay))
        else:
            self.queue.stopped_polling(w.sticky_queue)
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
        m = w.cache.pop(wid, None)   # held in the cache: read only what came after (a sticky task's partial history)
        if m is not None and m.run != self.run_of(wid):
            m = None                 # a run that another worker closed (continued as new): this one starts afresh
        if m is not None:
            w.cache[wid] = m         # put back last: the cache evicts the workflow used longest ago
        try:
            fresh = self._news(wid, m.length + 1 if m else 1) + transient
        except ev.HistoryError as err:   # a hole, an unknown event, a payload that is not JSON
            self._settle(task)
            self.unreadable[wid] = err
            self.incident("unreadable", f"HISTORY UNREADABLE: {err}", replaying=False)
            return
        try:
            if m is None:
                m = self._machine(fresh[0].workflow_type, wid, w)
                m.run = self.run_of(wid)
                keep_last(w.cache, wid, m, self.cache_size)   # full: the one used longest ago goes (it will replay)
                if ev.WorkflowTaskCompleted in map(type, fresh):   # the code ran here before
                    self.replays += 1
                    handed = f" ({len(fresh) - len(transient)} on record + this task's {len(transient)})" if transient else ""
                    self.incident("replay", f"{w.name} has no cached state for {wid}: replay {len(fresh)} "
                                  f"events from line one{handed}", ram={}, replaying=True, cursor=1)
            m.update_requests = list(self.update_requests.get(wid, ()))   # run in this task, if it completes
            replayed = m.steps_replayed
            try:
                m.feed(fresh)
            finally:   # counted even if the code stops fitting its history halfway
                self.steps_replayed += m.steps_replayed - replayed
        except NonDeterminismError as err:
            w.cache.pop(wid, None)
            if self._settle(task):
                self._workflow_task_failed(w, task, err)
            return
        for e in fresh:   # each result the code has now received is a point a crash can hit
            if isinstance(e, ev.ActivityTaskCompleted):
                sim.faults.reached("after_step", m.events[e.scheduled_event_id - 1].activity_type)
        yield from self._hold(w)
        new = transient + m.take_new(at=self.env.now)
        if not self._settle(task):
            w.cache.pop(wid, None)
            return
        if m.closed and self._holding_messages(wid):   # closing would drop signals that came meanwhile
            w.cache.pop(wid, None)
            self._unhandled_messages(w, wid, transient)
            return
        self._append(wid, new)
        if m.closed:   # a late result for this run is refused; a run that continued as new hands over
            w.cache.pop(wid, None)
            self.recent.pop((wid, m.run), None)
            self.sticky.pop(wid, None)
            del self.workflow_task[wid]
            self.buffered.pop(wid, None)
            if not isinstance(new[-1], ev.WorkflowExecutionContinuedAsNew):
                self.closed.add(wid)
                sim.done.add(wid)
                how = "failed" if isinstance(new[-1], ev.WorkflowExecutionFailed) else "completed"
                sim.trace.note(f"{wid} {how}: its history is closed", step=None)
                if self.pin:
                    self._drain()
        else:
            self.sticky[wid] = w.sticky_queue   # its next task goes to this worker first
            self._task_done(wid, new)
        self._act_on(wid, new, m.ctx.run_id)
        self._updates_left(wid)

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
                                     run_id=task.run_id, start_to_close=opts.start_to_close or self.task_timeout)
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

    def deploy(self, workflows, at: float, down_for: float = 1.0, build: str | None = None):
        """New workflow code at time `at`. Unpinned: every worker stops taking tasks, finishes the one
        in hand, and comes back `down_for` later with the new code and an empty cache, so every
        workflow in flight replays its history against the new code. Pinned (the engine was made with
        `pinned=True`), as `build`: workers of the new build start beside the old ones; new workflows
        start on it, those in flight stay on the build that started them, and the old build's workers
        stop once none of its workflows is open (drained)."""
        def swap():
            yield self.env.timeout(max(0.0, at - self.env.now))
            self.workflows = {w.name: w for w in workflows}
            if not self.pin:
                self.code = {b: self.workflows for b in self.code}
                self.incident("code", f"new code deployed for {', '.join(self.workflows)}")
                return
            old, self.build = self.build, build or f"v{len(self.code) + 1}"
            self.code[self.build] = self.workflows
            for n in range(sum(w.build == old for w in self.workers.values())):
                w = self.workers[f"{self.build}-worker-{n + 1}"] = Worker(f"{self.build}-worker-{n + 1}", build=self.build)
                self._spawn(w)
            self.incident("code", f"build {self.build} deployed beside {old}; workflows in flight stay on their build")
            self._drain()
        self.env.process(swap())
        if not self.pin:
            self.env.process(self._worker_fault(Redeploy(at, down_for, rolling=False)))

    def _drain(self) -> None:
        """Stop the workers of every old build that has no open workflow left."""
        for build in set(self.code) - {self.build}:
            open_ = [wid for wid, b in self.pinned.items() if b == build and wid not in self.closed]
            for w in self.workers.values():
                if w.build == build and not open_ and not w.draining and w.status not in ("dead", "deploying"):
                    w.draining = True
                    if w.poll is not None:
                        w.process.interrupt("deploying")
                    self.incident("drained", f"{w.name}: build {build} has no open workflow left: it stops")

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

    def _machine(self, workflow_type: str, wid: str, w: Worker) -> Machine:
        code = self.code.get(w.build, self.workflows)
        if workflow_type not in code:
            raise NonDeterminismError(wid, None, f"no workflow named {workflow_type!r} is registered on "
                                      f"this worker (it has: {', '.join(code)})", 1)
        return Machine(code[workflow_type], wid, live=self.sim.live, on_step=self.sim.trace.step_hook,
                       epoch=self.sim.epoch, identity=w.name)
