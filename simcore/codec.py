"""An event's stored form: the JSON payload a history file keeps, and the checked way back.

A payload is every field of the event but its id and time (the row's own columns), keys sorted, an
optional field left out when it says nothing. Reading refuses anything that is not exactly an event
of a known type: a file may be damaged or hand-edited, and replay must not build on a guess. Nothing
here runs code from a file: JSON in, frozen dataclasses out.
"""
from __future__ import annotations

import functools
import json
import json.scanner
from dataclasses import MISSING, fields

from .events import EVENT_TYPES, Event, HistoryError, _new, _schema, _set


def not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


# NaN and Infinity are not JSON: Python's json module writes and reads them unless told not to
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False).encode
_scan = json.scanner.make_scanner(json.JSONDecoder(parse_constant=not_json))   # the C scanner, without decode()'s regexes


def is_json(value) -> bool:
    """Whether a history (or a query's answer on the wire) can carry `value`: JSON data, NaN and
    Infinity not included, and no two keys of a dict that JSON writes alike."""
    try:
        return json.dumps(value, allow_nan=False) is not None and not merged_keys(value)
    except (TypeError, ValueError, RecursionError):
        return False


def merged_keys(value) -> str:
    """Two keys of a dict in `value` that JSON writes alike, said ('' if none). A JSON key is a string:
    1 is written "1", as Temporal's Python converter writes it too, so {1: ..., "1": ...} would come
    back with one value, the other lost without a word."""
    todo = [value]   # (a stack, not recursion: a list nested 5,000 deep is data too)
    while todo:
        value = todo.pop()
        if isinstance(value, dict):
            if any(type(k) is not str for k in value):
                written: dict = {}
                for k in value:
                    key = next(iter(json.loads(json.dumps({k: 0}))))
                    if key in written:
                        return (f"the keys {written[key]!r} and {k!r} are both {json.dumps(key)} in JSON: one "
                                "value would be lost")
                    written[key] = k
            todo.extend(value.values())
        elif isinstance(value, (list, tuple)):
            todo.extend(value)
    return ""


def _decode(text: str):
    """json.loads for a stored payload, about twice as fast on long histories; same errors."""
    try:
        value, end = _scan(text, 0)
    except StopIteration as e:
        raise ValueError(f"expecting a JSON value at char {e.value}") from None
    if end != len(text):
        raise ValueError(f"extra data at char {end}")
    return value


def to_json(event: Event) -> str:
    """The stored payload: every field, but an optional one only when it says something (an empty
    `last_failure` or run link is left out, and read back as its default)."""
    names, quiet = _payload_fields(type(event))
    d = event.__dict__   # (a frozen dataclass keeps its fields there, as `attrs` reads them)
    return _encode({k: d[k] for k in names if k not in quiet or d[k] != quiet[k]})


@functools.cache
def _payload_fields(cls) -> tuple[tuple[str, ...], dict]:
    """The payload's field names and the optional ones' defaults: worked out once per event type."""
    return _schema(cls)[0], _defaults(cls)


@functools.cache
def _defaults(cls) -> dict:
    """The optional payload fields of an event type and their defaults (compared as they are; an
    event read without one gets a fresh copy of a {} or [] default)."""
    return {f.name: f.default if f.default is not MISSING else f.default_factory()
            for f in fields(cls)[2:] if f.default is not MISSING or f.default_factory is not MISSING}


def from_record(event_id: int, type_name: str, time: float, payload: str, where: str = "") -> Event:
    """Rebuild an event from its stored form, refusing anything that is not exactly an event we know.

    `where` names the history for the error message (a workflow id, a file). A whole history is read
    by `from_records`, which sends here only the rows that are not exactly as the engine writes them."""
    cls = EVENT_TYPES.get(type_name)
    if cls is None or cls is Event:
        known = ", ".join(sorted(n for n in EVENT_TYPES if n != "Event"))
        raise HistoryError(f"{_at(where, event_id)}: unknown event type {type_name!r} (known: {known})")
    try:
        attrs = _decode(payload)
    except (TypeError, ValueError, RecursionError) as e:
        raise HistoryError(f"{_at(where, event_id)} ({type_name}): payload is not JSON ({e}): "
                           f"{str(payload)[:60]!r}") from None
    names, required, allowed = _schema(cls)
    if type(attrs) is not dict:
        raise HistoryError(f"{_at(where, event_id)} ({type_name}): payload must be a JSON object, got "
                           f"{type(attrs).__name__}")
    if not required <= attrs.keys() <= allowed:
        raise HistoryError(f"{_at(where, event_id)} ({type_name}): payload fields {sorted(attrs)} but "
                           f"expected {list(names)}")
    return cls(event_id, time, **attrs)


@functools.cache
def _shapes() -> dict:
    """Type name -> (class, its payload field names), for `from_records`."""
    return {name: (cls, _schema(cls)[2]) for name, cls in EVENT_TYPES.items()}


def from_records(rows, where: str = "", start: int = 1) -> list[Event]:
    """Rebuild a run's events from its stored rows, `(event_id, type, time, payload)` in order from
    event `start`: numbered from `start` without a gap, each row checked as `from_record` checks it.

    Reading a long history runs this loop once per row, so a row as the engine writes it (a known
    type, a JSON object with exactly the event's fields) takes a short way: one scan of its payload,
    which becomes the instance's __dict__ without running the generated __init__ (which would only
    copy the same fields in: events have no __post_init__). Any other row goes to `from_record`,
    which fills a missing default or says what is wrong."""
    shapes = _shapes()
    events = []
    for expected, (event_id, type_name, time, payload) in enumerate(rows, start):
        if event_id != expected:
            raise HistoryError(f"{where or 'history'}: event {expected} is missing (next stored is "
                               f"{event_id}); the history has a hole and cannot be replayed")
        try:
            cls, names = shapes[type_name]
            attrs, end = _scan(payload, 0)
            usual = end == len(payload) and type(attrs) is dict
            if usual and attrs.keys() != names:   # optional fields left out: their defaults, if that is all
                quiet = _defaults(cls)
                usual = names - attrs.keys() <= quiet.keys() and attrs.keys() <= names
                if usual:
                    attrs = {**{k: type(v)() if isinstance(v, (dict, list)) else v
                                for k, v in quiet.items() if k not in attrs}, **attrs}
        except (KeyError, TypeError, ValueError, StopIteration):
            usual = False
        if usual:
            attrs["event_id"], attrs["time"] = event_id, time
            event = _new(cls)
            _set(event, "__dict__", attrs)
        else:
            event = from_record(event_id, type_name, time, payload, where)
        events.append(event)
    return events


def event_dict(event: Event) -> dict:
    """The JSON form of one event, as `simcore history` prints it and as fixtures store it."""
    return {"event_id": event.event_id, "type": event.type, "time": event.time, "attrs": event.attrs}


def from_dict(d: dict, where: str = "") -> Event:
    """The inverse of `event_dict`, with the same checks as reading a history file."""
    try:
        return from_record(int(d["event_id"]), d["type"], float(d["time"]), json.dumps(d["attrs"]), where)
    except (KeyError, TypeError, ValueError, OverflowError, RecursionError) as e:
        if isinstance(e, HistoryError):
            raise
        raise HistoryError(f"{where or 'history'}: malformed event {str(d)[:80]}: {e!r}") from None


def _at(where: str, event_id) -> str:
    return f"{where} event {event_id}" if where else f"event {event_id}"
