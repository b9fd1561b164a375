"""Replay: run workflow code from line one against its history.

A `Machine` owns one running workflow generator. It is fed history events in order:
- the start event creates the generator;
- the code runs at each *workflow task*, as in Temporal: at a `WorkflowTaskStarted` the results that
  came in since the last task (an activity completed, a timer fired) are handed to the code, whose
  clock (`ctx.now()`) reads the task's start time. A task that timed out or failed did not run the
  code as far as the history knows, so replay passes over it too;
- every command the code yields is matched against the events that follow the task's
  `WorkflowTaskCompleted`. If the history has that command, the recorded answer is used (for a
  marker, its value); if the history has something else, the code is not the code that wrote this
  history: `NonDeterminismError`, naming the event, what was recorded and what the code did.
When the history runs out the machine is *live*: it completes the task itself (the
`WorkflowTaskCompleted` a worker reports) and its new commands become the events after it, in
`machine.new`, for the engine to append durably before it acts on them.

A history without workflow tasks (a plain process, a hand-rolled checkpoint file) runs the code at
once on each result instead. The same machine serves a fresh start, a replay after a crash (the
whole history), and a sticky worker that keeps it in memory and feeds it only the events that are new.
Replaying saved histories in CI, live nowhere, is `simcore.replayer`.
"""
from __future__ import annotations

import itertools
import sys
from collections import deque
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from . import events as ev
from .codewatch import Watched
from .commands import CLOSE, AcceptUpdate, CancelTimer, CancelWorkflow, Complete, CompleteUpdate, Fail
from .errors import Stop, WorkflowCodeError, said, shown, stops_the_worker
from .workflow import (ActivityError, CancelledError, ContinueAsNew, First, Live, Patched, RecordMarker,
                       ScheduleActivity, StartTimer, TakeSignals, WaitSignal, WorkflowContext, WorkflowDef, is_patch)

HISTORY_LIMIT = 51_200   # events: where a Temporal server terminates a workflow (limit.historyCount.error)


class NonDeterminismError(Exception):
    """The code did something other than what its history recorded. The workflow is stuck, not
    silently wrong: fix the code (or patch it) and the same history replays."""

    def __init__(self, workflow_id: str, event: ev.Event | None, produced: str, index: int):
        self.workflow_id, self.event, self.produced, self.index = workflow_id, event, produced, index
        recorded = event.summary() if event else "nothing more"
        super().__init__(f"non-determinism in {workflow_id} at event {index}: history recorded "
                         f"[{recorded}] but the code produced [{produced}]")


@dataclass
class Waiting:
    """What the code waits on: one command, or the options of a `First`, each with the id of the
    event that recorded it (None for a signal, which records nothing)."""
    command: object
    options: tuple
    event_ids: tuple

    @property
    def event_id(self) -> int | None:
        return self.event_ids[0]


