"""The durable engine: a history service, a task queue, and workers that poll it.

The engine never pushes work. Starting a workflow appends `WorkflowExecutionStarted` and queues a
*workflow task*; a worker takes it, runs the workflow code (replaying the history if it does not hold
the workflow in its cache) and appends the commands the code produced; each scheduled activity
becomes an *activity task*; its completion is appended and queues the next workflow task.

The parts are split as Temporal splits its server: the history side (`simcore.service`: what is
recorded, leases, timeouts and retries), the matching side (`simcore.taskqueue`: the task queue with
its sticky queues) and the worker side (`simcore.workers`: polling, the sticky cache, running tasks);
`simcore.messages` takes signals, cancels, updates and queries from outside; `simcore.recovery` picks up a store that another process wrote (`resume()`). `Engine` holds their
state and is what a scene starts.
"""
from __future__ import annotations

import itertools
import random

from . import events as ev
from .messages import Messages
from .recovery import Recovery
from .replay import NonDeterminismError
from .service import HistoryService
from .sim import Sim
from .taskqueue import TaskQueue
from .workers import Worker, WorkerSide
from .workflow import WorkflowDef


class Engine(HistoryService, Messages, WorkerSide, Recovery):
    def __init__(self, sim: Sim, workflows: list[WorkflowDef], activities, *, workers: int = 1,
                 task_timeout: float = 10.0, decide_seconds: float = 0.25, sticky_timeout: float = 5.0,
                 pinned: bool = False, cache_size: int = 1000):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if task_timeout <= 0:
            raise ValueError(f"task_timeout must be positive seconds, got {task_timeout}")
        self.sim, self.env = sim, sim.env
        self.workflows = {w.name: w for w in workflows}   # the code new workflows start on
        self.build, self.pin = "v1", pinned          # worker versioning: the current build; pinned or not
        self.code = {self.build: self.workflows}     # build -> its code
        self.pinned: dict[str, str] = {}             # workflow id -> the build it started on (when pinned)
        self.activities = {a.name: a for a in activities}
        self.task_timeout, self.decide_seconds = task_timeout, decide_seconds
        self.cache_size = cache_size   # workflows a worker keeps in memory (Temporal's Python SDK: 1,000)
        self.queue_name = "durable-sim"
        self.queue = TaskQueue(self.env, sticky_timeout, on_unstick=self._sticky_timed_out)
        self.leases: dict[tuple, int] = {}   # task key -> the token of its current lease
        self._tokens = itertools.count(1)
        self.rng = random.Random(f"engine/{sim.seed}")   # retry jitter
        self.first_scheduled: dict[tuple, float] = {}  # activity key -> when its first attempt was queued
        self.heartbeats: dict[tuple, float] = {}     # activity key -> its attempt's last heartbeat (if it beats)
        self.began: dict[tuple, float] = {}          # activity key -> when its current attempt started
        self.last_failure: dict[tuple, dict] = {}    # activity key -> the previous attempt's failure
        self.workflow_task: dict[str, tuple] = {}    # workflow id -> (scheduled id, started id) of its task
        self.timers: dict[tuple, float] = {}   # (workflow id, timer id) -> when it is due: the timers pending
        self.timer_queue: list = []            # a heap of (due, order, workflow id, TimerStarted, run): the timer queue
        self.wake_at: float | None = None      # when the engine wakes next for the timer queue
        self._armed = itertools.count()        # (timers due at the same time fire in the order they were armed)
        self.buffered: dict[str, list] = {}    # workflow id -> what arrived while its workflow task ran
        self.recent: dict[tuple, list] = {}    # (workflow id, run) -> events appended since a task last read them
                                               # (for a file store: a store in RAM is its own)
        self.current_run: dict[str, str] = {}  # workflow id -> its current run's key in the history store
        self.update_requests: dict[str, list] = {}   # workflow id -> accepted updates not yet run
        self.update_results: dict[str, tuple] = {}   # update id -> (result, error)
        self.signal_requests: dict[str, set] = {}   # workflow id -> request ids of the signals recorded
        self.query_replays = 0                 # queries answered by a worker that had to replay first
        self.sticky: dict[str, str] = {}   # workflow id -> the sticky queue of the worker that ran its last task
        self.stuck: dict[str, NonDeterminismError] = {}
        self.unreadable: dict[str, ev.HistoryError] = {}   # histories that failed their checks on read
        self.executed = 0                    # activity steps decided live and made durable
        self.closed: set[str] = set()
        self.rejected = 0                    # completions refused for a stale token
        self.replays = 0                     # full replays: a workflow task on a worker without the cache
        self.attempts: list[tuple] = []      # (time, activity type, workflow id, attempt, outcome)
        self.waits: list[tuple] = []         # (time taken, kind, seconds waited in the queue)
        self.steps_replayed = 0              # activity steps answered from history, over every machine
        self.incidents: list[tuple] = []     # (time, kind, text, details): crashes, leases lost, deploys...
        self.workers = {f"worker-{n + 1}": Worker(f"worker-{n + 1}") for n in range(workers)}
        for w in self.workers.values():
            self._spawn(w)
        for fault in sim.faults.plan.workers:
            self.env.process(self._worker_fault(fault))

    def incident(self, kind: str, text: str, **details) -> None:
        """Something a learner should see (a lease lost, a stale completion refused, a deploy): kept
        in `incidents` with its time, and drawn as a frame of that kind."""
        changes = {k: details.pop(k) for k in ("ram", "replaying", "cursor") if k in details}
        self.incidents.append((self.env.now, kind, text, details))
        self.sim.trace.frame(text, kind=kind, **changes)

    def snapshot(self, rows: int | None = None) -> dict:
        """The engine's state now, as plain data: workers (with their cache sizes), the queue (its first
        `rows` tasks, oldest first, and how many wait), the counts."""
        pending = self.queue.pending
        return {
            "workers": [(w.name, w.status, str(w.task) if w.task else "", len(w.cache)) for w in self.workers.values()],
            "queue": [str(t) for t in pending[:rows]], "queued": len(pending), "oldest": self.queue.oldest_wait(),
            "closed": len(self.closed), "stuck": len(self.stuck),
            "rejected": self.rejected, "replays": self.replays,
        }

    def start_every(self, workflow: WorkflowDef, orders, every: float):
        """A SimPy process: start one workflow per (workflow id, args) in `orders`, `every` seconds."""
        for wid, args in orders:
            self.start(workflow, wid, *args)
            yield self.env.timeout(every)

    @property
    def steps(self) -> dict:
        """Activity steps answered from history vs run live, over every replay."""
        return {"steps_replayed": self.steps_replayed,
                "steps_executed": self.executed}   # a decision lost in a crash before its append is not a step
