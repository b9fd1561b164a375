"""Scene 02 · The event history is the source of truth: the view.

The model (controls, simulation, outcome lines) is `simcore.scenarios.s02`; this module draws it.
Beyond the shared panels it marks, per step, whether the history holds its result (the gap between an
effect and its record shows as a red "not recorded"), and at the skull it outlines what the crash
took (RAM, in red) and what it could not (the history file, in blue).
"""
from __future__ import annotations

from simcore import orders, strategies
from simcore.scenarios import resolve
from simcore.scenarios import s01 as s01_model, s02 as model

from .kit.code import code_html, running_line, source_of
from .kit.diagram import Diagram
from .kit.panels import DANGER, DURABLE, MUTED, DollarMeter, HistoryPanel, ProcessBox, RamPanel, clip
from .kit.view import SceneView, try_it as _try_it

QUESTIONS = {
    "Why append-only?": (
        "Because recovery trusts the past, and an append never touches a row a restart relies on. A crash "
        "during an append rolls back only the half-written event; every earlier event is as it was. Update a "
        "`status` row in place and a crash leaves you a state without the story of how you got there.\n\n"
        "It also fences writers: ids are consecutive, so a writer working from a stale copy tries to write "
        "event 5 when 5 exists, and is refused (HistoryConflict).\n\n"
        "Temporal keeps such a history per execution. Airflow keeps a task instance's state in one row it "
        "updates in place; since 2.10 it also keeps each earlier try in task_instance_history, a record to "
        "read, not one it replays."),
    "What does a commit / fsync buy, and what does it cost per step?": (
        "A commit that has returned is a promise the record survives; the sync setting says what it "
        "survives. This history runs SQLite in WAL mode, synchronous=FULL: a commit fsyncs the log, "
        "so it survives a process crash and a power cut; with NORMAL a power cut can undo the last "
        "commits. The engine commits a workflow task's start with NORMAL: nothing acts on it before the "
        "task's answer, whose fsync covers it.\n\n"
        "The cost is per commit, not per row: an fsync waits for the disk. On these machines, 3,000 to "
        "14,000 single-row commits a second; 100 rows per commit reach 150,000 to 200,000 rows a second, "
        "so engines batch: Temporal writes the events of one workflow task together."),
    "Why not write the record first?": (
        "Because then the history says \"done\" about something that may not have happened. Set record to "
        "before_effect and crash in the gap: the history reads ChargeCard completed, the restart believes "
        "it, and the package ships with $0.00 charged. You traded at-least-once (a crash repeats a step: "
        "$84.00) for at-most-once (a crash skips it), and nobody notices a skipped charge until the books "
        "don't balance.\n\n"
        "What Temporal writes first is the intent, not the result: ActivityTaskScheduled. An intent "
        "without a result means \"unknown\", and the engine runs the step again: at-least-once, made "
        "harmless by an idempotency key (scene 07). Where skipping is cheaper than repeating, ask for "
        "at-most-once: in Temporal, an activity with maximum attempts 1."),
    "Is \"a row in a database\" the same as durable?": (
        "No: a row is durable only when four things hold. It is committed: a row in an open transaction dies "
        "with the process. The commit reached the disk: not with SQLite's synchronous=OFF, Postgres's "
        "synchronous_commit=off, or a drive that acknowledges from its cache. It survives losing the "
        "machine: one disk is one failure away, so production Temporal runs on Cassandra, where a write "
        "counts once a quorum of replicas has it, or on MySQL or Postgres that its operators replicate. And recovery reads it before acting: "
        "a `charged` column written after the charge is a row, not the truth.\n\n"
        "This engine's History.memory() has all the right rows and none of this: it dies with the process, "
        "and its repr says so."),
}


class RecordedSteps(ProcessBox):
    """The process box, with a line under each step: is its result in the history? Red where the world and
    the history disagree. The skull keeps clear of it."""

    def __init__(self, ax, box, steps):
        super().__init__(ax, box, steps)
        self.marks = [ax.text(self.x + 3.5, self.y + self.h - 4 - (i + 1) * self.row + 1.6, "", fontsize=7, zorder=3)
                      for i in range(len(steps))]
        self.dynamic.extend(self.marks)

    def row_texts(self, i: int) -> list:
        return [self.labels[i], self.marks[i]]

    def update(self, run, frame):
        keeps = run.history_path is not None
        done, recorded = run.world.effects(frame.effects), model.recorded_steps(run.history[:frame.history])
        for step, mark in zip(self.steps, self.marks):
            n, r = done.get(step, 0), recorded.get(step, 0)
            text, color = "", DURABLE
            if keeps and r > n:   # record first: "never" once the run ended without the effect
                never = run.world.effects().get(step, 0) < r
                text, color = f"recorded, {'never happened' if never else 'not done yet'}", DANGER
            elif keeps and n > r:
                text, color = ("done, not recorded" if r == 0 else f"done x{n}, recorded x{r}"), DANGER
            elif keeps and r:
                text = "recorded in the history"
            mark.set_text(text)
            mark.set_color(color)
        super().update(run, frame)   # (the skull is placed once the lines under the labels are written)


