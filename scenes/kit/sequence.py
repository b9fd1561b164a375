"""A sequence diagram: lanes side by side, time flowing down, messages as arrows between lanes.

Drawn from data, so the panel knows nothing of a scene. It is handed `data(run) -> dict` with
- "until": the seconds the panel spans (time 0 at the top);
- "messages": dicts with t0, t1 (sent, arrived), src, dst (lane indexes), text, and optionally
  lost (the message ends at `dst` in a cross instead of an arrowhead), color and curve (bend the
  arrow by this fraction of its length, to tell apart two messages on the same path);
- "marks": dicts with t, lane, text, and optionally color, side ("left" or "right" of the lane)
  and symbol (drawn on the lane; a dot by default): what happened at a lane at a moment.
A message appears when the frame's time reaches t0 and grows to its end by t1; a mark appears at t.
A line marks the frame's time. As in every kit panel the artists are made once (a pool) and only
moved, re-texted, shown or hidden; the time scale is laid out once per run.
"""
from __future__ import annotations

import math

from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Rectangle

from .panels import DANGER, INK, MUTED, Panel, SkullGlyph

HEAD, PLAIN = "-|>,head_length=0.5,head_width=0.22", "-"
BOX = dict(boxstyle="round,pad=0.12", fc="white", ec="none", alpha=0.9)
SKULL = 0.6   # inches: the skull on the lane of the one that died
GAP = 1.5     # points between a message and its label


