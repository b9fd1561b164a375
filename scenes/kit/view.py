"""A scene on screen: controls, the diagram, the player, the lit code line, outcome lines, the chat.

Changing a control re-runs the simulation; the player walks through the run's frames. Every number
shown comes from the run. Widgets carry CSS classes (`ds-...`) that the browser tests find them by.

The layout keeps what a learner watches on one screen at 1366 x 768: the diagram fills the column,
the player sits under it, and under the player the code line running at this frame (`ds-now`, the
lit line with one either side); the full code panels, the outcome and the chat follow. The outcome
follows the frame ("so far: ...") and then gives the end of the run, labelled as such.
"""
from __future__ import annotations

import gc
import html
import threading

import ipywidgets as widgets

from simcore.scenarios import resolve

from .chat import Chat
from .code import STYLE, now_strip, split_engine
from .labels import control_label, label, tooltip
from .panels import HistoryPanel

BASE_MS = 700            # one frame at 1x
PLAY_SECONDS = 40        # a run opens at the slowest speed that plays it in about this long
SPEEDS = (0.5, 1, 2, 4, 8, 16)
# Runs a view keeps, by controls: going back to the controls before runs nothing. Not more: every run
# kept is objects for each full garbage collection to walk (scene 06: 53-59 ms with one, 89 with 4, 118
# with 8), and a view is never freed (ipywidgets keeps every widget it made, and the widgets the view).
KEPT = 2
# The kinds of frame the player's "next incident" stops at (a frame's kind is set where it is made: the
# engine's incidents, a failed attempt, a refused message, a scene's outage); the others (a timer fired, a
# signal recorded, a worker started, a replay) are the machinery working as it should.
INCIDENTS = frozenset({"crash", "stuck", "unreadable", "lease", "sticky", "stale", "retry", "failed", "lost",
                       "refused", "inline", "pause", "deploy", "code", "unhandled", "outage"})


def is_incident(frame) -> bool:
    return frame.skull or frame.kind in INCIDENTS


def is_crash(frame) -> bool:
    return frame.skull or frame.kind == "stuck"


def opening_speed(frames: int) -> float:
    """The slowest speed at which the run plays in about PLAY_SECONDS."""
    return next((s for s in SPEEDS if frames * BASE_MS / s / 1000 <= PLAY_SECONDS), SPEEDS[-1])


