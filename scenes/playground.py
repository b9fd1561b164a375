"""Bring your own workflow: the scenes' diagram, crash controls and chat on a learner's own code.

    from scenes import playground
    playground.show(book_trip, [quote_trip, charge_card, book_flight], ["trip-7"])

The model is `simcore.playground.Playground` (crash points from the crash-free run, the sweep, the
clear messages); this module draws it with the kit's SceneView and panels. The process box lists the
activity calls the run made, in order (a loop's three calls are three rows), so its rows come from
the run, not from a scene's fixed list of steps.
"""
from __future__ import annotations

import html
from collections import Counter

import ipywidgets as widgets

from simcore.scenarios import ControlError, resolve
from simcore.playground import SAVED, Playground, PlaygroundError, activity, workflow  # noqa: F401 (re-exported)

from .kit.code import code_html, running_line, source_of
from .kit.diagram import Diagram
from .kit.panels import DANGER, DONE, INK, KILLED, LIT, MONO, MUTED, REPLAY, TODO, HistoryPanel, Panel, ProcessBox, \
    RamPanel
from .kit.view import SceneView

__all__ = ["show", "try_it", "crash_points", "sweep", "workflow", "activity", "Playground", "PlaygroundError", "SAVED"]
MAX_ROWS = 10   # calls past this share the last row of the process box

QUESTIONS = {
    "Why does cron repeat a step that passes a key?": (
        "Because the key is `act.idempotency_key`: the run id and the activity id. A cron job starts the "
        "function again as a new run, with a new run id, so every call carries a key the world has never "
        "seen. The durable engine replays the same run: same run id, same activity ids, same keys, and the "
        "world answers a repeat with its first result."),
    "What does the key mode change?": (
        "Nothing in your code. With \"no key\" the playground hands your activities a world that drops "
        "every key they pass, as if you had never written `key=act.idempotency_key`. Crash a step after "
        "its effect and before its record: the durable engine runs the activity again, and only a key "
        "stops the world doing it twice."),
    "Which of my steps need a key?": (
        "Every step whose effect must not happen twice: a charge, a booking, an email. Run the sweep under "
        "durable with the keys dropped: the columns marked `!` are those steps. A step that only reads "
        "(a quote) needs none: doing it twice changes nothing."),
    "Why did my change fail replay?": (
        "The engine re-runs your new code against the history the old code wrote. Where the new code asks "
        "for something other than what the history recorded at that point (another activity, in another "
        "order), the engine stops with NonDeterminismError instead of guessing. Add new steps after the "
        "recorded ones, or start a new workflow for the new code."),
}


class CallBox(ProcessBox):
    """The process box with one row per activity call (by activity id), lit and ticked per call: by the
    effects it made (a repeat in red), or, for a call that makes none (a read), once it has run."""

    def __init__(self, ax, box, playground: Playground):
        calls = sorted(playground.reference.watch.calls.items())
        self.ids = [str(i) for i, _ in calls]
        self.names = [name for _, (name, _) in calls]
        rows = [f"{name}({', '.join(map(repr, args))})" for _, (name, args) in calls]
        if len(rows) > MAX_ROWS:
            rows = rows[:MAX_ROWS - 1] + [f"... {len(rows) - MAX_ROWS + 1} more calls"]
        super().__init__(ax, box, [r if len(r) <= 44 else r[:43] + "\u2026" for r in rows] or ["(no activity calls)"],
                         title=f"process: {playground.workflow.name}")

    def row_of(self, call) -> int | None:
        if call is None or call not in self.ids:
            return None
        return min(self.ids.index(call), len(self.steps) - 1)

    def update(self, run, frame):
        made = Counter(run.watch.effect_calls[:frame.effects])
        call = frame.extra.get("call")
        at = self.row_of(call)
        named = at is not None and frame.step == run.watch.calls.get(int(call), (None,))[0]
        ran = {c for c, t in run.watch.returned.items() if t <= frame.t}
        red, done = (at if frame.skull else None), {}
        for i, (patch, count) in enumerate(zip(self.boxes, self.counts)):
            ids = self.ids[i:] if i == len(self.steps) - 1 else self.ids[i:i + 1]
            n = sum(made[c] for c in ids)
            did = done[self.steps[i]] = bool(n) or any(c in ran for c in ids)   # its effects, or a read that ran
            lit = i == at and named and not frame.skull
            failing = lit and frame.kind == "failed"   # its attempt came back failed (as the kit's box draws it)
            patch.set_facecolor(KILLED if i == red else LIT if lit else DONE if did else TODO)
            patch.set_edgecolor(DANGER if i == red or failing else REPLAY if lit and frame.replaying else
                                INK if lit else MUTED)
            patch.set_linewidth(2.2 if i == red or failing else 0.8)
            count.set_text(("\u2713" if n <= 1 else f"\u2713 x{n}") if did else "")
            count.set_color(DANGER if n > 1 else INK)
        self.wash.set_visible(frame.skull)
        self.killed.set_text("\u2620 killed by the crash" if frame.skull else "")
        self.skull.hide()
        if frame.skull:
            self._place_skull(red, done)


