"""Bring your own workflow: the playground's model (no widgets). `scenes.playground` draws it.

A learner writes a workflow and its activities in a notebook cell; `Playground` runs them on the
course's engine as a scene model does (NUMBER, TITLE, CONTROLS, simulate(), outcome_lines()), with
controls made from the learner's own run: every point the crash-free run reached, the strategy, and
whether the activities' idempotency keys reach the world.

Why a watch around the engine rather than changes inside it: the engine already records what a scene
needs (frames, history, the injector's points); what a stranger's code needs on top is *which call*
each frame and effect belongs to (a loop's three calls are three rows) and, when the code is wrong,
the learner's own line. Both are read from the outside: the activities are wrapped, the world's
effect hook and the trace's step hook are chained, and an error that escapes the engine is traced
back to the workflow frame it came from. Every run is seeded: the same code gives the same run.
"""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field, replace

from . import events as ev
from .codec import is_json
from .errors import EXIT, TookTooLong, WorkflowCodeError, said, shown, wall_clock_limit
from .faults import WHEN, Crash, FaultPlan, Injector
from .learner import PlaygroundError, activity, checked, frames, where, why_not_json, workflow  # noqa: F401 (re-exported)
from .replay import Machine, running
from .scenarios import Control, ControlError, resolve
from .sim import Sim
from .strategies import run_workflow
from .workflow import ActivityDef, ScheduleActivity, WaitSignal
from .world import World

STRATEGIES = ("plain", "cron", "durable")
KEYS = ("as written", "none")   # the activities' keys reach the world as written, or are all dropped
HORIZON = 24 * 3600.0           # a day of simulated time: enough for retries, short enough to stop a loop
MAX_CALLS = 1_000               # activity calls in one run: past any learner's workflow, cheap to reach (~0.2 s)
WALL_SECONDS = 5.0              # real time one run may take: 25x the cap's (a loop with no yield never reaches it)
WHEN_TEXT = {"after_step": "after result", "after_effect": "after effect, before record",
             "before_effect": "before effect"}
SAVED: dict[str, tuple[str, list]] = {}   # workflow name -> (its source, the history of its last clean run)


class Keyless:
    """The world as activities see it with key mode "none": every key they pass is dropped, so the
    world cannot tell a repeat from a new request. World's named calls (charge, ship, ...) are its own
    methods run against this object, so they drop keys too."""

    charge, refund, reserve, release, ship, email = (World.charge, World.refund, World.reserve, World.release,
                                                     World.ship, World.email)

    def __init__(self, world):
        self._world = world

    def effect(self, kind, order, key=None, **kw):
        return self._world.effect(kind, order, None, **kw)

    def __getattr__(self, name):
        return getattr(self._world, name)


@dataclass
class Reached(Injector):
    """The injector, also keeping the order in which points are reached: the crash choices, in time."""
    order: list = field(default_factory=list)

    def reached(self, when, step):
        self.order.append(Crash(step, when, self.reached_count[when, step] + 1))
        super().reached(when, step)


@dataclass
class Watch:
    """What one run of the learner's code did, as the views and the messages need it."""
    calls: dict = field(default_factory=dict)         # activity id -> (activity name, args)
    effect_calls: list = field(default_factory=list)  # world.log[i] was made by this activity id (None: no activity)
    returned: dict = field(default_factory=dict)      # activity id -> when (simulated) its code first returned
    problems: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)        # activity name -> (attempts that raised, last error)
    result: object = None
    failed: str = ""
    current: str | None = None                        # the activity id running now
    attempts: int = 0                                 # activity calls made (each attempt), up to MAX_CALLS
    machine: Machine | None = None                    # the replay machine that ran the code last

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)


def point_name(crash: Crash, repeats: bool) -> str:
    return f"{crash.step}{f' #{crash.nth}' if repeats else ''}: {WHEN_TEXT[crash.when]}"


