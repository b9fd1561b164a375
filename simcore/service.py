"""The history service: the engine's side of every task, and the only writer of histories.

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
the history (its ActivityTaskStarted carries the attempt number and the previous attempt's
failure), as a Temporal server does.
"""
from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from . import events as ev
from .replay import NonDeterminismError
from .retry import ActivityOptions
from .sim import Outcome, after, recorded
from .taskqueue import Task
from .workflow import WorkflowDef

if TYPE_CHECKING:
    from .workers import Worker


def keep_last(cache: dict, key, value, size: int) -> None:
    """`cache[key] = value` as its most recent entry; past `size` entries the least recent goes (the
    worker's cache of workflows, the engine's of their recent events)."""
    cache.pop(key, None)
    cache[key] = value
    if len(cache) > size:
        del cache[next(iter(cache))]


class WorkflowClosed(Exception):
    """A message to a workflow that has closed (or never started)."""


class QueryFailed(Exception):
    """A query that could not be answered: no worker, or no such query handler."""


class UpdateRejected(Exception):
    """An update its validator refused (or one with no handler): nothing was written."""


class HistoryService:
    """The engine's history side (a part of `simcore.engine.Engine`, which holds its state)."""

    def start(self, workflow: WorkflowDef, workflow_id: str, *args) -> None:
        if self.pin:
            self.pinned[workflow_id] = self.build   # a pinned workflow completes on the build it started on
        self._begin_run(workflow_id, self.sim.started(workflow, workflow_id, args))

    def _begin_run(self, wid: str, started: ev.WorkflowExecutionStarted) -> None:
        """A run's first two events, in one append, and its first workflow task queued."""
        self._append(wid, [started, self._scheduled(2)])
        self.workflow_task[wid] = (2, 0)
        self.dispatch(Task("workflow", wid))

    def _scheduled(self, event_id: int, attempt: int = 1) -> ev.WorkflowTaskScheduled:
        return ev.WorkflowTaskScheduled(event_id, self.env.now, self.queue_name, self.task_timeout, attempt)

    def _schedule_workflow_task(self, wid: str, first: list | None = None, sticky: str | None = None) -> None:
        """Record the results in `first` (a list of events, or none) with a new WorkflowTaskScheduled,
        in one append, and queue the task."""
        events = list(first or [])
        scheduled = self._scheduled(self._length(wid) + len(events) + 1)
        self._append(wid, events + [scheduled])
        self.workflow_task[wid] = (scheduled.event_id, 0)
        self.dispatch(Task("workflow", wid, sticky=sticky))

    def _act_on(self, wid: str, recorded_commands: list, run_id: str) -> None:
        """The commands a workflow task made durable, carried out: an activity becomes a task in the
        queue; a timer goes into the engine's timer queue."""
        for e in recorded_commands:
            if isinstance(e, ev.ActivityTaskScheduled):
                self.executed += 1
                self.dispatch(Task("activity", wid, e, options=ActivityOptions.from_json(e.options), run_id=run_id))
            elif isinstance(e, ev.TimerStarted):
                self._arm(wid, e)
            elif isinstance(e, ev.TimerCanceled):
                self.timers.pop((wid, e.timer_id), None)
            elif isinstance(e, ev.WorkflowExecutionContinuedAsNew):
                self._continue(wid, e)
            elif isinstance(e, ev.WorkflowExecutionUpdateCompleted):
                self.update_results[e.update_id] = (e.result, e.error)
                handed = {e.update_id}
                self.update_requests[wid] = [r for r in self.update_requests.get(wid, []) if r[0] not in handed]

    # -- durable timers ------------------------------------------------------------------------------
    def _arm(self, wid: str, started: ev.TimerStarted) -> None:
        """A timer lives here, in the engine, not in any worker: a workflow asleep for a month is a row
        in the history and an entry in this queue, which is kept in order of when each is due, and
        wakes the engine once, at the first (Temporal keeps such a timer queue per history shard).
        Simulated time skips the idle month."""
        due = started.time + started.seconds
        self.timers[wid, started.timer_id] = due
        heapq.heappush(self.timer_queue, (due, next(self._armed), wid, started, self.run_of(wid)))
        if self.timer_queue[0][0] == due and self.wake_at != due:
            self.wake_at = due
            after(self.env, max(0.0, due - self.env.now), self._ring, due)

    def _ring(self, due: float) -> None:
        """The first timer is due: every timer due by now fires, in order; then the next wake-up is set.
        (A wake-up whose time is no longer the first does nothing: the earlier timer set its own.)"""
        if due != self.wake_at:
            return
        queue, self.wake_at = self.timer_queue, None
        while queue and queue[0][0] <= self.env.now:
            _, _, wid, started, run = heapq.heappop(queue)
            self._fire(wid, started, run)
        if queue:   # (on a real clock, now has moved on since: max)
            self.wake_at = queue[0][0]
            after(self.env, max(0.0, self.wake_at - self.env.now), self._ring, self.wake_at)

    def _fire(self, wid: str, started: ev.TimerStarted, run: str) -> None:
        if run != self.run_of(wid) or self.timers.pop((wid, started.timer_id), None) is None:
            return   # cancelled meanwhile, or its run is over (the next run numbers its timers from "1" again)
        self._deliver(wid, [ev.TimerFired(0, self.env.now, started.timer_id, started.event_id)])
        self.incident("timer", f"timer {started.timer_id} of {wid} fired: the engine wrote TimerFired, with or "
                      "without a worker alive; a workflow task waits in the queue")

    def _sticky_timed_out(self, task: Task) -> None:
        """The sticky worker did not come for the task in time: on record, then on the normal queue."""
        wid = task.workflow_id
        scheduled, _ = self.workflow_task[wid]
        self.incident("sticky", f"{task}: {task.sticky} did not take it within {self.queue.sticky_timeout:g}s; "
                      "any worker may take it now (it will replay)")
        timed_out = ev.WorkflowTaskTimedOut(self._length(wid) + 1, self.env.now, scheduled, 0,
                                            "SCHEDULE_TO_START")
        self._schedule_workflow_task(wid, [timed_out])

    def dispatch(self, task: Task) -> None:
        build = self.pinned.get(task.workflow_id) if task.kind == "workflow" else None
        task = ev.copy_with(task, token=next(self._tokens), build=build)
        self.leases[task.key] = task.token
        if task.kind == "activity":
            self.first_scheduled.setdefault(task.key, self.env.now)
            s2s = task.options.schedule_to_start
            if s2s:
                after(self.env, s2s, self._schedule_to_start, task, s2s)
        self.queue.put(task)

    def _lease(self, task: Task, deadline: float | None = None) -> None:
        """Taken with a task, and looked at again when it would run out (or a heartbeat is due): if
        the task is not completed in time, the attempt has failed."""
        key = task.key
        if self.leases.get(key) != task.token:
            return   # completed, or taken back already
        opts = task.options
        limit = (opts.start_to_close or self.task_timeout) if task.kind == "activity" else self.task_timeout
        beat = opts.heartbeat
        if deadline is None:   # the task is taken now
            deadline = self.env.now + limit
            if beat:
                self.heartbeats[key] = self.env.now
        until = min(deadline, self.heartbeats[key] + beat) if beat else deadline
        if self.env.now < until:
            after(self.env, until - self.env.now, self._lease, task, deadline)
            return
        reason = "StartToCloseTimeout" if until == deadline else "HeartbeatTimeout"
        said = f"{task}: {reason}, the lease is taken back"
        if task.kind == "workflow":
            self._workflow_task_timed_out(task)
            self.incident("lease", said)   # after its record: the frame counts it
        else:
            self.incident("lease", said)
            self._attempt_failed(task, reason, f"no result within {limit:g}s" if until == deadline
                                 else f"no heartbeat for {beat:g}s")

    def _workflow_task_timed_out(self, task: Task) -> None:
        """The worker holding a workflow task never answered. The first attempt's failure is recorded;
        the retries are transient (nothing is written until one completes)."""
        del self.leases[task.key]
        wid = task.workflow_id
        if task.attempt == 1:
            scheduled, started = self.workflow_task[wid]
            self._append(wid, [ev.WorkflowTaskTimedOut(self._length(wid) + 1, self.env.now, scheduled, started,
                                                       "START_TO_CLOSE")])
        self.workflow_task[wid] = (self.workflow_task[wid][0], 0)   # scheduled again, not started
        self._deliver(wid, self.buffered.pop(wid, []))                # what arrived meanwhile goes in first
        self.dispatch(ev.copy_with(task, attempt=task.attempt + 1, sticky=None))

    def _task_started(self, w: Worker, task: Task) -> list:
        """The worker takes a workflow task: WorkflowTaskStarted is written now, or, for a retried
        (transient) task, made and kept back with its WorkflowTaskScheduled until the task completes."""
        wid = task.workflow_id
        n = self._length(wid)
        if task.attempt == 1:
            scheduled, _ = self.workflow_task[wid]
            # not waited for on disk: the task's answer, synced, makes it durable (simcore.history)
            self._append(wid, [ev.WorkflowTaskStarted(n + 1, self.env.now, scheduled, w.name)], sync=False)
            self.workflow_task[wid] = (scheduled, n + 1)
            return []
        self.workflow_task[wid] = (n + 1, n + 2)
        return [self._scheduled(n + 1, task.attempt), ev.WorkflowTaskStarted(n + 2, self.env.now, n + 1, w.name)]

    def _workflow_task_failed(self, w: Worker, task: Task, err: NonDeterminismError) -> None:
        """The code does not fit its history: the first failure is recorded, and the workflow is stuck."""
        wid = task.workflow_id
        if task.attempt == 1:
            scheduled, started = self.workflow_task[wid]
            self._append(wid, [ev.WorkflowTaskFailed(self._length(wid) + 1, self.env.now, scheduled, started,
                                                     "NON_DETERMINISTIC_ERROR", str(err), w.name)])
        self._task_done(wid)   # no task is pending now: what arrives later is recorded, and waits
        self.stuck[wid] = err
        self.incident("stuck", f"STUCK: {err}", replaying=False)

    def _schedule_to_start(self, task: Task, seconds: float) -> None:
        if self.queue.remove(task):   # still waiting for a worker: not retried, the queue is the problem
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
            after(self.env, wait, self.dispatch, ev.copy_with(task, attempt=task.attempt + 1))
            return
        if retry:   # the policy would try again, but the whole activity's deadline comes first
            error_type, message = "ScheduleToCloseTimeout", f"{message}; no time left for another attempt"
        self._record(task, ev_failed(error_type, message))

    def _finish(self, task: Task, outcome) -> None:
        """A worker's result: recorded if the worker still holds the lease, refused if not."""
        if self._settle(task):
            self._record(task, outcome)

    def _record(self, task: Task, outcome) -> None:
        """Write an activity's final outcome to the history and wake its workflow, in one append."""
        wid, key = task.workflow_id, task.key
        failure = self.last_failure.pop(key, None)
        result = recorded(0, self.env.now, task.scheduled, task.attempt, outcome,
                          started=self.began.pop(key, None), last_failure=failure)
        self.first_scheduled.pop(key, None)
        self.heartbeats.pop(key, None)
        self._deliver(wid, result)
        self.sim.trace.note(f"{task.scheduled.activity_type}: result recorded in the history (committed)")

    # -- the history of a workflow's current run ------------------------------------------------------
    def run_of(self, wid: str) -> str:
        """The current run of a workflow, as the history store keys it: "1", then "2" after it continued
        as new, and so on. Signals, queries and results go to the current run."""
        return self.current_run.get(wid, "1")

    def runs(self, wid: str) -> list[str]:
        """Every run of the workflow so far, oldest first."""
        return [str(n) for n in range(1, int(self.run_of(wid)) + 1)]

    def _append(self, wid: str, events: list, sync: bool = True) -> None:
        key, history = (wid, self.run_of(wid)), self.sim.history
        history.append(wid, events, key[1], sync=sync)
        if history.path is None:
            return   # a store in RAM is its own events cache
        recent = self.recent.get(key, [])
        if recent and recent[-1].event_id + 1 != events[0].event_id:
            recent = []   # someone else wrote in between: start again from here
        keep_last(self.recent, key, recent + events, self.cache_size)

    def _read(self, wid: str, start: int = 1) -> list:
        return self.sim.history.read(wid, self.run_of(wid), start=start)

    def _news(self, wid: str, start: int) -> list:
        """The events from `start` on, for the workflow task a worker takes: from the events appended
        since the last task took them, if they reach back that far (a worker that holds the workflow
        needs only those), else from the store. Temporal's history service keeps such an events cache."""
        recent = self.recent.pop((wid, self.run_of(wid)), None)
        if recent and recent[0].event_id <= start:
            return recent[start - recent[0].event_id:]
        return self._read(wid, start)

    def _length(self, wid: str) -> int:
        return self.sim.history.length(wid, self.run_of(wid))

    def _continue(self, wid: str, closed: ev.WorkflowExecutionContinuedAsNew) -> None:
        """The run closed by continuing as new: the next run starts, same workflow id, a new run id, a
        fresh history that begins with the carried input and names the runs before it."""
        first = self._read(wid)[0]
        for key in [k for k in self.timers if k[0] == wid]:
            del self.timers[key]   # the closed run's timers: they fire for no one
        self.signal_requests.pop(wid, None)   # a run's request ids are its own (Temporal's too)
        self.current_run[wid] = str(int(self.run_of(wid)) + 1)
        started = ev.WorkflowExecutionStarted(1, self.env.now, closed.workflow_type, wid, list(closed.input),
                                              closed.new_run_id, first.run_id, first.first_run_id or first.run_id)
        self.sticky.pop(wid, None)
        self._begin_run(wid, started)
        self.incident("continued", f"{wid} continued as new: run {self.run_of(wid)} starts with a fresh history")

    # -- what arrives for a workflow: results, timers, messages ------------------------------------------
    def _deliver(self, wid: str, events: list) -> None:
        """Record what arrived for a workflow (numbered here, as it is written) and make sure a workflow
        task will hand it to the code. While a task runs, it waits: the task was given the history as
        it was, and what came after goes in after the task's answer, as on a Temporal server."""
        if not events or wid in self.closed:
            return   # (a late result for a workflow that has closed is refused)
        pending = self.workflow_task.get(wid)
        if pending and pending[1]:   # a worker is running a workflow task: after its answer
            self.buffered.setdefault(wid, []).extend(events)
            return
        n = self._length(wid)
        events = [ev.copy_with(e, event_id=n + i) for i, e in enumerate(events, start=1)]
        if pending:   # a task is scheduled and not yet taken: it will see these too
            self._append(wid, events)
        else:
            self._schedule_workflow_task(wid, events, sticky=self._holder(wid))

    def _unhandled_messages(self, w: Worker, wid: str, transient: list) -> None:
        """The code tried to close while signals were waiting for it: Temporal fails that workflow task
        (UNHANDLED_COMMAND) and hands the workflow a new one with the signals, so none is dropped."""
        scheduled, started = self.workflow_task[wid]
        n = self._length(wid) + len(transient)
        self._append(wid, transient + [ev.WorkflowTaskFailed(
            n + 1, self.env.now, scheduled, started, "UNHANDLED_COMMAND",
            "the workflow tried to close while signals were waiting for it", w.name)])
        self.incident("unhandled", f"{wid} tried to close with signals waiting: the task fails, a new one hands "
                      "them over")
        self._task_done(wid)

    def _task_done(self, wid: str, answer: list = ()) -> None:
        """A workflow task was answered (`answer`, recorded): what arrived while it ran is delivered now,
        but for a timer that fired while the answer cancelled it: the cancel wins (Temporal and Cadence
        clear its buffered TimerFired: checkAndClearTimerFiredEvent)."""
        del self.workflow_task[wid]
        cancelled = {e.timer_id for e in answer if type(e) is ev.TimerCanceled}
        self._deliver(wid, [e for e in self.buffered.pop(wid, [])
                            if not (type(e) is ev.TimerFired and e.timer_id in cancelled)])

    def _holding_messages(self, wid: str) -> bool:
        return any(type(e).__name__ in ev.MESSAGES for e in self.buffered.get(wid, ()))

    def later(self, at: float, action, *args):
        """Do `action(*args)` at simulated time `at` (a signal, a cancel, a query from outside)."""
        def run():
            yield self.env.timeout(max(0.0, at - self.env.now))
            action(*args)
        return self.env.process(run())

    def _holder(self, wid: str) -> str | None:
        """Where the workflow's next task goes: the sticky queue of the worker process that ran its last
        one. If that process died just now, the task waits out the sticky timeout there, as on a Temporal
        server, which cannot tell a dead worker from a slow one; once nobody has polled that queue for
        10 seconds, the server knows the worker is gone and uses the normal queue at once."""
        sticky = self.sticky.get(wid)
        if sticky is not None and not self.queue.sticky_available(sticky):
            del self.sticky[wid]
            return None
        return sticky


def ev_failed(error_type: str, message: str) -> Outcome:
    return Outcome(False, error_type=error_type, message=message)