class SequencePanel(Panel):
    """`lanes`: names, drawn at `at` (fractions of the panel's width). `sides` (optional): two
    captions for the two halves split at lane `split`, the right half tinted (e.g. what the caller
    can see, and what only the far side knows)."""

    def __init__(self, ax, box, lanes, data, at=None, title="sequence", sides=None, split=1,
                 messages=12, marks=16, ticks=8):
        super().__init__(ax, box, title)
        self.data, self.lanes = data, lanes
        at = at or [0.2 + 0.6 * i / max(len(lanes) - 1, 1) for i in range(len(lanes))]
        self.xs = [self.x + f * self.w for f in at]
        self.top, self.bottom = self.y + self.h - 6.5, self.y + (3.2 if sides else 1.5)
        if sides:
            ax.add_patch(Rectangle((self.xs[split], self.bottom - 0.3), self.x + self.w - 0.6 - self.xs[split],
                                   self.top - self.bottom + 2.3, fc="#f3f0fb", ec="none", zorder=1.2))
            ax.text(self.xs[split] - 0.8, self.y + 1.0, f"{sides[0]} \u25c0", ha="right", fontsize=7, color=MUTED)
            ax.text(self.xs[split] + 0.8, self.y + 1.0, f"\u25b6 {sides[1]}", ha="left", fontsize=7, color=MUTED)
        for name, x in zip(lanes, self.xs):
            ax.text(x, self.top + 1.2, name, ha="center", va="bottom", fontsize=8.5, fontweight="bold", color=INK,
                    zorder=3)
            ax.add_line(Line2D([x, x], [self.bottom, self.top + 1.0], color=MUTED, lw=0.8, ls=(0, (3, 3)), zorder=1.5))
        self.cursor = self.moving(Line2D([], [], color=DANGER, lw=0.8, alpha=0.55, zorder=2))
        ax.add_line(self.cursor)
        self.ticks = [self.moving(ax.text(0, 0, "", fontsize=6.5, color=MUTED, va="center", zorder=3))
                      for _ in range(ticks)]
        self.arrows, self.labels, self.crosses = [], [], []
        for _ in range(messages):
            arrow = self.moving(KeptArrow((0, 0), (0, 0), arrowstyle=HEAD, mutation_scale=9, lw=1.1,
                                          zorder=4, visible=False))
            ax.add_patch(arrow)
            self.arrows.append(arrow)
            self.labels.append(self.moving(ax.text(0, 0, "", fontsize=7.5, ha="center", va="bottom", zorder=5,
                                                   rotation_mode="anchor", visible=False)))
            self.crosses.append(self.moving(ax.text(0, 0, "\u2715", fontsize=11, ha="center", va="center",
                                                    color=DANGER, fontweight="bold", zorder=6, visible=False)))
        self.notes = [self.moving(ax.text(0, 0, "", fontsize=7.2, va="center", zorder=5, bbox=BOX, visible=False))
                      for _ in range(marks)]
        self.symbols = [self.moving(ax.text(0, 0, "", ha="center", va="center", zorder=6, visible=False))
                        for _ in range(marks)]
        self.skull = SkullGlyph(ax)   # at the skull frame, a large one on the lane of the one that died
        self.dynamic.extend(self.skull.dynamic)
        self._run = None

    def _layout(self, run):
        self._run, d = run, self.data(run)
        self.until = max(float(d.get("until", 1.0)), 1e-9)
        self.messages, self.marks = d.get("messages", [])[:len(self.arrows)], d.get("marks", [])[:len(self.notes)]
        step = next(s for s in (0.5, 1, 2, 5, 10, 30, 60, 300, 600, 3600, math.inf)
                    if self.until / s <= len(self.ticks) - 1)
        for i, tick in enumerate(self.ticks):
            t = i * step
            tick.set_visible(t <= self.until)
            tick.set_text(f"{t:g}s \u2500")
            tick.set_position((self.x + 0.8, self.y_of(t)))
        for m, label in zip(self.messages, self.labels):
            label.set_text(m["text"])
            label.set_color(m.get("color", INK))
        skull = SkullGlyph.WIDTH * SKULL / 2 * 100 / self.ax.figure.get_figwidth()   # half its width, in data units
        for k, note, sym in zip(self.marks, self.notes, self.symbols):
            left = k.get("side", "right") == "left"
            x = self.xs[k["lane"]]
            gap = 1.3 + (skull if k.get("symbol") == "\u2620" else 0.0)   # a death's note clears its skull
            note.set_text(k["text"])
            note.set_color(k.get("color", INK))
            note.set_ha("right" if left else "left")
            note.set_position((x - gap if left else x + gap, self.y_of(k["t"])))
            sym.set_text(k.get("symbol", "\u25cf"))
            sym.set_fontsize(17 if k.get("symbol") else 5)
            sym.set_color(k.get("color", INK))
            sym.set_position((x, self.y_of(k["t"])))

    def y_of(self, t: float) -> float:
        return self.top - (self.top - self.bottom) * min(max(t, 0.0), self.until) / self.until

    def update(self, run, frame):
        if run is not self._run:
            self._layout(run)
        now = frame.t + 1e-9
        self.cursor.set_data([self.x + 0.6, self.x + self.w - 0.6], [self.y_of(frame.t)] * 2)
        self._show_marks(now)
        self.skull.hide()
        if frame.skull:
            dead = [k for k in self.marks if k.get("symbol") == "\u2620" and k["t"] <= now]
            if dead:
                self.skull.show(self.xs[dead[-1]["lane"]], self.y_of(dead[-1]["t"]), SKULL)
        for i, (arrow, label, cross) in enumerate(zip(self.arrows, self.labels, self.crosses)):
            m = self.messages[i] if i < len(self.messages) else None
            shown = m is not None and m["t0"] <= now
            for art in (arrow, label, cross):
                art.set_visible(shown)
            if not shown:
                continue
            (x0, y0), (x1, y1) = (self.xs[m["src"]], self.y_of(m["t0"])), (self.xs[m["dst"]], self.y_of(m["t1"]))
            span = m["t1"] - m["t0"]
            f = 1.0 if now >= m["t1"] or span <= 0 else max(0.15, (frame.t - m["t0"]) / span)
            end = (x0 + (x1 - x0) * f, y0 + (y1 - y0) * f)
            colour = m.get("color", INK)
            bend = m.get("curve", 0.0)
            arrow.set_positions((x0, y0), end)
            arrow.set_connectionstyle(f"arc3,rad={bend}")
            arrow.set_arrowstyle(PLAIN if m.get("lost") and f == 1.0 else HEAD)
            arrow.set_color(colour)
            arrow.set_linestyle("--" if m.get("lost") else "-")
            cross.set_visible(bool(m.get("lost")) and f == 1.0)
            cross.set_position(end)
            # labelled on the whole path, not the part drawn so far, so a label doesn't move while its message
            # is in flight: a curve at its middle (arc3 bends it by `bend` times the chord, at right angles)
            ox, oy = bend * (y1 - y0) / 2, -bend * (x1 - x0) / 2
            if m.get("lost"):   # a short stub: the label starts at the sender, on the line, and reads toward the cross
                dx = 1.5 if x1 > x0 else -2.0
                at = (x0 + dx, y0 + (y1 - y0) * dx / (x1 - x0) if x1 != x0 else y0)
                label.set_ha("left" if x1 > x0 else "right")
            else:   # between the sender's lane and the next, so no lane runs through it (nor a message leaving one)
                k = 0.5   # the fraction of the path: its middle, or the middle of its first gap
                if not bend and abs(m["dst"] - m["src"]) >= 2:
                    k = (self.xs[m["src"] + (1 if m["dst"] > m["src"] else -1)] - x0) / (x1 - x0) / 2
                at = (x0 + (x1 - x0) * k + ox, y0 + (y1 - y0) * k + oy)
                label.set_ha("center")
            # under the line when the path bends down, or for a reply (right to left) on a straight one: the
            # request it answers arrived where the reply leaves, from above, and its label would sit on it
            below = oy < 0 or (not bend and x1 < x0)
            angle = self._angle((x0, y0), (x1, y1))
            label.set_va("top" if below else "bottom")
            label.set_rotation(angle)
            label.set_position(self._clear_of_line(at, angle, below))

    def _clear_of_line(self, at, angle: float, below: bool):
        """`at` moved off the line it lies on, at right angles on screen, by GAP points: a label
        anchored on its line touches it (descenders above it, ascenders under it)."""
        gap = GAP * self.ax.figure.dpi / 72 * (-1 if below else 1)
        x, y = self.ax.transData.transform(at)
        a = math.radians(angle)
        return tuple(self.ax.transData.inverted().transform((x - gap * math.sin(a), y + gap * math.cos(a))))

    def _angle(self, a, b) -> float:
        """The on-screen angle of the segment a-b, turned so its label reads left to right."""
        (px, py), (qx, qy) = self.ax.transData.transform([a, b])
        if qx < px:
            px, py, qx, qy = qx, qy, px, py
        return math.degrees(math.atan2(qy - py, qx - px))

    def _show_marks(self, now):
        for i, (note, sym) in enumerate(zip(self.notes, self.symbols)):
            shown = i < len(self.marks) and self.marks[i]["t"] <= now
            note.set_visible(shown)
            sym.set_visible(shown)


