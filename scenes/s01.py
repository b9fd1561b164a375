"""Scene 01 · The crash that charges you twice: the view.

The model (controls, simulation, outcome lines) is `simcore.scenarios.s01`; this module draws it.
"""
from __future__ import annotations

from simcore import orders, strategies
from simcore.scenarios import s01 as model

from .kit.code import code_html, running_line, source_of
from .kit.diagram import Diagram
from .kit.panels import DollarMeter, HistoryPanel, ProcessBox, RamPanel
from .kit.view import SceneView, try_it as _try_it

QUESTIONS = {
    "Why not check `charged` before charging?": (
        "Because `charged` lived in RAM. The crash that wiped it is the very event you want to survive: "
        "after the restart the variable starts again at False, so the check says 'not charged' and the "
        "card is charged again. A check is only as durable as the place its answer is kept."),
    "Why not a `charged` column in the database?": (
        "Better, but not enough. The charge happens at the card network and the write happens in your "
        "database: two systems, no shared transaction. The process can die between them. Write the column "
        "after the charge and a crash in the gap charges twice; write it before and a crash in the gap "
        "records a charge that never happened (scene 02 shows both).\n\n"
        "Closing the gap needs the other side's help: an idempotency key the card network remembers "
        "(scene 07)."),
    "What does \"at-least-once\" mean here?": (
        "Every step runs at least once: one or more times, never zero, because the caller retries until it "
        "hears 'done'. It has to: one call that gets no answer may or may not have happened, and a timeout "
        "never tells you which. Cron retry is at-least-once for the whole function: every run starts at "
        "ChargeCard, so every retry is another charge.\n\n"
        "Temporal retries a failed activity by default, with backoff and no limit on attempts. DBOS re-runs "
        "a step that never recorded its output when it recovers a workflow, but retries a step that raised "
        "only if you ask (retries_allowed=True). Either way the effect becomes exactly-once only when the "
        "receiver drops the repeats: an idempotency key (scene 07)."),
    "What is durable execution, in one sentence?": (
        "Your function's progress is recorded outside the process, step by step, so that after any crash it "
        "continues where it was, with its variables restored, instead of starting over or stopping.\n\n"
        "Temporal does it by recording an event history and replaying the code against it (scene 03); DBOS "
        "records each step's output in its database (Postgres or SQLite) and, on recovery, runs the function again, skipping every "
        "step whose output it has."),
}

CRON_NOTE = "the unfinished order is re-run from line one"


class S01Diagram(Diagram):
    def build(self, ax):
        yield ProcessBox(ax, (2, 4, 40, 42), orders.STEPS)
        yield RamPanel(ax, (44, 26, 24, 20))
        yield DollarMeter(ax, (70, 26, 28, 20))
        yield HistoryPanel(ax, (44, 4, 54, 20))


def code_panels(run, frame) -> str:
    """Plain and cron: the plain function that runs (`model.fulfill_order`) and the cron job that re-runs
    it (`strategies.cron_job`), with the simulation under them folded away; durable: the workflow."""
    lit = running_line(run, frame)
    strategy = run.controls.get("strategy")
    if strategy == "durable":
        return code_html("fulfill_order", "the same steps as a workflow, run by the durable engine: each step's "
                         "result is recorded", source_of(orders.fulfill_order), lit, frame.replaying, crashed=frame.skull)
    panels = [code_html("fulfill_order", "a plain function: progress lives only in local variables",
                        source_of(model.fulfill_order), lit, crashed=frame.skull)]
    if strategy == "cron":
        panels.append(code_html("cron retry", CRON_NOTE, source_of(strategies.cron_job)))
        panels.append(code_html("the simulation under it (simcore.strategies.Shop)", "the orders table, the clock "
                                "and a process per run: what the cron job and the function call",
                                source_of(strategies.Shop), engine=True))
    return "".join(panels)


class Scene(SceneView):
    def __init__(self, **controls):
        super().__init__(model, S01Diagram(), code_panels, QUESTIONS, **controls)


def show(**controls):
    """The interactive scene: `show(strategy="cron", crash_after="ChargeCard")`."""
    return Scene(**controls).widget


def try_it(**controls):
    """Run one configuration headless and print what the scene teaches."""
    _try_it(model, **controls)
