"""Scene 02 · The event history is the source of truth: the view.

The model (controls, simulation, outcome lines) is `simcore.scenarios.s02`; this module draws it.
Beyond the shared panels it marks, per step, whether the history holds its result (the gap between an
effect and its record shows as a red "not recorded"), and at the skull it outlines what the crash
took (RAM, in red) and what it could not (the history file, in blue).
"""
from __future__ import annotations

from matplotlib.patches import Rectangle

from simcore import orders, strategies
from simcore.scenarios import resolve
from simcore.scenarios import s02 as model

from .kit.code import code_html, source_of
from .kit.diagram import Diagram
from .kit.panels import DANGER, DURABLE, MUTED, DollarMeter, HistoryPanel, ProcessBox, RamPanel, Skull
from .kit.view import SceneView, try_it as _try_it

QUESTIONS = {
    "Why append-only?": (
        "Because recovery trusts the past. An append never touches a row a restart relies on: a crash "
        "during an append leaves every earlier event as it was, and the half-written one is rolled back "
        "with its transaction. Update a `status` row in place instead and a crash leaves you a state "
        "without the story of how you got there.\n\n"
        "It also orders and fences writers for free: event ids are consecutive, so a second writer "
        "working from a stale copy tries to write event 5 when 5 exists, and is refused (this engine's "
        "HistoryConflict). Replay (scene 03) needs the past to give the same answers every time.\n\n"
        "Temporal, Cadence and Step Functions (Standard) keep an append-only event history per execution. "
        "DBOS inserts one output row per step, keyed by workflow id and step number; an execution that "
        "finds the row already there is stopped. Airflow is the odd one: a task instance's state is a row "
        "the scheduler updates in place, which is why Airflow re-runs tasks instead of replaying them."),
    "What does a commit / fsync buy, and what does it cost per step?": (
        "A commit that has returned is a promise the record survives. How much it survives is the sync "
        "setting: this history runs SQLite in WAL mode with synchronous=FULL, so every commit fsyncs the "
        "log and survives a process crash and a power cut. With synchronous=NORMAL a commit survives a "
        "process crash, but the last ones can roll back after a power cut.\n\n"
        "The cost is per commit, not per row: an fsync waits for the disk. Measured on this project's "
        "disk: about 9,000 single-row commits a second (about 110 µs each); 100 rows per commit reach "
        "about 200,000 rows a second. ORDER #1001 pays one commit per step (the history line counts "
        "them): noise next to a 2-second card charge, the whole bill at a million steps a minute. So "
        "engines batch: Temporal writes the events of one workflow task together; Postgres can fold "
        "concurrent commits into one WAL flush.\n\n"
        "The rule: the next step starts only after the previous record's commit has returned."),
    "Why not write the record first?": (
        "Then the history says \"done\" about something that may not have happened. Set record to "
        "before_effect and crash in the gap: the history reads ChargeCard completed, the restart "
        "believes it, and the package ships with $0.00 charged. You traded at-least-once (a crash "
        "repeats a step: $84.00) for at-most-once (a crash skips it). For a charge, skipping is worse: "
        "nobody notices until the books don't balance.\n\n"
        "What engines write first is the intent, not the result: Temporal's ActivityTaskScheduled, Step "
        "Functions' TaskScheduled. An intent without a result means \"unknown\", and the engine runs the "
        "step again: at-least-once, made harmless by an idempotency key (scene 07).\n\n"
        "At-most-once is a fair choice where skipping is cheaper than repeating: Step Functions' "
        "synchronous Express workflows are at-most-once; in Temporal, an activity with maximum attempts 1."),
    "Is \"a row in a database\" the same as durable?": (
        "No. A row is durable when four things hold. It is committed: a row in an open transaction dies "
        "with the process. The commit reached the disk: SQLite with synchronous=OFF, or Postgres with "
        "synchronous_commit=off (up to 3 × wal_writer_delay, 600 ms by default, of commits can vanish), "
        "or a drive that acknowledges from its cache (on macOS SQLite needs PRAGMA fullfsync). It "
        "survives losing the machine: one disk is one failure away; Temporal and Cadence run on "
        "Cassandra, where a write counts once a quorum of replicas has it (each node fsyncs its commit "
        "log only every 10 s by default), or on replicated MySQL / Postgres; DBOS on Postgres. And "
        "recovery reads it before acting: a `charged` column written after the charge is a row, not the "
        "truth.\n\n"
        "This engine's History.memory() has all the right rows and none of this: it dies with the "
        "process, and its repr says so."),
}


class RecordMarks:
    """Per step: is its result in the history? Red where the world and the history disagree."""

    def __init__(self, ax, box, steps):
        x, y, w, h = box
        row = (h - 4) / len(steps)   # the ProcessBox's own row geometry
        self.steps = steps
        self.marks = [ax.text(x + 3.5, y + h - 4 - (i + 1) * row + 1.6, "", fontsize=7, zorder=3)
                      for i in range(len(steps))]
        self.dynamic = self.marks

    def update(self, run, frame):
        keeps = run.history_path is not None
        done, recorded = run.world.effects(frame.effects), model.recorded_steps(run.history[:frame.history])
        for step, mark in zip(self.steps, self.marks):
            n, r = done.get(step, 0), recorded.get(step, 0)
            text, color = "", DURABLE
            if keeps and r > n:   # record first: "never" once the run ended without the effect
                never = run.world.effects().get(step, 0) < r
                text, color = f"recorded as done, {'never happened' if never else 'not done yet'}", DANGER
            elif keeps and n > r:
                text, color = ("done, not recorded" if r == 0 else f"done x{n}, recorded x{r}"), DANGER
            elif keeps and r:
                text = "recorded in the history"
            mark.set_text(text)
            mark.set_color(color)


