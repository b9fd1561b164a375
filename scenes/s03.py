"""Scene 03 · Replay: re-run the code against the history: the view.

The model (the two workflow variants, the controls, the scoreboard) is `simcore.scenarios.s03`;
this module draws it: the process box, the machine's wall clock beside the recorded one, the RAM
refilling as replayed, the history with its replay cursor, and the engine's verdict.
"""
from __future__ import annotations

import re
import textwrap
from dataclasses import replace

import ipywidgets as widgets

from simcore import strategies
from simcore.scenarios import s03 as model

from .kit.code import code_html, running_line, source_of
from .kit.diagram import Diagram
from .kit.panels import (DANGER, INK, MONO, MUTED, REPLAY, DollarMeter, HistoryPanel, Panel,
                         ProcessBox, RamPanel)
from .kit.scoreboard import scoreboard_html
from .kit.view import SceneView, try_it as _try_it

QUESTIONS = {
    "Why re-run from line one instead of jumping to step 3?": (
        "Because \"where it was\" is more than a step number: it is the local variables, the branch the code "
        "took, the loop counter, the call stack, and a running Python frame can't be written to disk and "
        "loaded into another process. It can be rebuilt: run the same code on the same input, hand every "
        "step the answer it got the first time, and it arrives in the same state. So the history stores "
        "inputs and answers, never memory.\n\n"
        "Replay costs CPU, not effects: no step runs twice. Temporal replays exactly like this. Airflow "
        "never replays: its scheduler keeps each task's state in a database, and a retry runs that task's "
        "callable again from its first line."),
    "What counts as non-deterministic?": (
        "Anything that can answer differently on the replay than on the first run: the clock (datetime.now, "
        "time.time), randomness (random, uuid4), the iteration order of a set of strings (Python salts "
        "string hashes per process), threads racing, and reading config, files, a database or the network "
        "from workflow code. Changing the code is the same problem (scene 11).\n\n"
        "The rule: the same history must make the code issue the same commands in the same order. So ask the "
        "engine: ctx.now() reads the current workflow task's time from the history, ctx.random() and "
        "ctx.uuid4() draw from a seed the run records. Do I/O in an activity; sort before iterating. "
        "Temporal's Python SDK enforces much of this: its sandbox refuses datetime.now() in workflow code."),
    "How do I un-stick a workflow that hit this error?": (
        "Give it code that replays its history; meanwhile nothing is lost. Temporal fails the workflow task, "
        "not the execution, and retries it: the execution stays Running, its history intact. Three ways out:\n\n"
        "1. Fix forward: revert, or keep the old path for old histories behind workflow.patched() (scene "
        "11).\n\n"
        "2. Reset (`temporal workflow reset`): a new run gets the events up to a point before the "
        "divergence, and the new code carries on from there. Steps after that point run again, under a new "
        "run id, so with new idempotency keys (scene 07): choose the point knowing what they did.\n\n"
        "3. Terminate it and finish or compensate by hand.\n\n"
        "Prevention is cheap: replay saved histories against new code in CI."),
    "How long can a history get?": (
        "In Temporal, 51,200 events or 50 MB: past that the server terminates the execution, and it warns at "
        "10,240 events or 10 MB. A clean ORDER #1001 writes 29 events: WorkflowExecutionStarted; five "
        "workflow tasks of three events each (scheduled, started, completed); four activities of three each "
        "(scheduled, started, completed); WorkflowExecutionCompleted. A workflow that loops over 10,000 "
        "items, one activity each, writes about 60,000: the server terminates it before it ends.\n\n"
        "The cure is continue-as-new (scene 08): close this run and start a fresh one, same workflow id, new "
        "run id, empty history, carrying the state it needs as input."),
}

IN_RAM = ("charge", "hold", "express", "tracking")   # order_id and cents are the inputs; `now` shows on the clock


class Steps(ProcessBox):
    """The process box, with the two shipping steps told apart by the service the carrier recorded;
    where replay is refused, the step the code asked for instead of the recorded one, in red."""

    def alarm(self, run, frame):
        if frame.caption.startswith("STUCK"):
            return divergent(frame), "\u2716 refused: non-determinism"
        return super().alarm(run, frame)

    def done(self, run, frame):
        done = run.world.effects(frame.effects)
        for e in run.world.log[:frame.effects]:
            if e.kind == "ShipPackage":
                done["Ship" + e.ref.split()[-1].capitalize()] += 1
        return done


class Ram(RamPanel):
    def update(self, run, frame):
        ram = None if frame.ram is None else {k: v for k, v in frame.ram.items() if k in IN_RAM}
        super().update(run, replace(frame, ram=ram))


class WallClock(Panel):
    """The machine's clock now and what `wall_clock()` would decide by it; below, what `ctx.now()` read:
    the start of the workflow task that chose the step, which every replay reads again. The lesson in
    two lines."""

    def __init__(self, ax, box):
        super().__init__(ax, box, "the machine's wall clock")
        self.now = self.text(1.5, 3.6, "", fontsize=15, fontweight="bold", family=MONO)
        self.half = self.text(1.5, 8.4, "", fontsize=8)
        self.marker = self.text(1.5, 11.2, "", fontsize=7.5, color=REPLAY)

    def update(self, run, frame):
        self.now.set_text(model.clock_at(run, frame.t))
        morning = model.wall_at(run, frame.t).hour < 12
        self.half.set_text(f"wall_clock() \u2192 {'express' if morning else 'standard'}")
        self.half.set_color(INK if morning else DANGER)
        task = model.clock_read(run.history[:frame.history])
        if task is not None:   # ctx.now() is that workflow task's start, on record in its WorkflowTaskStarted
            at = model.clock_at(run, task.time)
            # two lines: on one it is wider than the panel
            self.marker.set_text(f"ctx.now() = {at} (event {task.event_id})\n\u2192 "
                                 f"{'express' if at < '12' else 'standard'}")
        else:
            self.marker.set_text("")


