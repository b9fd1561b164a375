"""A scene on screen: controls, the diagram, the player, code panels, outcome lines, the chat.

Changing a control re-runs the simulation; the player walks through the run's frames. Every number
shown comes from the run. Widgets carry CSS classes (`ds-...`) that the browser tests find them by.
"""
from __future__ import annotations

import html
import threading

import ipywidgets as widgets

from simcore.scenarios import resolve

from .chat import Chat
from .code import STYLE


class SceneView:
    def __init__(self, model, diagram, code_panels, questions: dict[str, str], **controls):
        """`model` is a simcore scenario module; `code_panels(run, frame) -> html` draws the code."""
        self.model, self.diagram, self.code_panels = model, diagram, code_panels
        self.values = resolve(model, controls)
        self.controls = {c.name: self._control(c) for c in model.CONTROLS}
        self.image = _classed(widgets.Image(format="png", layout=widgets.Layout(width="800px")), "ds-diagram")
        self.frame_text = _classed(widgets.HTML(), "ds-frame")
        self.outcome = _classed(widgets.HTML(), "ds-outcome")
        self.code = widgets.HTML()
        self.chat = Chat(questions)
        self.play = _classed(widgets.Play(interval=700, min=0, max=0, step=1, show_repeat=False), "ds-play")
        self.scrub = _classed(widgets.IntSlider(min=0, max=0, readout=False, layout=widgets.Layout(width="420px")),
                              "ds-scrub")
        widgets.jslink((self.play, "value"), (self.scrub, "value"))
        back = _classed(widgets.Button(description="\u25c0 step", layout=widgets.Layout(width="80px")), "ds-step-back")
        fwd = _classed(widgets.Button(description="step \u25b6", layout=widgets.Layout(width="80px")), "ds-step")
        back.on_click(lambda _: self._nudge(-1))
        fwd.on_click(lambda _: self._nudge(+1))
        self.scrub.observe(lambda ch: self.goto(ch["new"]), names="value")
        player = widgets.HBox([self.play, back, fwd, self.scrub])
        self.widget = _classed(widgets.VBox([
            widgets.HTML(STYLE + f"<h3>Scene {model.NUMBER:02d} · {html.escape(model.TITLE)}</h3>"),
            widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap")),
            self.image, self.frame_text, player, self.outcome, self.code, self.chat,
        ]), "ds-scene")
        self.run, self._quiet = None, False
        # JupyterLab 4 with ipykernel 7 may deliver widget messages on several threads at once: one
        # figure cannot draw two frames at the same time, so every change to the view takes this lock.
        self._lock = threading.RLock()
        self.simulate()

    # -- what the controls and the player do ----------------------------------------------------
    def set_controls(self, **changes):
        """Set controls (as a learner would) and re-run; also what the widgets call."""
        with self._lock:
            self._set_controls(changes)

    def _set_controls(self, changes):
        self.values = resolve(self.model, {**self.values, **changes})
        self._quiet = True   # the widgets follow the values without re-running once per widget
        try:
            for name, w in self.controls.items():
                w.value = self.values[name]
        finally:
            self._quiet = False
        self.simulate()

    def simulate(self):
        with self._lock:
            self._simulate()

    def _simulate(self):
        self.run = self.model.simulate(**self.values)
        last = len(self.run.frames) - 1
        self.play.max = self.scrub.max = last
        self.outcome.value = "<pre>" + html.escape("\n".join(self.model.outcome_lines(self.run))) + "</pre>"
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
        self.frame_text.value = html.escape(f"frame {index + 1} / {len(run.frames)} · {frame.t:g}s · {frame.caption}")
        self.code.value = self.code_panels(run, frame)
        self.index = index

    def _nudge(self, delta):
        self.scrub.value = max(0, min(self.scrub.value + delta, self.scrub.max))

    def _changed(self, change):
        if not self._quiet:
            self.set_controls(**{change["owner"].description_name: change["new"]})

    def _control(self, c):
        cls = widgets.ToggleButtons if len(c.choices) <= 4 else widgets.Dropdown
        w = cls(options=list(c.choices), value=self.values[c.name], description=c.name.replace("_", " "),
                tooltip=c.help, style={"description_width": "initial"})
        w.description_name = c.name
        w.observe(self._changed, names="value")
        return _classed(w, f"ds-control-{c.name}")


def _classed(widget, css: str):
    widget.add_class(css)
    return widget


def try_it(model, **controls) -> None:
    """Run one configuration and print its outcome lines: the notebook's checked cells."""
    values = resolve(model, controls)
    run = model.simulate(**values)
    print(", ".join(f"{k}={v}" for k, v in values.items()))
    print("\n".join(model.outcome_lines(run)))
