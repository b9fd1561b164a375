"""What a view reads of workflow code while it runs: its local variables (the RAM panel) and the line
it is paused at (the lit code line). A `Machine` is `Watched`; the engine never reads any of this.
"""
from __future__ import annotations

import sys


class Watched:
    """The watching half of `simcore.replay.Machine`, which holds `_gen` (the running generator) and
    `workflow`. While someone watches (`on_step`), each step remembers the frame's locals and line as
    the code leaves it, so the last state stays visible after the generator is gone."""
    _last_ram: dict = {}            # (replaced, never changed in place)
    _last_line: int | None = None

    @property
    def ram(self) -> dict | None:
        """The workflow's local variables right now (None once the generator is gone)."""
        frame = self._gen.gi_frame if self._gen else None
        local = frame.f_locals if frame is not None else self._last_ram
        return {k: v for k, v in local.items() if k != "ctx" and not k.startswith("_")}

    @property
    def line(self) -> int | None:
        """The line of the workflow's source the code is paused at, counted from its `def` line."""
        frame = self._gen.gi_frame if self._gen else None
        lineno = frame.f_lineno if frame is not None else self._last_line
        return lineno - self.workflow.fn.__code__.co_firstlineno + 1 if lineno else None

    def _watched(self, step, value):
        code, seen = self.workflow.fn.__code__, {}

        def watch(frame, event, arg):
            if event == "return" and frame.f_code is code:
                seen.update(frame.f_locals)
                self._last_line = frame.f_lineno
        outer = sys.getprofile()
        sys.setprofile(watch)
        try:
            return step(value)
        finally:
            sys.setprofile(outer)
            self._last_ram = seen