class Verdict(Panel):
    """What the engine is doing with the code: running it live, replaying it, or refusing it."""

    def __init__(self, ax, box):
        super().__init__(ax, box, "engine")
        self.rows = [self.text(1.5, 3.6 + 2.1 * i, "", fontsize=7) for i in range(4)]

    def update(self, run, frame):
        if frame.caption.startswith("STUCK"):
            lines, color = textwrap.wrap(frame.caption, 50)[:4], DANGER
        elif frame.skull or frame.ram is None:
            lines, color = ["no process holds the order"], MUTED
        elif any(e.type == "WorkflowExecutionCompleted" for e in run.history[:frame.history]):
            lines, color = ["DONE: the history is closed"], INK
        elif frame.replaying:
            lines, color = [f"REPLAY: answering from history, event {frame.cursor}",
                            "the code runs; the steps do not"], REPLAY
        elif run.history:
            lines, color = ["LIVE: each step runs against the world", "and its result is recorded"], INK
        else:
            lines, color = ["LIVE: a plain function, nothing recorded", "its progress is in RAM only"], INK
        for row, text in zip(self.rows, lines + [""] * 4):
            row.set_text(text)
            row.set_color(color)


class History(HistoryPanel):
    """The kit's history panel; on the frame where replay stops, the cursor turns red on the event the
    code contradicted (the index the non-determinism error names)."""

    def update(self, run, frame):
        at = re.search(r"^STUCK: .* at event (\d+):", frame.caption)
        super().update(run, replace(frame, cursor=int(at.group(1))) if at else frame)
        self.cursor.set_facecolor(DANGER if at else REPLAY)


class S03Diagram(Diagram):
    def build(self, ax):
        yield Steps(ax, (1.5, 15, 31, 31), model.STEPS)
        yield Verdict(ax, (1.5, 1.5, 31, 12))
        yield WallClock(ax, (34, 31, 20, 15))
        yield Ram(ax, (55.5, 31, 22, 15), rows=4)
        yield DollarMeter(ax, (79, 31, 19.5, 15), rows=3)
        yield History(ax, (34, 1.5, 64.5, 28), rows=10)


def divergent(frame) -> str | None:
    """The step the code asked for where the history holds another (the non-determinism error's words)."""
    got = re.search(r"the code produced \[ScheduleActivity (\w+)\]", frame.caption)
    return got.group(1) if got else None


def divergent_line(flow, frame) -> int | None:
    """The workflow's line that asks for the divergent step: what replay refused."""
    step = divergent(frame)
    name = step and re.sub(r"(?<!^)(?=[A-Z])", "_", step).lower()   # ShipStandard -> ship_standard
    return next((n for n, line in enumerate(source_of(flow).splitlines(), 1) if name and name in line), frame.line)


def code_panels(run, frame) -> str:
    lit, stuck = running_line(run, frame), frame.caption.startswith("STUCK")
    code = run.controls["code"]
    note = {"wall_clock": "reads the machine's clock: a replay after noon takes the other branch",
            "ctx_now": "asks the engine for the time: recorded once, the same on every replay"}[code]
    panels = [code_html(model.CODE[code].fn.__name__, note, source_of(model.CODE[code]),
                        divergent_line(model.CODE[code], frame) if stuck else lit, frame.replaying,
                        crashed=frame.skull or stuck)]
    if run.controls["strategy"] == "cron":
        panels.append(code_html("cron retry", "the unfinished order is re-run from line one", source_of(strategies.cron_job)))
    return "".join(panels)


def scoreboard_panel(code: str, crash_after: str) -> str:
    rows, lit = [], None
    for i, row in enumerate(model.scoreboard(code)):
        c, d = row["cron"], row["durable"]
        lit = i if row["crash_after"] == crash_after else lit
        rows.append([row["crash_after"],
                     (model.dollars(c["cents"]), "bad" if c["cents"] > 4200 else ""), c["executed"], c["outcome"],
                     (model.dollars(d["cents"]), "bad" if d["cents"] > 4200 else ""), d["replayed"], d["executed"],
                     (d["outcome"], "bad" if d["outcome"] != "completed" else "good")])
    return scoreboard_html(f"Scoreboard (code={code}): every cell is a run of the engine", "crash after",
                           [("cron retry", ["$", "steps run", "outcome"]),
                            ("replay (durable)", ["$", "replayed", "executed", "outcome"])], rows, lit,
                           "replayed: steps answered from the history; executed / run: steps that touched the world")


class Scene(SceneView):
    def __init__(self, **controls):
        self.board = widgets.HTML()
        self.board.add_class("ds-board")
        super().__init__(model, S03Diagram(), code_panels, QUESTIONS, **controls)
        kids = list(self.widget.children)
        self.widget.children = kids[:-2] + [self.board] + kids[-2:]   # under the outcome, above code and chat

    def simulate(self):
        super().simulate()
        self.board.value = scoreboard_panel(self.values["code"], self.values["crash_after"])


def show(**controls):
    """The interactive scene: `show(code="wall_clock", crash_after="ShipExpress")`."""
    return Scene(**controls).widget


def try_it(**controls):
    """Run one configuration headless and print what the scene teaches."""
    _try_it(model, **controls)


def scoreboard(code: str = "ctx_now"):
    """Print the scoreboard: cron retry vs replay for every crash point, each cell a run."""
    print("\n".join(model.scoreboard_lines(code)))
