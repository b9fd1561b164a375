"""Panels for a fleet of workers: the task queue, the workers as boxes, and a timeline of the run.

They draw what a frame's `extra` holds: the engine's snapshot (`Engine.snapshot()`: workers as
(name, status, task, cache size), the queue as text, counts) taken when the frame was recorded. The timeline
draws the whole run at once (queue length and each worker's state over time, from every frame's
snapshot) with a cursor at the frame's time, so the deploy gap and the skulls stay in view while
the player moves.

What depends only on the run (the timeline's curves and strips) changes when the controls do, not
from frame to frame: the diagram draws it into its background once per run (`prepare`), so a frame
redraws only the cursor, the boxes and the texts.
"""
from __future__ import annotations

from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Rectangle

from .panels import DANGER, INK, LIT, MONO, MUTED, REPLAY, TODO, Panel, SkullGlyph

STATUS = {   # status -> (fill, label)
    "idle": (TODO, "idle: polling"),
    "busy": (LIT, "busy"),
    "dead": ("#f8d7d7", "dead"),
    "paused": ("#e2ddfb", "frozen (zombie)"),
    "deploying": ("#d5dae1", "down: deploying"),
}
STRIP = {"busy": "#f0c75e", "dead": DANGER, "paused": REPLAY, "deploying": "#7b8794"}   # timeline colours


class QueuePanel(Panel):
    """The task queue: what waits in it, oldest first, and how long the oldest has waited."""

    def __init__(self, ax, box, rows=10):
        super().__init__(ax, box, "task queue")
        self.rows = rows
        self.count = self.text(self.w - 1, 1.2, "", ha="right", fontsize=8, fontweight="bold")
        self.list = self.text(1.5, 3.8, "", family=MONO, fontsize=7, linespacing=1.55)
        self.oldest = self.text(1.5, self.h - 1.6, "", fontsize=7.5, color=MUTED)

    def update(self, run, frame):
        x = frame.extra
        queued, texts = x.get("queued", 0), [short(t) for t in x.get("queue", [])[:self.rows]]
        if queued > self.rows:
            texts[-1] = f"... and {queued - self.rows + 1} more"
        self.count.set_text(f"{queued} waiting")
        self.count.set_color(DANGER if queued >= 5 else INK)
        self.list.set_text("\n".join(texts))
        self.oldest.set_text(f"oldest waiting {x.get('oldest', 0):.1f}s" if queued else "empty: the workers wait on it")


class WorkersPanel(Panel):
    """One box per worker, coloured by status, with the task in hand and how many workflows it holds
    in its sticky cache; a skull on a dead one."""

    def __init__(self, ax, box, slots=5, title="workers: each one polls the queue"):
        super().__init__(ax, box, title)
        self.boxes, self.names, self.tasks, self.skulls = [], [], [], []
        for _ in range(slots):
            self.boxes.append(self.moving(FancyBboxPatch((0, 0), 1, 1, boxstyle="round,pad=0,rounding_size=0.5",
                                                         fc=TODO, ec=MUTED, lw=0.8, zorder=2)))
            ax.add_patch(self.boxes[-1])
            self.names.append(self.moving(ax.text(0, 0, "", fontsize=8, va="center", zorder=3)))
            self.tasks.append(self.moving(ax.text(0, 0, "", fontsize=7.5, va="center", zorder=3, family=MONO)))
            self.skulls.append(SkullGlyph(ax))
            self.dynamic.extend(self.skulls[-1].dynamic)

    def prepare(self, run):
        """Lay the boxes out for this run's number of workers: fewer workers, taller boxes."""
        n = len(run.frames[0].extra.get("workers", [])) or 1
        row = (self.h - 3.5) / max(n, 3)
        for i, (patch, name, task, skull) in enumerate(zip(self.boxes, self.names, self.tasks, self.skulls)):
            y = self.y + self.h - 3.5 - (i + 1) * row + 0.4
            mid = y + (row - 0.8) / 2
            patch.set_bounds(self.x + 1.5, y, self.w - 3, row - 0.8)
            name.set_position((self.x + 2.5, mid))
            task.set_position((self.x + 16, mid))
            size = min((row - 1.4) * ax_height_in(self.ax) / 50, 0.75)   # inches: most of the box's height
            skull.place = (self.x + self.w - 2.5 - size * 100 / self.ax.figure.get_figwidth() * 0.45, mid, size)

    def update(self, run, frame):
        workers = frame.extra.get("workers", [])
        for i, (patch, name, task, skull) in enumerate(zip(self.boxes, self.names, self.tasks, self.skulls)):
            shown = i < len(workers)
            for art in (patch, name, task):
                art.set_visible(shown)
            if shown and workers[i][1] == "dead":
                skull.show(*skull.place)
            else:
                skull.hide()
            if not shown:
                continue
            who, status, doing, cached = workers[i]
            fill, label = STATUS.get(status, (TODO, status))
            patch.set_facecolor(fill)
            patch.set_edgecolor(DANGER if status == "dead" else REPLAY if status == "paused" else MUTED)
            name.set_text(f"{who}\n{label}")
            held = f"cache: {cached} workflow{'s' * (cached != 1)}"
            task.set_text(f"{short(doing, 26) if doing else '-'}\n{held}")
            task.set_color(REPLAY if status == "paused" else INK)


