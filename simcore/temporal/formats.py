"""The small formats of Temporal history JSON (proto3 JSON): payloads, durations, event type names,
and the checked readers of JSON values that the importer uses."""
from __future__ import annotations

import base64
import json
import math
import re

from .. import events as ev


JSON_PLAIN = base64.b64encode(b"json/plain").decode()

CORE_FLAGS = [1]   # IdAndTypeDeterminismChecks

IDENTITY = "durable-sim"

TIMEOUT = {"START_TO_CLOSE": "TIMEOUT_TYPE_START_TO_CLOSE", "SCHEDULE_TO_START": "TIMEOUT_TYPE_SCHEDULE_TO_START",
           "StartToCloseTimeout": "TIMEOUT_TYPE_START_TO_CLOSE", "HeartbeatTimeout": "TIMEOUT_TYPE_HEARTBEAT",
           "ScheduleToCloseTimeout": "TIMEOUT_TYPE_SCHEDULE_TO_CLOSE",
           "ScheduleToStartTimeout": "TIMEOUT_TYPE_SCHEDULE_TO_START"}

WFT_CAUSE = "WORKFLOW_TASK_FAILED_CAUSE_"

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
