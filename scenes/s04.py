"""Scene 04 · Activities: quarantine for side effects: the view.

The model (two workflows, controls, simulation, outcome lines) is `simcore.scenarios.s04`; this
module draws it. Its own panel, the id table, shows what `uuid4()` and `ctx.uuid4()` gave each run
of the workflow code.
"""
from __future__ import annotations

from simcore.orders import charge_card
from simcore.scenarios import s04 as model

from .kit.code import code_html, running_line, source_of
from .kit.diagram import Diagram
from .kit.panels import (DANGER, DURABLE, INK, MONO, MUTED, DollarMeter, HistoryPanel, Panel, ProcessBox,
                         RamPanel)
from .kit.view import SceneView, try_it as _try_it

QUESTIONS = {
    "What belongs in a workflow, and what in an activity?": (
        "The workflow decides; activities act. Workflow code orders the steps, branches on their results, "
        "waits, loops and computes from its inputs and recorded results: all of it deterministic, so it can "
        "run again on every replay at no cost, and it takes the clock and randomness from ctx. Anything that "
        "touches the world or may answer differently next time is an activity: a charge, an email, an HTTP "
        "call, a SQL query, a file. The test: if running it twice would be visible to anyone, it does not "
        "belong in workflow code.\n\n"
        "Airflow has the same trap in another place: the top-level code of a DAG file runs every time the "
        "file is parsed, so effects go in tasks."),
    "Can an activity call another service or a database?": (
        "Yes: that is its job. An activity is ordinary code with no determinism rules: HTTP, gRPC, SQL, "
        "an SDK, a long computation. The engine records only its arguments and its result, so keep "
        "those small and serializable (a charge id, not a PDF).\n\n"
        "The one rule it must live with: it can run more than once (a retry, or a crash after the "
        "effect and before the record), so its effect should be idempotent; scene 07. DBOS adds a "
        "special case for your own database: a datasource transaction (`@ds.transaction()` on a "
        "`SQLAlchemyDatasource`) commits its writes and its recorded output in one transaction, so it cannot happen twice."),
    "Why do activities run at least once, not exactly once?": (
        "Because the effect and its record live in two systems. The card network charges; then the worker "
        "reports back and the engine appends ActivityTaskCompleted. If the worker dies between the two, the "
        "history says 'not done', the task's lease expires and another worker runs it again. Replay protects "
        "the workflow code; nothing in the engine can close that gap (scene 02: $84.00).\n\n"
        "The fix is on the other side: send a key that is the same on every attempt (the workflow run id + "
        "the activity id), and the card network returns the first result instead of charging again: scene "
        "07. Temporal's docs describe this very case, a worker crashing just before it reports, and "
        "recommend that key."),
    "Why can't a uuid4() from workflow code be the key?": (
        "Because the code runs again on every replay and draws a new one each time: 3 runs, 3 keys, and a "
        "card network that dedupes by key sees three different requests. ctx.uuid4() draws from a generator "
        "seeded with the run's id, which WorkflowExecutionStarted records, so every replay draws the same "
        "value, and no event is written for it.\n\n"
        "Temporal's Python workflow.uuid4() is replay-safe the same way, seeded per run; in Go you wrap the "
        "call in workflow.SideEffect, which records its value as a marker. Simpler still for a key: the run "
        "id + the activity id (scene 07)."),
    "What does DBOS call an activity?": (
        "A step: a function decorated with @DBOS.step(), called from a @DBOS.workflow(). On recovery DBOS "
        "runs the workflow again from the start, and before each step checks its database for a recorded "
        "output: if there is one, it returns it instead of running the step. A twin execution that lost the "
        "workflow (a recovery elsewhere took it over) gets DBOSWorkflowConflictIDError when it next records. "
        "Same idea as replay, without a separate server: it is a library in your process, checkpointing to "
        "Postgres (or SQLite).\n\n"
        "Temporal and Cadence say activity."),
}