class Timeline(Panel):
    """The run over time: queue length as a line, each worker's state as a strip (busy, dead,
    frozen, down for a deploy), a band over a redeploy's window (`run.extra["deploy_window"]`, if
    the scene reports one), and a cursor at the current frame. """

    def __init__(self, ax, box, slots=5, title="timeline"):
        super().__init__(ax, box, title)
        self.ax, self.slots = ax, slots
        self.left, self.right = self.x + 12, self.x + self.w - 2
        self.plot = (self.y + self.h - 7.5, 5.0)                      # queue line: bottom, height
        self.strip_top, self.strip = self.y + self.h - 8.5, (self.h - 11) / slots
        self.cursor = self.moving(Line2D([], [], color=DANGER, lw=1.2, zorder=4))
        ax.add_line(self.cursor)
        self.per_run = []   # artists of the last run drawn: removed when the next one is prepared

    def prepare(self, run):
        for art in self.per_run:
            art.remove()
        ax, frames = self.ax, run.frames
        self.span = span = max(frames[-1].t, 1.0)
        sx = lambda t: self.left + (self.right - self.left) * t / span   # noqa: E731
        top = max(max(f.extra.get("queued", 0) for f in frames), 1)
        bottom, height = self.plot
        arts = [Line2D([sx(f.t) for f in frames], [bottom + height * f.extra.get("queued", 0) / top for f in frames],
                       color=INK, lw=1.0, zorder=3),
                ax.text(self.x + 1, bottom + height, f"queue\n(peak {top})", fontsize=7, color=MUTED, va="top")]
        for q in range(5):   # the time axis
            arts.append(ax.text(sx(span * q / 4), self.y + 0.3, f"{span * q / 4:.0f}s", fontsize=6.5, color=MUTED,
                                ha="center" if 0 < q < 4 else "left" if q == 0 else "right"))
        polys, colours = [], []
        names = [w[0] for w in frames[-1].extra.get("workers", [])][:self.slots]
        for i, name in enumerate(names):
            y0 = self.strip_top - (i + 1) * self.strip + 0.2
            arts.append(ax.text(self.x + 1, y0 + self.strip / 2 - 0.2, name, fontsize=7, va="center", color=MUTED))
            for t0, t1, status in segments(frames, i):
                if status in STRIP:
                    polys.append([(sx(t0), y0), (sx(t1), y0), (sx(t1), y0 + self.strip - 0.4),
                                  (sx(t0), y0 + self.strip - 0.4)])
                    colours.append(STRIP[status])
        arts.append(PolyCollection(polys, facecolors=colours or ["none"], linewidths=0, zorder=2))
        window = run.extra.get("deploy_window")   # (start, end) of a redeploy, if the run had one
        if window:
            arts.append(Rectangle((sx(window[0]), self.y + 1.6), sx(window[1]) - sx(window[0]), self.h - 3.4,
                                  fc="#7b8794", alpha=0.14, ec="none", zorder=1.5))
            arts.append(ax.text(sx(window[0]) + 0.3, self.y + self.h - 1.2, "deploy", fontsize=7, va="top"))
        for art in arts:
            if isinstance(art, Line2D):
                ax.add_line(art)
            elif isinstance(art, PolyCollection):
                ax.add_collection(art, autolim=False)
            elif isinstance(art, Rectangle):
                ax.add_patch(art)
        self.per_run = arts

    def update(self, run, frame):
        x = self.left + (self.right - self.left) * frame.t / self.span
        self.cursor.set_data([x, x], [self.y + 1.6, self.plot[0] + self.plot[1]])


def ax_height_in(ax) -> float:
    return ax.figure.get_figheight()


def segments(frames, i):
    """(start, end, status) spans of worker `i`, from the status each frame recorded."""
    out = []
    for f, nxt in zip(frames, frames[1:] + frames[-1:]):
        workers = f.extra.get("workers", [])
        if i >= len(workers):
            continue
        status = workers[i][1]
        if out and out[-1][2] == status:
            out[-1] = (out[-1][0], nxt.t, status)
        else:
            out.append((f.t, nxt.t, status))
    return out


def short(task: str, width: int = 30) -> str:
    """A task as the engine names it ("ShipPackage of order-1029 (attempt 2)"), made to fit."""
    text = task.replace(" of order-", " #")
    return text if len(text) <= width else text[: width - 1] + "\u2026"
