"""Scene 02 · The event history is the source of truth.

Stop trusting RAM: every step's result is appended to an event history in a real SQLite file,
committed before the next step runs. A crash wipes RAM, never the file; the restarted process reads
the file and carries on after the last recorded step. Two holes remain, and the scene shows both:
a crash *between the effect and its record* repeats the effect ($84.00), and writing the record
*before* the effect turns that same crash into a skipped effect ($0.00, shipped for free).

Each run writes its own history file (`history_file(...)`), deleted first so the run starts fresh,
so a learner can open it with `sqlite3` and read exactly the rows the diagram draws.
"""
from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from .. import events as ev
from .. import orders
from ..faults import FaultPlan
from ..history import History
from ..sim import Sim
from ..strategies import run_workflow
from . import Control
from .s01 import fulfill_order as plain_order
from .lines import effects_line, statement_line

NUMBER = 2
TITLE = "The event history is the source of truth"
CONTROLS = (
    Control("strategy", ("cron", "checkpoint", "durable"), "checkpoint",
            "cron retry: re-run from line one, nothing recorded; checkpoint file: append each step's result "
            "to a history file, skip recorded steps after a restart; durable execution: the engine (preview)"),
    Control("crash_after", ("none",) + orders.STEPS, "ChargeCard", "the process dies at this step"),
    Control("crash_when", ("after_record", "in_the_gap"), "after_record",
            "after its record: once the step is done and recorded; between effect and record: after "
            "whichever of the two comes first, before the other"),
    Control("record", ("after_effect", "before_effect"), "after_effect",
            "checkpoint file only: write a step's record after its effect (do, then write down) or before it "
            "(write down, then do). Durable always records the result after the effect; cron records "
            "nothing; for them this control is ignored, and the outcome says so"),
)
FOLDER = Path(tempfile.gettempdir()) / "durable-sim"   # where the runs' history files go


class CountedHistory(History):
    """The history file, counting its commits: one per append, whatever the number of events."""

    commits = 0

    def append(self, workflow_id, events, run_id="1", **how):
        super().append(workflow_id, events, run_id, **how)
        self.commits += bool(events)


def history_file(strategy="checkpoint", crash_after="ChargeCard", crash_when="after_record",
                 record="after_effect", seed=0, folder=None) -> Path:
    """Where a run with these controls writes its history: one file per combination."""
    name = f"scene02-{strategy}-{crash_after}-{crash_when}-{record}" + (f"-seed{seed}" if seed else "")
    return Path(folder or FOLDER) / f"{name}.sqlite"


def crash_point(crash_when: str, record_first: bool) -> str:
    """The engine's fault point for a crash control. In the gap: after the effect when the record
    comes after it; after the record, before the effect, when the record comes first."""
    if crash_when == "after_record":
        return "after_step"   # the step is done, its result recorded and in the code's hands
    return "before_effect" if record_first else "after_effect"


def simulate(strategy="checkpoint", crash_after="ChargeCard", crash_when="after_record",
             record="after_effect", seed=0, folder=None):
    """Run ORDER #1001 with its history in a real file (none for cron, which records nothing).
    `folder` overrides where the file goes (the tests use their own)."""
    controls = {"strategy": strategy, "crash_after": crash_after, "crash_when": crash_when, "record": record}
    record_first = strategy == "checkpoint" and record == "before_effect"
    path = None
    if strategy == "cron":
        history = History.memory()   # cron touches no history; nothing is written to disk
    else:
        path = history_file(**controls, seed=seed, folder=folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)   # a fresh run: no rows from a previous one
        history = CountedHistory(path)
    plan = FaultPlan.crash_after(crash_after, when=crash_point(crash_when, record_first))
    sim = Sim(seed=seed, faults=plan, history=history)
    options = {"record_first": record_first} if strategy == "checkpoint" else {}
    try:
        code = plain_order if strategy == "cron" else orders.fulfill_order   # cron runs the plain function
        run = run_workflow(strategy, code, orders.ACTIVITIES, [orders.ORDER_ID, orders.CENTS],
                           wid=f"order-{orders.ORDER_ID}", sim=sim, scene="02", controls=controls, **options)
    finally:
        history.close()   # the WAL is folded into the file: one self-contained file to open
    run.history_path = path
    if path:
        run.extra = {**run.extra, "history_file": str(path), "history_commits": history.commits}
    return run


def outcome_lines(run) -> list[str]:
    lines = [statement_line(run), effects_line(run)]
    path = getattr(run, "history_path", None)
    if path is None:
        lines.append("history: none: cron keeps its progress in RAM only")
    else:
        lines.append(recorded_line(run))
        lines.append(f"history: {len(run.history)} events in {run.extra['history_commits']} commits, "
                     f"file {path.name}")
    lines += crash_lines(run) + [shipped_line(run), f"outcome: {run.outcome}"] + notes(run)
    return lines


def recorded_steps(events) -> Counter:
    """What a history says was done: its completed activities, by step."""
    return Counter(events[e.scheduled_event_id - 1].activity_type for e in events
                   if isinstance(e, ev.ActivityTaskCompleted))


def recorded_line(run) -> str:
    done = recorded_steps(run.history)
    return "recorded: " + ", ".join(f"{step} x{done[step]}" for step in orders.STEPS)


def crash_lines(run) -> list[str]:
    """One line per crash: when it hit, and what RAM and the history held at that instant."""
    skulls = [f for f in run.frames if f.skull]
    if not skulls:
        return ["crash: none"]
    if getattr(run, "history_path", None) is None:   # cron: no record to be before or after
        where = {"after_step": "after it returned", "after_effect": "right after the effect"}
        kept = lambda n: "nothing was recorded"
    else:
        where = {"after_step": "after its record", "after_effect": "in the gap: after the effect, before its record",
                 "before_effect": "in the gap: after its record, before the effect"}
        kept = lambda n: f"the history kept {n} event{'s' * (n != 1)}"
    return [f"crash: {crash.step}, {where[crash.when]}: RAM wiped, {kept(frame.history)}"
            for (_, crash), frame in zip(run.sim.faults.fired, skulls)]


def shipped_line(run) -> str:
    shipped = run.world.effects()["ShipPackage"]
    paid = run.world.statement_cents()
    charges = sum(e.cents > 0 for e in run.world.statement())
    what = f"{shipped} package{'s' * (shipped != 1)}" if shipped else "nothing"
    text = f"shipped: {what}, paid ${paid / 100:.2f}"
    if shipped and not paid:
        return text + " (shipped for free)"
    if charges > 1:
        return text + f" (charged {charges} times)"
    return text + (" (paid, never shipped)" if paid and not shipped else "")


def notes(run) -> list[str]:
    """Controls this strategy ignores, said out loud rather than refused (a widget can set any mix)."""
    strategy, c = run.controls["strategy"], run.controls
    out = []
    if strategy != "checkpoint" and c["record"] == "before_effect":
        out.append("note: 'write down, then do' applies to the checkpoint file only; " +
                   ("cron retry records nothing" if strategy == "cron" else
                    "durable execution records each result after its effect"))
    if strategy == "cron" and c["crash_when"] == "after_record" and c["crash_after"] != "none":
        out.append("note: cron retry records nothing, so every crash is in the gap; 'crash when' changes nothing")
    return out
