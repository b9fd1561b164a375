"""Scene 13's shard ring and chaos scoreboard views (the canvas is scenes/s13.py): the hosts in a ring
with the shards each holds, a dead host's skull, refused writes counted; the board of five strategies with
the replayed order beside it (the kit's process box, $ meter and history)."""
from __future__ import annotations

from matplotlib.patches import Ellipse

from simcore import chaos, orders, ownership

from .kit.code import code_html, running_line, source_of
from .kit.diagram import Diagram
from .kit.panels import (DANGER, DONE, DURABLE, INK, KILLED, MONO, MUTED, DollarMeter, HistoryPanel, Panel,
                         ProcessBox, SkullGlyph, clip)


class ShardRing(Panel):
    """The hosts in a ring, each with the shards it holds; a dead host's skull, a frozen one greyed."""

    def __init__(self, ax, box, hosts):
        super().__init__(ax, box, "history hosts and the shards they hold (range ids fence every write)")
        cx, cy = self.x + self.w / 2, self.y + self.h / 2 - 1
        self.spots, self.names, self.held, self.skulls = [], [], [], []
        ax.add_patch(Ellipse((cx, cy), 60, 26, fc="none", ec=MUTED, lw=0.8, ls="--", zorder=1))
        spots = [(cx, cy + 13), (cx + 30, cy), (cx, cy - 13), (cx - 30, cy)]
        for (x, y), name in zip(spots, hosts):
            dot = self.moving(Ellipse((x, y), 9, 4.2, fc=DONE, ec=INK, lw=1, zorder=2))
            ax.add_patch(dot)
            self.spots.append(dot)
            self.names.append(self.moving(ax.text(x, y, name, ha="center", va="center", fontsize=9, zorder=3)))
            self.held.append(self.moving(ax.text(x, y - 2.6, "", ha="center", va="top", fontsize=8.5, family=MONO,
                                                 zorder=3, bbox=dict(boxstyle="square,pad=0.2", fc="white", ec="none"))))
            self.skulls.append(SkullGlyph(ax))
            self.dynamic.extend(self.skulls[-1].dynamic)
        self.counts = self.text(1.5, self.h - 2.0, "", fontsize=9, family=MONO)
        self.label(self.w - 1.5, self.h - 2.0, "under each host: the shards it holds; red: membership gave it more",
                   fontsize=8, color=MUTED, ha="right")

    def update(self, run, frame):
        snap = frame.extra["snap"]
        for h, dot, held, skull, name in zip(snap["hosts"], self.spots, self.held, self.skulls, self.names):
            dot.set_facecolor({"alive": DONE, "dead": KILLED, "paused": "#dddddd"}[h["state"]])
            held.set_text(" ".join(map(str, h["shards"])) or "(none)")
            told = set(h["told"]) - set(h["shards"])
            name.set_text(h["name"] + (" (frozen)" if h["state"] == "paused" else ""))
            skull.hide()
            if h["state"] == "dead":
                x, y = dot.center
                skull.show(x + 7.5, y, 0.5)
            held.set_color(DANGER if told and h["state"] == "alive" else INK)
        c = snap["counts"]
        self.counts.set_text(f"writes accepted {c.get('writes_accepted', 0):>4}  refused {c.get('writes_refused', 0):>3}"
                             f"  shard moves {c.get('shard_moves', 0):>3}")


class ShardsDiagram(Diagram):
    size = (10.0, 4.4)
    caption_x = 10

    def build(self, ax):
        yield ShardRing(ax, (1, 1, 98, 45), [f"host-{i}" for i in range(1, 5)])

    def when(self, frame) -> str:
        return f"t={frame.t:5.1f}s"

    clock_text = when


class Board(Panel):
    """The scoreboard: one row a strategy, what went wrong counted; the replayed row marked."""

    def __init__(self, ax, box):
        super().__init__(ax, box, "1,000 orders through the same random faults")
        self.label(1.5, 3.6, f"{'strategy':<21}{'double':>7}{'lost':>6}{'stuck':>6}", family=MONO, fontsize=8.5)
        self.rows = [self.text(1.5, 6.4 + 2.8 * i, "", family=MONO, fontsize=8.5) for i in range(5)]
        self.replayed = [self.text(1.5, 20.6 + 2.4 * i, "", fontsize=8, color=MUTED) for i in range(2)]

    def update(self, run, frame):
        for text, r in zip(self.rows, run.board):
            mark = "\u25b6" if r["row"] == run.controls["replay"] else " "
            text.set_text(f"{mark}{r['row']:<20}{r['double_charges']:>7,}{r['lost']:>6,}{r['stuck']:>6,}")
            text.set_color(DANGER if r["double_charges"] or r["lost"] or r["stuck"] else DURABLE)
        self.replayed[0].set_text(f"\u25b6 replayed from its seed: {run.workflow_id}")
        self.replayed[1].set_text(clip("faults: " + ("; ".join(run.extra["order_faults"]) or "none"), 70))


class ChaosDiagram(Diagram):
    size = (10.0, 4.4)

    def build(self, ax):
        yield Board(ax, (1, 19, 36, 27))
        yield DollarMeter(ax, (1, 1, 36, 16))
        yield ProcessBox(ax, (39, 1, 26, 45), orders.STEPS, title="the replayed order")
        yield HistoryPanel(ax, (67, 1, 32, 45), rows=14, empty="no history: this strategy keeps none")


def shards_code(run, frame) -> str:
    return code_html("workflow_shard and the fenced write", "Temporal: Fingerprint32(namespace_id + '_' + workflow_id)"
                     " % shards + 1; each write checks the range id the writer holds",
                     source_of(ownership.workflow_shard) + "\n" + source_of(ownership.ShardStore.append))


RUN_BY = {"plain": "as a plain function: its progress is in local variables", "cron": "by a cron job that "
          "re-runs it from line one", "checkpoint": "by a checkpoint loop (scene 02)", "durable": "by the durable engine"}


def chaos_code(run, frame) -> str:
    """The replayed order's code, the line at this frame lit; then where its faults come from."""
    strategy = chaos.ROWS[run.controls["replay"]][0]
    return (code_html(f"fulfill_order: {run.workflow_id}, replayed", f"run {RUN_BY[strategy]}",
                      source_of(orders.fulfill_order), running_line(run, frame), frame.replaying, crashed=frame.skull)
            + code_html("faults_for: what order i meets", "drawn from Random(f'chaos/{seed}/{i}'): the same faults "
                        "for every strategy, and again on replay", source_of(chaos.faults_for)))