class KeptArrow(FancyArrowPatch):
    """A `FancyArrowPatch` that works out its path (the curve, shortened at both ends, and its head:
    about 1 ms of Bezier splitting) once for each place and style, and keeps it: an arrow whose
    message has arrived stands still for the rest of the run, frame after frame."""

    def _get_path_in_displaycoord(self):
        try:
            a, b = self.get_transform().transform([self._convert_xy_units(p) for p in self._posA_posB])
            key = (tuple(a), tuple(b), _style(self.get_connectionstyle()), _style(self.get_arrowstyle()),
                   self.get_mutation_scale(), self.get_linewidth(), self.get_mutation_aspect(), self._dpi_cor,
                   self.shrinkA, self.shrinkB, self.patchA, self.patchB)
            hash(key)
        except TypeError:   # a style with an unhashable parameter: worked out every time
            return super()._get_path_in_displaycoord()
        kept = ARROWS.get(key)
        if kept is None:
            if len(ARROWS) >= 2000:
                ARROWS.clear()
            kept = ARROWS[key] = super()._get_path_in_displaycoord()
        return kept


ARROWS: dict = {}   # (where, style, ...) -> (path, fillable) in display coordinates


def _style(style) -> tuple:
    return (type(style), tuple(sorted(vars(style).items())))
