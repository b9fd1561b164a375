"""Our history as a Temporal history JSON document: one Temporal event for each of ours."""
from __future__ import annotations

from datetime import datetime, timedelta

from .. import events as ev
from .formats import CORE_FLAGS, IDENTITY, TIMEOUT, WFT_CAUSE, _failure, _type, duration, payloads


def export(history: list[ev.Event], task_queue: str = "durable-sim", epoch: datetime = ev.EPOCH) -> dict:
    """One run's history as a Temporal history JSON document, one Temporal event per event."""
    if not history or not isinstance(history[0], ev.WorkflowExecutionStarted):
        raise ev.HistoryError("a history to export must begin with WorkflowExecutionStarted")
    if len(history) > 1 and not isinstance(history[1], ev.WorkflowTaskScheduled):
        raise ev.HistoryError("this history records no workflow tasks (a plain process or a checkpoint file "
                              "wrote it, not the engine): only the durable engine's histories are Temporal's shape")
    queue = {"name": task_queue, "kind": "TASK_QUEUE_KIND_NORMAL"}
    first_completed = next(e.event_id for e in history if isinstance(e, ev.WorkflowTaskCompleted)) \
        if any(isinstance(e, ev.WorkflowTaskCompleted) for e in history) else None
    out, decided = [], 0   # decided: the WorkflowTaskCompleted whose commands follow
    for e in history:
        if isinstance(e, ev.WorkflowTaskCompleted):
            decided = e.event_id
        attrs = _OUT[type(e)](e, queue, decided)
        if e.event_id == first_completed:
            attrs["sdkMetadata"] = {"coreUsedFlags": CORE_FLAGS}
        key = e.type[0].lower() + e.type[1:] + "EventAttributes"
        out.append({"eventId": str(e.event_id), "eventTime": (epoch + timedelta(seconds=e.time)).isoformat() + "Z",
                    "eventType": _type(e.type), "taskId": str(1048576 + e.event_id), key: attrs})
    return {"events": out}

def _retry(options: dict) -> dict:
    retry = options.get("retry", {})
    return {"initialInterval": duration(retry.get("initial_interval", 1)),
            "backoffCoefficient": retry.get("backoff_coefficient", 2.0),
            "maximumInterval": duration(retry.get("maximum_interval") or 100 * retry.get("initial_interval", 1)),
            "maximumAttempts": retry.get("maximum_attempts", 0),
            "nonRetryableErrorTypes": retry.get("non_retryable_error_types", [])}