class SkullVerdict:
    """At the skull: RAM outlined red (wiped), the history outlined blue (kept). Under the history:
    its file, and how many crashes it has survived so far."""

    def __init__(self, ax, ram_box, history_box):
        self.ram = self._outline(ax, ram_box, DANGER)
        self.disk = self._outline(ax, history_box, DURABLE)
        x, y, w, _ = ram_box
        self.wiped = ax.text(x + w / 2, y + 2.2, "wiped by the crash", ha="center", fontsize=8,
                             color=DANGER, fontweight="bold", zorder=4)
        x, y, w, _ = history_box
        self.file = ax.text(x + 1.5, y + 2.7, "", fontsize=6.5, color=MUTED, zorder=3)
        self.kept = ax.text(x + 1.5, y + 0.8, "", fontsize=7.5, color=DURABLE, fontweight="bold", zorder=3)
        self.dynamic = [self.ram, self.disk, self.wiped, self.file, self.kept]

    @staticmethod
    def _outline(ax, box, color):
        x, y, w, h = box
        r = Rectangle((x - 0.4, y - 0.4), w + 0.8, h + 0.8, fill=False, ec=color, lw=3, zorder=4, visible=False)
        ax.add_patch(r)
        return r

    def update(self, run, frame):
        path = run.history_path
        index = next(i for i, f in enumerate(run.frames) if f is frame)
        crashes = sum(f.skull for f in run.frames[:index + 1])
        for artist in (self.ram, self.wiped):
            artist.set_visible(frame.skull)
        self.disk.set_visible(frame.skull and path is not None)
        self.file.set_text(f"file: {path.name}" if path else "no file: cron writes nothing down")
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
        ram, history = (34, 26, 24, 20), (60, 4, 38, 42)
        yield ProcessBox(ax, (2, 4, 30, 42), orders.STEPS)
        yield RecordMarks(ax, (2, 4, 30, 42), orders.STEPS)
        yield RamPanel(ax, ram)
        yield DollarMeter(ax, (34, 4, 24, 20))
        yield HistoryPanel(ax, history, rows=14, empty="no history: cron keeps progress only in RAM")
        yield SkullVerdict(ax, ram, history)
        yield Skull(ax, (17, 25))


# -- code panels: the workflow, and the strategy's loop with the line this frame is at -------------
APPEND_RESULT = "sim.history.append(wid, m.take_new() + result)"
CHECKPOINT_AT = (   # (words in the frame's caption, a piece of the source line, which occurrence)
    ("arrives", "history = sim.history.read(wid)", 0),
    ("restarts and reads", "history = sim.history.read(wid)", 0),
    ("answered from history", "m.feed(history)", 0),
    ("recorded as done", APPEND_RESULT, 0),
    ("result recorded", APPEND_RESULT, 1),
    ("the workflow returns", "sim.history.append(wid, m.take_new())", 0),
    ("order marked done", "sim.done.add(wid)", 0),
)


def find_line(source: str, piece: str | None, nth: int = 0) -> int | None:
    """The number of the nth source line containing `piece` (None if the engine's code moved on)."""
    hits = [n for n, line in enumerate(source.splitlines(), start=1) if piece and piece in line]
    return hits[min(nth, len(hits) - 1)] if hits else None


def checkpoint_line(source: str, caption: str, record_first: bool) -> int | None:
    """The line of the checkpoint loop a frame is at, read from its caption. The loop has both
    branches; the record-first one comes first in the source."""
    if caption.startswith("CRASH"):
        return None
    if caption.endswith(": called"):   # next: write the record (record first) or do the step
        return find_line(source, *(("Outcome(True, None)", 0) if record_first else ("yield from perform(", 1)))
    if " returned " in caption:
        return find_line(source, "yield from perform(", 0 if record_first else 1)
    return find_line(source, *next(((p, n) for words, p, n in CHECKPOINT_AT if words in caption), (None, 0)))


def code_panels(run, frame) -> str:
    c = run.controls
    lit = frame.line if not frame.skull else None
    note = {"checkpoint": "the workflow: each step's result goes to the history file",
            "durable": "run by the engine (preview): it too records each result after the effect",
            "cron": "the workflow: its progress lives only in local variables"}[c["strategy"]]
    panels = [code_html("fulfill_order", note,
                        source_of(orders.fulfill_order), lit, frame.replaying)]
    if c["strategy"] == "checkpoint":
        src = source_of(strategies._checkpointed)
        first = c["record"] == "before_effect"
        note = ("record first: write 'done', then do it" if first else
                "do the step, then append its result; a restart skips what the history holds")
        panels.append(code_html("checkpoint (simcore.strategies)", note, src,
                                checkpoint_line(src, frame.caption, first)))
    elif c["strategy"] == "cron":
        panels.append(code_html("cron retry", "re-run from line one: nothing is written down",
                                source_of(strategies.cron)))
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