class SceneView:
    def __init__(self, model, diagram, code_panels, questions: dict[str, str], **controls):
        """`model` is a simcore scenario module; `code_panels(run, frame) -> html` draws the code."""
        self.model, self.diagram, self.code_panels = model, diagram, code_panels
        self.values = resolve(model, controls)
        made = {c.name: self._control(c) for c in model.CONTROLS}
        self.controls = {name: w for name, (w, _) in made.items()}   # the widgets that hold the values
        self.image = _classed(widgets.Image(format="png"), "ds-diagram")
        self.frame_text = _classed(widgets.HTML(layout=widgets.Layout(flex="1 1 auto", min_width="0")), "ds-frame")
        self.outcome = _classed(widgets.HTML(), "ds-outcome")
        self.now = _classed(widgets.HTML(), "ds-now-box")
        self.code = _classed(widgets.HTML(), "ds-code-panels")
        self.engine_code = _classed(widgets.HTML(), "ds-engine-panels")
        self.engine = _classed(widgets.Accordion(children=[self.engine_code], titles=("the engine's source",),
                                                 selected_index=None), "ds-engine-source")
        self.engine.layout.display = "none"
        self.chat = Chat(questions)
        self.play = _classed(widgets.Play(interval=BASE_MS, min=0, max=0, step=1, show_repeat=False,
                                          tooltip="play / pause the run", layout=widgets.Layout(flex="0 0 auto")),
                            "ds-play")
        # (the scrubber's width fixed: the buttons after it stay put; one layout and style for every scrubber)
        self._scrub_look = dict(layout=widgets.Layout(width="260px", flex="0 0 auto", margin="0 14px 0 0"),
                                style=widgets.SliderStyle())
        self.scrub = self._scrubber(0)
        back = self._button("\u25c0", "step: one frame back", "ds-step-back", lambda: self._nudge(-1), "36px")
        fwd = self._button("\u25b6", "step: one frame on", "ds-step", lambda: self._nudge(+1), "36px")
        self.next_incident = self._button("next incident", "jump to the next crash, timeout, lost message "
                                          "or refused completion", "ds-next-incident", self._to_incident, "auto")
        self.to_crash = self._button("jump to the crash", "jump to the frame where the process dies (or "
                                     "replay gets stuck)", "ds-jump-crash", self._to_crash, "auto")
        self.speed = widgets.Dropdown(options=[(f"{s:g}\u00d7", s) for s in SPEEDS], value=1,
                                      layout=widgets.Layout(width="64px", flex="0 0 auto"))
        speed = _classed(_labelled("speed", "playing speed: 1\u00d7 is one frame every 0.7 s", self.speed), "ds-speed")
        self.speed.observe(lambda ch: setattr(self.play, "interval", int(BASE_MS / ch["new"])), names="value")
        self.histories = [p for p in diagram.panels if isinstance(p, HistoryPanel)]
        self.every_event = _classed(widgets.ToggleButton(
            value=False, description="history: every event", icon="list",
            tooltip="the history folds each workflow task's three events (WorkflowTaskScheduled, -Started, "
                    "-Completed) into one row; press to list every event", layout=widgets.Layout(width="auto")),
            "ds-history-fold")
        self.every_event.observe(lambda ch: self.show_every_event(ch["new"]), names="value")
        self.player = _classed(widgets.HBox([self.play, back, fwd, self.scrub, speed, self.next_incident,
                                             self.to_crash, self.frame_text],
                                            layout=widgets.Layout(flex_flow="row nowrap", align_items="center")),
                               "ds-player")
        self.widget = _classed(widgets.VBox([
            widgets.HTML(STYLE + f"<h3 class='ds-title'>Scene {model.NUMBER:02d} · {html.escape(model.TITLE)}</h3>"),
            widgets.HBox([shown for _, shown in made.values()] + ([self.every_event] if self.histories else []),
                         layout=widgets.Layout(flex_flow="row wrap")),
            self.image, self.player, self.now, self.outcome, widgets.VBox([self.code, self.engine]), self.chat,
        ]), "ds-scene")
        self.run, self._quiet, self.index = None, False, 0
        self._runs: dict = {}   # controls -> run, the most recent last (a run is a function of its controls)
        # JupyterLab 4 with ipykernel 7 may deliver widget messages on several threads at once: one
        # figure cannot draw two frames at the same time, so every change to the view takes this lock.
        self._lock = threading.RLock()
        # What exists before the first run (matplotlib, ipywidgets, the kit, this view's widgets and its
        # diagram) lasts as long as the kernel: frozen once (gc.freeze), it is no longer walked by every
        # full garbage collection, which then walks what came since, mostly the runs (DESIGN, 27).
        if not gc.get_freeze_count():
            gc.freeze()
        self.simulate()

    # -- what the controls and the player do ----------------------------------------------------
    def set_controls(self, **changes):
        """Set controls (as a learner would) and re-run; also what the widgets call."""
        with self._lock:
            self._set_controls(changes)

    def _set_controls(self, changes):
        self.values = resolve(self.model, {**self.values, **changes})
        self._follow()
        self.simulate()

    def _follow(self):
        """The widgets follow the values, without re-running once per widget."""
        self._quiet = True
        try:
            for name, w in self.controls.items():
                w.value = self.values[name]
        finally:
            self._quiet = False

    def simulate(self):
        with self._lock:
            self._simulate()

    def _simulate(self):
        key = tuple(self.values.items())
        run = self._runs.pop(key, None)
        self.run = self._runs[key] = run if run is not None else self.model.simulate(**self.values)
        if len(self._runs) > KEPT:
            del self._runs[next(iter(self._runs))]
        frames = self.run.frames
        self.play.max, self.play.value = len(frames) - 1, 0
        if self.scrub.max != len(frames) - 1:   # a new scrubber: see `_scrubber`
            old, self.scrub = self.scrub, self._scrubber(len(frames) - 1)
            self.player.children = [self.scrub if w is old else w for w in self.player.children]
            old.link.unlink()
            old.close()
        self.incidents = [i for i, f in enumerate(frames)   # a run of frames of one kind (an outage) is one stop
                          if is_incident(f) and not (i and is_incident(frames[i - 1]) and f.kind == frames[i - 1].kind)]
        self.crashes = [i for i, f in enumerate(frames) if is_crash(f)]
        self.next_incident.disabled = not self.incidents
        self.to_crash.disabled = not self.crashes
        self.speed.value = opening_speed(len(frames))
        self.end_lines = "\n".join(self.model.outcome_lines(self.run))
        if self.scrub.value != 0:
            self.scrub.value = 0   # the observer draws frame 0
        else:
            self.goto(0)

    def goto(self, index: int):
        with self._lock:
            self._goto(index)

    def _goto(self, index: int):
        run = self.run
        index = max(0, min(index, len(run.frames) - 1))
        frame = run.frames[index]
        self.image.value = self.diagram.render(run, index)
        when = self.diagram.when(frame)
        self.frame_text.value = html.escape(f"frame {index + 1} / {len(run.frames)} · {when} · {frame.caption}")
        self.frame_text.tooltip = frame.caption
        code = self.code_panels(run, frame)
        self.now.value = now_strip(code)
        self.code.value, engine = split_engine(code)
        if engine:
            self.engine_code.value = engine
        self.engine.layout.display = None if engine else "none"
        self.outcome.value = outcome_html(run, index, self.end_lines, when,
                                          getattr(self.model, "so_far", so_far)(run, frame))
        self.index = index

    def show_every_event(self, every: bool = True):
        """The history panel lists every event (True) or folds each workflow task into one row."""
        with self._lock:
            for panel in self.histories:
                panel.fold = not every
            self.every_event.value = every
            if self.run is not None:
                self._goto(self.index)

    def _nudge(self, delta):
        self.scrub.value = max(0, min(self.scrub.value + delta, self.scrub.max))

    def _to_incident(self):
        """The next incident after this frame; after the last one, the first again."""
        later = [i for i in self.incidents if i > self.index]
        if self.incidents:
            self.scrub.value = (later or self.incidents)[0]

    def _to_crash(self):
        later = [i for i in self.crashes if i > self.index]
        if self.crashes:
            self.scrub.value = (later or self.crashes)[0]

    def _scrubber(self, last: int):
        """A slider over frames 0 to `last`. A run of another length gets a new one: the slider under
        ipywidgets' (noUiSlider 15) keeps the range it was first drawn with for its Home and End keys, so
        End on a slider whose max had changed went to the previous run's last frame."""
        scrub = _classed(widgets.IntSlider(min=0, max=last, readout=False, tooltip="drag: any frame of the run",
                                           **self._scrub_look), "ds-scrub")
        scrub.observe(lambda ch: self.goto(ch["new"]), names="value")
        scrub.link = widgets.jslink((self.play, "value"), (scrub, "value"))
        return scrub

    def _button(self, text, tip, css, action, width):
        b = _classed(widgets.Button(description=text, tooltip=tip, layout=widgets.Layout(width=width, flex="0 0 auto")),
                     css)
        b.on_click(lambda _: action())
        return b

    def _changed(self, change):
        if not self._quiet:
            self.set_controls(**{change["owner"].description_name: change["new"]})

    def _control(self, c):
        """The widget that holds control `c`'s value, and what is shown of it (the same, or it and its label)."""
        options = [(label(c.name, v), v) for v in c.choices]
        tips = [f"{label(c.name, v)}: {tooltip(c.name, v, c.help)}" for v in c.choices]
        if len(c.choices) <= 4:
            w = widgets.ToggleButtons(options=options, value=self.values[c.name], description=control_label(c.name),
                                      tooltips=tips, tooltip=c.help, style={"description_width": "initial",
                                                                            "button_width": "auto"})
        else:   # with a label of its own: a Dropdown with a description shows no tooltip (ipywidgets 8)
            w = widgets.Dropdown(options=options, value=self.values[c.name], layout=widgets.Layout(width="auto"))
        w.description_name = c.name
        w.observe(self._changed, names="value")
        shown = w if isinstance(w, widgets.ToggleButtons) else \
            _labelled(control_label(c.name), "\n".join([c.help, *tips]), w, above=True)
        return w, _classed(shown, f"ds-control-{c.name}")