_OUT = {
    ev.WorkflowExecutionStarted: lambda e, q, _: {
        "workflowType": {"name": e.workflow_type}, "taskQueue": q, "input": payloads(*e.input),
        "workflowTaskTimeout": "10s", "originalExecutionRunId": e.run_id,
        "firstExecutionRunId": e.first_run_id or e.run_id,
        **({"continuedExecutionRunId": e.continued_from, "initiator": "CONTINUE_AS_NEW_INITIATOR_WORKFLOW"}
           if e.continued_from else {}),
        "attempt": 1, "firstWorkflowTaskBackoff": "0s", "identity": IDENTITY, "workflowId": e.workflow_id},
    ev.WorkflowTaskScheduled: lambda e, q, _: {
        "taskQueue": q, "startToCloseTimeout": duration(e.start_to_close), "attempt": e.attempt},
    ev.WorkflowTaskStarted: lambda e, q, _: {
        "scheduledEventId": str(e.scheduled_event_id), "identity": e.identity, "requestId": f"wft-{e.event_id}"},
    ev.WorkflowTaskCompleted: lambda e, q, _: {
        "scheduledEventId": str(e.scheduled_event_id), "startedEventId": str(e.started_event_id),
        "identity": e.identity},
    ev.WorkflowTaskTimedOut: lambda e, q, _: {
        "scheduledEventId": str(e.scheduled_event_id),
        **({"startedEventId": str(e.started_event_id)} if e.started_event_id else {}),
        "timeoutType": TIMEOUT[e.timeout_type]},
    ev.WorkflowTaskFailed: lambda e, q, _: {
        "scheduledEventId": str(e.scheduled_event_id), "startedEventId": str(e.started_event_id),
        "cause": WFT_CAUSE + e.cause, "failure": {"message": e.message}, "identity": e.identity},
    ev.ActivityTaskScheduled: lambda e, q, d: {
        "activityId": e.activity_id, "activityType": {"name": e.activity_type}, "taskQueue": q,
        "input": payloads(*e.input), "workflowTaskCompletedEventId": str(d),
        "startToCloseTimeout": duration(e.options.get("start_to_close") or 10),
        "scheduleToCloseTimeout": duration(e.options.get("schedule_to_close")),
        "scheduleToStartTimeout": duration(e.options.get("schedule_to_start")),
        "heartbeatTimeout": duration(e.options.get("heartbeat")), "retryPolicy": _retry(e.options)},
    ev.ActivityTaskStarted: lambda e, q, _: {
        "scheduledEventId": str(e.scheduled_event_id), "identity": IDENTITY, "requestId": f"act-{e.event_id}",
        "attempt": e.attempt,
        **({"lastFailure": _failure(e.last_failure["error_type"], e.last_failure["message"])} if e.last_failure
           else {})},
    ev.ActivityTaskCompleted: lambda e, q, _: {
        "result": payloads(e.result), "scheduledEventId": str(e.scheduled_event_id),
        "startedEventId": str(e.event_id - 1), "identity": IDENTITY},
    ev.ActivityTaskFailed: lambda e, q, _: {
        "failure": _failure(e.error_type, e.message), "scheduledEventId": str(e.scheduled_event_id),
        "startedEventId": str(e.event_id - 1), "identity": IDENTITY,
        "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"},
    ev.ActivityTaskTimedOut: lambda e, q, _: {
        "failure": {"message": e.message, "timeoutFailureInfo": {"timeoutType": TIMEOUT[e.timeout_type]}},
        "scheduledEventId": str(e.scheduled_event_id),
        **({} if e.timeout_type == "ScheduleToStartTimeout" else {"startedEventId": str(e.event_id - 1)}),
        "retryState": "RETRY_STATE_TIMEOUT"},
    ev.MarkerRecorded: lambda e, q, d: {   # a patch marker's details are "patch-data", as Temporal's Core writes them
        "markerName": e.marker_name, "details": {"patch-data" if e.marker_name == "core_patch" else "data":
                                                 payloads(e.value)}, "workflowTaskCompletedEventId": str(d)},
    ev.TimerStarted: lambda e, q, d: {
        "timerId": e.timer_id, "startToFireTimeout": duration(e.seconds), "workflowTaskCompletedEventId": str(d)},
    ev.TimerFired: lambda e, q, _: {"timerId": e.timer_id, "startedEventId": str(e.started_event_id)},
    ev.WorkflowExecutionSignaled: lambda e, q, _: {
        "signalName": e.signal_name, "input": payloads(e.input), "identity": IDENTITY,
        **({"requestId": e.request_id} if e.request_id else {})},
    ev.TimerCanceled: lambda e, q, d: {
        "timerId": e.timer_id, "startedEventId": str(e.started_event_id), "workflowTaskCompletedEventId": str(d),
        "identity": IDENTITY},
    ev.WorkflowExecutionCancelRequested: lambda e, q, _: {"identity": e.identity or IDENTITY},
    ev.WorkflowExecutionCanceled: lambda e, q, d: {"workflowTaskCompletedEventId": str(d)},
    ev.WorkflowExecutionUpdateAccepted: lambda e, q, d: {
        "protocolInstanceId": e.update_id, "acceptedRequestMessageId": f"{e.update_id}/request",
        "acceptedRequestSequencingEventId": str(d - 1),
        "acceptedRequest": {"meta": {"updateId": e.update_id, "identity": IDENTITY},
                            "input": {"name": e.name, "args": payloads(*e.args)}}},
    ev.WorkflowExecutionUpdateCompleted: lambda e, q, d: {
        "meta": {"updateId": e.update_id, "identity": IDENTITY}, "acceptedEventId": str(e.accepted_event_id),
        "outcome": {"failure": {"message": e.error}} if e.error else {"success": payloads(e.result)}},
    ev.WorkflowExecutionContinuedAsNew: lambda e, q, d: {
        "newExecutionRunId": e.new_run_id, "workflowType": {"name": e.workflow_type}, "taskQueue": q,
        "input": payloads(*e.input), "workflowRunTimeout": "0s", "workflowTaskTimeout": "10s",
        "workflowTaskCompletedEventId": str(d), "initiator": "CONTINUE_AS_NEW_INITIATOR_WORKFLOW"},
    ev.WorkflowExecutionCompleted: lambda e, q, d: {"result": payloads(e.result), "workflowTaskCompletedEventId": str(d)},
    ev.WorkflowExecutionFailed: lambda e, q, d: {
        "failure": _failure(e.error_type, e.message), "workflowTaskCompletedEventId": str(d)},
}
