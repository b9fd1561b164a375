"""The replay test: saved histories replayed against the code, live nowhere, as Temporal's
Replayer does in CI. A history the code no longer fits comes back as a result that names the event
and the difference (drawable, not only an exception); `python -m simcore history replay` runs it.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import events as ev
from .replay import Machine, NonDeterminismError
from .workflow import WorkflowDef


@dataclass
class ReplayResult:
    """What replaying a saved history found: drawable, not only an exception."""
    workflow_id: str
    ok: bool
    replayed: int
    events: int
    error: NonDeterminismError | None = None
    completed: bool = False
    result: object = None

    def __str__(self):
        if self.ok:
            state = "completed" if self.completed else "in progress"
            return f"{self.workflow_id}: replayed {self.replayed} commands over {self.events} events: ok ({state})"
        return f"{self.workflow_id}: {self.error}"


def replay(workflow: WorkflowDef, history: list, workflow_id: str | None = None) -> ReplayResult:
    """Re-run `workflow` against a saved history, live nowhere: the replay test of CI."""
    if not history or not isinstance(history[0], ev.WorkflowExecutionStarted):
        raise ev.HistoryError("a history must begin with WorkflowExecutionStarted")
    wid = workflow_id or history[0].workflow_id
    m = Machine(workflow, wid)
    try:
        m.feed(history)
    except NonDeterminismError as err:
        return ReplayResult(wid, False, m.replayed, len(history), err)
    return ReplayResult(wid, True, m.replayed, len(history), completed=m.closed, result=m.result)