def _labelled(text: str, tip: str, widget, above: bool = False):
    """`widget` with its label (beside it, or above it as the toggle buttons have theirs), both with the
    tooltip `tip`: a Dropdown given a description drops its tooltip (ipywidgets 8 puts it on neither the
    label nor the list), so the label is a widget of its own."""
    widget.tooltip = tip   # without a description, a Dropdown puts it on its list
    label = widgets.HTML(f'<span class="ds-label" title="{html.escape(tip)}">{html.escape(text)}</span>')
    if above:   # as high as a row of toggle buttons with their label: the controls' row keeps its height
        label.layout = widgets.Layout(height="22px", margin="0 2px")
        return widgets.VBox([label, widget], layout=widgets.Layout(flex="0 0 auto", margin="0 12px 0 0",
                                                                   align_items="flex-start"))
    return widgets.HBox([label, widget], layout=widgets.Layout(align_items="center", flex="0 0 auto"))


def _classed(widget, css: str):
    widget.add_class(css)
    return widget


def so_far(run, frame) -> str:
    """What has happened by this frame, read from the frame's counts into the world's log and the history.
    A scene whose story is not the card (a fleet, a DAG) defines its own `so_far(run, frame)` in its model."""
    lines = run.world.statement(frame.effects)
    charges = sum(e.cents > 0 for e in lines)
    refunds = sum(e.cents < 0 for e in lines)
    text = (f"${run.world.statement_cents(frame.effects) / 100:,.2f} on the card, {charges:,} charge{'s' * (charges != 1)}"
            + (f", {refunds:,} refund{'s' * (refunds != 1)}" if refunds else ""))
    if run.history:
        text += f" · {frame.history:,} event{'s' * (frame.history != 1)} in the history"
    return text


def outcome_html(run, index: int, end_lines: str, when: str, now: str) -> str:
    """`when`: the frame's moment as the diagram's clock says it; `now`: what has happened by then."""
    last = len(run.frames) - 1
    where = "at the end of the run" if index == last else f"so far (frame {index + 1}, {when})"
    return (f'<div class="ds-sofar"><b>{where}:</b> {html.escape(now)}</div>'
            f'<div class="ds-end-title"><b>at the end of the run</b> (frame {last + 1}):</div>'
            f'<pre>{html.escape(end_lines)}</pre>')


def try_it(model, **controls) -> None:
    """Run one configuration and print its outcome lines: the notebook's checked cells."""
    values = resolve(model, controls)
    run = model.simulate(**values)
    print(", ".join(f"{k}={v}" for k, v in values.items()))
    print("\n".join(model.outcome_lines(run)))
