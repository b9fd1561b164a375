"""The panels every scene shares, drawn with matplotlib from a run's frames.

Each panel creates its artists once, in `__init__`, and `update(run, frame)` only changes their text
and colours. Rebuilding a figure costs about 45 ms; updating artists in place about 7 ms, which is
what makes scrubbing feel instant. Panels draw in the data coordinates of one shared Axes
(0..100 across, 0..50 up), inside the box they are given.
"""
from __future__ import annotations

from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse, FancyBboxPatch, Polygon, Rectangle

INK, MUTED, PAPER = "#1f2933", "#616e7c", "#ffffff"
LIT, DONE, TODO = "#ffd166", "#c7f0d8", "#eef2f6"
DANGER, REPLAY, DURABLE = "#d64545", "#6c5ce7", "#2f80ed"
KILLED = "#f8d7d7"   # a dying step's fill, and the wash over what the crash took
MONO = "DejaVu Sans Mono"


def frame_index(run, frame) -> int:
    """Where `frame` is in its run (frames are compared by identity: two may be equal)."""
    return next(i for i, f in enumerate(run.frames) if f is frame)


def dying_step(run, frame) -> str | None:
    """At the skull: the step that was running when the process died (the last one lit before it).
    None for a process that died between steps: after a step's result, its code had called the next
    step (lit), which had not begun."""
    if frame.after:
        return None
    frames = run.frames[:frame_index(run, frame)]
    for f in reversed(frames):
        if f.skull:
            return None
        if f.step is not None:
            return f.step
    return None


class Panel:
    """A titled box at (x, y, w, h) in the diagram's coordinates."""

    def __init__(self, ax, box, title, edge=MUTED):
        self.ax, (self.x, self.y, self.w, self.h) = ax, box
        ax.add_patch(FancyBboxPatch((self.x, self.y), self.w, self.h, boxstyle="round,pad=0,rounding_size=0.8",
                                    fc=PAPER, ec=edge, lw=1.2, zorder=1))
        self.title = ax.text(self.x + 1, self.y + self.h - 1.2, title, fontsize=9, fontweight="bold",
                             color=INK, va="top", zorder=3)

    def text(self, dx, dy, s="", **kw):
        """A text artist at an offset from the panel's top-left corner, redrawn every frame."""
        return self.moving(self.label(dx, dy, s, **kw))

    def label(self, dx, dy, s, **kw):
        """A text that never changes, placed as `text` places one: drawn once, into the background."""
        kw.setdefault("fontsize", 8)
        kw.setdefault("color", INK)
        return self.ax.text(self.x + dx, self.y + self.h - dy, s, va="top", zorder=3, **kw)

    def moving(self, artist):
        """Mark an artist as changing between frames; everything else is drawn once (see Diagram)."""
        self.__dict__.setdefault("dynamic", []).append(artist)
        return artist


