"""Plot panels: the load reaching a service over time, and a timeline of attempts.

Both draw a whole run at once and move with the player: a cursor marks the frame's time and a veil
greys out what has not happened yet. What depends on the run only (bars, axes, ticks) is drawn into
the diagram's cached background once per run (`prepare`), so a frame redraws the cursor and the
veil, not thousands of bars. The panels know nothing of a scene: each is handed a function
`data(run) -> dict` that reads the run (see `LoadPlot` and `AttemptsTimeline` for the keys).
"""
from __future__ import annotations

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle, StepPatch

from .diagram import readable
from .panels import DANGER, INK, MUTED, Panel

OK, FAILED, LATE, OUTAGE = "#3fa36b", DANGER, "#9aa5b1", "#e4e7eb"


def line(plot, xs, ys, **style) -> Line2D:
    """`plot.plot(xs, ys, **style)` without working out the data limits (a plot here sets its own)."""
    return plot.add_artist(Line2D(xs, ys, **style))


class PlotPanel(Panel):
    """A titled panel with a small Axes inside, a time cursor and a veil over the future."""

    def __init__(self, ax, box, title, data, left=6.0):
        super().__init__(ax, box, title)
        self.data, self.left, fig = data, left, ax.figure
        self.plot = p = fig.add_axes(((self.x + left) / 100, (self.y + 3.4) / 50,
                                      (self.w - left - 1.5) / 100, (self.h - 7.0) / 50))
        p.tick_params(labelsize=7, colors=MUTED, length=2)
        for side in p.spines.values():
            side.set_color(MUTED)
        p.set_xlabel("seconds", fontsize=7, color=MUTED, labelpad=1)
        # Drawing an axis is most of drawing a plot. Two parts of it have nothing to do here: keeping
        # minor ticks off the major ones (there are none), and placing a y label (there is none) beside
        # the tick labels, which measures every one of them again.
        p.xaxis.remove_overlapping_locs = p.yaxis.remove_overlapping_locs = False
        p.yaxis.set_label_coords(0, 0.5)
        self.veil = self.moving(p.add_patch(Veil((0, 0), 0, 1, transform=p.get_xaxis_transform(), fc="white",
                                                 alpha=0.72, ec="none", zorder=5)))
        self.cursor = self.moving(p.axvline(0, color=INK, lw=1, zorder=6))
        self.drawn: list = []   # this run's artists, removed when the next run is prepared

    def _room_for(self, labels) -> None:
        """Start the plot far enough right that its widest row label (and its tick) stays in the panel:
        at `left` as made, or further for a longer label. Its right edge stays where it is."""
        fig = self.ax.figure
        readable(labels)   # measured at the size they are drawn
        widest = max((t.get_window_extent(fig.canvas.get_renderer()).width for t in labels), default=0.0)
        left = (self.x + max(self.left, 100 * widest / fig.bbox.width + 1.8)) / 100   # (axes units: 100 across)
        x0, y0, w, h = self.plot.get_position().bounds
        self.plot.set_position((left, y0, x0 + w - left, h))

    def prepare(self, run):
        for a in self.drawn:
            a.remove()
        self.drawn = []
        self.veil.veiled = None   # a new background under it

    def update(self, run, frame):
        xmax = self.plot.get_xlim()[1]
        t = min(frame.t, xmax)
        self.cursor.set_xdata([t, t])
        self.veil.set_x(t)
        self.veil.set_width(max(0.0, xmax - t))


class Veil(Rectangle):
    """The veil over what has not happened yet: a white rectangle at alpha 0.72 from the cursor to the
    plot's end, its edges on whole pixels (Agg snaps a rectangle with no edge). Agg blending half a
    plot's pixels was a third of a frame, so the plot's pixels veiled whole are drawn once per run,
    the first time the veil is drawn over the new background, and each frame copies the part from
    the cursor on: the pixels Agg would give, as the veil is the first thing drawn over the plot."""

    veiled = None   # (rows, columns, the pixels there under a veil over the whole plot)

    def draw(self, renderer):
        if not self.get_visible():   # hidden while the background is drawn
            return
        pixels = np.asarray(renderer.buffer_rgba())
        if self.veiled is None:
            self.veiled = self._veil_whole(renderer, pixels)
        rows, cols, veiled = self.veiled
        if self.get_width() > 0:   # from the column Agg snaps the left edge to
            left = int(np.floor(self.get_data_transform().transform((self.get_x(), 0))[0] + 0.5)) - cols.start
            pixels[rows, cols.start + max(0, left):cols.stop] = veiled[:, max(0, left):]

    def _veil_whole(self, renderer, pixels):
        """The plot's pixels (with a margin) under a veil over the whole plot; the canvas left as it was."""
        x0, y0, x1, y1 = self.axes.bbox.extents
        rows = slice(max(0, int(renderer.height - y1) - 2), min(pixels.shape[0], int(renderer.height - y0) + 3))
        cols = slice(max(0, int(x0) - 2), min(pixels.shape[1], int(x1) + 3))
        under, (x, width), (left, right) = pixels[rows, cols].copy(), (self.get_x(), self.get_width()), self.axes.get_xlim()
        self.set_x(left)
        self.set_width(right - left)
        super().draw(renderer)
        veiled = pixels[rows, cols].copy()
        pixels[rows, cols] = under
        self.set_x(x)
        self.set_width(width)
        return rows, cols, veiled


