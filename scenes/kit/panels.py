"""The panels every scene shares, drawn with matplotlib from a run's frames.

Each panel creates its artists once, in `__init__`, and `update(run, frame)` only changes their text
and colours. Rebuilding a figure costs about 45 ms; updating artists in place about 7 ms, which is
what makes scrubbing feel instant. Panels draw in the data coordinates of one shared Axes
(0..100 across, 0..50 up), inside the box they are given.
"""
from __future__ import annotations

from matplotlib.patches import FancyBboxPatch, Rectangle

INK, MUTED, PAPER = "#1f2933", "#7b8794", "#ffffff"
LIT, DONE, TODO = "#ffd166", "#c7f0d8", "#eef2f6"
DANGER, REPLAY, DURABLE = "#d64545", "#6c5ce7", "#2f80ed"
MONO = "DejaVu Sans Mono"


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
        row = (self.h - 4) / len(steps)
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

    def update(self, run, frame):
        done = self.done(run, frame)
        for step, patch, count in zip(self.steps, self.boxes, self.counts):
            n = done.get(step, 0)
            lit = step == frame.step and not frame.skull
            patch.set_facecolor(LIT if lit else DONE if n else TODO)
            patch.set_edgecolor(REPLAY if lit and frame.replaying else INK if lit else MUTED)
            count.set_text(("\u2713" if n == 1 else f"\u2713 x{n}") if n else "")
            count.set_color(DANGER if n > 1 else INK)


class RamPanel(Panel):
    """The process's live variables. Blank when there is no process: the skull wipes it."""

    def __init__(self, ax, box, rows=5):
        super().__init__(ax, box, "RAM")
        self.tag = self.text(self.w - 1, 1.2, "", ha="right", fontsize=7.5, color=REPLAY)
        self.rows = [self.text(1.5, 4.2 + 2.6 * i, "", family=MONO) for i in range(rows)]

    def update(self, run, frame):
        ram = frame.ram or {}
        items = [f"{k} = {v}" for k, v in ram.items()]
        for row, text in zip(self.rows, items + [""] * len(self.rows)):
            row.set_text(text)
            row.set_color(REPLAY if frame.replaying else INK)
        self.tag.set_text("replayed" if frame.replaying and ram else "")
        if frame.ram is None:
            self.rows[0].set_text("(blank)" if frame.skull or frame.t > 0 else "")
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
    """The durable event history: it survives the skull. A replay cursor marks the event being read."""

    def __init__(self, ax, box, rows=6, empty="no history: progress lives only in RAM"):
        super().__init__(ax, box, "event history (durable)", edge=DURABLE)
        self.empty = empty
        self.cursor = Rectangle((self.x + 0.6, 0), self.w - 1.2, 2.4, fc=REPLAY, alpha=0.18, ec="none", zorder=2,
                                visible=False)
        ax.add_patch(self.moving(self.cursor))
        size = 7.5   # points
        self.rows = [self.text(1.5, 3.8 + 2.5 * i, "", family=MONO, fontsize=size) for i in range(rows)]
        # how many fit: the axes span 0-100 across the figure, a monospace glyph is 0.6 em wide
        self.chars = int((self.w - 3) / 100 * ax.figure.get_figwidth() * 72 / (0.6 * size))

    def update(self, run, frame):
        events = run.history[:frame.history]
        if not run.history:
            texts = [self.empty] + [""] * (len(self.rows) - 1)
            first = 0
        else:
            last = frame.cursor if frame.cursor else len(events)
            first = max(0, min(last + 1, len(events)) - len(self.rows))
            texts = [clip(f"{e.event_id:>2} {e.summary()}", self.chars) for e in events[first:first + len(self.rows)]]
            texts += [""] * (len(self.rows) - len(texts))
        for row, text in zip(self.rows, texts):
            row.set_text(text)
            row.set_color(MUTED if not run.history else INK)
        self.cursor.set_visible(bool(frame.cursor))
        if frame.cursor:
            i = frame.cursor - 1 - first
            self.cursor.set_y(self.y + self.h - 3.8 - 2.5 * i - 2.0)


class Skull:
    """The crash: a skull over the process box, on the frame where the process dies."""

    def __init__(self, ax, xy):
        self.art = ax.text(*xy, "\u2620", fontsize=64, ha="center", va="center", color=DANGER, zorder=5,
                           visible=False)
        self.dynamic = [self.art]

    def update(self, run, frame):
        self.art.set_visible(frame.skull)


def clip(text: str, chars: int) -> str:
    """`text` cut to `chars` characters, the cut marked with an ellipsis."""
    return text if len(text) <= chars else text[:chars - 1] + "\u2026"
