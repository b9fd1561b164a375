"""Scene 13 · Design canvas: choose the right engine, then prove it under chaos: the view.

The model is `simcore.scenarios.s13` (with `canvas.py`, `cards.py`, `simcore.shards`, `simcore.chaos`);
the shard ring and the scoreboard views are in `scenes/s13_parts.py`.
Three views, one a part: the canvas (three lanes, one per model, each showing its own run at the
moment of the frame), the shard ring (hosts and the shards they hold, the dead host's skull, refused
writes), and the scoreboard with the replayed order (the kit's process box, $ meter and history).
"""
from __future__ import annotations

import json
from types import SimpleNamespace

from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle

from simcore import asl, orders
from simcore.scenarios import canvas, part_of
from simcore.scenarios import s13 as model

from .kit.code import code_html, running_line, source_of
from .kit.diagram import Diagram
from .kit.panels import DANGER, DONE, INK, KILLED, LIT, MONO, MUTED, TODO, Panel, SkullGlyph, clip
from .kit.view import SceneView, try_it as _try_it
from .s13_parts import ChaosDiagram, ShardsDiagram, chaos_code, shards_code
from .s13_questions import QUESTIONS

ROWS = (("ChargeCard", ("ChargeCard", "charge_card")), ("ReserveInventory", ("ReserveInventory", "reserve_inventory")),
        ("ShipPackage", ("ShipPackage", "ship_package")),
        ("SendConfirmationEmail", ("SendConfirmationEmail", "send_confirmation_email")),
        ("wait 30 days", ("timer", "wait_30_days", "WaitThirtyDays", "WantsReview")),
        ("SendReturnLabelEmail", ("SendReturnLabel", "send_return_label")),
        ("SendReviewRequestEmail", ("SendReviewRequest", "send_review_request")))
LABEL = {"SendReturnLabelEmail": "return label (cancelled)", "SendReviewRequestEmail": "review request"}


def part_model(part: str):
    return part_of(model, part)


