"""One simulated world: SimPy's clock, the world, the fault injector, the history and the trace.

Everything random comes from `seed`, so the same controls and seed give the same run, frame for
frame. `perform` runs one attempt of an activity in simulated time; every strategy uses it, so the
strategies differ only in where they keep progress, which is the whole lesson.
"""
from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import simpy

from . import events as ev
from .codec import merged_keys
from .errors import Stop, said, shown, stops_the_worker
from .faults import FaultPlan, Injector, ProcessCrashed
from .history import History, collector_paused
from .trace import Recorder
from .workflow import ActivityContext, ActivityDef, Live
from .world import World, entered

EPOCH = ev.EPOCH   # simulated time 0: a Tuesday morning


class Sim:
    def __init__(self, *, seed: int = 0, faults: FaultPlan = FaultPlan(), history: History | None = None,
                 epoch: datetime = EPOCH, watch: str | None = None, restart_delay: float = 5.0,
                 env: simpy.Environment | None = None, world: World | None = None,
                 run_ids: random.Random | None = None):
        self.env = env if env is not None else simpy.Environment()   # a RealtimeEnvironment runs in real time
        self.seed, self.epoch, self.restart_delay = seed, epoch, restart_delay
        self.faults = Injector(faults, random.Random(f"faults/{seed}"), clock=lambda: self.env.now)
        self.world = world if world is not None else World(
            clock=lambda: self.env.now, wall=self.clock, rng=random.Random(f"world/{seed}"))
        self.world.on_effect = self._effect
        self.history = history if history is not None else History.memory()
        self.watch = watch   # the workflow whose history the panel follows
        self.trace = Recorder(lambda: self.env.now, lambda: len(self.world.log),
                              lambda: self.history.length(self.watch) if self.watch else 0)
        self.live = Live(time=lambda: self.env.now)
        self._run_ids = run_ids or random.Random(f"runs/{seed}")   # a real process passes SystemRandom()
        self.done: set[str] = set()   # the application's "orders marked done" table
        self.messages: list[Message] = []   # what crossed the network between callers and the world
        self.stopped = False

    def message(self, src: str, dst: str, text: str, lost: bool = False) -> None:
        self.messages.append(Message(self.env.now, src, dst, text, lost))

    def _effect(self, kind: str) -> None:
        self.trace.on_effect(kind)                  # drawn first: the effect happened...
        self.faults.reached("after_effect", kind)   # ...and a crash from here on cannot undo it

    def clock(self) -> datetime:
        """The wall clock of the simulated world."""
        return self.epoch + timedelta(seconds=self.env.now)

    def run(self, until: float | None = None) -> None:
        """Run simulated time forward, with this sim's world as the one `simcore.world` reaches (and the
        garbage collector paused: see `collector_paused`). Once `stop`ped, it runs no further."""
        if self.stopped:
            return
        with entered(self.world), collector_paused():
            self.env.run(until=until)

    def stop(self) -> None:
        """End the run where it is, once the current step is done: its open work stays open (the
        playground's cap on a workflow that loops for ever)."""
        self.stopped = True
        self.env.event().succeed().callbacks.append(simpy.core.StopSimulation.callback)

    def started(self, workflow, workflow_id: str, args) -> ev.WorkflowExecutionStarted:
        """A new run's first event, with a new run id (drawn from the seed: the same run, the same id)."""
        run_id = str(uuid.UUID(int=self._run_ids.getrandbits(128), version=4))
        return ev.WorkflowExecutionStarted(1, self.env.now, workflow.name, workflow_id, list(args), run_id)


@dataclass(frozen=True)
class Message:
    t: float
    src: str
    dst: str
    text: str
    lost: bool = False


@dataclass(frozen=True)
class Outcome:
    ok: bool
    value: object = None          # the result when ok
    error_type: str = ""
    message: str = ""
    retryable: bool = True        # False: another attempt would fail the same way (not JSON, a misused key)


NO_RESPONSE = None   # what a caller gets when the request or the response was lost


def perform(sim: Sim, activity: ActivityDef, workflow_id: str, scheduled: ev.ActivityTaskScheduled,
            attempt: int, caller: str = "process", hold=None, heartbeat=None, run_id: str = "",
            start_to_close: float = 0.0):
    """One attempt of an activity, as a SimPy process step: the request crosses the network, the world
    acts, the response crosses back; each half takes half the activity's time. Returns an `Outcome`,
    or NO_RESPONSE when the plan lost a message: the caller cannot tell which one.

    `hold()` is where a paused worker stalls; `heartbeat` is (every seconds, beat) for a long attempt.
    A crash injected by the world propagates out of here and takes the caller's process down."""
    fault = sim.faults.call_fault(activity.name, attempt, workflow_id)
    kind = fault.kind if fault else None
    name = f"{activity.name} #{attempt}"
    sim.message(caller, "world", f"{name} request", lost=kind == "request_lost")
    yield from _work(sim, activity.seconds / 2 + (fault.seconds if kind == "hang" else 0),
                     None if kind == "hang" else heartbeat)
    if hold:
        yield from hold()
    outcome = NO_RESPONSE
    if kind != "request_lost":
        sim.faults.reached("before_effect", activity.name)
        act = ActivityContext(sim.world, workflow_id, scheduled.activity_id, scheduled.activity_type, attempt,
                              run_id, start_to_close)
        outcome = _call(activity, act, scheduled, fault)
        sim.message("world", caller, f"{name} " + (f"-> {outcome.value}" if outcome.ok else outcome.error_type),
                    lost=kind == "response_lost")
        if kind == "duplicate":   # a retrying layer below resent it: the world acts on both, the caller hears one
            copy = _call(activity, act, scheduled, fault)
            sim.message("world", "network", f"{name} copy " + (f"-> {copy.value}" if copy.ok else copy.error_type))
    yield from _work(sim, activity.seconds / 2 + (fault.seconds if kind == "delay" else 0), heartbeat)
    if kind in ("request_lost", "response_lost"):
        sim.trace.note(f"{name}: no response (the caller cannot tell whether it ran)", kind="lost")
        return NO_RESPONSE
    said = f"returned {outcome.value!r}" if outcome.ok else f"failed: {outcome.error_type}"
    sim.trace.note(f"{activity.name} {said}", kind="" if outcome.ok else "failed")
    return outcome


