"""The bridge to a real engine: our histories as Temporal history JSON, and back, event for event.

Our engine records what a Temporal server records (workflow tasks included), with the same event
ids, so `export` maps each event to one Temporal event and invents none. It writes what
`temporal workflow show --output json` prints and what `temporalio.client.WorkflowHistory.from_json`
reads (proto3 JSON): Temporal's event type names, payloads in the `json/plain` encoding, durations
as Temporal parses them ("2592000s", "0.5s").

The first WorkflowTaskCompleted carries `sdkMetadata.coreUsedFlags: [1]`. Flag 1 of Temporal's
sdk-core is `IdAndTypeDeterminismChecks`: during replay, core checks that a recorded activity's
type and id match the command the code produced only if the history says the flag was used when
it was written (`InternalFlags::try_use` in core/src/internal_flags.rs answers from the flags found
in WorkflowTaskCompleted events). Histories written by older SDKs lack it, and core stays lenient
with them so they keep replaying; without the flag, a swapped activity order goes unnoticed.

`load` is the inverse: a Temporal history JSON (a real server's, or ours) becomes the course's own
events, so the history panel shows a real server's history in the same rows as its own. Event
types the course does not model are kept and shown by name, never dropped.
"""
from __future__ import annotations

import base64
import json
import re
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from . import events as ev

JSON_PLAIN = base64.b64encode(b"json/plain").decode()
CORE_FLAGS = [1]   # IdAndTypeDeterminismChecks
IDENTITY = "durable-sim"
TIMEOUT = {"START_TO_CLOSE": "TIMEOUT_TYPE_START_TO_CLOSE", "SCHEDULE_TO_START": "TIMEOUT_TYPE_SCHEDULE_TO_START",
           "StartToCloseTimeout": "TIMEOUT_TYPE_START_TO_CLOSE", "HeartbeatTimeout": "TIMEOUT_TYPE_HEARTBEAT",
           "ScheduleToCloseTimeout": "TIMEOUT_TYPE_SCHEDULE_TO_CLOSE",
           "ScheduleToStartTimeout": "TIMEOUT_TYPE_SCHEDULE_TO_START"}
WFT_CAUSE = "WORKFLOW_TASK_FAILED_CAUSE_"


# -- the small formats ------------------------------------------------------------------------------
def payloads(*values) -> dict:
    return {"payloads": [{"metadata": {"encoding": JSON_PLAIN},
                          "data": base64.b64encode(json.dumps(v, separators=(",", ":")).encode()).decode()}
                         for v in values]}


def decode(p) -> list:
    """Payload values: JSON ones decoded, any other encoding shown by its name."""
    out = []
    for item in _get(_obj(p or {}, "payloads"), "payloads", list, "payloads", []):
        meta = _obj(_obj(item, "a payload").get("metadata") or {}, "a payload's metadata")
        enc = _b64(_get(meta, "encoding", str, "payload encoding", "")).decode(errors="replace")
        data = _b64(_get(item, "data", str, "payload data", ""))
        if enc == "json/plain" and data:
            try:
                out.append(json.loads(data))
                continue
            except (ValueError, RecursionError):   # not UTF-8, not JSON, or nested thousands deep
                raise ev.HistoryError(f"a json/plain payload that is not JSON: {data[:40]!r}") from None
        out.append(f"<{enc or 'binary'} payload>")
    return out


def duration(seconds: float | None) -> str:
    """Seconds as a proto3 JSON Duration: "10s", "2592000s", "0.25s"."""
    if not seconds:
        return "0s"
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds:.9f}".rstrip("0") + "s"


def seconds(text) -> float:
    """A proto3 JSON Duration ("10s", "0.25s") as seconds: finite, not negative."""
    if isinstance(text, str) and re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,9})?s", text):
        return float(text[:-1])
    raise ev.HistoryError(f"a duration must be a string like \"10s\", got {json.dumps(text)[:40]}")