class EffectsPanel(Panel):
    """What the world saw so far, per kind of effect, against the crash-free run (a repeat in red)."""

    def __init__(self, ax, box, playground: Playground, rows=6):
        super().__init__(ax, box, "world: effects so far / crash-free")
        self.clean = playground.reference.world.effects()
        self.rows = [self.text(1.5, 4.2 + 2.6 * i, "", family=MONO) for i in range(rows)]

    def update(self, run, frame):
        done = run.world.effects(frame.effects)
        kinds = list(self.clean) + [k for k in done if k not in self.clean]
        texts = [(f"{k[:16]:<16} {done.get(k, 0)} of {self.clean.get(k, 0)}", done.get(k, 0) > self.clean.get(k, 0))
                 for k in kinds]
        if run.world.statement(frame.effects):
            texts = texts[:len(self.rows) - 1] + [(f"card total ${run.world.statement_cents(frame.effects) / 100:,.2f}",
                                                   False)]
        for row, (text, bad) in zip(self.rows, texts + [("", False)] * len(self.rows)):
            row.set_text(text)
            row.set_color(DANGER if bad else INK)


class PlaygroundDiagram(Diagram):
    def __init__(self, playground: Playground):
        self.playground = playground
        super().__init__()

    def build(self, ax):
        yield CallBox(ax, (2, 4, 40, 42), self.playground)
        yield RamPanel(ax, (44, 26, 26, 20), rows=6)
        yield EffectsPanel(ax, (72, 26, 26, 20), self.playground)
        yield HistoryPanel(ax, (44, 4, 54, 20))


NOTES = {"plain": "a plain function: progress lives only in local variables",
         "cron": "a plain function, re-run from line one by a cron job until it finishes",
         "durable": "run by the durable engine: each result is recorded, and a crash replays from the history"}


def code_panels(playground: Playground):
    def panels(run, frame) -> str:
        keys = "" if run.controls.get("key") != "none" else "; the world drops every idempotency key"
        out = [code_html(f"workflow {playground.workflow.name}", NOTES[run.controls.get("strategy", "plain")] + keys,
                         source_of(playground.workflow), running_line(run, frame), frame.replaying,
                         crashed=frame.skull)]
        call = frame.extra.get("call")
        name = run.watch.calls.get(int(call), (None,))[0] if call else None
        act = next((a for a in playground.activities if a.name == name), None)
        if act is not None:
            out.append(code_html(f"activity {act.name}", "the activity of the call lit in the process box "
                                 "(it runs once per attempt)", source_of(act)))
        return "".join(out)
    return panels


