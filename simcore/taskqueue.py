"""The task queue: workers poll it; the engine never pushes work to a worker.

A poll either takes a task at once or waits until one arrives. A workflow task can be *sticky*:
addressed to the worker that holds that workflow in its cache, which can continue without a
replay. If that worker does not poll for it within `sticky_timeout`, the task loses its address and
any worker may take it (and will replay the history). Temporal's matching service does the same
with its sticky queues and their schedule-to-start timeout (5 s in the Go and Java SDKs, 10 s in the
Python SDK); its history service records that timeout (WorkflowTaskTimedOut, SCHEDULE_TO_START) and
schedules the task again on the normal queue: `on_unstick` is where the engine does that.

Unless the worker is known to be gone: Temporal's (and Cadence's) matching service treats a sticky
queue that no poller has polled for 10 seconds (`stickyPollerUnavailableWindow`, hard-coded) as a
sticky worker unavailable, and the history service puts the task straight on the normal queue, with
nothing on record. So a worker that died just now costs a sticky timeout; one dead for a while does not.
"""
from __future__ import annotations

import itertools
from collections import deque
from operator import itemgetter

from . import events as ev
from .retry import ActivityOptions
from .sim import after


@ev.frozen
class Task:
    kind: str                     # "workflow" or "activity"
    workflow_id: str
    scheduled: ev.ActivityTaskScheduled | None = None   # activity tasks: what to run
    attempt: int = 1
    token: int = 0                # fencing: only the newest lease may complete the task
    sticky: str | None = None     # workflow tasks: the worker holding the workflow in its cache
    options: ActivityOptions = ActivityOptions()   # activity tasks: retry policy and timeouts
    run_id: str = ""              # activity tasks: the run that scheduled it (part of its idempotency key)
    build: str | None = None      # workflow tasks of a pinned workflow: only workers of this build take them

    @property
    def key(self):
        return (self.kind, self.workflow_id, self.scheduled.event_id if self.scheduled else 0)

    def __str__(self):
        what = self.scheduled.activity_type if self.scheduled else "workflow task"
        return f"{what} of {self.workflow_id}" + (f" (attempt {self.attempt})" if self.attempt > 1 else "")


class TaskQueue:
    """Tasks wait on one of several lines: a worker's sticky queue, or the normal queue (one line per
    build, for pinned workflows). A poll takes the worker's own sticky task first, else the oldest
    task it may take; every step is O(1) in the number of tasks waiting, so 100,000 workflows can wait
    at once."""

    UNAVAILABLE_AFTER = 10.0     # seconds without a poll before a sticky queue counts as gone (Temporal's window)

    def __init__(self, env, sticky_timeout: float = 5.0, on_unstick=None):
        self.env, self.sticky_timeout = env, sticky_timeout
        self.stopped: dict = {}      # sticky queue -> when its worker stopped polling it (died, was deployed)
        self.on_unstick = on_unstick or (lambda task: self.put(ev.copy_with(task, sticky=None)))
        self.lines: dict = {}        # ("sticky", worker queue) or ("normal", build): tasks, oldest first
        self.waiting: dict = {}      # id(task) -> (its line, its place in the queue's order, the task, when queued)
        self.pollers: list = []      # (worker queue, build, event) waiting for a task, oldest first
        self.queued_at: dict = {}    # task key -> when it entered the queue (schedule-to-start)
        self._order = itertools.count()

    @property
    def pending(self) -> list:
        """Every task waiting, oldest first (for views and tests; a poll never scans it)."""
        return [w[2] for w in sorted(self.waiting.values(), key=itemgetter(1))]

    def oldest_wait(self) -> float:
        """Seconds the longest-waiting task has waited so far (0 for an empty queue)."""
        first = min((w[3] for w in self.waiting.values()), default=None)
        return 0.0 if first is None else self.env.now - first

    def put(self, task) -> None:
        queued = self.queued_at.setdefault(task.key, self.env.now)
        for i, (name, build, event) in enumerate(self.pollers):
            if task.sticky in (None, name) and task.build in (None, build):
                del self.pollers[i]
                event.succeed(task)
                return
        line = ("sticky", task.sticky) if task.sticky is not None else ("normal", task.build)
        self.lines.setdefault(line, deque()).append(task)
        self.waiting[id(task)] = (line, next(self._order), task, queued)
        if task.sticky is not None:
            after(self.env, self.sticky_timeout, self._unstick, task)

    def poll(self, worker: str, build: str | None = None):
        """An event that fires with a task for `worker` (of `build`). Cancel it with `cancel` if the
        worker dies."""
        event, lines = self.env.event(), self.lines
        line = lines.get(("sticky", worker))
        if not line:   # else the oldest task of the normal queue, of any build or of the worker's own
            line, pinned = lines.get(("normal", None)), lines.get(("normal", build))
            if pinned and (not line or self.waiting[id(pinned[0])][1] < self.waiting[id(line[0])][1]):
                line = pinned
        if line:
            event.succeed(self._take(line))
        else:
            self.pollers.append((worker, build, event))
        return event

    def stopped_polling(self, worker: str) -> None:
        """`worker`'s sticky queue has lost its poller: its process died or was stopped."""
        self.stopped.setdefault(worker, self.env.now)

    def sticky_available(self, worker: str) -> bool:
        """Has `worker`'s sticky queue been polled within the last UNAVAILABLE_AFTER seconds?"""
        gone = self.stopped.get(worker)
        return gone is None or self.env.now - gone < self.UNAVAILABLE_AFTER

    def _take(self, line: deque):
        task = line.popleft()
        del self.waiting[id(task)]
        return task

    def remove(self, task) -> bool:
        """Take `task` out of the queue if it is still waiting there (a timeout gave up on it)."""
        where = self.waiting.pop(id(task), None)
        if where is None:
            return False
        self.lines[where[0]].remove(task)
        return True

    def cancel(self, worker: str, event) -> None:
        """A worker that stops polling: forget its poll, and put back a task it was handed but never saw."""
        self.pollers = [p for p in self.pollers if p[2] is not event]
        if event.triggered:
            self.put(event.value)

    def taken(self, task) -> float:
        """Seconds the task waited in the queue (schedule-to-start)."""
        return self.env.now - self.queued_at.pop(task.key, self.env.now)

    def _unstick(self, task) -> None:
        if self.remove(task):
            self.on_unstick(task)

    def __len__(self):
        return len(self.waiting)