def _type(name: str) -> str:
    """WorkflowTaskScheduled -> EVENT_TYPE_WORKFLOW_TASK_SCHEDULED"""
    return "EVENT_TYPE_" + "".join("_" + c if c.isupper() else c.upper() for c in name).lstrip("_")


def _name(raw: str) -> str:
    """EVENT_TYPE_WORKFLOW_TASK_SCHEDULED -> WorkflowTaskScheduled"""
    return "".join(w.title() for w in raw.removeprefix("EVENT_TYPE_").split("_")) if raw.isupper() else raw


def _failure(error_type: str, message: str) -> dict:
    return {"message": message, "applicationFailureInfo": {"type": error_type}}


# -- export -----------------------------------------------------------------------------------------
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
    ev.MarkerRecorded: lambda e, q, d: {
        "markerName": e.marker_name, "details": {"data": payloads(e.value)}, "workflowTaskCompletedEventId": str(d)},
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


# -- import -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TemporalEvent:
    """An event of a Temporal history that the course does not model: shown by name, never dropped
    (its attributes are kept as they were)."""
    event_id: int
    type: str            # Temporal's name without the prefix, e.g. "UpsertWorkflowSearchAttributes"
    time: float = 0.0
    attributes: dict = field(default_factory=dict, compare=False)

    def summary(self) -> str:
        return f"{self.type}  (not modelled by the course)"


@dataclass(frozen=True)
class Imported:
    """A Temporal history read for display: the course's own events where it models them."""
    events: list         # ev.Event or TemporalEvent, in order
    start: datetime | None = None   # the first event's time; every event's `time` counts from it


def load(doc: dict | str | bytes, where: str = "history") -> Imported:
    """Read a Temporal history JSON (as a server exports it) into the course's events. Anything that
    is not a Temporal history is a HistoryError saying where and what: valid JSON of the wrong shape
    too, at any level (an event that is not an object, an id that is not a number, attributes or a
    payload of the wrong type, payload data that is not JSON). What the course models is kept whole:
    times, the retry's last failure, activity options; what it does not is kept by name."""
    try:
        if isinstance(doc, (bytes, bytearray)):
            doc = bytes(doc).decode("utf-8")
        doc = json.loads(doc) if isinstance(doc, str) else doc
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        reason = "JSON nested too deeply" if isinstance(e, RecursionError) else e
        raise ev.HistoryError(f"{where}: not a Temporal history JSON: {reason}") from None
    items = doc.get("events") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ev.HistoryError(f"{where}: not a Temporal history JSON: expected {{\"events\": [...]}}")
    events, start = [], None
    for n, item in enumerate(items, start=1):
        try:
            if not isinstance(item, dict):
                raise ev.HistoryError(f"an event must be a JSON object, got {_kind(item)}")
            event_id = _int(item.get("eventId", n), "eventId")
            if event_id != n:
                raise ev.HistoryError(f"eventId {event_id} where {n} was expected: events must count from 1")
            at = _time(item.get("eventTime"))
            start = start or at
            t = (at - start).total_seconds() if at and start else 0.0
            name = _name(_get(item, "eventType", str, "eventType"))
            attrs = _attributes(item, name)
            parse = _IN.get(name)
            if parse:
                events.append(ev.EVENT_TYPES[name](event_id, t, **parse(attrs)))
            else:
                events.append(TemporalEvent(event_id, name, t, attrs))
        except ev.HistoryError as e:
            raise ev.HistoryError(f"{where}: event {n}: {e}") from None
        except RecursionError:   # a Python object nested thousands deep, handed in as a dict
            raise ev.HistoryError(f"{where}: event {n}: nested too deeply to be a Temporal event") from None
    return Imported(events, start)


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _attributes(item: dict, name: str) -> dict:
    """The event's attributes: the field named for its type (workflowTaskStartedEventAttributes).
    An event carries one; one named for another type is a contradiction, not a guess."""
    key = name[:1].lower() + name[1:] + "EventAttributes"
    others = [k for k in item if k.endswith("EventAttributes") and k != key]
    if key in item:
        value = item[key]
    elif others and name in _IN:
        raise ev.HistoryError(f"eventType {name} but its attributes are {others[0]}")
    else:
        value = item[others[0]] if others else {}
    return _obj({} if value is None else value, "its attributes")