class SkullVerdict:
    """Under the history: its file, and how many crashes it has survived so far (the kit's panels mark
    the crash itself: RAM washed red, "wiped by the crash"; the history outlined blue, "survived")."""

    def __init__(self, ax, ram_box, history_box):
        x, y, w, _ = history_box
        self.file = ax.text(x + 1.5, y + 3.0, "", fontsize=8, color=MUTED, zorder=3)
        self.room = int((w - 3) / (0.6 * 8 / 72 * 100 / ax.figure.get_figwidth()))   # characters that fit
        self.kept = ax.text(x + 1.5, y + 0.8, "", fontsize=8, color=DURABLE, fontweight="bold", zorder=3)
        self.dynamic = [self.file, self.kept]

    def update(self, run, frame):
        path = run.history_path
        index = next(i for i, f in enumerate(run.frames) if f is frame)
        crashes = sum(f.skull for f in run.frames[:index + 1])
        # its end is what differs from run to run (the outcome lines say it whole)
        self.file.set_text(f"file: {clip(path.name, self.room - 6, keep_end=True)}" if path else
                           "no file: cron writes nothing down")
        n = frame.history
        if path is None:
            self.kept.set_text("")
        elif frame.skull:
            self.kept.set_text(f"\u2713 survived the crash: {n} event{'s' * (n != 1)} still on disk")
        else:
            self.kept.set_text(f"{n} event{'s' * (n != 1)} committed" +
                               (f" \u00b7 survived {crashes} crash{'es' * (crashes != 1)}" if crashes else ""))


class S02Diagram(Diagram):
    def build(self, ax):
        ram, history = (37, 26, 23, 20), (62, 4, 36, 42)
        yield RecordedSteps(ax, (2, 4, 33, 42), orders.STEPS)
        yield RamPanel(ax, ram)
        yield DollarMeter(ax, (37, 4, 23, 20))
        yield HistoryPanel(ax, history, rows=14, empty="no history: cron keeps progress only in RAM")
        yield SkullVerdict(ax, ram, history)


# -- code panels: the workflow, and the strategy's loop with the line this frame is at -------------
CHECKPOINT_AT = (   # (words in the frame's caption, a piece of the loop's line)
    ("arrives", "process.read_history()"),
    ("restarts and reads", "process.read_history()"),
    ("answered from history", "process.read_history()"),
    ("recorded as done", "process.append(step.done())"),
    ("result recorded", "process.append(step.run())"),
    ("time.sleep", "for step in process.steps()"),
    ("the workflow returns", "for step in process.steps()"),
    ("order marked done", "process.mark_done()"),
)


def find_line(source: str, piece: str | None) -> int | None:
    """The number of the first source line containing `piece` (None if the code moved on)."""
    return next((n for n, line in enumerate(source.splitlines(), start=1) if piece and piece in line), None)


def checkpoint_line(source: str, caption: str, record_first: bool) -> int | None:
    """The line of `strategies.checkpoint_loop` a frame is at, read from its caption."""
    if caption.startswith("CRASH"):
        return None
    if caption.endswith(": called"):   # next: write the record (record first) or do the step
        return find_line(source, "process.append(step.done())" if record_first else "process.append(step.run())")
    if " returned " in caption:
        return find_line(source, "step.run()" if record_first else "process.append(step.run())")   # the first: record first's
    return find_line(source, next((p for words, p in CHECKPOINT_AT if words in caption), None))


def code_panels(run, frame) -> str:
    c = run.controls
    lit = running_line(run, frame)
    if c["strategy"] == "cron":   # scene 01's plain function, re-run by the cron job
        return (code_html("fulfill_order", "a plain function: its progress lives only in local variables",
                          source_of(s01_model.fulfill_order), lit, crashed=frame.skull)
                + code_html("cron retry", "re-run from line one: nothing is written down",
                            source_of(strategies.cron_job)))
    note = {"checkpoint": "the workflow: each step's result goes to the history file",
            "durable": "run by the engine (preview): it too records each result after the effect"}[c["strategy"]]
    panels = [code_html("fulfill_order", note,
                        source_of(orders.fulfill_order), lit, frame.replaying, crashed=frame.skull)]
    if c["strategy"] == "checkpoint":
        src = source_of(strategies.checkpoint_loop)
        first = c["record"] == "before_effect"
        note = ("record first: write 'done', then do it" if first else
                "do the step, then append its result; a restart skips what the history holds")
        panels.append(code_html("checkpoint loop (simcore.strategies)", note, src,
                                checkpoint_line(src, frame.caption, first)))
        panels.append(code_html("the simulation under it (simcore.strategies.Checkpointed)", "the history file, "
                                "the replay machine that runs the workflow's code, simulated time",
                                source_of(strategies.Checkpointed) + "\n\n" + source_of(strategies.Step), engine=True))
    return "".join(panels)


class Scene(SceneView):
    def __init__(self, **controls):
        super().__init__(model, S02Diagram(), code_panels, QUESTIONS, **controls)


def show(**controls):
    """The interactive scene: `show(crash_after="ChargeCard", crash_when="in_the_gap")`."""
    return Scene(**controls).widget


def try_it(**controls):
    """Run one configuration headless and print what the scene teaches."""
    _try_it(model, **controls)


def simulate(**controls):
    """One run, returned (its history file is `run.history_path`): what the notebook opens with sqlite3."""
    return model.simulate(**resolve(model, controls))