class ProcessBox(Panel):
    """The steps of the workflow; the running one lit, the ones whose effect happened ticked."""

    def __init__(self, ax, box, steps, title="process: fulfill_order"):
        super().__init__(ax, box, title)
        self.steps = steps
        self.row = row = (self.h - 4) / len(steps)
        self.wash = self.moving(Rectangle((self.x, self.y), self.w, self.h, fc=DANGER, alpha=0.10, ec=DANGER, lw=2.5,
                                          zorder=4, visible=False))
        ax.add_patch(self.wash)
        self.killed = self.text(self.w - 1, 1.0, "", ha="right", fontsize=9.5, fontweight="bold", color=DANGER)
        self.skull = SkullGlyph(ax)
        self.dynamic.extend(self.skull.dynamic)
        self.boxes, self.labels, self.counts = [], [], []
        for i, step in enumerate(steps):
            y = self.y + self.h - 4 - (i + 1) * row + 0.6
            patch = FancyBboxPatch((self.x + 2, y), self.w - 4, row - 1.2, boxstyle="round,pad=0,rounding_size=0.6",
                                   fc=TODO, ec=MUTED, lw=0.8, zorder=2)
            ax.add_patch(patch)
            self.boxes.append(self.moving(patch))
            self.labels.append(self.moving(ax.text(self.x + 3.5, y + (row - 1.2) / 2, f"{i + 1}. {step}",
                                                   fontsize=9, va="center", color=INK, zorder=3)))
            self.counts.append(self.moving(ax.text(self.x + self.w - 3.5, y + (row - 1.2) / 2, "", fontsize=9,
                                                   ha="right", va="center", color=INK, zorder=3)))

    def done(self, run, frame):
        """How many times each step's effect has happened by this frame."""
        return run.world.effects(frame.effects)

    def alarm(self, run, frame) -> tuple[str | None, str]:
        """The step to light red, and what to say at the top of the box: at the skull, the step the
        crash killed. (Scene 03 adds the step replay refused.)"""
        if frame.skull:
            return dying_step(run, frame), "\u2620 killed by the crash"
        return None, ""

    def update(self, run, frame):
        done = self.done(run, frame)
        red, said = self.alarm(run, frame)
        for step, patch, count in zip(self.steps, self.boxes, self.counts):
            n = done.get(step, 0)
            lit = step == frame.step and not frame.skull and red is None
            failing = lit and frame.kind == "failed"   # its attempt came back failed: the engine records it next
            patch.set_facecolor(KILLED if step == red else LIT if lit else DONE if n else TODO)
            patch.set_edgecolor(DANGER if step == red or failing else REPLAY if lit and frame.replaying else
                                INK if lit else MUTED)
            patch.set_linewidth(2.2 if step == red or failing else 0.8)
            count.set_text(("\u2713" if n == 1 else f"\u2713 x{n}") if n else "")
            count.set_color(DANGER if n > 1 else INK)
        self.wash.set_visible(frame.skull)
        self.killed.set_text(said if self.w >= 36 else said.split(":")[0].replace(" by the crash", ""))
        self.skull.hide()
        if frame.skull:
            self._place_skull(self.steps.index(red) if red in self.steps else None, done)

    def row_texts(self, i: int) -> list:
        """The texts in step `i`'s row, which the skull keeps clear of (a scene may add a line under the label)."""
        return [self.labels[i]]

    def _place_skull(self, i, done):
        """The skull beside the step it killed: in the free part of the step's row, between the end of
        its label and the tick column; a skull as tall as the row where there is room. A process that
        died between steps (asleep on a timer, waiting for a signal) gets it between the last step done
        and the next, over neither label."""
        fig = self.ax.figure
        per_in_x, per_in_y = 100 / fig.get_figwidth(), 50 / fig.get_figheight()
        top = self.y + self.h - 4   # where the first row starts; row k's box is 0.6 inside its k-th band below it
        if i is None:   # across the two rows' free parts
            last = min(max((k for k, step in enumerate(self.steps) if done.get(step)), default=0), len(self.steps) - 2)
            rows, cy, tall = self.row_texts(last) + self.row_texts(last + 1), top - (last + 1) * self.row, 2 * self.row - 1.2
        else:
            rows, cy, tall = self.row_texts(i), top - (i + 1) * self.row + 0.6 + (self.row - 1.2) / 2, self.row - 1.2
        ends = max(label.get_position()[0] + len(label.get_text()) * 0.6 * label.get_fontsize() / 72 * per_in_x + 1.0
                   for label in rows)
        right = self.x + self.w - 7.5
        size = max(min(tall / per_in_y * 0.95, (right - ends) / per_in_x / 0.9, 1.1), 0.32)
        self.skull.show(right - size * 0.45 * per_in_x, cy, size)


class RamPanel(Panel):
    """The process's live variables. Blank when there is no process: the skull wipes it."""

    def __init__(self, ax, box, rows=5):
        super().__init__(ax, box, "RAM")
        self.tag = self.text(self.w - 1, 1.2, "", ha="right", fontsize=8, color=REPLAY)
        self.rows = [self.text(1.5, 4.2 + 2.6 * i, "", family=MONO) for i in range(rows)]
        self.wash = self.moving(Rectangle((self.x - 0.4, self.y - 0.4), self.w + 0.8, self.h + 0.8, fc=KILLED,
                                          alpha=0.55, ec=DANGER, lw=3, zorder=2.5, visible=False))
        ax.add_patch(self.wash)
        self.wiped = self.moving(ax.text(self.x + self.w / 2, self.y + self.h / 2 - 1, "wiped by the crash",
                                         ha="center", va="center", fontsize=12, fontweight="bold", color=DANGER,
                                         zorder=4, visible=False))

    def update(self, run, frame):
        self.wash.set_visible(frame.skull)
        self.wiped.set_visible(frame.skull)
        ram = frame.ram or {}
        items = [f"{k} = {v}" for k, v in ram.items()]
        for row, text in zip(self.rows, items + [""] * len(self.rows)):
            row.set_text(text)
            row.set_color(REPLAY if frame.replaying else INK)
        self.tag.set_text("replayed" if frame.replaying and ram else "")
        if frame.ram is None:
            self.rows[0].set_text("" if frame.skull else "(blank: no process holds it)" if frame.t > 0 else "")
            self.rows[0].set_color(MUTED)