def _obj(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise ev.HistoryError(f"{what} must be a JSON object, got {_show(value)}")
    return value


def _show(value) -> str:
    try:
        return json.dumps(value)[:40]
    except (TypeError, ValueError, RecursionError):
        return type(value).__name__


def _get(d: dict, key: str, kind, what: str, default=None):
    value = d.get(key, default)
    if value is None or (kind in (int, float) and isinstance(value, bool)) or not isinstance(value, kind):
        wanted = {str: "a string", int: "a number", float: "a number", list: "a list", dict: "an object",
                  (int, float): "a number"}[kind]
        raise ev.HistoryError(f"{what} must be {wanted}, got {_show(value)}")
    return value


def _str(a: dict, key: str, default: str = "") -> str:
    """A string attribute; absent or null is proto3's default, ""."""
    value = a.get(key)
    return default if value is None else _get(a, key, str, key)


def _int(value, what: str) -> int:
    """proto3 JSON writes 64-bit integers as strings: "5" or 5."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,19}", value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 63:
        return value
    raise ev.HistoryError(f"{what} must be a number, got {_show(value)}")


def _number(value, what: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return value
    raise ev.HistoryError(f"{what} must be a number, got {_show(value)}")


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise ev.HistoryError(f"not base64: {text[:40]!r}") from None


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?", re.IGNORECASE)


def _time(text) -> datetime | None:
    """An RFC 3339 time (up to nanoseconds; Python keeps microseconds), in UTC."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise ev.HistoryError(f"eventTime must be a string, got {_show(text)}")
    m = _RFC3339.fullmatch(text)
    try:
        if not m:
            raise ValueError
        head, frac, zone = m.groups()
        at = datetime.fromisoformat(head + (f".{frac[:6].ljust(6, '0')}" if frac else "")
                                    + (zone if zone and zone.upper() != "Z" else "+00:00"))
        return at.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise ev.HistoryError(f"eventTime {text[:40]!r} is not a time") from None


def _one(p):
    values = decode(p)
    return values[0] if values else None


def _fail(a: dict, key: str = "failure") -> tuple[str, str]:
    """(error type, message) of a Temporal Failure: its application type, or the kind of failure."""
    f = _get(a, key, dict, key, {})
    info = f.get("applicationFailureInfo")
    kind = _str(_obj(info, "applicationFailureInfo"), "type") if info is not None else ""
    kind = kind or next((k.removesuffix("FailureInfo") for k in f if k.endswith("FailureInfo")), "Failure")
    return kind, _str(f, "message")


def _timeout(a: dict, default: str) -> str:
    info = _obj(_obj(a.get("failure") or {}, "failure").get("timeoutFailureInfo") or {}, "timeoutFailureInfo")
    raw = a.get("timeoutType") or info.get("timeoutType") or default
    return _get({"timeoutType": raw}, "timeoutType", str, "timeoutType").removeprefix("TIMEOUT_TYPE_")


def _task_timeout(a: dict) -> str:
    kind = _timeout(a, "")
    if kind not in ("START_TO_CLOSE", "SCHEDULE_TO_START"):
        raise ev.HistoryError(f"a workflow task times out START_TO_CLOSE or SCHEDULE_TO_START, not {kind[:40]!r}")
    return kind


def _activity_timeout(a: dict) -> str:
    kind = _timeout(a, "START_TO_CLOSE")
    if kind not in _ACTIVITY_TIMEOUT:
        raise ev.HistoryError(f"an activity times out {', '.join(_ACTIVITY_TIMEOUT)}, not {kind[:40]!r}")
    return _ACTIVITY_TIMEOUT[kind]


def _last_failure(a: dict) -> dict | None:
    if not a.get("lastFailure"):
        return None
    return dict(zip(("error_type", "message"), _fail(a, "lastFailure")))


def _marker(details) -> object:
    """A marker's details map names to payloads; the course records one value."""
    values = [_one(v) for v in _obj(details or {}, "details").values()]
    return values[0] if values else None


def _options(a: dict) -> dict:
    """An activity's timeouts and retry policy, as the course records them (`ActivityOptions.to_json`):
    "0s" (or none) is no limit."""
    def limit(key):
        value = seconds(a[key]) if a.get(key) is not None else 0.0
        return value or None
    retry = _obj(a.get("retryPolicy") or {}, "retryPolicy")
    errors = retry.get("nonRetryableErrorTypes") or []
    if not isinstance(errors, list) or not all(isinstance(x, str) for x in errors):
        raise ev.HistoryError(f"retryPolicy.nonRetryableErrorTypes must be a list of strings, got {_show(errors)}")
    policy = {"initial_interval": seconds(retry.get("initialInterval") or "1s") or 1.0,
              "backoff_coefficient": _number(retry.get("backoffCoefficient") or 2.0, "retryPolicy.backoffCoefficient"),
              "maximum_interval": seconds(retry["maximumInterval"]) or None if retry.get("maximumInterval") else None,
              "maximum_attempts": _int(retry.get("maximumAttempts") or 0, "retryPolicy.maximumAttempts"),
              "jitter": 0.0, "non_retryable_error_types": list(errors)}
    return {"retry": policy, "start_to_close": limit("startToCloseTimeout"),
            "schedule_to_close": limit("scheduleToCloseTimeout"), "schedule_to_start": limit("scheduleToStartTimeout"),
            "heartbeat": limit("heartbeatTimeout")}


def _scheduled(a: dict) -> dict:
    options = _options(a)
    from .retry import ActivityOptions
    try:
        ActivityOptions.from_json(options)
    except (TypeError, ValueError) as e:
        raise ev.HistoryError(f"its retry policy or timeouts make no sense: {e}") from None
    return dict(activity_id=_str(a, "activityId"),
                activity_type=_get(_get(a, "activityType", dict, "activityType"), "name", str, "activityType.name"),
                input=decode(a.get("input")), options=options)


def _queue(a: dict) -> str:
    return _str(_obj(a.get("taskQueue") or {}, "taskQueue"), "name")


_ACTIVITY_TIMEOUT = {"START_TO_CLOSE": "StartToCloseTimeout", "HEARTBEAT": "HeartbeatTimeout",
                     "SCHEDULE_TO_CLOSE": "ScheduleToCloseTimeout", "SCHEDULE_TO_START": "ScheduleToStartTimeout"}
_IN = {
    "WorkflowExecutionStarted": lambda a: dict(
        workflow_type=_get(_get(a, "workflowType", dict, "workflowType"), "name", str, "workflowType.name"),
        workflow_id=_str(a, "workflowId"), input=decode(a.get("input")), run_id=_str(a, "originalExecutionRunId"),
        continued_from=_str(a, "continuedExecutionRunId"),
        first_run_id="" if _str(a, "firstExecutionRunId") == _str(a, "originalExecutionRunId")
        else _str(a, "firstExecutionRunId")),
    "WorkflowTaskScheduled": lambda a: dict(
        task_queue=_queue(a), start_to_close=seconds(a.get("startToCloseTimeout") or "10s"),
        attempt=_int(a.get("attempt", 1), "attempt")),
    "WorkflowTaskStarted": lambda a: dict(
        scheduled_event_id=_int(a.get("scheduledEventId"), "scheduledEventId"), identity=_str(a, "identity")),
    "WorkflowTaskCompleted": lambda a: dict(
        scheduled_event_id=_int(a.get("scheduledEventId"), "scheduledEventId"),
        started_event_id=_int(a.get("startedEventId"), "startedEventId"), identity=_str(a, "identity")),
    "WorkflowTaskTimedOut": lambda a: dict(
        scheduled_event_id=_int(a.get("scheduledEventId"), "scheduledEventId"),
        started_event_id=_int(a.get("startedEventId", 0), "startedEventId"), timeout_type=_task_timeout(a)),
    "WorkflowTaskFailed": lambda a: dict(
        scheduled_event_id=_int(a.get("scheduledEventId"), "scheduledEventId"),
        started_event_id=_int(a.get("startedEventId"), "startedEventId"),
        cause=_str(a, "cause").removeprefix(WFT_CAUSE), message=_fail(a)[1], identity=_str(a, "identity")),
    "ActivityTaskScheduled": _scheduled,
    "ActivityTaskStarted": lambda a: dict(
        scheduled_event_id=_int(a.get("scheduledEventId"), "scheduledEventId"),
        attempt=_int(a.get("attempt", 1), "attempt"), last_failure=_last_failure(a)),
    "ActivityTaskCompleted": lambda a: dict(
        scheduled_event_id=_int(a.get("scheduledEventId"), "scheduledEventId"), result=_one(a.get("result"))),
    "ActivityTaskFailed": lambda a: dict(
        scheduled_event_id=_int(a.get("scheduledEventId"), "scheduledEventId"),
        **dict(zip(("error_type", "message"), _fail(a)))),
    "ActivityTaskTimedOut": lambda a: dict(
        scheduled_event_id=_int(a.get("scheduledEventId"), "scheduledEventId"),
        timeout_type=_activity_timeout(a), message=_fail(a)[1]),
    "MarkerRecorded": lambda a: dict(marker_name=_str(a, "markerName"), value=_marker(a.get("details"))),
    "TimerStarted": lambda a: dict(
        timer_id=_str(a, "timerId"), seconds=seconds(a.get("startToFireTimeout") or "0s")),
    "TimerFired": lambda a: dict(
        timer_id=_str(a, "timerId"), started_event_id=_int(a.get("startedEventId"), "startedEventId")),
    "WorkflowExecutionSignaled": lambda a: dict(signal_name=_str(a, "signalName"), input=_one(a.get("input")),
                                                request_id=_str(a, "requestId")),
    "TimerCanceled": lambda a: dict(
        timer_id=_str(a, "timerId"), started_event_id=_int(a.get("startedEventId"), "startedEventId")),
    "WorkflowExecutionCancelRequested": lambda a: dict(identity=_str(a, "identity")),
    "WorkflowExecutionCanceled": lambda a: dict(),
    "WorkflowExecutionUpdateAccepted": lambda a: dict(
        update_id=_str(a, "protocolInstanceId"),
        name=_str(_obj(_obj(a.get("acceptedRequest") or {}, "acceptedRequest").get("input") or {}, "input"), "name"),
        args=decode(_obj(_obj(a.get("acceptedRequest") or {}, "acceptedRequest").get("input") or {}, "input")
                    .get("args"))),
    "WorkflowExecutionUpdateCompleted": lambda a: dict(
        update_id=_str(_obj(a.get("meta") or {}, "meta"), "updateId"),
        accepted_event_id=_int(a.get("acceptedEventId"), "acceptedEventId"),
        result=_one(_obj(a.get("outcome") or {}, "outcome").get("success")),
        error=_fail(_obj(a.get("outcome") or {}, "outcome"))[1] if (a.get("outcome") or {}).get("failure") else ""),
    "WorkflowExecutionContinuedAsNew": lambda a: dict(
        new_run_id=_str(a, "newExecutionRunId"),
        workflow_type=_str(_obj(a.get("workflowType") or {}, "workflowType"), "name"), input=decode(a.get("input"))),
    "WorkflowExecutionCompleted": lambda a: dict(result=_one(a.get("result"))),
    "WorkflowExecutionFailed": lambda a: dict(**dict(zip(("error_type", "message"), _fail(a)))),
}
