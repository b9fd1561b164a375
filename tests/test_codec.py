import dataclasses
import json

import pytest

from simcore import events as ev
from simcore.codec import from_record, from_records, to_json


def test_round_trip_through_json():
    e = ev.ActivityTaskCompleted(4, 2.5, 2, {"charge": "ch_1"})
    back = from_record(4, "ActivityTaskCompleted", 2.5, to_json(e))
    assert back == e and back.command is False


BAD_RECORDS = [
    ("Pickled", "{}", "unknown event type 'Pickled'"),
    ("TimerFired", "not json", "payload is not JSON"),
    ("TimerFired", "[1, 2]", "must be a JSON object"),
    ("TimerFired", json.dumps({"timer_id": "1"}), "expected ['timer_id', 'started_event_id']"),
    ("TimerFired", json.dumps({"timer_id": "1", "started_event_id": 1, "x": 2}), "payload fields"),
    ("TimerStarted", '{"seconds":NaN,"timer_id":"1"}', "NaN is not JSON"),   # Python's json reads it, unless told
    ("TimerStarted", '{"seconds":-Infinity,"timer_id":"1"}', "-Infinity is not JSON"),
]


@pytest.mark.parametrize("type_name, payload, says", BAD_RECORDS)
def test_bad_records_name_the_event(type_name, payload, says):
    with pytest.raises(ev.HistoryError, match="wf-9 event 7") as err:
        from_record(7, type_name, 0.0, payload, "wf-9")
    assert says in str(err.value)


def _rows(events):
    return [(e.event_id, e.type, e.time, to_json(e)) for e in events]


def test_many_rows_read_as_each_one_alone(order_history):
    assert from_records(_rows(order_history), "wf-9") == order_history
    assert from_records(_rows(order_history[3:]), "wf-9", start=4) == order_history[3:]
    with pytest.raises(dataclasses.FrozenInstanceError):   # made without __init__, and still frozen
        from_records(_rows(order_history))[1].activity_type = "Refund"
    no_options = '{"activity_id":"1","activity_type":"ChargeCard","input":[]}'
    assert from_records([(1, "ActivityTaskScheduled", 0.0, no_options)])[0].options == {}   # the default


@pytest.mark.parametrize("type_name, payload, says", BAD_RECORDS + [
    ("TimerFired", '{"timer_id":"1","started_event_id":1} x', "payload is not JSON"),   # text after it
    ("TimerFired", b"{}", "payload is not JSON"),                                         # a BLOB
])
def test_a_bad_row_among_many_is_named_as_one_alone(type_name, payload, says):
    rows = [(6, "TimerStarted", 0.0, '{"seconds":1.0,"timer_id":"1"}'), (7, type_name, 0.0, payload)]
    with pytest.raises(ev.HistoryError, match="wf-9 event 7") as err:
        from_records(rows, "wf-9", start=6)
    assert says in str(err.value)


def test_many_rows_must_be_numbered_from_start_without_a_gap(order_history):
    rows = _rows(order_history)
    with pytest.raises(ev.HistoryError, match="wf-9: event 3 is missing \\(next stored is 4\\)"):
        from_records(rows[:2] + rows[3:], "wf-9")
    with pytest.raises(ev.HistoryError, match="wf-9: event 2 is missing \\(next stored is 3\\)"):
        from_records(rows[2:], "wf-9", start=2)


def test_keys_that_json_writes_alike_are_named():
    from simcore.codec import is_json, merged_keys
    assert merged_keys({1: "a", "1": "b"}) == """the keys 1 and '1' are both "1" in JSON: one value would be lost"""
    assert merged_keys([{"x": {True: 1, "true": 2}}]).startswith("the keys True and 'true' are both \"true\"")
    assert not is_json({1: "a", "1": "b"}) and is_json({1: "a"}) and merged_keys({1: "a", 2: "b"}) == ""
    deep = []
    for _ in range(5000):
        deep = [deep]
    assert merged_keys(deep) == ""   # walked without recursion
