"""The event types of a workflow history.

A history is a list of facts, each named in the past tense with Temporal's name for it, so that a
learner who opens a real Temporal history later meets the same words. Events are frozen: a fact
that has been recorded is never edited. Every payload is plain JSON data, so a history file can be
read by anything and loading one never runs code.

Two families matter to replay:
- *command events* record what the workflow code decided (schedule an activity, record a marker,
  start a timer, complete). On replay the code must decide the same things, in the same order.
- *result events* record what the world answered (an activity completed or failed, a timer fired,
  a signal arrived). On replay they are handed back to the code instead of asking the world again.
"""
from __future__ import annotations

import functools
import json
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

EVENT_TYPES: dict[str, type[Event]] = {}
_new, _set = object.__new__, object.__setattr__   # a frozen instance made without its __init__
_FACTORY = object()   # (a field with a default_factory that was not given)


def frozen(cls=None, /, **options):
    """`@dataclass(frozen=True)`, for the records the engine makes at every step (events, tasks,
    commands, frames), with an `__init__` that writes the fields into the instance's dict: the generated
    one calls `object.__setattr__` for each, and costs twice as much. (The dict is the one Python makes
    for the instance, which shares its keys with the class's other instances: a dict of one's own would
    take 40 % more memory.) The class has no `__post_init__`, so `copy_with` can copy it the same way."""
    if cls is None:
        return lambda cls: frozen(cls, **options)
    cls = dataclass(frozen=True, **options)(cls)
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__: make it with @dataclass(frozen=True)")
    params, body, defaults = ["self"], ["d = self.__dict__"], {"_factory": _FACTORY}
    for f in fields(cls):
        name = value = f.name
        if f.default is not MISSING:
            defaults[f"_{name}"] = f.default
            params.append(f"{name}=_{name}")
        elif f.default_factory is not MISSING:
            defaults[f"_{name}"] = f.default_factory
            params.append(f"{name}=_factory")
            value = f"_{name}() if {name} is _factory else {name}"
        else:
            params.append(name)
        body.append(f"d[{name!r}] = {value}")
    exec(f"def __init__({', '.join(params)}):\n    " + "\n    ".join(body), defaults)
    cls.__init__ = defaults["__init__"]
    cls.__init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return cls


EPOCH = datetime(2026, 11, 24, 9, 0, 0)   # time 0 of a history: a Tuesday morning


@frozen
class Event:
    """One recorded fact. `event_id` counts from 1 without gaps within a run's history."""

    event_id: int
    time: float  # seconds since the world's epoch (EPOCH unless the world says otherwise)

    command: ClassVar[bool] = False  # True for events that record a decision of the workflow code

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        EVENT_TYPES[cls.__name__] = cls

    @property
    def type(self) -> str:
        return type(self).__name__

    @property
    def attrs(self) -> dict[str, Any]:
        """The payload: every field but the envelope (id and time)."""
        return {name: getattr(self, name) for name in _schema(type(self))[0]}

    def summary(self) -> str:
        """One short line for the history panel, e.g. `ActivityTaskCompleted ChargeCard -> 'ch_1'`."""
        return self.type

    def __repr__(self) -> str:
        return f"<{self.event_id:>3} {self.summary()} @{self.time:g}s>"


@frozen(repr=False)
class WorkflowExecutionStarted(Event):
    workflow_type: str
    workflow_id: str
    input: list
    run_id: str = ""   # this run's id; it seeds ctx.random() and ctx.uuid4(), so replay draws the same
    continued_from: str = ""   # the run that continued as new into this one
    first_run_id: str = ""     # the first run of the chain

    def summary(self):
        return f"WorkflowExecutionStarted {self.workflow_type}({_short(self.input)})"


@frozen(repr=False)
class WorkflowTaskScheduled(Event):
    """The engine wants the workflow code to run: a result came in, a timer fired, the run began.
    A retried workflow task (attempt > 1) is *transient*: its Scheduled and Started events are
    written only when it completes, as a Temporal server writes them."""
    task_queue: str
    start_to_close: float
    attempt: int = 1

    def summary(self):
        return "WorkflowTaskScheduled" + (f" attempt {self.attempt}" if self.attempt > 1 else "")


@frozen(repr=False)
class WorkflowTaskStarted(Event):
    """A worker took the workflow task. Its time is the workflow's `ctx.now()` while the task runs."""
    scheduled_event_id: int
    identity: str   # the worker

    def summary(self):
        return f"WorkflowTaskStarted by {self.identity}"


@frozen(repr=False)
class WorkflowTaskCompleted(Event):
    """The worker answered with the commands that follow this event."""
    scheduled_event_id: int
    started_event_id: int
    identity: str

    def summary(self):
        return "WorkflowTaskCompleted"


