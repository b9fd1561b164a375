"""The authoring API: workflows are generators that yield commands; activities are plain functions.

    @activity("ChargeCard", seconds=2)
    def charge_card(act, order_id, cents):
        return act.world.card.charge(order_id, cents)

    @workflow
    def fulfill_order(ctx, order):
        charge_id = yield ctx.activity(charge_card, order["id"], order["cents"])
        ...

A workflow never touches the world: it yields a command and receives its result. That one rule is
what lets the engine answer a command from history instead of running it again. Why generators and
not async functions: a generator's frame is plain data the course can show (its local variables are
the RAM panel, its line number lights the code panel) and stepping it needs no event loop.
"""
from __future__ import annotations

import inspect
import math
import random
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable

from . import events as ev
from .events import EPOCH
from .errors import WorkflowCodeError, said, shown
from .retry import ActivityOptions

LONGEST_TIMER = 315_576_000_000   # seconds (10,000 years): the most a protobuf Duration, a timer's length in Temporal, holds


@dataclass(frozen=True)
class ActivityDef:
    name: str
    fn: Callable
    seconds: float  # how long one attempt takes in simulated time
    options: ActivityOptions = ActivityOptions()   # retry policy and timeouts, unless a call overrides

    def __call__(self, *a, **kw):  # an activity stays an ordinary function (and testable as one)
        return self.fn(*a, **kw)


@dataclass(frozen=True)
class WorkflowDef:
    name: str
    fn: Callable

    def check_inputs(self, inputs: list) -> None:
        """A TypeError if the code cannot take `inputs` (its arguments after ctx), said without ctx."""
        sig = inspect.signature(self.fn)
        try:
            sig.bind(None, *inputs)
        except TypeError as e:
            shown = sig.replace(parameters=list(sig.parameters.values())[1:])
            raise TypeError(f"{self.fn.__name__}{shown} cannot take {inputs!r} ({e})") from None

    @property
    def source(self) -> tuple[list[str], int]:
        """The function's source lines and its first line number: what the code panel shows."""
        return inspect.getsourcelines(self.fn)


def activity(name: str | None = None, *, seconds: float = 1.0, **options):
    """Declare an activity: the only kind of code that may touch the world. It receives an
    `ActivityContext` first, then the JSON arguments the workflow passed. `options` are the
    defaults of `simcore.retry.ActivityOptions` (retry=..., start_to_close=..., ...)."""
    def wrap(fn):
        if inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn):
            raise TypeError(f"activity {fn.__name__}: must be a plain function (def, no yield, no async); "
                            "it runs once per attempt and returns a JSON result")
        if not list(inspect.signature(fn).parameters):
            raise TypeError(f"activity {fn.__name__}: its first parameter receives the ActivityContext")
        if not 0 <= seconds < math.inf:   # (also refuses NaN)
            raise ValueError(f"activity {fn.__name__}: seconds must be a finite number >= 0, got {seconds}")
        return ActivityDef(name or fn.__name__, fn, float(seconds), ActivityOptions(**options))
    if callable(name):  # used bare: @activity
        fn, name = name, None
        return wrap(fn)
    return wrap


def workflow(fn=None, *, name: str | None = None):
    """Declare a workflow: a generator function `fn(ctx, *inputs)` that yields commands."""
    def wrap(fn):
        if not inspect.isgeneratorfunction(fn):
            raise TypeError(f"workflow {fn.__name__}: must be a generator function. Ask the engine for "
                            "everything that is not pure computation: `result = yield ctx.activity(...)`")
        if not list(inspect.signature(fn).parameters):
            raise TypeError(f"workflow {fn.__name__}: its first parameter receives the workflow context")
        return WorkflowDef(name or fn.__name__, fn)
    return wrap(fn) if fn else wrap


# -- commands: what a workflow yields ---------------------------------------------------------
@ev.frozen
class ScheduleActivity:
    activity: ActivityDef
    args: tuple
    options: ActivityOptions = ActivityOptions()
    blocking = True

    def describe(self) -> str:
        return f"ScheduleActivity {self.activity.name}"

    def record(self, event_id: int, t: float, m) -> ev.Event:
        return ev.ActivityTaskScheduled(event_id, t, m.next_id(ev.ActivityTaskScheduled), self.activity.name,
                                        list(self.args), self.options.to_json())

    def matches(self, e: ev.Event) -> bool:
        return type(e) is ev.ActivityTaskScheduled and e.activity_type == self.activity.name


