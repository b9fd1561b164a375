import json

import pytest

from simcore import events as ev


def test_round_trip_through_json():
    e = ev.ActivityTaskCompleted(4, 2.5, 2, {"charge": "ch_1"})
    back = ev.from_record(4, "ActivityTaskCompleted", 2.5, ev.to_json(e))
    assert back == e and back.command is False
    assert ev.ActivityTaskScheduled.command and ev.MarkerRecorded.command


def test_repr_reads_well():
    assert repr(ev.ActivityTaskScheduled(2, 0.25, "1", "ChargeCard", ["1001"])) == \
        "<  2 ActivityTaskScheduled ChargeCard @0.25s>"


@pytest.mark.parametrize("type_name, payload, says", [
    ("Pickled", "{}", "unknown event type 'Pickled'"),
    ("TimerFired", "not json", "payload is not JSON"),
    ("TimerFired", "[1, 2]", "must be a JSON object"),
    ("TimerFired", json.dumps({"timer_id": "1"}), "expected ['timer_id', 'started_event_id']"),
])
def test_bad_records_name_the_event(type_name, payload, says):
    with pytest.raises(ev.HistoryError, match="wf-9 event 7") as err:
        ev.from_record(7, type_name, 0.0, payload, "wf-9")
    assert says in str(err.value)