class Playground:
    """A scene model for the learner's workflow. `args` are the workflow's inputs (JSON)."""

    NUMBER = 14

    def __init__(self, workflow_fn, activities, args=(), *, workflow_id: str | None = None):
        self.workflow, self.activities, self.args = checked(workflow_fn, activities, args)
        self.wid = workflow_id or f"{self.workflow.name}-1"
        self.TITLE = f"Your own workflow: {self.workflow.name}"
        self.replayed = self._replay_previous()
        self.reference = self.play("durable")
        SAVED[self.workflow.name] = (self.source, self.reference.history)
        reached = self.reference.sim.faults.order
        many = Counter(c.step for c in reached if c.nth > 1)
        self.points = {point_name(c, c.step in many): c for c in reached}
        self.CONTROLS = (
            Control("strategy", STRATEGIES, "plain", "plain function; cron re-runs it from line one; durable engine"),
            Control("crash", ("none", *self.points), "none", "every point the crash-free run reached"),
            Control("key", KEYS, "as written", "as written: your activities' keys reach the world; none: dropped"),
        )

    @property
    def source(self) -> str:
        return "".join(self.workflow.source[0])

    # -- running it ---------------------------------------------------------------------------
    def simulate(self, strategy="plain", crash="none", key="as written", seed=0):
        return self.play(strategy, self.points.get(crash), key, seed, dict(strategy=strategy, crash=crash, key=key))

    def play(self, strategy, crash: Crash | None = None, key="as written", seed=0, controls=None):
        """One run, watched. Bad code ends in a PlaygroundError that names the learner's line."""
        sim = Sim(seed=seed, faults=FaultPlan((crash,) if crash else ()))
        sim.faults = Reached(sim.faults.plan, sim.faults.rng, clock=sim.faults.clock)
        watch = Watch()
        self._hook(sim, watch)
        acts = [self._wrap(a, key, watch, sim) for a in self.activities]
        try:
            with wall_clock_limit(WALL_SECONDS):
                run = run_workflow(strategy, self.workflow, acts, self.args, wid=self.wid, sim=sim,
                                   scene="playground", controls=controls or {}, horizon=HORIZON)
        except PlaygroundError:
            raise
        except TookTooLong as err:
            raise PlaygroundError(f"your code ran for {WALL_SECONDS:g} s of real time without handing control back "
                                  f"to the engine ({self._stuck_at(err)}): a loop with no yield in it? "
                                  "(The playground stopped it; an activity's time is simulated: give it seconds=, "
                                  "do not sleep.)") from None
        except Exception as err:   # the engine could not go on: say why, at the learner's line
            raise PlaygroundError(watch.problems[-1] if watch.problems else self._explain(err)) from None
        run.watch = watch
        if run.outcome != "completed":
            for name, (n, error) in watch.errors.items():
                watch.problem(f"{name} raised {error}, {n} attempt{'s' * (n != 1)}"
                              + (": the engine retries it until it works" if run.outcome == "running" else ""))
        n, at = f"{watch.attempts:,} activity call{'s' * (watch.attempts != 1)}", self._at(watch.machine)
        if watch.attempts >= MAX_CALLS:
            watch.problem(f"{self.workflow.name} is still running after {n}, the playground's cap ({at}): "
                          "a loop that never ends?")
        elif run.outcome == "running" and not watch.errors and self._waits_for(watch.machine):
            watch.problem(f"{self.workflow.name} waits for the signal {self._waits_for(watch.machine)} ({at}), which "
                          "nothing sends in the playground: it would wait for ever (a real engine's client sends it)")
        elif run.outcome == "running" and not watch.errors:   # (an activity retried all day says why itself)
            watch.problem(f"{self.workflow.name} is still running after a simulated day, where the playground "
                          f"stops ({n}; {at}): a loop that never ends, or a wait longer than that?")
        return run

    @staticmethod
    def _waits_for(machine) -> str:
        """The signals the workflow's code waits on now, named ('' if it waits on none)."""
        waiting = machine and machine.waiting
        return " or ".join(repr(o.name) for o in waiting.options if isinstance(o, WaitSignal)) if waiting else ""

    def _hook(self, sim, watch):
        """Chain the world's effect hook (which call made each effect) and the trace's step hook (which
        call each frame belongs to; the workflow's result or failure)."""
        effect, on_step, trace = sim.world.on_effect, sim.trace.on_step, sim.trace
        names = {a.name for a in self.activities}

        def on_effect(kind):
            watch.effect_calls.append(watch.current)
            m = running()
            if watch.current is None and m is not None:
                watch.problem(f"{self.workflow.name} did {kind} itself, outside an activity "
                              f"({self._at(m)}): the engine never sees it, so a replay does it again. Move it "
                              "into an @activity and `yield ctx.activity(...)` it")
            effect(kind)

        def step(m, cmd, event, replayed):
            on_step(m, cmd, event, replayed)
            watch.machine = m
            if isinstance(event, (ev.WorkflowExecutionCompleted, ev.MarkerRecorded)) and not replayed:
                value, who = (m.result, "") if m.closed else (event.value, "ctx.side_effect in ")
                if not is_json(value):
                    watch.problem(f"{who}{self.workflow.name} returned {type(value).__name__} {shown(value)} "
                                  f"({self._at(m)}): {why_not_json(value)}")
            if isinstance(cmd, ScheduleActivity) and event is not None:
                if cmd.activity.name not in names:
                    watch.problem(f"{self.workflow.name} calls {cmd.activity.name} ({self._at(m)}), which is not in "
                                  "the list of activities you gave the playground: add it, as a worker registers it")
                watch.calls[int(event.activity_id)] = (cmd.activity.name, list(cmd.args))
                if trace.frames and trace.frames[-1] is trace.state:
                    trace.state = trace.frames[-1] = replace(trace.state, extra={**trace.state.extra,
                                                                                  "call": event.activity_id})
            elif m.closed and isinstance(event, ev.WorkflowExecutionFailed):
                watch.failed = f"{event.error_type}: {event.message}"
                hint = (": only an activity touches the world; call it with `yield ctx.activity(fn, ...)`"
                        if "world" in event.message else "")
                watch.problem(f"{self.workflow.name} raised {watch.failed} ({self._at(m)}){hint}")
            elif m.closed:
                watch.result = m.result
        sim.world.on_effect, sim.trace.on_step = on_effect, step

    def _wrap(self, a: ActivityDef, key: str, watch: Watch, sim: Sim) -> ActivityDef:
        """The activity as the engine runs it here: keys dropped or kept, its effects counted against its
        call, its errors and a non-JSON result said at the learner's line; the world stopped at MAX_CALLS."""
        fn, code = a.fn, a.fn.__code__

        def run(act, *args):
            watch.current, watch.attempts = act.activity_id, watch.attempts + 1
            if watch.attempts == MAX_CALLS:   # the world stops after this call, and stays stopped
                sim.stop()
            returned = {}

            def on_return(frame, event, arg):
                if event == "return" and frame.f_code is code:
                    returned["line"] = frame.f_lineno
            outer = sys.getprofile()
            sys.setprofile(on_return)
            try:
                value = fn(replace(act, world=Keyless(act.world)) if key == "none" else act, *args)
            except (Exception, SystemExit) as err:
                n, _ = watch.errors.get(a.name, (0, ""))
                tb, line = err.__traceback__, None   # the last line of the learner's file it ran
                while tb:
                    line = tb.tb_lineno if tb.tb_frame.f_code.co_filename == code.co_filename else line
                    tb = tb.tb_next
                # (none: the call itself failed, its arguments not fitting the parameters: said at the def)
                watch.errors[a.name] = (n + 1, f"{type(err).__name__}: {said(err)} ({where(code, line)})")
                if isinstance(err, SystemExit):
                    watch.problem(f"{a.name} raised {watch.errors[a.name][1]}: {EXIT}")
                raise
            finally:
                sys.setprofile(outer)
                watch.current = None
            if not is_json(value):
                watch.problem(f"{a.name} returned {type(value).__name__} {shown(value)} "
                              f"({where(code, returned.get('line'))}): {why_not_json(value)}")
            watch.returned.setdefault(act.activity_id, act.world.clock())
            return value
        return replace(a, fn=run)

    def _at(self, m: Machine | None) -> str:
        line = m.line if m else None
        return where(self.workflow.fn.__code__, self.workflow.fn.__code__.co_firstlineno + line - 1 if line else None)

    def _stuck_at(self, err: BaseException) -> str:
        """The learner's line that was running when `err` was raised into it (the deepest one)."""
        mine = {f.__code__.co_filename for f in (self.workflow.fn, *(a.fn for a in self.activities))}
        at = [(frame.f_code, line) for frame, line in frames(err) if frame.f_code.co_filename in mine]
        return where(*at[-1]) if at else "outside your code"

    def _explain(self, err: Exception) -> str:
        """An error from inside the engine, said at the workflow line it came from (the machine that was
        running the code is in the traceback)."""
        machine = yielded = None
        for frame, _ in frames(err):
            got = frame.f_locals.get("self")
            machine = got if isinstance(got, Machine) else machine
            yielded = frame.f_locals.get("cmd", yielded)
        at = f" ({self._at(machine)})" if machine else ""
        if isinstance(err, WorkflowCodeError) and isinstance(yielded, ActivityDef):
            return (f"{self.workflow.name} yields the activity {yielded.name} itself{at}; write "
                    f"`yield ctx.activity({yielded.fn.__name__}, ...)`")
        return f"{type(err).__name__}: {err}{at}"

    def _replay_previous(self) -> str:
        """The history of the previous version's clean run, replayed against this code: ok, or the
        event the code no longer matches and the line that produced the difference."""
        saved = SAVED.get(self.workflow.name)
        if not saved or saved[0] == self.source:
            return ""
        m = Machine(self.workflow, self.wid, on_step=lambda *a: None)
        try:
            m.feed(saved[1])
        except Exception as err:   # NonDeterminismError: the code no longer matches the history
            return f"replay of the previous run's history: {type(err).__name__}: {err} ({self._at(m)})"
        return f"replay of the previous run's history: ok, {m.replayed} commands over {len(saved[1])} events"

    # -- what it teaches ----------------------------------------------------------------------
    def effects(self, run) -> dict:
        done = run.world.effects()
        kinds = list(self.reference.world.effects()) + [k for k in done if k not in self.reference.world.effects()]
        return {k: done.get(k, 0) for k in kinds}

    def outcome_lines(self, run) -> list[str]:
        clean = self.reference.world.effects()
        now = self.effects(run)
        lines = [self.replayed] if self.replayed else []
        lines.append("effects: " + (", ".join(f"{k} x{n}" for k, n in now.items()) or "none"))
        if run.world.statement():
            charges = sum(e.cents > 0 for e in run.world.statement())
            lines.append(f"statement: ${run.world.statement_cents() / 100:,.2f} "
                         f"({charges} charge{'s' * (charges != 1)})")
        diff = [f"{k} {n - clean.get(k, 0):+d}" for k, n in now.items() if n != clean.get(k, 0)]
        lines.append("against the crash-free run: " + (", ".join(diff) if diff else "the same effects"))
        outcome = "failed" if run.watch.failed else run.outcome
        lines.append(f"outcome: {outcome}" + (f", result {run.watch.result!r}" if run.watch.result is not None else ""))
        return lines + [f"problem: {p}" for p in run.watch.problems]

    def sweep(self, strategies=STRATEGIES, key="as written") -> list[SweepRow]:
        """Crash the workflow at every point, under each strategy: what the world saw each time."""
        try:   # only the documented choices: a misspelt key mode would keep the keys, silently
            [resolve(self, dict(strategy=s, key=key)) for s in strategies]
        except ControlError as err:
            raise PlaygroundError(err) from None
        rows = []
        for s in strategies:
            for name, crash in [("none", None), *self.points.items()]:
                run = self.play(s, crash, key)
                rows.append(SweepRow(s, name, self.effects(run), "failed" if run.watch.failed else run.outcome))
        return rows

    def sweep_table(self, rows: list[SweepRow]) -> str:
        kinds = list(rows[0].effects)
        clean = self.reference.world.effects()
        width = max(len(r.point) for r in rows) + 2
        out = []
        for s in dict.fromkeys(r.strategy for r in rows):
            out.append(f"{s}:")
            out.append(" " * width + "  ".join(f"{k:>{max(len(k), 3)}}" for k in kinds) + "  outcome")
            repeated = Counter()
            for r in (r for r in rows if r.strategy == s):
                cells = []
                for k in kinds:
                    n = r.effects.get(k, 0)
                    mark = "!" if n > clean.get(k, 0) else " "
                    repeated[k] += n > clean.get(k, 0)
                    cells.append(f"{f'{n}{mark}':>{max(len(k), 3) + 1}}")
                out.append(f"{'(no crash)' if r.point == 'none' else r.point:<{width}}" + " ".join(cells)
                           + f"  {r.outcome}")
            bad = [f"{k} at {n} point{'s' * (n != 1)}" for k, n in repeated.items() if n]
            out.append("repeated (!): " + (", ".join(bad) if bad else "nothing, wherever it crashed") + "\n")
        return "\n".join(out).rstrip()


@dataclass(frozen=True)
class SweepRow:
    strategy: str
    point: str
    effects: dict
    outcome: str


__all__ = ["Playground", "PlaygroundError", "workflow", "activity", "STRATEGIES", "KEYS", "WHEN", "SAVED"]