class DollarMeter(Panel):
    """The customer's card statement: every charge and refund as a line, and the total."""

    def __init__(self, ax, box, rows=4):
        super().__init__(ax, box, "$ card statement")
        self.rows = [self.text(1.5, 4.2 + 2.6 * i, "", family=MONO) for i in range(rows)]
        self.total = self.text(self.w - 1.5, self.h - 3.2, "", ha="right", fontsize=11, fontweight="bold")

    def update(self, run, frame):
        lines = run.world.statement(frame.effects)
        shown = lines[-len(self.rows):]
        for row, e in zip(self.rows, shown + [None] * len(self.rows)):
            row.set_text("" if e is None else f"{'+' if e.cents > 0 else '-'}${abs(e.cents) / 100:6.2f}  {e.kind}")
            row.set_color(DANGER if e is not None and e.cents > 0 and lines.index(e) > 0 else INK)
        cents = run.world.statement_cents(frame.effects)
        self.total.set_text(f"total ${cents / 100:.2f}")
        self.total.set_color(DANGER if sum(e.cents > 0 for e in lines) > 1 else INK)


class HistoryPanel(Panel):
    """The durable event history: it survives the skull. A replay cursor marks the event being read.

    With `fold` (the default) each workflow task's three events (WorkflowTaskScheduled, -Started,
    -Completed) share one row, "workflow task · worker-1", and the panel says so; the view's toggle
    sets `fold` off to list every event. A workflow task that timed out or failed keeps that event
    on a row of its own: it is an incident."""

    fold = True

    def __init__(self, ax, box, rows=6, empty="no history: progress lives only in RAM"):
        super().__init__(ax, box, "event history (durable)", edge=DURABLE)
        self.empty = empty
        self.per_run = [self.title]   # a strategy that keeps no history has none to call durable
        self.cursor = Rectangle((self.x + 0.6, 0), self.w - 1.2, 2.4, fc=REPLAY, alpha=0.18, ec="none", zorder=2,
                                visible=False)
        ax.add_patch(self.moving(self.cursor))
        self.outline = self.moving(Rectangle((self.x - 0.4, self.y - 0.4), self.w + 0.8, self.h + 0.8, fill=False,
                                             ec=DURABLE, lw=3, zorder=4, visible=False))
        ax.add_patch(self.outline)
        self.note = self.text(self.w - 1, 1.2, "", ha="right", fontsize=8, color=MUTED)
        size = 8   # points
        self.rows = [self.text(1.5, 3.8 + 2.5 * i, "", family=MONO, fontsize=size) for i in range(rows)]
        # how many fit: the axes span 0-100 across the figure, a monospace glyph is 0.6 em wide
        self.chars = int((self.w - 3) / 100 * ax.figure.get_figwidth() * 72 / (0.6 * size))

    def prepare(self, run):
        self.title.set_text("event history (durable)" if run.history else "event history")

    def update(self, run, frame):
        events = run.history[:frame.history]
        first, folded, rows = 0, False, []
        if not run.history:
            texts = [self.empty] + [""] * (len(self.rows) - 1)
        else:
            rows = history_rows(events, self.fold)
            folded = len(rows) < len(events)
            at = row_of(rows, frame.cursor) if frame.cursor else len(rows) - 1
            first = max(0, min(at + 1, len(rows)) - len(self.rows))
            texts = [clip(text, self.chars) for _, text in rows[first:first + len(self.rows)]]
            texts += [""] * (len(self.rows) - len(texts))
        for row, text in zip(self.rows, texts):
            row.set_text(text)
            row.set_color(MUTED if not run.history else INK)
        self.cursor.set_visible(bool(frame.cursor))
        if frame.cursor:
            i = row_of(rows, frame.cursor) - first
            self.cursor.set_y(self.y + self.h - 3.8 - 2.5 * i - 2.0)
        self.outline.set_visible(frame.skull and bool(run.history))
        if frame.skull:
            self.note.set_text("\u2713 survived the crash" if run.history else "nothing was written down")
            self.note.set_color(DURABLE if run.history else DANGER)
            self.note.set_fontweight("bold")
        else:   # and the rows the panel has no room for, above and below the ones it shows
            below = len(rows) - first - len(self.rows)
            out = [f"{first} row{'s' * (first != 1)} above" if first else "",
                   f"{below} more below" if below > 0 else ""]
            self.note.set_text(" \u00b7 ".join(t for t in ["workflow tasks folded" if folded else "", ", ".join(
                t for t in out if t)] if t))
            self.note.set_color(MUTED)
            self.note.set_fontweight("normal")


