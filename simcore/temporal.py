"""The bridge to a real engine: our histories as Temporal history JSON, and back.

`export` writes what `temporal workflow show --output json` prints and what
`temporalio.client.WorkflowHistory.from_json` reads (proto3 JSON): Temporal's event type names, the
workflow task scheduled / started / completed events around each batch of commands (our engine keeps
those implicit), activity ids "1", "2", ... as Temporal's SDKs assign them, payloads in the
`json/plain` encoding, and one ActivityTaskStarted per activity carrying its final attempt number,
as a Temporal server records retried attempts.

The first WorkflowTaskCompleted carries `sdkMetadata.coreUsedFlags: [1]`. Flag 1 of Temporal's
sdk-core is `IdAndTypeDeterminismChecks`: during replay, core checks that a recorded activity's
type and id match the command the code produced only if the history says the flag was used when
it was written (`InternalFlags::try_use` in core/src/internal_flags.rs answers from the flags found
in WorkflowTaskCompleted events). Histories written by older SDKs lack it, and core stays lenient
with them so they keep replaying; without the flag, a swapped activity order goes unnoticed.

`load` reads a Temporal history JSON into rows the course can show; event types we do not model
are kept and shown by name, never dropped.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import events as ev
from .sim import EPOCH

JSON_PLAIN = base64.b64encode(b"json/plain").decode()
CORE_FLAGS = [1]   # IdAndTypeDeterminismChecks


def payloads(*values) -> dict:
    return {"payloads": [{"metadata": {"encoding": JSON_PLAIN},
                          "data": base64.b64encode(json.dumps(v, separators=(",", ":")).encode()).decode()}
                         for v in values]}


def _decode(p: dict | None) -> list:
    out = []
    for item in (p or {}).get("payloads", []):
        enc = base64.b64decode(item.get("metadata", {}).get("encoding", "")).decode(errors="replace")
        data = base64.b64decode(item.get("data", "")) if item.get("data") else b""
        out.append(json.loads(data) if enc == "json/plain" and data else f"<{enc or 'binary'} payload>")
    return out


def _seconds(s: float | None) -> str:
    return f"{s:g}s" if s else "0s"


def _type(name: str) -> str:
    """WorkflowTaskScheduled -> EVENT_TYPE_WORKFLOW_TASK_SCHEDULED"""
    return "EVENT_TYPE_" + "".join("_" + c if c.isupper() else c.upper() for c in name).lstrip("_")


def export(history: list[ev.Event], task_queue: str = "durable-sim", epoch: datetime = EPOCH) -> dict:
    """One run's history as a Temporal history JSON document."""
    if not history or not isinstance(history[0], ev.WorkflowExecutionStarted):
        raise ev.HistoryError("a history to export must begin with WorkflowExecutionStarted")
    out: list[dict] = []
    ids: dict[int, int] = {}          # our event id -> Temporal event id
    started_of: dict[int, int] = {}   # our scheduled event id -> Temporal ActivityTaskStarted id
    queue = {"name": task_queue, "kind": "TASK_QUEUE_KIND_NORMAL"}
    wft = {"completed": None, "first": True}

    def add(name: str, t: float, attrs: dict) -> int:
        event_id = len(out) + 1
        key = name[0].lower() + name[1:] + "EventAttributes"
        out.append({"eventId": str(event_id), "eventTime": (epoch + timedelta(seconds=t)).isoformat() + "Z",
                    "eventType": _type(name), "taskId": str(1048576 + event_id), key: attrs})
        return event_id

    def workflow_task(t: float) -> None:
        """The workflow task whose completion produced the commands that follow."""
        sched = add("WorkflowTaskScheduled", t, {"taskQueue": queue, "startToCloseTimeout": "10s", "attempt": 1})
        start = add("WorkflowTaskStarted", t, {"scheduledEventId": str(sched), "identity": "durable-sim",
                                                "requestId": f"wft-{sched}"})
        done = {"scheduledEventId": str(sched), "startedEventId": str(start), "identity": "durable-sim"}
        if wft["first"]:
            done["sdkMetadata"] = {"coreUsedFlags": CORE_FLAGS}
            wft["first"] = False
        wft["completed"] = add("WorkflowTaskCompleted", t, done)

    for prev, e in zip([None] + history, history):
        if e.command and (prev is None or not prev.command):
            workflow_task(e.time)
        after = str(wft["completed"])
        if isinstance(e, ev.WorkflowExecutionStarted):
            ids[e.event_id] = add("WorkflowExecutionStarted", e.time, {
                "workflowType": {"name": e.workflow_type}, "taskQueue": queue, "input": payloads(*e.input),
                "workflowTaskTimeout": "10s", "attempt": 1, "firstWorkflowTaskBackoff": "0s",
                "identity": "durable-sim"})
        elif isinstance(e, ev.ActivityTaskScheduled):
            retry = e.options.get("retry", {})
            ids[e.event_id] = add("ActivityTaskScheduled", e.time, {
                "activityId": e.activity_id, "activityType": {"name": e.activity_type}, "taskQueue": queue,
                "input": payloads(*e.input), "workflowTaskCompletedEventId": after,
                "startToCloseTimeout": _seconds(e.options.get("start_to_close") or 10),
                "scheduleToCloseTimeout": _seconds(e.options.get("schedule_to_close")),
                "scheduleToStartTimeout": _seconds(e.options.get("schedule_to_start")),
                "heartbeatTimeout": _seconds(e.options.get("heartbeat")),
                "retryPolicy": {"initialInterval": _seconds(retry.get("initial_interval", 1)),
                                "backoffCoefficient": retry.get("backoff_coefficient", 2.0),
                                "maximumInterval": _seconds(retry.get("maximum_interval")
                                                            or 100 * retry.get("initial_interval", 1)),
                                "maximumAttempts": retry.get("maximum_attempts", 0),
                                "nonRetryableErrorTypes": retry.get("non_retryable_error_types", [])}})
        elif isinstance(e, ev.ActivityTaskStarted):
            started_of[e.scheduled_event_id] = ids[e.event_id] = add("ActivityTaskStarted", e.time, {
                "scheduledEventId": str(ids[e.scheduled_event_id]), "identity": "durable-sim",
                "requestId": f"act-{e.event_id}", "attempt": e.attempt})
        elif isinstance(e, ev.ActivityTaskCompleted):
            ids[e.event_id] = add("ActivityTaskCompleted", e.time, {
                "result": payloads(e.result), "scheduledEventId": str(ids[e.scheduled_event_id]),
                "startedEventId": str(started_of[e.scheduled_event_id]), "identity": "durable-sim"})
        elif isinstance(e, ev.ActivityTaskFailed):
            ids[e.event_id] = add("ActivityTaskFailed", e.time, {
                "failure": {"message": e.message, "applicationFailureInfo": {"type": e.error_type}},
                "scheduledEventId": str(ids[e.scheduled_event_id]),
                "startedEventId": str(started_of[e.scheduled_event_id]), "identity": "durable-sim",
                "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"})
        elif isinstance(e, ev.MarkerRecorded):
            ids[e.event_id] = add("MarkerRecorded", e.time, {
                "markerName": e.marker_name, "details": {"data": payloads(e.value)},
                "workflowTaskCompletedEventId": after})
        elif isinstance(e, ev.TimerStarted):
            ids[e.event_id] = add("TimerStarted", e.time, {
                "timerId": e.timer_id, "startToFireTimeout": _seconds(e.seconds),
                "workflowTaskCompletedEventId": after})
        elif isinstance(e, ev.TimerFired):
            ids[e.event_id] = add("TimerFired", e.time, {"timerId": e.timer_id,
                                                         "startedEventId": str(ids[e.started_event_id])})
        elif isinstance(e, ev.WorkflowExecutionSignaled):
            ids[e.event_id] = add("WorkflowExecutionSignaled", e.time, {
                "signalName": e.signal_name, "input": payloads(e.input), "identity": "durable-sim"})
        elif isinstance(e, ev.WorkflowExecutionCompleted):
            ids[e.event_id] = add("WorkflowExecutionCompleted", e.time, {
                "result": payloads(e.result), "workflowTaskCompletedEventId": after})
        elif isinstance(e, ev.WorkflowExecutionFailed):
            ids[e.event_id] = add("WorkflowExecutionFailed", e.time, {
                "failure": {"message": e.message, "applicationFailureInfo": {"type": e.error_type}},
                "workflowTaskCompletedEventId": after})
        else:
            raise ev.HistoryError(f"event {e.event_id}: no Temporal mapping for {e.type}")
    if not history[-1].command:   # the workflow is waiting: Temporal has scheduled its next task
        add("WorkflowTaskScheduled", history[-1].time, {"taskQueue": queue, "startToCloseTimeout": "10s",
                                                        "attempt": 1})
    return {"events": out}