class Lane(Panel):
    """One model's run: its steps ticked as their effects happen, the step running lit, the wait's progress."""

    def __init__(self, ax, box, lane):
        super().__init__(ax, box, canvas.NAMES[lane])
        self.lane, self.row = lane, (self.h - 10) / len(ROWS)
        self.wash = self.moving(Rectangle((self.x, self.y), self.w, self.h, fc=DANGER, alpha=0.10, ec=DANGER, lw=2.5,
                                          zorder=4, visible=False))
        ax.add_patch(self.wash)
        self.skull = SkullGlyph(ax)
        self.dynamic.extend(self.skull.dynamic)
        self.counts, corners = [], []
        for i, (name, _) in enumerate(ROWS):
            y = self.y + self.h - 4 - (i + 1) * self.row + 0.5
            x0, x1, y1 = self.x + 1.5, self.x + self.w - 1.5, y + self.row - 1
            corners.append([(x0, y), (x1, y), (x1, y1), (x0, y1)])
            mid = y + (self.row - 1) / 2
            self.moving(ax.text(self.x + 2.5, mid, LABEL.get(name, name), fontsize=8.5, va="center", zorder=3))
            self.counts.append(self.moving(ax.text(self.x + self.w - 2.5, mid, "", ha="right", va="center",
                                                   fontsize=8.5, zorder=3)))
        # the seven steps as one collection: one draw call a frame, their colours set per frame
        self.boxes = self.moving(ax.add_collection(PolyCollection(corners, facecolors=TODO, edgecolors=MUTED,
                                                                  linewidths=0.8, zorder=2)))
        self.note = self.text(1.5, self.h - 5.2, "", fontsize=8, color=MUTED)
        self.stats = self.text(1.5, self.h - 2.6, "", fontsize=8.5, family=MONO)

    def update(self, run, frame):
        lane = run.lanes[self.lane]
        lf = model.lane_frame(run, frame, self.lane)
        done, colours = lane.sim.world.effects(lf.effects), []
        died = lf.skull and frame.extra["lane"] == self.lane
        killed = model.dying_step_of(run, self.lane, lf) if died else None
        for (name, steps), count in zip(ROWS, self.counts):
            n = done.get(name, 0)
            lit = (lf.step in steps or name == "wait 30 days" and _waiting(lf)) and not lf.skull
            colours.append(KILLED if killed in steps else LIT if lit else DONE if n else TODO)
            count.set_text(("\u2713" if n == 1 else f"\u2713 x{n}") if n else "")
            count.set_color(DANGER if n > 1 else INK)
        self.boxes.set_facecolor(colours)
        if self.lane == "state_machine":
            self.counts[3].set_text("no such state")
            self.counts[3].set_color(MUTED)
        self.counts[4].set_text(self._wait(run, lane, lf, frame))
        self.counts[4].set_color(MUTED)
        self.wash.set_visible(died)
        self.skull.hide()
        if died:   # beside the step it killed, left of its tick
            row = next((i for i, (_, steps) in enumerate(ROWS) if killed in steps), None)
            y = self.y + self.h - 2.5 if row is None else self.y + self.h - 4 - (row + 0.5) * self.row
            self.skull.show(self.x + self.w * 0.6, y, 0.42)
        records = self._records(lane, lf, frame)
        what = "state changes" if self.lane == "dag" else "events on record"
        self.stats.set_text(f"{records:>4} {what} \u00b7 ${lane.sim.world.statement_cents(lf.effects) / 100:.2f} charged")
        ended = lf is lane.sim.trace.frames[-1] and frame is run.frames[-1]
        self.note.set_text(f"ended: {lane.outcome}" if ended else clip(lf.caption, 48))
        self.note.set_color(DANGER if ended and lane.outcome != "completed" else MUTED)

    def _wait(self, run, lane, lf, frame):
        if self.lane == "dag":
            pokes = sum(1 for tr in lane.extra["board"].transitions if tr[3] == "up_for_reschedule" and tr[0] <= frame.t)
            return f"{pokes} pokes" if pokes else ""
        return f"day {min(int(frame.t // model.DAY), 30)}" if lf.step in ROWS[4][1] or _waiting(lf) else ""

    def _records(self, lane, lf, frame):
        if self.lane == "dag":
            return sum(1 for tr in lane.extra["board"].transitions if tr[0] <= frame.t)
        return lf.history


def _waiting(lane_frame) -> bool:
    """The workflow waits on its timer and its signal at once (`ctx.first`): its frame says so."""
    return lane_frame.caption.startswith("waits:")


class CanvasDiagram(Diagram):
    size = (10.0, 4.4)
    caption_x = 16

    def build(self, ax):
        for i, lane in enumerate(canvas.MODELS):
            yield Lane(ax, (1 + 33 * i, 1, 32, 45), lane)

    def when(self, frame) -> str:
        return model._day(frame.t)

    clock_text = when


DAG_SOURCE = source_of(canvas.order_dag) + "\n" + "\n".join(
    source_of(f) for f in (canvas.charge_card, canvas.wait_30_days, canvas.send_return_label))
ASL_SOURCE = json.dumps(asl.ORDER_1001["States"], indent=1)


def _line_of(source: str, marker: str | None) -> int | None:
    return next((n for n, line in enumerate(source.splitlines(), 1) if marker and marker in line), None)


def canvas_code(run, frame) -> str:
    """The three definitions; in each, the line of the step its run is at (red in the lane that just died).
    The frame's own lane comes first, so the strip under the player shows its line."""
    panels = {}
    for m in canvas.MODELS:
        lf = model.lane_frame(run, frame, m)
        died = lf.skull and frame.extra["lane"] == m
        if m == "workflow":
            lit = running_line(SimpleNamespace(frames=run.lanes[m].sim.trace.frames), lf)
            panels[m] = code_html("fulfill_and_review (workflow code)", "the wait is ctx.sleep, the cancel "
                                  "ctx.signal, whichever comes first", source_of(orders.fulfill_and_review), lit,
                                  lf.replaying, crashed=died)
        elif m == "dag":
            step = lf.step or model.dying_step_of(run, m, lf)
            panels[m] = code_html("order_dag (a DAG, simcore/dag)", "the wait is a sensor; the cancel a row it reads",
                                  DAG_SOURCE, _line_of(DAG_SOURCE, step and f'Task("{step}"'), crashed=died)
        else:
            step = lf.step or model.dying_step_of(run, m, lf)
            panels[m] = code_html("ORDER_1001 (Amazon States Language)", "the wait is a Wait state; the cancel is "
                                  "StopExecution", ASL_SOURCE, _line_of(ASL_SOURCE, step and f' "{step}": {{'),
                                  crashed=died)
    first = frame.extra["lane"]
    return panels[first] + "".join(html for m, html in panels.items() if m != first)