class Scene(SceneView):
    """The playground on screen: a SceneView, plus the "break it" sweep under the chat."""

    def __init__(self, playground: Playground, **controls):
        self.playground = playground
        super().__init__(playground, PlaygroundDiagram(playground), code_panels(playground), QUESTIONS, **controls)
        self.table = widgets.HTML()
        self.table.add_class("ds-sweep")
        button = widgets.Button(description="break it: crash at every point", icon="bolt",
                                tooltip="run the workflow crashed at every point, under each strategy",
                                layout=widgets.Layout(width="auto"))
        button.add_class("ds-break-it")
        button.on_click(lambda _: self.break_it())
        self.widget.children += (widgets.VBox([button, self.table]),)
        self.refused = widgets.HTML()   # why the controls just chosen cannot run (the screen keeps the last run)
        self.widget.children = self.widget.children[:2] + (self.refused,) + self.widget.children[2:]

    def _set_controls(self, changes):
        """As a learner sets them; a combination the playground cannot run (a workflow that waits for a
        signal, under plain or cron) is said above the diagram, and the controls go back to the run shown."""
        shown = dict(self.values)
        try:
            super()._set_controls(changes)
        except PlaygroundError as err:
            self.values = shown
            self._follow()
            chosen = ", ".join(f"{k}={v}" for k, v in changes.items())
            self.refused.value = problem_html(err, f"Not run: {chosen}").value
            return
        self.refused.value = ""

    def break_it(self) -> str:
        """The sweep, with this view's key mode, as a table under the button."""
        try:
            text = self.playground.sweep_table(self.playground.sweep(key=self.values["key"]))
        except PlaygroundError as err:
            text = f"PlaygroundError: {err}"
        self.table.value = f"<pre style='font-size:12px'>{html.escape(text)}</pre>"
        return text


def problem_html(err: Exception, title: str = "The playground cannot run this code") -> widgets.HTML:
    return widgets.HTML(f"<div class='ds-playground-error' style='border:2px solid {DANGER};border-radius:6px;"
                        f"padding:6px 10px'><b>{html.escape(title)}</b><br>{html.escape(str(err))}</div>")


def show(workflow_fn, activities, args=(), **controls):
    """The interactive playground for your workflow. Bad code gets a message naming its line."""
    try:
        playground = Playground(workflow_fn, activities, args)
    except PlaygroundError as err:
        return problem_html(err)
    try:
        return Scene(playground, **controls).widget
    except (PlaygroundError, ControlError) as err:
        if "strategy" in controls or not isinstance(err, PlaygroundError):
            return problem_html(err)
        try:   # (a workflow that waits for a signal: plain, the default, cannot run it; durable can)
            scene = Scene(playground, **controls, strategy="durable")
        except (PlaygroundError, ControlError):
            return problem_html(err)
        scene.refused.value = problem_html(err, "Opened on strategy 'durable': plain, the default, cannot run it").value
        return scene.widget


def try_it(workflow_fn, activities, args=(), **controls) -> None:
    """One configuration, headless: what the playground would show, printed (the checked cells)."""
    try:
        p = Playground(workflow_fn, activities, args)
        values = resolve(p, controls)
        run = p.simulate(**values)
    except (PlaygroundError, ControlError) as err:
        print(f"{type(err).__name__}: {err}")
        return
    print(", ".join(f"{k}={v}" for k, v in values.items()))
    print("\n".join(p.outcome_lines(run)))


def crash_points(workflow_fn, activities, args=()) -> None:
    """Print every point the crash-free run reached: the crash control's choices."""
    try:
        p = Playground(workflow_fn, activities, args)
    except PlaygroundError as err:
        print(f"PlaygroundError: {err}")
        return
    print("\n".join(p.points))


def sweep(workflow_fn, activities, args=(), strategies=("plain", "cron", "durable"), key="as written") -> None:
    """Print the "break it" table: crashed at every point under each strategy, effects per kind."""
    try:
        p = Playground(workflow_fn, activities, args)
        rows = p.sweep(strategies, key)
    except PlaygroundError as err:
        print(f"PlaygroundError: {err}")
        return
    print(f"{p.workflow.name}, keys {'dropped' if key == 'none' else 'as written'}; ! = more than the crash-free run")
    print(p.sweep_table(rows))