@dataclass
class Machine(Watched):
    workflow: WorkflowDef
    workflow_id: str
    live: Live | None = None      # None: replay only; running out of history is then an error
    strict: bool = True           # False: match commands by position only (a hand-rolled checkpoint)
    on_step: object = None        # callback(machine, command, event, replayed): the trace hooks here
    epoch: datetime = ev.EPOCH    # what the history's times count from (ctx.now() adds them to it)
    identity: str = "worker"      # who completes the live workflow tasks

    events: list = field(default_factory=list)   # every event this machine has seen or produced
    new: list = field(default_factory=list)      # produced live, not yet durable
    waiting: Waiting | None = None
    result: object = None
    closed: bool = False
    tasks: bool = False       # the history records workflow tasks: the code runs at each one
    frontier: object = None   # replay only: the first command past the end of the history
    replayed: int = 0         # commands answered from history
    steps_replayed: int = 0   # of those, activity steps

    def __post_init__(self):
        self.ctx = WorkflowContext(self.workflow_id, epoch=self.epoch)
        self._queue: deque = deque()
        self._inbox: deque = deque()   # results and messages not yet handed to the code
        self._results: dict = {}       # command event id -> its result, delivered, not yet taken
        self._mail: dict = {}          # signal name -> its signals, delivered, not yet taken, in order
        self._cancel = False           # a cancellation delivered, not yet raised in the code
        self.update_requests: list = []   # (update id, name, args) the engine hands the live task
        self._patches: dict = {}          # patch id -> the path this execution takes
        self._gen = None
        self._begun = False
        self._replaying = False
        self._numbered = {ev.ActivityTaskScheduled: 0, ev.TimerStarted: 0}   # ids so far: "1", "2", ...

    def __del__(self):
        """Dropped (evicted from a cache, its worker crashed, its run over): the code's generator is
        closed now, not whenever the collector gets to it, as Temporal's Python SDK tears down an evicted
        workflow itself (sdk-python #499). What the code does while it closes (a bare `except:` around a
        yield yields again) is not recorded, and not an error here (the SDK ignores it too)."""
        gen = getattr(self, "_gen", None)   # (None: a machine whose making failed)
        if gen is not None and gen.gi_frame is not None:
            self._replaying = self.ctx.is_replaying = True
            try:
                gen.close()
            except Exception:   # "generator ignored GeneratorExit", or an error its except block raised
                pass

    # -- feeding history ---------------------------------------------------------------------
    def feed(self, events) -> Machine:
        """Apply recorded events in order; the code runs as far as they take it."""
        queue = self._queue
        queue.extend(events)
        try:
            while queue:
                e = queue.popleft()
                self._seen(e)
                kind = type(e)
                if e.command and not is_patch(e, deprecated=True):  # the code had its chance and did not
                    raise NonDeterminismError(self.workflow_id, e, self._describe_now(), e.event_id)
                elif kind in _ANSWERS or kind in _MESSAGES:
                    self._inbox.append(e)
                    if not self.tasks:
                        self._run_task(e.time, bool(queue))
                elif kind is ev.WorkflowTaskStarted:
                    self._task_started(e)
                elif kind is ev.WorkflowExecutionStarted:
                    self.ctx = WorkflowContext(self.workflow_id, e.run_id, self.epoch)
                    self._gen = _generator(self.workflow.fn, self.ctx, ev.own(e.input))
                    self.tasks = bool(queue) and type(queue[0]) is ev.WorkflowTaskScheduled
                    if not self.tasks:
                        self._run_task(e.time, bool(queue))
        except _EndOfHistory as end:   # replay only: the code would go live here
            self.frontier = end.command
        return self

    def _task_started(self, started: ev.WorkflowTaskStarted) -> None:
        """Run the code in this workflow task if the task completed (or is the live one, which this
        machine completes); pass over a task that timed out or failed."""
        queue = self._queue
        replaying = bool(queue)
        if replaying:
            if type(queue[0]) is not ev.WorkflowTaskCompleted:
                return
            self._seen(queue.popleft())
        elif self.live is not None:
            done = ev.WorkflowTaskCompleted(self.length + 1, self.live.time(), started.scheduled_event_id,
                                            started.event_id, self.identity)
            self._seen(done)
            self.new.append(done)
        self._run_task(started.time, replaying)

    def _run_task(self, time: float, replaying: bool) -> None:
        """The code runs: from its first line the first time, then with each result it was waiting for."""
        self.ctx.time = time
        self._replaying = self.ctx.is_replaying = replaying
        if not self._begun:
            self._begun = True
            self._advance(None)
        if self.tasks:
            self._run_updates(replaying)
        inbox = self._inbox
        while inbox:   # delivered in the order they were recorded
            e = inbox.popleft()
            if type(e) is ev.WorkflowExecutionSignaled:
                self._mail.setdefault(e.signal_name, deque()).append(e)
            elif type(e) is ev.WorkflowExecutionCancelRequested:
                self._cancel = True
            else:
                self._results[getattr(e, _ANSWERS[type(e)])] = e
        self._wake()

    def _run_updates(self, replaying: bool) -> None:
        """Accepted updates run at the start of a task, once the code has registered its handlers: live,
        those the engine handed over; on replay, those the history recorded at this point."""
        queue = self._queue
        if replaying:
            while queue and type(queue[0]) is ev.WorkflowExecutionUpdateAccepted:
                e = queue[0]
                self._apply_update(e.update_id, e.name, ev.own(e.args))
        elif self.live is not None:
            requests, self.update_requests = self.update_requests, []
            for update_id, name, args in requests:
                self._apply_update(update_id, name, args)

    def _apply_update(self, update_id: str, name: str, args: list) -> None:
        accepted = self._match_or_record(AcceptUpdate(update_id, name, list(args)))
        handler, _ = self.ctx.updates[name]
        try:
            result, error = handler(*args), ""
        except Exception as err:   # the handler failed: the update did, not the workflow
            result, error = None, f"{type(err).__name__}: {err}"
        self._match_or_record(CompleteUpdate(update_id, accepted.event_id, result, error))

    def _wake(self) -> None:
        """Hand the code what it waits for, as long as it is there: a cancellation first, then the
        earliest recorded of the things it waits on."""
        while self.waiting and not self.closed:
            w = self.waiting
            if self._cancel:
                self._cancel, self.waiting = False, None
                self._cancel_timers(w, None)
                self._advance(CancelledError("the workflow was cancelled"), throw=True)
                continue
            got = self._take(w)
            if got is None:
                return
            self.waiting = None
            index, e = got
            if isinstance(w.command, First):
                self._cancel_timers(w, index)
                if isinstance(e, (ev.ActivityTaskFailed, ev.ActivityTaskTimedOut)):
                    self._resolve(e)
                else:
                    self._advance((index, _value(e)))
            else:
                self._resolve(e)

    def _take(self, w: Waiting):
        """The earliest recorded answer to any of `w`'s options, taken; None if none is there yet."""
        best = None
        for i, (option, event_id) in enumerate(zip(w.options, w.event_ids)):
            mail = self._mail.get(option.name) if isinstance(option, WaitSignal) else None
            e = mail[0] if mail else self._results.get(event_id) if event_id else None
            if e is not None and (best is None or e.event_id < best[1].event_id):
                best = (i, e)
        if best:
            option = w.options[best[0]]
            if isinstance(option, WaitSignal):
                self._mail[option.name].popleft()
            else:
                del self._results[w.event_ids[best[0]]]
        return best

    def _cancel_timers(self, w: Waiting, winner: int | None) -> None:
        """The timers the code no longer waits for, and that have not fired, are cancelled (a timer never
        started, because a signal was already waiting, has nothing to cancel)."""
        for i, (option, event_id) in enumerate(zip(w.options, w.event_ids)):
            if isinstance(option, StartTimer) and i != winner and event_id and event_id not in self._results:
                started = self.events[event_id - 1]
                self._match_or_record(CancelTimer(started.timer_id, event_id))

    def take_new(self, at: float | None = None) -> list:
        """The live events to append; the engine must make them durable before acting on them. `at`: the
        time they are appended, if the worker paused after the code decided them: a server stamps what a
        task's answer records when the answer arrives (and a timer counts from then)."""
        new, self.new = self.new, []
        if at is not None and new and new[0].time != at:
            new = self.events[-len(new):] = [ev.copy_with(e, time=at) for e in new]
        return new

    @property
    def length(self) -> int:
        return len(self.events)

    # -- running the code --------------------------------------------------------------------
    def _resolve(self, e):
        self.waiting = None
        if isinstance(e, (ev.ActivityTaskFailed, ev.ActivityTaskTimedOut)):
            scheduled = self.events[e.scheduled_event_id - 1]
            error_type = e.error_type if isinstance(e, ev.ActivityTaskFailed) else e.timeout_type
            self._advance(ActivityError(scheduled.activity_type, error_type, e.message), throw=True)
        else:
            self._advance(_value(e))

    def _advance(self, value, throw=False):
        for spent in itertools.count():
            if self.closed:
                return
            if spent == HISTORY_LIMIT:   # commands that record nothing (ctx.signals, a patch asked again) in a loop
                raise WorkflowCodeError(f"workflow {self.workflow.name} made {HISTORY_LIMIT:,} commands in one workflow "
                                        "task without waiting for anything: a loop that never ends?", self._line())
            try:
                cmd = self._resume(value, throw)
            except StopIteration as stop:
                cmd = Complete(stop.value)
            except CancelledError:   # the code let the cancellation end it
                cmd = CancelWorkflow()
            except NonDeterminismError:
                raise
            except Exception as err:  # an error the code did not handle fails the workflow, recorded
                cmd = Fail(type(err).__name__, said(err))
            except (KeyboardInterrupt, GeneratorExit, Stop):   # (Stop: the engine's, not the code's)
                raise
            except BaseException as err:   # sys.exit(), or a class not under Exception: the code must change
                raise stops_the_worker(err, f"workflow {self.workflow.name}") from None
            throw = False
            if isinstance(cmd, (WaitSignal, First)):
                self._wait(cmd)
                return
            if isinstance(cmd, Patched):
                value = self._patched(cmd)
                continue
            if isinstance(cmd, TakeSignals):   # what arrived by this workflow task: the same on every replay
                value = [_value(e) for e in self._mail.pop(cmd.name, ())]
                continue
            event = self._match_or_record(cmd)
            if isinstance(cmd, (*CLOSE, ContinueAsNew)):
                self.closed, self.result = True, getattr(cmd, "value", None)
                self._gen = None
            if self.on_step:
                self.on_step(self, cmd, event, self._replaying)
            if getattr(cmd, "blocking", False):
                self.waiting = Waiting(cmd, (cmd,), (event.event_id,))
                return
            value = ev.own(event.value) if isinstance(cmd, RecordMarker) else None

    def _patched(self, cmd: Patched) -> bool:
        """Live, the patch is taken and its marker recorded; on replay, it was taken if its marker is
        here. Either way the answer holds for the rest of this execution."""
        if cmd.patch_id in self._patches:
            return self._patches[cmd.patch_id]
        queue = self._queue
        taken = not self._replaying or bool(queue and is_patch(queue[0], cmd.patch_id))
        if taken:
            event = self._match_or_record(cmd)
            if self.on_step:
                self.on_step(self, cmd, event, self._replaying)
        self._patches[cmd.patch_id] = taken or cmd.deprecated
        return self._patches[cmd.patch_id]

    def _wait(self, cmd) -> None:
        """A wait on a signal, or on the first of several things. A signal already delivered answers at
        once, so a `First` whose signal is waiting starts no timer (Temporal's wait_condition too)."""
        options = cmd.options if isinstance(cmd, First) else (cmd,)
        ready = any(isinstance(o, WaitSignal) and self._mail.get(o.name) for o in options)
        ids = tuple(None if isinstance(o, WaitSignal) or ready else self._match_or_record(o).event_id
                    for o in options)
        self.waiting = Waiting(cmd, options, ids)
        if self.on_step:
            self.on_step(self, cmd, None, self._replaying)

    def _resume(self, value, throw):
        """Step the generator, as the machine `running()` returns meanwhile. When someone is watching,
        remember its locals as it leaves the frame (at a yield or at its return), so the RAM panel can
        show the final state too."""
        step = self._gen.throw if throw else self._gen.send
        token = _running.set(self)
        try:
            if self.on_step is None or sys.getprofile() is not None:   # (a profiler is watching already)
                return step(value)
            return self._watched(step, value)
        finally:
            _running.reset(token)

    def _match_or_record(self, cmd) -> ev.Event:
        queue = self._queue
        while queue and is_patch(queue[0], deprecated=True) and not cmd.matches(queue[0]):
            self._seen(queue.popleft())   # a deprecated patch the code no longer asks about: passed over
        self._replaying = self.ctx.is_replaying = bool(queue)
        if queue:
            e = queue[0]
            if not e.command or (self.strict and not cmd.matches(e)):
                raise NonDeterminismError(self.workflow_id, e, cmd.describe(), e.event_id)
            queue.popleft()
            self._seen(e)
            self.replayed += 1
            self.steps_replayed += isinstance(cmd, ScheduleActivity)
            return e
        if self.live is None:
            raise _EndOfHistory(cmd)
        if self.length >= HISTORY_LIMIT:   # a loop that makes commands and never ends
            raise WorkflowCodeError(
                f"workflow {self.workflow.name}'s history has reached {HISTORY_LIMIT:,} events, where a Temporal "
                "server terminates a workflow (this engine stops instead): a loop that never ends? A long-lived "
                "workflow continues as new (ctx.continue_as_new) well before this", self._line())
        e = self._event_for(cmd, self.length + 1, self.live)
        self._seen(e)
        self.new.append(e)
        return e

    def _line(self) -> str:
        """Where the code is now: the file and line of its yield."""
        frame = self._gen.gi_frame if self._gen else None
        return f"{frame.f_code.co_filename}, line {frame.f_lineno}" if frame else ""

    def _event_for(self, cmd, event_id: int, live: Live) -> ev.Event:
        if not hasattr(cmd, "record"):
            hint = (" ctx.now(), ctx.random() and ctx.uuid4() are plain calls: write `t = ctx.now()`, without yield."
                    if isinstance(cmd, (datetime, float, str)) else "")
            raise WorkflowCodeError(f"workflow {self.workflow.name} yielded {shown(cmd, 60)}; yield a command from ctx "
                                    f"(ctx.activity, ctx.sleep, ctx.signal, ctx.first, ctx.side_effect).{hint}",
                                    self._line())
        return cmd.record(event_id, live.time(), self)

    def next_id(self, kind: type) -> str:
        """The id of the next activity or timer this run schedules: "1", "2", ... as Temporal's SDKs number them."""
        return str(self._numbered[kind] + 1)

    def _seen(self, e):
        if e.event_id != len(self.events) + 1:
            raise ev.HistoryError(f"{self.workflow_id}: event {e.event_id} arrived after event {self.length}")
        self.events.append(e)
        if type(e) in self._numbered:
            self._numbered[type(e)] += 1

    def _describe_now(self) -> str:
        if self.closed:
            return "nothing: the code had already finished"
        if self.waiting:
            return f"nothing: the code was waiting on {self.waiting.command.describe()}"
        return "nothing"


_ANSWERS = {ev.EVENT_TYPES[name]: field for name, field in ev.RESULT_OF.items()}   # ev.RESULT_OF, by class
_MESSAGES = {ev.EVENT_TYPES[name] for name in ev.MESSAGES}


def _value(e: ev.Event):
    """What the code receives for an answer: an activity's result, a signal's input, None for a timer."""
    return ev.own(e.input if isinstance(e, ev.WorkflowExecutionSignaled) else getattr(e, "result", None))



def _generator(fn, ctx, args: list):
    """The workflow's generator. An input that does not fit its parameters (a wrong count, a missing
    name) is an error the code raises when it starts, and fails the workflow as any other would."""
    try:
        return fn(ctx, *args)
    except TypeError as err:   # calling a generator function runs none of its body: the arguments are wrong
        return _raising(err)


def _raising(err: Exception):
    raise err
    yield


_running: ContextVar[Machine | None] = ContextVar("running", default=None)


def running() -> Machine | None:
    """The machine whose workflow code is executing right now, if any: an effect that happens while
    it is set was made by workflow code itself, not by an activity."""
    return _running.get()


class _EndOfHistory(Exception):
    def __init__(self, command):
        self.command = command