VIEWS = {"canvas": (CanvasDiagram, canvas_code), "shards": (ShardsDiagram, shards_code),
         "chaos": (ChaosDiagram, chaos_code)}


class Scene(SceneView):
    def __init__(self, part="canvas", **controls):
        diagram, code = VIEWS[part]
        super().__init__(part_model(part), diagram(), code, QUESTIONS, **controls)


def show(part="canvas", **controls):
    """The interactive scene, one part: `show("canvas", cancel="none")`, `show("shards")`, `show("chaos")`."""
    return Scene(part, **controls).widget


def try_it(part="canvas", **controls):
    """Run one configuration headless and print what the scene teaches."""
    _try_it(part_model(part), **controls)


def scoreboard(rates="default", orders=1000, seed=0, progress=True):
    """Run the whole board (every row) with a progress bar, and print it. `rates`: "gentle", "default",
    "harsh", or your own: `scoreboard(rates=chaos.Rates(crash=0.3, lost=0, duplicate=0, ...))`."""
    from simcore import chaos
    bar = None
    if progress:
        import ipywidgets as widgets
        from IPython.display import display
        bar = widgets.IntProgress(min=0, max=1, description="orders run", style={"description_width": "initial"})
        display(bar)
    rows = model.board(rates, orders, seed, progress=bar and (
        lambda n, total: (setattr(bar, "max", total), setattr(bar, "value", n))))
    print("\n".join(chaos.table(rows)))
    print(f"{sum(r['runs'] for r in rows):,} runs for {orders * len(rows):,} orders: each distinct fault plan ran "
          "once under each strategy")




def cards_view():
    """The workload cards: pick a model for each card; the canvas says whether it fits, and why."""
    import html as _html

    import ipywidgets as widgets

    from simcore.scenarios import cards
    rows = []
    for card, (what, _) in cards.CARDS.items():
        pick = widgets.ToggleButtons(options=[(cards.MODEL_NAMES[m], m) for m in cards.MODELS], value=None,
                                     style={"button_width": "auto"}, tooltip=f"which model would you use for {card}?")
        pick.add_class(f"ds-card-{card.replace(' ', '-')}")
        said = widgets.HTML("<i>pick a model</i>")

        def judge(change, card=card, said=said):
            verdict, answers = cards.verdict(card, change["new"])
            best = " or ".join(cards.MODEL_NAMES[m] for m in cards.recommend(card))
            why = "".join(f"<li>{_html.escape(r)}: {a}, {_html.escape(w)} (scene {s})</li>" for r, a, w, s in answers)
            said.value = (f"<b>{verdict}</b>{'' if change['new'] in cards.recommend(card) else f'; the canvas would use {best}'}"
                          f"<ul style='margin:2px 0'>{why}</ul>")
        pick.observe(judge, names="value")
        rows.append(widgets.VBox([widgets.HTML(f"<b>{_html.escape(card)}</b>: {_html.escape(what)}"), pick, said]))
    box = widgets.VBox(rows)
    box.add_class("ds-cards")
    return box


def workload_cards():
    """Print each card's verdict for each model, and the scenes that taught each requirement."""
    from simcore.scenarios import cards
    print("\n".join(cards.lines()))


def replay(row="durable, no keys", rates="default", orders=1000, seed=0):
    """Replay a row's first order that went wrong from its seed, twice, and print its frames: the same."""
    print("\n".join(model.replay_lines(row, rates, orders, seed)))