@frozen(repr=False)
class WorkflowTaskTimedOut(Event):
    """No answer in time: START_TO_CLOSE (the worker died or froze holding the task) or
    SCHEDULE_TO_START (the sticky worker never came for it)."""
    scheduled_event_id: int
    started_event_id: int
    timeout_type: str   # "START_TO_CLOSE" | "SCHEDULE_TO_START"

    def summary(self):
        return f"WorkflowTaskTimedOut {self.timeout_type}"


@frozen(repr=False)
class WorkflowTaskFailed(Event):
    """The worker could not run the task: its code disagreed with the history (non-determinism).
    The workflow stays running, stuck, until code that fits its history is deployed."""
    scheduled_event_id: int
    started_event_id: int
    cause: str          # "NON_DETERMINISTIC_ERROR", as Temporal's SDKs report it
    message: str
    identity: str

    def summary(self):
        return f"WorkflowTaskFailed {self.cause}"


WORKFLOW_TASK = ("WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
                 "WorkflowTaskTimedOut", "WorkflowTaskFailed")


@frozen(repr=False)
class ActivityTaskScheduled(Event):
    activity_id: str  # "1", "2", ...: the command's sequence number, as Temporal assigns it
    activity_type: str
    input: list
    options: dict = field(default_factory=dict)   # retry policy and timeouts (simcore.retry)
    command: ClassVar[bool] = True

    def summary(self):
        return f"ActivityTaskScheduled {self.activity_type}"


@frozen(repr=False)
class ActivityTaskStarted(Event):
    """Written with the attempt's result, as a Temporal server writes it for an activity with a retry
    policy; its time is when that last attempt started, and it carries the previous attempt's failure."""
    scheduled_event_id: int
    attempt: int
    last_failure: dict | None = None   # {"error_type": ..., "message": ...} of the attempt before

    def summary(self):
        after = f" (after {self.last_failure['error_type']})" if self.last_failure else ""
        return f"ActivityTaskStarted #{self.scheduled_event_id} attempt {self.attempt}{after}"


@frozen(repr=False)
class ActivityTaskCompleted(Event):
    scheduled_event_id: int
    result: Any

    def summary(self):
        return f"ActivityTaskCompleted #{self.scheduled_event_id} -> {_short(self.result)}"


@frozen(repr=False)
class ActivityTaskFailed(Event):
    scheduled_event_id: int
    error_type: str
    message: str

    def summary(self):
        return f"ActivityTaskFailed #{self.scheduled_event_id} {self.error_type}"


@frozen(repr=False)
class ActivityTaskTimedOut(Event):
    """The activity ran out of time for good: its last attempt's start-to-close or heartbeat timeout
    with no retry left, its schedule-to-close, or its schedule-to-start (then it never started)."""
    scheduled_event_id: int
    timeout_type: str   # "StartToCloseTimeout" | "HeartbeatTimeout" | "ScheduleToCloseTimeout" | "ScheduleToStartTimeout"
    message: str

    def summary(self):
        return f"ActivityTaskTimedOut #{self.scheduled_event_id} {self.timeout_type}"


@frozen(repr=False)
class MarkerRecorded(Event):
    """A value recorded once and handed back on every replay: a side effect's result (later, a patch
    decision). Temporal's SDKs record side effects and version markers the same way. The clock and
    random numbers need none: they come from the workflow tasks' times and the run's seed."""

    marker_name: str
    value: Any
    command: ClassVar[bool] = True

    def summary(self):
        return f"MarkerRecorded {self.marker_name} = {_short(self.value)}"


@frozen(repr=False)
class TimerStarted(Event):
    timer_id: str
    seconds: float
    command: ClassVar[bool] = True

    def summary(self):
        return f"TimerStarted {self.timer_id} ({_span(self.seconds)})"


@frozen(repr=False)
class TimerFired(Event):
    timer_id: str
    started_event_id: int

    def summary(self):
        return f"TimerFired {self.timer_id}"


@frozen(repr=False)
class WorkflowExecutionSignaled(Event):
    """A message from outside, recorded the moment it is sent, with or without a worker alive."""
    signal_name: str
    input: Any
    request_id: str = ""   # a retried send of the same call carries the same one, and is dropped

    def summary(self):
        return f"WorkflowExecutionSignaled {self.signal_name}({_short(self.input)})"


@frozen(repr=False)
class TimerCanceled(Event):
    """The code stopped waiting for a timer (something else came first, or the workflow was cancelled)."""
    timer_id: str
    started_event_id: int
    command: ClassVar[bool] = True

    def summary(self):
        return f"TimerCanceled {self.timer_id}"