def history_rows(events, fold: bool = True) -> list[tuple[tuple[int, ...], str]]:
    """The history panel's rows: (the event ids a row stands for, its text). Folded, a workflow task's
    Scheduled, Started and Completed events (matched by `scheduled_event_id`) make one row; a task
    still running shows as such; a timed-out or failed one keeps that event on its own row."""
    rows, i = [], 0
    while i < len(events):
        e = events[i]
        if fold and e.type == "WorkflowTaskScheduled":
            started = events[i + 1] if i + 1 < len(events) else None
            if started is not None and started.type == "WorkflowTaskStarted" \
                    and started.scheduled_event_id == e.event_id:
                done = events[i + 2] if i + 2 < len(events) else None
                ids = (e.event_id, started.event_id)
                if done is not None and done.type == "WorkflowTaskCompleted" and done.scheduled_event_id == e.event_id:
                    rows.append(((*ids, done.event_id), f"{e.event_id:>2}-{done.event_id} workflow task \u00b7 "
                                                        f"{started.identity}"))
                    i += 3
                    continue
                rows.append((ids, f"{e.event_id:>2}-{started.event_id} workflow task \u00b7 {started.identity}, running"))
                i += 2
                continue
        rows.append(((e.event_id,), f"{e.event_id:>2} {e.summary()}"))
        i += 1
    return rows


def row_of(rows, event_id: int) -> int:
    """The row that shows event `event_id` (the last row if none does)."""
    return next((k for k, (ids, _) in enumerate(rows) if event_id in ids), len(rows) - 1)


class SkullGlyph:
    """A filled skull, drawn with patches: readable at any size, unlike the outline glyph U+2620.
    `show(x, y, size)` puts it centred at (x, y), `size` inches tall; `hide()` takes it away."""

    WIDTH = 0.84   # the skull's width, for a skull `size` tall: its cranium, the widest part

    def __init__(self, ax, color=DANGER, zorder=6):
        self.ax = ax
        self.cranium = Ellipse((0, 0), 1, 1, fc=color, ec="none", zorder=zorder)
        self.jaw = FancyBboxPatch((0, 0), 1, 1, boxstyle="round,pad=0,rounding_size=0.3", fc=color, ec="none",
                                  zorder=zorder)
        self.eyes = [Ellipse((0, 0), 1, 1, fc=PAPER, ec="none", zorder=zorder + 0.1) for _ in range(2)]
        self.nose = Polygon([[0, 0]] * 3, closed=True, fc=PAPER, ec="none", zorder=zorder + 0.1)
        self.teeth = [Line2D([], [], color=PAPER, lw=2, zorder=zorder + 0.1) for _ in range(3)]
        for p in (self.cranium, self.jaw, *self.eyes, self.nose):
            ax.add_patch(p)
        for t in self.teeth:
            ax.add_line(t)
        self.dynamic = [self.cranium, self.jaw, *self.eyes, self.nose, *self.teeth]
        self.hide()

    def hide(self):
        for a in self.dynamic:
            a.set_visible(False)

    def show(self, x, y, size):
        fig = self.ax.figure
        ux, uy = 100 / fig.get_figwidth() * size, 50 / fig.get_figheight() * size   # data units per skull
        self.cranium.set_center((x, y + 0.12 * uy))
        self.cranium.width, self.cranium.height = self.WIDTH * ux, 0.72 * uy
        self.jaw.set_bounds(x - 0.25 * ux, y - 0.42 * uy, 0.5 * ux, 0.34 * uy)
        self.jaw.set_boxstyle("round", pad=0, rounding_size=0.08 * ux)
        for eye, side in zip(self.eyes, (-1, 1)):
            eye.set_center((x + side * 0.19 * ux, y + 0.08 * uy))
            eye.width, eye.height = 0.24 * ux, 0.22 * uy
        self.nose.set_xy([[x, y - 0.06 * uy], [x - 0.06 * ux, y - 0.17 * uy], [x + 0.06 * ux, y - 0.17 * uy]])
        for tooth, dx in zip(self.teeth, (-0.12, 0, 0.12)):
            tooth.set_data([x + dx * ux] * 2, [y - 0.40 * uy, y - 0.25 * uy])
            tooth.set_linewidth(max(1.0, size * 3))
        for a in self.dynamic:
            a.set_visible(True)


class Skull:
    """A skull of its own at (x, y), on the frame where the process dies: for a diagram without a
    process box (the kit's ProcessBox draws its own, beside the step it kills)."""

    def __init__(self, ax, xy, size=0.8):
        self.glyph, self.xy, self.size = SkullGlyph(ax), xy, size
        self.dynamic = self.glyph.dynamic

    def update(self, run, frame):
        if frame.skull:
            self.glyph.show(*self.xy, self.size)
        else:
            self.glyph.hide()


def clip(text: str, chars: int, *, keep_end: bool = False) -> str:
    """`text` cut to `chars` characters, the cut marked with an ellipsis (at its start with `keep_end`,
    for a text whose end is what tells it apart, as a file's name)."""
    if len(text) <= chars:
        return text
    return "\u2026" + text[len(text) - chars + 1:] if keep_end else text[:chars - 1] + "\u2026"