def _call(activity, act, scheduled, fault) -> Outcome:
    if fault and fault.kind == "fail":
        return Outcome(False, error_type=fault.error_type, message=f"{activity.name} attempt {act.attempt}")
    try:
        value = activity.fn(act, *ev.own(scheduled.input))
    except Exception as e:   # an application error: recorded, and the workflow decides
        return Outcome(False, error_type=type(e).__name__, message=said(e),
                       retryable=not getattr(e, "non_retryable", False))
    except (KeyboardInterrupt, GeneratorExit, ProcessCrashed, Stop):
        raise
    except BaseException as e:   # sys.exit(), or a class not under Exception: the code must change
        raise stops_the_worker(e, f"activity {activity.name}") from None
    try:   # the code gets the result as the history keeps it, live as on replay (Temporal's SDKs do the same)
        kept = json.loads(json.dumps(value))
        if merged := merged_keys(value):
            return Outcome(False, error_type="ResultNotJSON", retryable=False,
                           message=f"{activity.name} returned a dict in which {merged}; give its keys one type")
        return Outcome(True, kept)
    except (TypeError, ValueError):
        return Outcome(False, error_type="ResultNotJSON", retryable=False, message=(
            f"{activity.name} returned {type(value).__name__} {shown(value)}: an activity's result is "
            "recorded in the history as JSON; return a dict, list, str, number, bool or None"))


def after(env: simpy.Environment, seconds: float, action, *args) -> None:
    """Call `action(*args)` once `seconds` of simulated time have passed: a timeout with a callback,
    which costs a third of a process (the engine needs one per lease, per retry and per sticky task; its
    timers share one, `HistoryService._arm`)."""
    env.timeout(seconds, (action, args)).callbacks.append(_act)


def _act(timeout: simpy.Timeout) -> None:
    action, args = timeout.value
    action(*args)


def _work(sim: Sim, seconds: float, heartbeat):
    """Spend `seconds`, reporting a heartbeat every so often if asked to."""
    if not heartbeat:
        yield sim.env.timeout(seconds)
        return
    every, beat = heartbeat
    end = sim.env.now + seconds
    while sim.env.now < end:
        yield sim.env.timeout(min(every, end - sim.env.now))
        beat()


TIMEOUTS = ("StartToCloseTimeout", "HeartbeatTimeout", "ScheduleToCloseTimeout", "ScheduleToStartTimeout")


def recorded(first_id: int, t: float, scheduled: ev.ActivityTaskScheduled, attempt: int, outcome: Outcome,
             started: float | None = None, last_failure: dict | None = None) -> list[ev.Event]:
    """The events that record an activity's final outcome, as a Temporal server writes them for an
    activity with a retry policy: ActivityTaskStarted (stamped with the start of the attempt that
    finished, `started`, and carrying the failure of the attempt before) goes in together with the
    result. A timeout is ActivityTaskTimedOut; one that never started has no ActivityTaskStarted."""
    sid = scheduled.event_id
    events = [] if outcome.error_type == "ScheduleToStartTimeout" else [
        ev.ActivityTaskStarted(first_id, t if started is None else started, sid, attempt, last_failure)]
    n = first_id + len(events)
    if outcome.ok:
        return events + [ev.ActivityTaskCompleted(n, t, sid, outcome.value)]
    if outcome.error_type in TIMEOUTS:
        return events + [ev.ActivityTaskTimedOut(n, t, sid, outcome.error_type, outcome.message)]
    return events + [ev.ActivityTaskFailed(n, t, sid, outcome.error_type, outcome.message)]


@dataclass
class Run:
    """Everything one simulation produced: what the views draw and what the outcome lines print."""
    scene: str
    controls: dict
    seed: int
    sim: Sim
    workflow: object
    workflow_id: str
    outcome: str                  # completed | running | lost | nondeterminism | corrupt_history | failed
    history: list = field(default_factory=list)
    error: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def frames(self):
        return self.sim.trace.frames

    @property
    def world(self):
        return self.sim.world

    def summary(self) -> dict:
        """The JSON object `simcore run --json` prints."""
        w = self.world
        return {
            "scene": self.scene,
            "controls": self.controls,
            "seed": self.seed,
            "statement_cents": w.statement_cents(),
            "charges": sum(e.cents > 0 for e in w.statement()),
            "refunds": sum(e.cents < 0 for e in w.statement()),
            "effects": dict(sorted(w.effects().items())),
            "outcome": self.outcome,
            "history_events": len(self.history),
            "crashes": len(self.sim.faults.fired),
            "frames": len(self.frames),
            **({"error": self.error} if self.error else {}),
            **self.extra,
        }