@frozen(repr=False)
class WorkflowExecutionCancelRequested(Event):
    """Someone asked the workflow to stop. A request: the workflow's code decides what it means."""
    identity: str = ""

    def summary(self):
        return "WorkflowExecutionCancelRequested" + (f" by {self.identity}" if self.identity else "")


@frozen(repr=False)
class WorkflowExecutionCanceled(Event):
    """The code let the cancellation end it (after whatever clean-up it chose to do)."""
    command: ClassVar[bool] = True

    def summary(self):
        return "WorkflowExecutionCanceled"


@frozen(repr=False)
class WorkflowExecutionCompleted(Event):
    result: Any
    command: ClassVar[bool] = True

    def summary(self):
        return f"WorkflowExecutionCompleted -> {_short(self.result)}"


@frozen(repr=False)
class WorkflowExecutionUpdateAccepted(Event):
    """An update that passed its validator, as the worker that ran it answered: it carries the request,
    so a replay runs the handler again at the same point. A rejected update writes nothing at all."""
    update_id: str
    name: str
    args: list
    command: ClassVar[bool] = True

    def summary(self):
        return f"WorkflowExecutionUpdateAccepted {self.name}({_short(self.args)})"


@frozen(repr=False)
class WorkflowExecutionUpdateCompleted(Event):
    update_id: str
    accepted_event_id: int
    result: Any
    error: str = ""   # the handler raised: the caller gets the error, the workflow goes on
    command: ClassVar[bool] = True

    def summary(self):
        return f"WorkflowExecutionUpdateCompleted -> {self.error or _short(self.result)}"


@frozen(repr=False)
class WorkflowExecutionContinuedAsNew(Event):
    """The run closes and hands its state, as input, to a new run of the same workflow id."""
    new_run_id: str
    workflow_type: str
    input: list
    command: ClassVar[bool] = True

    def summary(self):
        return f"WorkflowExecutionContinuedAsNew ({_short(self.input)})"


@frozen(repr=False)
class WorkflowExecutionFailed(Event):
    error_type: str
    message: str
    command: ClassVar[bool] = True

    def summary(self):
        return f"WorkflowExecutionFailed {self.error_type}: {self.message}"


RESULT_OF = {  # result event type -> the field naming the command event it answers
    "ActivityTaskCompleted": "scheduled_event_id",
    "ActivityTaskFailed": "scheduled_event_id",
    "ActivityTaskTimedOut": "scheduled_event_id",
    "TimerFired": "started_event_id",
}
CLOSING = ("WorkflowExecutionCompleted", "WorkflowExecutionFailed", "WorkflowExecutionCanceled",
           "WorkflowExecutionContinuedAsNew")
MESSAGES = ("WorkflowExecutionSignaled", "WorkflowExecutionCancelRequested")   # from outside, to the code


class HistoryError(ValueError):
    """A history that cannot be trusted: what is wrong, and where."""


@functools.cache
def _schema(cls) -> tuple[tuple[str, ...], frozenset, frozenset]:
    """(payload field names, the required ones, all of them): worked out once per event type, since
    reading a long history asks for it on every row."""
    payload = fields(cls)[2:]
    names = tuple(f.name for f in payload)
    required = frozenset(f.name for f in payload if f.default is MISSING and f.default_factory is MISSING)
    return names, required, frozenset(names)


def copy_with(obj, **changes):
    """`dataclasses.replace(obj, **changes)` for the frozen dataclasses the engine copies at every
    step (events, tasks, frames: none has a __post_init__), a few times faster: the copy gets its
    fields in one go instead of through the generated __init__. An unknown field is a TypeError."""
    if not changes.keys() <= obj.__dataclass_fields__.keys():
        unknown = sorted(changes.keys() - obj.__dataclass_fields__.keys())
        raise TypeError(f"{type(obj).__name__} has no field {unknown[0]!r}")
    copy = _new(type(obj))
    _set(copy, "__dict__", {**obj.__dict__, **changes})
    return copy


def _span(seconds: float) -> str:
    """30 days, 2 h, 90 s: a timer's length as a person reads it."""
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {'day' if n == 1 else unit}" if unit == "days" else f"{n} {unit}"
    return f"{seconds:g}s"


def _short(value: Any, width: int = 28) -> str:
    text = json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def own(value):
    """A copy of a JSON value the history holds, for code to own: code that changes what it was given
    must not change the history (a file store hands out fresh objects on every read; the memory store
    and the engine's events cache hand out the recorded ones)."""
    t = type(value)
    if t is list:
        return [own(v) for v in value]
    return {k: own(v) for k, v in value.items()} if t is dict else value