class StepsBox(ProcessBox):
    """The process box, with the steps that the inline workflow does itself marked as such."""

    def update(self, run, frame):
        super().update(run, frame)
        inline = run.controls.get("side_effects") == "inline"
        for i, (step, label) in enumerate(zip(self.steps, self.labels)):
            label.set_text(f"{i + 1}. {step}" + ("  (inline)" if inline and step in model.INLINE else ""))


class IdsPanel(Panel):
    """The id each run of the workflow code saw: `uuid4()` changes on every run, `ctx.uuid4()` never."""

    def __init__(self, ax, box, rows=4):
        super().__init__(ax, box, "ids the code saw, per run")
        for dx, head in ((1.5, "run"), (5.5, "uuid4()"), (12.5, "ctx.uuid4()")):
            self.label(dx, 4.0, head, family=MONO, color=MUTED)
        self.rows = [self.text(1.5, 6.8 + 2.6 * i, "", family=MONO) for i in range(rows)]
        self.fresh = [self.text(5.5, 6.8 + 2.6 * i, "", family=MONO) for i in range(rows)]
        self.stable = [self.text(12.5, 6.8 + 2.6 * i, "", family=MONO, color=DURABLE) for i in range(rows)]

    def update(self, run, frame):
        upto = next(i for i, f in enumerate(run.frames) if f is frame) + 1
        runs = model.code_runs(run, upto)
        first = runs[0]["fresh_id"] if runs else None
        for i, (n, fresh, stable) in enumerate(zip(self.rows, self.fresh, self.stable)):
            r = runs[i] if i < len(runs) else None
            n.set_text(str(i + 1) if r else "")
            fresh.set_text((r and r["fresh_id"]) or "")
            fresh.set_color(DANGER if r and r["fresh_id"] != first else INK)
            stable.set_text((r and r["stable_id"]) or "")


class S04Diagram(Diagram):
    def build(self, ax):
        yield StepsBox(ax, (2, 4, 32, 42), model.STEPS)
        yield RamPanel(ax, (36, 27, 33, 19))
        yield DollarMeter(ax, (71, 27, 27, 19))
        yield HistoryPanel(ax, (36, 4, 38, 21))
        yield IdsPanel(ax, (76, 4, 22, 21))


def code_panels(run, frame) -> str:
    inline = run.controls.get("side_effects") == "inline"
    flow = model.WORKFLOWS[run.controls.get("side_effects", "inline")]
    note = ("the email and the charge are done by the workflow code itself: replay runs them again" if inline
            else "the email and the charge are activities: replay hands back their recorded results")
    lit = running_line(run, frame)
    acted = effects_in(run, frame)
    panels = [code_html(flow.name, note, source_of(flow), lit, frame.replaying, crashed=frame.skull)]
    for act in (model.send_received_email, charge_card):
        source = source_of(act)
        ran = not inline and act.name in acted
        act_note = ("not called here: the workflow above does this inline" if inline
                    else "an activity: runs on a worker, its result is recorded in the history")
        panels.append(code_html(f"activity {act.name}", act_note, source,
                                len(source.rstrip().splitlines()) if ran else None))
    return "".join(panels)


def effects_in(run, frame) -> set[str]:
    """The kinds of effect the world performed between the previous frame and this one."""
    i = next(i for i, f in enumerate(run.frames) if f is frame)
    before = run.frames[i - 1].effects if i else 0
    return {e.kind for e in run.world.log[before:frame.effects]}


class Scene(SceneView):
    def __init__(self, **controls):
        super().__init__(model, S04Diagram(), code_panels, QUESTIONS, **controls)


def show(**controls):
    """The interactive scene: `show(side_effects="inline", crashes=2)`."""
    return Scene(**controls).widget


def try_it(**controls):
    """Run one configuration headless and print what the scene teaches."""
    _try_it(model, **controls)