@ev.frozen
class RecordMarker:
    """Ask once, remember forever: live, `compute()` gives the value and the engine records it as a
    MarkerRecorded event; on replay the recorded value is handed back and `compute` is not called."""
    name: str
    compute: Callable[[], Any]

    def describe(self) -> str:
        return f"RecordMarker {self.name}"

    def record(self, event_id: int, t: float, m) -> ev.Event:
        try:
            value = self.compute()
        except Exception as e:   # it runs inside the workflow task, where nothing retries it
            raise WorkflowCodeError(f"ctx.side_effect: {getattr(self.compute, '__name__', 'the function')} raised "
                                    f"{type(e).__name__}: {said(e)}; a side effect runs inside the workflow task, "
                                    "where no retry policy covers it: put work that can fail in an activity") from None
        return ev.MarkerRecorded(event_id, t, self.name, value)

    def matches(self, e: ev.Event) -> bool:
        return type(e) is ev.MarkerRecorded and e.marker_name == self.name


@ev.frozen
class StartTimer:
    seconds: float
    blocking = True

    def describe(self) -> str:
        return f"StartTimer {self.seconds:g}s"

    def record(self, event_id: int, t: float, m) -> ev.Event:
        return ev.TimerStarted(event_id, t, m.next_id(ev.TimerStarted), self.seconds)

    def matches(self, e: ev.Event) -> bool:
        return type(e) is ev.TimerStarted


@ev.frozen
class WaitSignal:
    """Wait for the next signal of this name (at once, if one is already waiting): its input."""
    name: str
    blocking = True

    def describe(self) -> str:
        return f"WaitSignal {self.name}"


@ev.frozen
class TakeSignals:
    """Every signal of this name that has arrived and not been taken, at once, without waiting (maybe
    none): their inputs in the order they were recorded. Records nothing. What code takes before it
    continues as new, since signals a run never took do not pass to the next (Go's `ReceiveAsync` in
    a loop; Temporal's Python SDK hands each signal to a handler instead)."""
    name: str

    def describe(self) -> str:
        return f"TakeSignals {self.name}"


@ev.frozen
class First:
    """Wait for whichever of several comes first (a timer, a signal, an activity): (index, value).
    A timer that loses is cancelled (TimerCanceled); if a signal is already waiting, no timer starts."""
    options: tuple
    blocking = True

    def describe(self) -> str:
        return "First(" + ", ".join(o.describe() for o in self.options) + ")"


PATCH_MARKER = "core_patch"   # what Temporal's Core-based SDKs name a patch marker


@ev.frozen
class Patched:
    """`if (yield ctx.patched("fraud-check")):` new code, else the old. Temporal's semantics: true when
    the code reaches it live (a marker is recorded); true on replay where the marker was recorded;
    false on replay where it was not, and then false for the rest of that execution."""
    patch_id: str
    deprecated: bool = False

    def describe(self) -> str:
        return f"{'DeprecatePatch' if self.deprecated else 'Patched'} {self.patch_id}"

    def record(self, event_id: int, t: float, m) -> ev.Event:
        return ev.MarkerRecorded(event_id, t, PATCH_MARKER, {"id": self.patch_id, "deprecated": self.deprecated})

    def matches(self, e: ev.Event) -> bool:
        return is_patch(e, self.patch_id)


def is_patch(e: ev.Event, patch_id: str | None = None, deprecated: bool | None = None) -> bool:
    """Is `e` a patch marker (for `patch_id`, deprecated or not, when given)?"""
    if type(e) is not ev.MarkerRecorded or e.marker_name != PATCH_MARKER or not isinstance(e.value, dict):
        return False
    return (patch_id is None or e.value.get("id") == patch_id) and \
        (deprecated is None or bool(e.value.get("deprecated")) == deprecated)