class LoadPlot(PlotPanel):
    """Requests per second reaching a service: refused (red) under served (green), its capacity
    (dashed) and an outage band. `data(run)` gives: `step` (seconds per bar), `served` and `refused`
    (counts per bar from t=0), `capacity` (requests per step), `outage` ((start, end) or None), `xmax`."""

    def prepare(self, run):
        super().prepare(run)
        d, p = self.data(run), self.plot
        edges = [i * d["step"] for i in range(len(d["served"]) + 1)]
        total = [s + r for s, r in zip(d["served"], d["refused"])]
        top = max([d["capacity"] * 1.6] + [v * 1.1 for v in total])
        if d["outage"]:
            end = min(d["outage"][1], d["xmax"])
            self.drawn.append(p.axvspan(d["outage"][0], end, color=OUTAGE, lw=0, zorder=0))
            self.drawn.append(p.text(end / 2, top * 0.97, "incident: down", ha="center", va="top", fontsize=7,
                                     color=INK, zorder=4))
        for stairs in (StepPatch(d["refused"], edges, fill=True, facecolor=FAILED, lw=0, alpha=0.85, zorder=2),
                       StepPatch(total, edges, baseline=d["refused"], fill=True, facecolor=OK, lw=0, zorder=2)):
            self.drawn.append(p.add_artist(stairs))   # not `p.stairs`: the limits are set below, and
            # working out a step patch's extent for the data limits was most of preparing this plot
        self.drawn.append(p.axhline(d["capacity"], color=INK, lw=1, ls="--", zorder=3))
        self.drawn.append(p.text(d["xmax"] * 0.99, d["capacity"], f"capacity {d['capacity']:g}", ha="right",
                                 va="bottom", fontsize=7, color=INK, zorder=4))
        p.set_xlim(0, d["xmax"])
        p.set_ylim(0, top)


class AttemptsTimeline(PlotPanel):
    """One row per thing (an order, a step); each attempt a bar from its start to its end, coloured by
    how it ended. `data(run)` gives: `rows` (labels, top first), `bars` ((row, start, end, kind) with
    kind ok | failed | late: a result that came after the attempt was abandoned), `marks` ((row, x, text)
    written above a row, e.g. the wait before the next attempt), `xmax`."""

    COLOURS = {"late": LATE, "failed": FAILED, "ok": OK}   # a late result under the attempts that replaced it

    def __init__(self, ax, box, title, data, left=13.0):
        super().__init__(ax, box, title, data, left)

    def prepare(self, run):
        super().prepare(run)
        d, p = self.data(run), self.plot
        n = len(d["rows"])
        for kind, colour in self.COLOURS.items():   # one collection of bars per colour
            high, bars = 0.24 if kind == "late" else 0.6, {}
            for row, start, end, k in d["bars"]:
                if k == kind:
                    y0, x1 = n - 1 - row - high / 2, start + max(end - start, d["xmax"] / 400)
                    bars.setdefault(row, []).append([(start, y0), (start, y0 + high), (x1, y0 + high), (x1, y0)])
            if bars:
                self.drawn.append(p.add_collection(PolyCollection([b for row in bars.values() for b in row],
                                                                  color=colour, lw=0, zorder=2), autolim=False))
        for row, x, text in d["marks"]:
            self.drawn.append(p.text(x, n - 1 - row + 0.32, text, ha="center", va="bottom", fontsize=6.5,
                                     color=INK, zorder=4))
        p.set_yticks(range(n), list(reversed(d["rows"])), fontsize=7, color=INK)
        self._room_for(p.get_yticklabels())
        p.set_xlim(0, d["xmax"])
        p.set_ylim(-0.6, n - 0.4 + (0.45 if any(row == 0 for row, _, _ in d["marks"]) else 0))   # room over the top row's marks
