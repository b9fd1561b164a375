"""Scene 11 · Versioning: the same workflow, a year later: the view.

The model is `simcore.scenarios.s11`. Its own pieces here: the sixty orders as tiles (where each one
is, whether it ran FraudCheck, its build when pinned), the workers with their builds, the counts so
far, and the CI replay test and the patch's life, printed from real replays.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle

from simcore.scenarios import s11 as model
from simcore.scenarios.s08 import day_of

from .kit.code import code_html, source_of
from .kit.diagram import Diagram
from .kit.panels import DANGER, DONE, INK, MONO, MUTED, REPLAY, TODO, Panel
from .kit.view import SceneView, try_it as _try_it

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = {
    "Why can't the engine just migrate running workflows?": (
        "Because a running workflow is not a record of state; it is a history the code must reproduce. "
        "There is no \"current step\" field to move: the position is wherever the code gets to when it "
        "replays the events. New code that would decide differently at an event already written has no "
        "true answer for that order (did FraudCheck run? the history says it did not).\n\n"
        "So the choice is made in code: a patch marker says, per execution, which branch it took; or pinning "
        "keeps the old code running for the old executions. Temporal: \"patching\" and \"Worker Versioning\"."),
    "How long must a patch stay?": (
        "Until no history that took the old path can be replayed, in three steps. `patched()` stays while any order that took "
        "the old path is still running (here: until the last pre-patch order closes, on day 54). Then "
        "`deprecate_patch()` plus the new code only: it writes a deprecated marker and replays whether or "
        "not a history has one, but not a pre-patch history (try the table below). Remove the call once you "
        "no longer need to query or replay any history with a non-deprecated marker: in practice, once they "
        "are past the namespace's retention. The removed call's code is the naive v2: the code is the same, "
        "what changed is which histories exist."),
    "Activity changes vs workflow changes?": (
        "Activity code runs live each time and its result is recorded: change its body freely (a new fraud "
        "vendor, a bug fix) and no history notices. What the history checks is the workflow's commands: "
        "which activity, in what order, which timers. Temporal's core compares the activity type and id of "
        "each scheduled activity, not its arguments.\n\n"
        "So adding, removing or reordering steps, or changing a timer into an activity, needs a patch or "
        "pinning; changing an activity's inside, or its arguments, does not (but a changed argument shape "
        "can break a running activity's retries)."),
    "Worker versioning or patching?": (
        "Pinned: each workflow runs on the build that started it, so no patch is needed, at the cost shown "
        "here: v1 workers kept alive until the last v1 order closes, 36 days after the deploy. Temporal's "
        "guide: pin short workflows; for long ones that continue-as-new, pin and move to the new build at "
        "continue-as-new. Auto-upgrade moves workflows to the new build, and then they must be patched.\n\n"
        "Temporal's Worker Versioning needs server 1.29.1+ and blue-green or rainbow "
        "deploys: rolling ones are incompatible; for pinning it recommends rainbow deploys, each old build "
        "kept up while its workflows drain, as here. DBOS pins by default: its app version is a hash of the "
        "workflow code."),
}

COLORS = {"": TODO, "kiln": "#ffe8b3", "shipped": "#d6e6fb", "done": DONE, "stuck": DANGER}
LEGEND = (("kiln", "in the kiln (before the change point)"), ("shipped", "shipped, asleep 30 days (past it)"),
          ("done", "review sent: completed"), ("stuck", "stuck: non-determinism"))


class Orders(Panel):
    """Sixty tiles: where each order is at this frame; F when it ran FraudCheck; its build when pinned."""

    def __init__(self, ax, box, cols=10, rows=6):
        super().__init__(ax, box, "the orders, one tile each (F: it ran FraudCheck)")
        w, h = (self.w - 2) / cols, (self.h - 9) / rows
        boxes, self.texts, self.badges = [], [], []
        for i in range(cols * rows):
            x, y = self.x + 1 + (i % cols) * w, self.y + self.h - 4 - (i // cols + 1) * h
            x0, y0, x1, y1 = x + 0.2, y + 0.25, x + w - 0.2, y + h - 0.25
            boxes.append([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
            self.texts.append(self.moving(ax.text(x + w / 2, y + 0.62 * h, "", ha="center", va="center", fontsize=8.5,
                                                  family=MONO, zorder=3)))
            self.badges.append(self.moving(ax.text(x + w / 2, y + 0.3 * h, "", ha="center", va="center", fontsize=8,
                                                   fontweight="bold", zorder=3)))
        # the sixty tiles as one collection: one draw call a frame, their colours set per frame
        self.tiles = self.moving(ax.add_collection(PolyCollection(boxes, facecolors=TODO, edgecolors="none",
                                                                  zorder=2)))
        for k, (where, text) in enumerate(LEGEND):
            lx = self.x + 1 + (k % 2) * (self.w / 2)
            ly = self.y + 3.2 - (k // 2) * 2.3
            ax.add_patch(Rectangle((lx, ly - 0.6), 1.6, 1.4, fc=COLORS[where], ec=MUTED, lw=0.5, zorder=2))
            ax.text(lx + 2.2, ly + 0.1, text, fontsize=8, color=INK, va="center", zorder=3)

    def update(self, run, frame):
        orders = frame.extra.get("orders", [])
        colours = []
        for i, (text, badge) in enumerate(zip(self.texts, self.badges)):
            where, fraud, build = orders[i] if i < len(orders) else ("", False, "")
            colours.append(COLORS[where])
            text.set_text(str(1001 + i))
            text.set_color("white" if where == "stuck" else INK if where else MUTED)
            badge.set_text(" ".join(filter(None, ("F" if fraud else "", build))))
            badge.set_color("white" if where == "stuck" else REPLAY if fraud else MUTED)
        self.tiles.set_facecolors(colours)


class Workers(Panel):
    def __init__(self, ax, box, rows=4):
        super().__init__(ax, box, "workers (name, code: status)")
        self.rows = [self.text(1.5, 3.8 + 2.4 * i, "", family=MONO, fontsize=8.5) for i in range(rows)]

    def update(self, run, frame):
        workers = frame.extra.get("workers", [])
        for i, row in enumerate(self.rows):
            name, build, status = workers[i] if i < len(workers) else ("", "", "")
            shown = "stopped (drained)" if status == "deploying" and run.controls["deploy"] == "pinned" else status
            row.set_text(f"{name:<12} {build}: {shown}" if name else "")
            row.set_color(MUTED if status in ("deploying", "dead") else INK)


class Calendar(Panel):
    """Days 0 to the end: the deploy marked, the stuck orders as red ticks on the day each broke, and today."""

    def __init__(self, ax, box):
        super().__init__(ax, box, "calendar (days)")
        self.x0, self.x1, self.days = self.x + 2, self.x + self.w - 2, model.HORIZON / model.DAY
        y = self.y + 4
        ax.plot([self.x0, self.x1], [y, y], color=MUTED, lw=1.5, zorder=2)
        for d in range(0, int(self.days) + 1, 10):
            ax.text(self.at(d), y - 1.1, str(d), fontsize=8, color=MUTED, ha="center", va="top", zorder=3)
        ax.plot([self.at(model.DEPLOY / model.DAY)] * 2, [y, y + 4.5], color=INK, lw=1.5, zorder=2)
        ax.text(self.at(model.DEPLOY / model.DAY), y + 4.7, "deploy v2", fontsize=8, ha="center", zorder=3)
        self.y_line = y
        self.now = self.moving(ax.plot([], [], color=REPLAY, lw=3, zorder=4)[0])
        self.ticks = self.moving(ax.plot([], [], "|", color=DANGER, ms=10, mew=2, zorder=3)[0])

    def at(self, day: float) -> float:
        return self.x0 + (self.x1 - self.x0) * day / self.days

    def prepare(self, run):
        self.broke = sorted(next(e.time for e in h if e.type == "WorkflowTaskFailed") / model.DAY
                            for wid, h in run.histories.items() if wid in run.engine.stuck)

    def update(self, run, frame):
        today = frame.t / model.DAY
        self.now.set_data([self.at(0), self.at(today)], [self.y_line, self.y_line])
        shown = [d for d in self.broke if d <= today]
        self.ticks.set_data([self.at(d) for d in shown], [self.y_line + 1.6] * len(shown))


class SoFar(Panel):
    LABELS = ("orders started", "completed", "stuck", "ran FraudCheck")

    def __init__(self, ax, box):
        super().__init__(ax, box, "so far")
        for i, label in enumerate(self.LABELS):
            self.label(1.5, 3.8 + 2.5 * i, label, color=MUTED)
        self.values = [self.text(self.w - 1.5, 3.8 + 2.5 * i, "", ha="right", family=MONO) for i in range(4)]

    def update(self, run, frame):
        orders = frame.extra.get("orders", [])
        shown = (sum(bool(w) for w, _, _ in orders), sum(w == "done" for w, _, _ in orders),
                 sum(w == "stuck" for w, _, _ in orders), sum(f for _, f, _ in orders))
        for label, value, art in zip(self.LABELS, shown, self.values):
            art.set_text(str(value))
            art.set_color(DANGER if label == "stuck" and value else INK)


class S11Diagram(Diagram):
    def build(self, ax):
        yield Orders(ax, (1, 1, 62, 45))
        yield Workers(ax, (64, 32, 35, 14))
        yield Calendar(ax, (64, 17.5, 35, 13))
        yield SoFar(ax, (64, 1, 35, 15))

    def when(self, frame) -> str:
        return day_of(frame.t)

    clock_text = when
    caption_x = 13


CHANGE = {"naive": "fraud_check", "pinned": "fraud_check", "patched": "ctx.patched", "none": "ship_package"}


def code_panels(run, frame) -> str:
    deploy = run.controls["deploy"]
    code = model.V2[deploy] if frame.t >= model.DEPLOY else model.order_v1
    source = source_of(code)
    piece = CHANGE[deploy] if code is not model.order_v1 else "ship_package"
    lit = next(n for n, line in enumerate(source.splitlines(), 1) if piece in line)
    note = ("v1: the code every order in flight started on" if code is model.order_v1 else
            "v2 replaces v1 on every worker: the lit line is the change point" if deploy == "naive" else
            "v2 with a patch marker: the lit line is true live, and on replay only if its marker is there"
            if deploy == "patched" else "v2 runs new orders only; v1 workers keep the orders that started on v1")
    return code_html(code.fn.__name__, note, source, lit, crashed=frame.caption.startswith("STUCK"))


class Scene(SceneView):
    def __init__(self, **controls):
        super().__init__(model, S11Diagram(), code_panels, QUESTIONS, **controls)


def show(**controls):
    """The interactive scene: `show(deploy="patched")`."""
    return Scene(**controls).widget


def try_it(**controls):
    """Run one configuration headless and print what the scene teaches."""
    _try_it(model, **controls)


def show_code(*names):
    """Print the versions of the workflow: `show_code("order_v1", "order_v2_patched")`."""
    for name in names or ("order_v1", "order_v2_naive", "order_v2_patched"):
        print(source_of(getattr(model, name)))


def replay_test(code: str = "order_v2_naive", folder: str = model.FIXTURES) -> int:
    """CI's replay test, as CI runs it: `python -m simcore history replay --workflow ... FILE...` over the
    histories v1 wrote, in a process of its own. Prints its output and its exit code, and returns it."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / folder).glob("*.json"))
    command = [sys.executable, "-m", "simcore", "history", "replay", "--workflow",
               f"simcore.scenarios.s11:{code}", *files]
    print("$ python -m simcore history replay --workflow", f"simcore.scenarios.s11:{code}", f"{folder}/*.json")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    print((done.stdout + done.stderr).rstrip())
    print(f"exit code {done.returncode}")
    return done.returncode


def lifecycle():
    """Which code replays which history, from real replays: when a patch can be deprecated, and removed."""
    table = model.lifecycle()
    kinds = list(next(iter(table.values())))
    print(f"{'code':<20}" + "".join(f"{k:<26}" for k in kinds))
    for name, row in table.items():
        print(f"{name:<20}" + "".join(f"{'replays' if row[k] else 'FAILS (non-determinism)':<26}" for k in kinds))
