"""The commands a replay machine makes on the code's behalf: closing the workflow, cancelling a timer
the code stopped waiting for, running an accepted update. Like the ones workflow code yields
(simcore.workflow), each records itself as one event and recognises that event on replay.
"""
from __future__ import annotations

from . import events as ev


@ev.frozen
class Complete:
    value: object

    def describe(self):
        return "CompleteWorkflow"

    def record(self, event_id, t, m):
        return ev.WorkflowExecutionCompleted(event_id, t, self.value)

    def matches(self, e):
        return type(e) is ev.WorkflowExecutionCompleted


@ev.frozen
class Fail:
    error_type: str
    message: str

    def describe(self):
        return f"FailWorkflow {self.error_type}"

    def record(self, event_id, t, m):
        return ev.WorkflowExecutionFailed(event_id, t, self.error_type, self.message)

    def matches(self, e):
        return type(e) is ev.WorkflowExecutionFailed


@ev.frozen
class CancelWorkflow:

    def describe(self):
        return "CancelWorkflow"

    def record(self, event_id, t, m):
        return ev.WorkflowExecutionCanceled(event_id, t)

    def matches(self, e):
        return type(e) is ev.WorkflowExecutionCanceled


@ev.frozen
class CancelTimer:
    timer_id: str
    started_event_id: int

    def describe(self):
        return f"CancelTimer {self.timer_id}"

    def record(self, event_id, t, m):
        return ev.TimerCanceled(event_id, t, self.timer_id, self.started_event_id)

    def matches(self, e):
        return type(e) is ev.TimerCanceled and e.timer_id == self.timer_id


@ev.frozen
class AcceptUpdate:
    update_id: str
    name: str
    args: list

    def describe(self):
        return f"AcceptUpdate {self.name}"

    def record(self, event_id, t, m):
        return ev.WorkflowExecutionUpdateAccepted(event_id, t, self.update_id, self.name, self.args)

    def matches(self, e):
        return type(e) is ev.WorkflowExecutionUpdateAccepted and e.name == self.name


@ev.frozen
class CompleteUpdate:
    update_id: str
    accepted_event_id: int
    result: object
    error: str

    def describe(self):
        return "CompleteUpdate"

    def record(self, event_id, t, m):
        return ev.WorkflowExecutionUpdateCompleted(event_id, t, self.update_id, self.accepted_event_id, self.result,
                                                   self.error)

    def matches(self, e):
        return type(e) is ev.WorkflowExecutionUpdateCompleted


CLOSE = (Complete, Fail, CancelWorkflow)   # with ContinueAsNew, the commands that end a run
