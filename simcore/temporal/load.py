"""A Temporal history JSON (a real server's, or ours) read into the course's own events, every wrong
shape refused with a message that says where; event types the course does not model are kept."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .. import events as ev
from .formats import WFT_CAUSE, _get, _int, _name, _number, _obj, _show, _str, decode, seconds


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

def _ref(a: dict, key: str, default=None) -> int:
    """The id of an event it refers to (scheduledEventId, startedEventId, acceptedEventId)."""
    return _int(a.get(key, default), key)

def _part(a: dict, key: str) -> dict:
    """A nested object (taskQueue, outcome, ...); absent or null is an empty one."""
    return _obj(a.get(key) or {}, key)

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
    info = _part(_part(a, "failure"), "timeoutFailureInfo")
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
    retry = _part(a, "retryPolicy")
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
    from ..retry import ActivityOptions
    try:
        ActivityOptions.from_json(options)
    except (TypeError, ValueError) as e:
        raise ev.HistoryError(f"its retry policy or timeouts make no sense: {e}") from None
    return dict(activity_id=_str(a, "activityId"),
                activity_type=_get(_get(a, "activityType", dict, "activityType"), "name", str, "activityType.name"),
                input=decode(a.get("input")), options=options)

def _queue(a: dict) -> str:
    return _str(_part(a, "taskQueue"), "name")

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
    "WorkflowTaskStarted": lambda a: dict(scheduled_event_id=_ref(a, "scheduledEventId"), identity=_str(a, "identity")),
    "WorkflowTaskCompleted": lambda a: dict(
        scheduled_event_id=_ref(a, "scheduledEventId"), started_event_id=_ref(a, "startedEventId"),
        identity=_str(a, "identity")),
    "WorkflowTaskTimedOut": lambda a: dict(
        scheduled_event_id=_ref(a, "scheduledEventId"), started_event_id=_ref(a, "startedEventId", 0),
        timeout_type=_task_timeout(a)),
    "WorkflowTaskFailed": lambda a: dict(
        scheduled_event_id=_ref(a, "scheduledEventId"), started_event_id=_ref(a, "startedEventId"),
        cause=_str(a, "cause").removeprefix(WFT_CAUSE), message=_fail(a)[1], identity=_str(a, "identity")),
    "ActivityTaskScheduled": _scheduled,
    "ActivityTaskStarted": lambda a: dict(
        scheduled_event_id=_ref(a, "scheduledEventId"), attempt=_int(a.get("attempt", 1), "attempt"),
        last_failure=_last_failure(a)),
    "ActivityTaskCompleted": lambda a: dict(
        scheduled_event_id=_ref(a, "scheduledEventId"), result=_one(a.get("result"))),
    "ActivityTaskFailed": lambda a: dict(
        scheduled_event_id=_ref(a, "scheduledEventId"), **dict(zip(("error_type", "message"), _fail(a)))),
    "ActivityTaskTimedOut": lambda a: dict(
        scheduled_event_id=_ref(a, "scheduledEventId"), timeout_type=_activity_timeout(a), message=_fail(a)[1]),
    "MarkerRecorded": lambda a: dict(marker_name=_str(a, "markerName"), value=_marker(a.get("details"))),
    "TimerStarted": lambda a: dict(
        timer_id=_str(a, "timerId"), seconds=seconds(a.get("startToFireTimeout") or "0s")),
    "TimerFired": lambda a: dict(timer_id=_str(a, "timerId"), started_event_id=_ref(a, "startedEventId")),
    "WorkflowExecutionSignaled": lambda a: dict(signal_name=_str(a, "signalName"), input=_one(a.get("input")),
                                                request_id=_str(a, "requestId")),
    "TimerCanceled": lambda a: dict(timer_id=_str(a, "timerId"), started_event_id=_ref(a, "startedEventId")),
    "WorkflowExecutionCancelRequested": lambda a: dict(identity=_str(a, "identity")),
    "WorkflowExecutionCanceled": lambda a: dict(),
    "WorkflowExecutionUpdateAccepted": lambda a: dict(
        update_id=_str(a, "protocolInstanceId"), name=_str(_part(_part(a, "acceptedRequest"), "input"), "name"),
        args=decode(_part(_part(a, "acceptedRequest"), "input").get("args"))),
    "WorkflowExecutionUpdateCompleted": lambda a: dict(
        update_id=_str(_part(a, "meta"), "updateId"), accepted_event_id=_ref(a, "acceptedEventId"),
        result=_one(_part(a, "outcome").get("success")),
        error=_fail(_part(a, "outcome"))[1] if (a.get("outcome") or {}).get("failure") else ""),
    "WorkflowExecutionContinuedAsNew": lambda a: dict(
        new_run_id=_str(a, "newExecutionRunId"), workflow_type=_str(_part(a, "workflowType"), "name"),
        input=decode(a.get("input"))),
    "WorkflowExecutionCompleted": lambda a: dict(result=_one(a.get("result"))),
    "WorkflowExecutionFailed": lambda a: dict(**dict(zip(("error_type", "message"), _fail(a)))),
}