@dataclass(frozen=True)
class TemporalEvent:
    """One event of a Temporal history, read for display: known or not, it is shown."""
    event_id: int
    type: str            # Temporal's name without the prefix, e.g. "ActivityTaskScheduled"
    detail: str = ""
    known: bool = True

    def summary(self) -> str:
        return f"{self.type} {self.detail}".rstrip() + ("" if self.known else "  (not modelled by the course)")


KNOWN = {"WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
         "ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskCompleted", "ActivityTaskFailed",
         "MarkerRecorded", "TimerStarted", "TimerFired", "WorkflowExecutionSignaled",
         "WorkflowExecutionCompleted", "WorkflowExecutionFailed"}


def load(doc: dict | str, where: str = "history") -> list[TemporalEvent]:
    """Read a Temporal history JSON (as a server exports it) for the course's history panel."""
    try:
        doc = json.loads(doc) if isinstance(doc, str) else doc
        items = doc["events"]
        if not isinstance(items, list):
            raise TypeError("'events' is not a list")
    except (ValueError, KeyError, TypeError) as e:
        raise ev.HistoryError(f"{where}: not a Temporal history JSON ({e}); expected {{\"events\": [...]}}") from None
    rows = []
    for n, item in enumerate(items, start=1):
        raw = str(item.get("eventType", "?"))
        name = "".join(w.title() for w in raw.removeprefix("EVENT_TYPE_").split("_")) if raw.isupper() else raw
        attrs = next((v for k, v in item.items() if k.endswith("EventAttributes") and isinstance(v, dict)), {})
        rows.append(TemporalEvent(int(item.get("eventId", n)), name, _detail(name, attrs), name in KNOWN))
    return rows


def _detail(name: str, a: dict) -> str:
    if name == "WorkflowExecutionStarted":
        return f"{a.get('workflowType', {}).get('name', '?')}({_short(_decode(a.get('input')))})"
    if name == "ActivityTaskScheduled":
        return f"{a.get('activityType', {}).get('name', '?')} id={a.get('activityId', '?')}"
    if name == "ActivityTaskStarted":
        return f"#{a.get('scheduledEventId')} attempt {a.get('attempt', 1)}"
    if name in ("ActivityTaskCompleted", "WorkflowExecutionCompleted"):
        return f"-> {_short(_decode(a.get('result')))}"
    if name in ("ActivityTaskFailed", "WorkflowExecutionFailed"):
        return a.get("failure", {}).get("message", "")
    if name == "MarkerRecorded":
        return a.get("markerName", "")
    if name in ("TimerStarted", "TimerFired"):
        return f"{a.get('timerId', '')} {a.get('startToFireTimeout', '')}".strip()
    if name == "WorkflowExecutionSignaled":
        return a.get("signalName", "")
    return ""


def _short(values: list, width: int = 40) -> str:
    text = ",".join(json.dumps(v) for v in values)
    return text if len(text) <= width else text[: width - 1] + "…"