@ev.frozen
class ContinueAsNew:
    """Close this run and start the next one of the same workflow id with `args` as its input: the
    history starts afresh (its length bounded), and only what the input carries survives."""
    args: tuple

    def describe(self) -> str:
        return "ContinueAsNew"

    def record(self, event_id: int, t: float, m) -> ev.Event:
        rng = random.Random(f"{m.ctx.run_id}/continued")   # the next run's id, derived: a replay names the same
        return ev.WorkflowExecutionContinuedAsNew(event_id, t, str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                                                  m.workflow.name, list(self.args))

    def matches(self, e: ev.Event) -> bool:
        return type(e) is ev.WorkflowExecutionContinuedAsNew


class CancelledError(Exception):
    """Raised into workflow code at the command it waits on when someone cancels the workflow. Catch it
    to clean up (refund, release: activities still run), then re-raise it, and the workflow ends
    Canceled; return instead, and it ends Completed. As in Temporal's Python SDK, where it is
    asyncio.CancelledError."""


@dataclass
class Live:
    """What the outside world offers while the code runs live: the time stamped on new events."""
    time: Callable[[], float]        # seconds since the epoch of the history's times


class ActivityError(Exception):
    """Raised into workflow code when an activity failed for good (its retries are spent or the
    error is not retryable). The workflow may catch it and compensate."""

    def __init__(self, activity_type: str, error_type: str, message: str):
        super().__init__(f"{activity_type} failed: {error_type}: {message}")
        self.activity_type, self.error_type, self.message = activity_type, error_type, message


class WorkflowContext:
    """The one door from workflow code to the engine. Everything that could differ between the first
    run and a replay (the world, the clock, randomness) goes through it.

    `now()`, `random()` and `uuid4()` are plain calls that write nothing, as in Temporal's SDKs: the
    time is the start of the current workflow task, read from its WorkflowTaskStarted event, and the
    random numbers come from a generator seeded with the run's id, which WorkflowExecutionStarted
    records. A replay reads the same events, so it sees the same instants and draws the same numbers."""

    def __init__(self, workflow_id: str, run_id: str = "", epoch: datetime = EPOCH):
        self.workflow_id, self.run_id, self.epoch = workflow_id, run_id, epoch
        self.is_replaying = False
        self.time = 0.0   # seconds since `epoch`: the current workflow task's start (the machine sets it)
        self._rng: random.Random | None = None   # seeded from the run id when first asked for
        self.queries: dict[str, Callable[..., Any]] = {}
        self.updates: dict[str, tuple] = {}   # name -> (handler, validator)

    def activity(self, activity: ActivityDef, *args, **options) -> ScheduleActivity:
        """Run `activity(*args)` through the engine; `options` override its retry policy and timeouts."""
        if not isinstance(activity, ActivityDef):
            raise TypeError(f"ctx.activity takes an @activity function, got {activity!r}")
        return ScheduleActivity(activity, args, replace(activity.options, **options) if options else activity.options)

    def now(self) -> datetime:
        """The time of the current workflow task: the same instant on every replay."""
        return self.epoch + timedelta(seconds=self.time)

    def random(self) -> float:
        return self._seeded().random()

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self._seeded().getrandbits(128), version=4))

    def _seeded(self) -> random.Random:
        if self._rng is None:
            self._rng = random.Random(self.run_id)
        return self._rng

    def side_effect(self, compute: Callable[[], Any]) -> RecordMarker:
        """`value = yield ctx.side_effect(fn)`: run `fn()` once, live, and record its JSON result as a
        marker (Temporal's Go and Java SDKs call this SideEffect); a replay gets the recorded value."""
        return RecordMarker("SideEffect", compute)

    def sleep(self, seconds: float = 0, *, days: float = 0) -> StartTimer:
        for v in (seconds, days):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"ctx.sleep takes a number of seconds (or days=...), got {shown(v)}")
        total = seconds + days * 86400
        if not 0 <= total <= LONGEST_TIMER:   # (also refuses NaN)
            raise ValueError(f"ctx.sleep({total!r} s): a timer takes 0 or more seconds, at most 10,000 years "
                             "(the longest duration Temporal's history can carry)")
        return StartTimer(total)

    def patched(self, patch_id: str) -> Patched:
        """`if (yield ctx.patched("fraud-check")):` the new code path, else the old (see `Patched`)."""
        return Patched(patch_id)

    def deprecate_patch(self, patch_id: str) -> Patched:
        """`yield ctx.deprecate_patch("fraud-check")` once no execution that took the old path remains:
        it records a deprecated marker, and a history that has one replays whether or not the code
        still makes this call (Temporal's deprecate_patch)."""
        return Patched(patch_id, deprecated=True)

    def continue_as_new(self, *args) -> ContinueAsNew:
        """`yield ctx.continue_as_new(state)`: this run ends here, and a new one begins with `state`."""
        return ContinueAsNew(args)

    def signal(self, name: str) -> WaitSignal:
        """`value = yield ctx.signal("cancel")`: the next signal of that name, as it was sent."""
        return WaitSignal(name)

    def signals(self, name: str) -> TakeSignals:
        """`values = yield ctx.signals("add")`: every `add` signal waiting, taken now; [] if none."""
        return TakeSignals(name)

    def first(self, *options) -> First:
        """`which, value = yield ctx.first(ctx.sleep(days=30), ctx.signal("cancel"))`."""
        if not options:
            raise TypeError("ctx.first needs at least one of ctx.sleep(...), ctx.signal(...), ctx.activity(...)")
        for o in options:
            if not isinstance(o, (StartTimer, WaitSignal, ScheduleActivity)):
                raise TypeError(f"ctx.first takes ctx.sleep(...), ctx.signal(...) or ctx.activity(...), got {o!r}")
        return First(tuple(options))

    def set_update_handler(self, name: str, handler: Callable[..., Any],
                           validator: Callable[..., Any] | None = None) -> None:
        """Accept `engine.update(workflow_id, name, *args)`: `validator(*args)` raises to reject it (and
        nothing is written), then `handler(*args)` runs in a workflow task, may change the workflow's
        state (a nested function with `nonlocal`), and its return value is the update's result."""
        self.updates[name] = (handler, validator)

    def set_query_handler(self, name: str, handler: Callable[..., Any]) -> None:
        """Answer `engine.query(workflow_id, name)` with `handler()`: it reads the workflow's state and
        must not change it (a query writes no event). A closure over the workflow's locals sees them
        as they are when the query comes."""
        self.queries[name] = handler


