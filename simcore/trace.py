"""What a run records for the views: one frame per visible change.

A frame is a small immutable snapshot. It holds counts into the run's logs rather than copies
(`effects`: the first N entries of the world's log have happened; `history`: the first N events are
durable), so a thousand frames cost little and every panel reads the same ground truth.
"""
from __future__ import annotations

from dataclasses import field

from . import events as ev
from .replay import running
from .workflow import First, RecordMarker, ScheduleActivity, StartTimer, WaitSignal


@ev.frozen
class Frame:
    t: float = 0.0
    caption: str = ""
    step: str | None = None       # the step lit in the process box
    line: int | None = None       # the workflow source line running (1 = the `def` line)
    ram: dict | None = None       # the process's live variables, as text; None: no process, or wiped
    replaying: bool = False       # the code is being answered from history
    cursor: int | None = None     # the history event being replayed
    skull: bool = False
    after: str | None = None      # at the skull: the step whose result the process held (it died before the next)
    kind: str = ""                # what happened, where something did ("crash", "retry", "refused", ...);
                                  # "" for a routine frame. The player's "next incident" stops by it.
    effects: int = 0              # world.log[:effects] has happened
    history: int = 0              # the first `history` events are durable
    extra: dict = field(default_factory=dict)   # what a scene adds (workers, queue, ...)


def show(value, width: int = 22) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


class Recorder:
    """Collects frames. The engine and the strategies call it; it never changes what they do."""

    def __init__(self, now, effects, history, detail: bool = True):
        self.now, self.effects, self.history = now, effects, history   # () -> number, each
        self.detail = detail   # False: no routine frames (a scene with many orders samples instead)
        self.frames: list[Frame] = []
        self.state = Frame()

    def frame(self, caption: str, **changes) -> Frame:
        f = ev.copy_with(self.state, **{"t": self.now(), "caption": caption, "effects": self.effects(),
                                        "history": self.history(), "skull": False, "kind": "", **changes})
        self.state = f
        self.frames.append(f)
        return f

    def note(self, caption: str, **changes) -> None:
        """A frame of the run's routine (a result returned, a record committed, an attempt that failed):
        kept only with `detail`."""
        if self.detail:
            self.frame(caption, **changes)

    @property
    def step_hook(self):
        """What a replay machine calls at each command (`on_step`); None for a trace that keeps no routine
        frames, so the machine need not watch the code's local variables at every step."""
        return self.on_step if self.detail else None

    def on_step(self, machine, cmd, event, replayed: bool) -> None:
        """Called by a replay machine each time the code yields a command."""
        if not self.detail:
            return
        ram, kind = {k: show(v) for k, v in (machine.ram or {}).items()}, ""
        how = "answered from history (replay)" if replayed else "live"
        if isinstance(cmd, ScheduleActivity):
            verb = "answered from history, not run (replay)" if replayed else "called"
            step, caption = cmd.activity.name, f"{cmd.activity.name}: {verb}"
        elif isinstance(cmd, RecordMarker):
            step, caption = self.state.step, f"ctx.{cmd.name}() = {show(event.value, 30)} ({how})"
        elif isinstance(cmd, StartTimer):
            step, caption = "timer", f"sleep {cmd.seconds:g}s ({how})"
        elif isinstance(cmd, (WaitSignal, First)):
            step, caption = self.state.step, f"waits: {cmd.describe()}"
        elif machine.closed and isinstance(event, ev.WorkflowExecutionFailed):
            step, caption, kind = None, f"the workflow fails: {event.message}", "failed"
        elif machine.closed and not isinstance(event, ev.WorkflowExecutionCanceled):
            step, caption = None, f"the workflow returns: {show(machine.result)}"
        elif machine.closed:
            step, caption = None, "the workflow ends: cancelled"
        else:
            step, caption = self.state.step, f"{event.summary()} ({how})"
        self.frame(caption, step=step, line=machine.line, ram=ram, replaying=replayed,
                   cursor=event.event_id if replayed and event else None, kind=kind)

    def on_effect(self, kind: str) -> None:
        """Called by the world after each effect. Effects made by activities get their frames from the
        engine; one made by workflow code itself (inline, invisible to the engine) gets one here."""
        m = running()
        if m is None or not self.detail:
            return
        replay = m.ctx.is_replaying
        self.frame(f"{kind} done INLINE by workflow code" + (" (during replay!)" if replay else ""),
                   step=kind, line=m.line, ram={k: show(v) for k, v in (m.ram or {}).items()}, replaying=replay,
                   kind="inline")

    def crash(self, point: str, after: str | None = None) -> None:
        self.frame(f"CRASH ({point}): the process dies and its RAM is gone", ram=None, step=None,
                   line=None, replaying=False, cursor=None, kind="crash")
        self.frames[-1] = self.state = ev.copy_with(self.state, skull=True, after=after)


class Unwatched(Recorder):
    """The recorder of a run nobody watches (a real process, a benchmark): it keeps no frames, so a
    process that runs for months does not fill its memory with pictures of itself."""

    def __init__(self):
        super().__init__(lambda: 0.0, lambda: 0, lambda: 0, detail=False)

    def frame(self, caption: str, **changes) -> Frame:
        return self.state

    def crash(self, point: str, after: str | None = None) -> None:
        pass