class Saga:
    """Compensations registered as the steps complete, run in reverse when the workflow gives up:

        saga = Saga(ctx)
        yield ctx.activity(charge_card, order_id, cents)
        saga.add(refund_card, order_id, cents)
        ...
        except ActivityError:
            yield from saga.compensate()

    Temporal has no built-in saga; this is plain workflow code, as Java's `Saga` helper is, with its
    defaults: in reverse, one after another, and the first compensation that fails stops the rest.
    `continue_with_error=True` runs them all and raises the first failure at the end; Java's
    `continueWithError` runs them all and drops the failures, so nothing tells anyone. Each
    compensation is an activity, so a crash in the middle of compensating resumes by replay."""

    def __init__(self, ctx: WorkflowContext, continue_with_error: bool = False):
        self.ctx, self.continue_with_error = ctx, continue_with_error
        self.compensations: list[tuple] = []

    def add(self, activity: ActivityDef, *args, **options) -> None:
        self.compensations.append((activity, args, options))

    def compensate(self):
        failed = []
        for activity, args, options in reversed(self.compensations):
            try:
                yield self.ctx.activity(activity, *args, **options)
            except ActivityError as err:
                if not self.continue_with_error:
                    raise
                failed.append(err)
        if failed:
            raise failed[0]


@dataclass
class ActivityContext:
    """What an activity receives: the world to act on and who is calling."""
    world: Any
    workflow_id: str
    activity_id: str
    activity_type: str
    attempt: int
    run_id: str = ""
    start_to_close: float = 0.0   # seconds this attempt may take before the engine gives up on it (0: no
                                  # engine is timing it), as Temporal's activity.info().start_to_close_timeout

    @property
    def idempotency_key(self) -> str:
        """Unique to this one activity call, and the same on each of its attempts and replays: the
        workflow run id and the activity id, as Temporal's docs recommend. Three calls of one activity
        have three ids, so three keys."""
        return f"{self.run_id}/{self.activity_id}"
