import re
import sqlite3

import pytest

from simcore import events as ev
from simcore.history import History, HistoryConflict, HistoryError, dump, latest_run, load


def started(wid="wf"):
    return ev.WorkflowExecutionStarted(1, 0.0, "fulfill_order", wid, ["1001", 4200])


def scheduled(n):
    return ev.ActivityTaskScheduled(n, 1.0, "1", "ChargeCard", ["1001", 4200])


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path):
    h = History(tmp_path / "h.sqlite") if request.param == "file" else History.memory()
    yield h
    h.close()


def test_append_then_read_in_order(store):
    store.append("wf", [started()])
    store.append("wf", [scheduled(2), ev.ActivityTaskStarted(3, 2.0, 2, 1)])
    assert [e.event_id for e in store.read("wf")] == [1, 2, 3]
    assert store.length("wf") == 3 and store.workflows() == [("wf", "1")]


def test_a_stale_writer_is_refused_and_nothing_changes(store):
    store.append("wf", [started()])
    store.append("wf", [scheduled(2)])
    with pytest.raises(HistoryConflict, match="append at event 2 refused"):
        store.append("wf", [scheduled(2)])
    assert store.length("wf") == 2


def test_payloads_must_be_json_data(store):
    with pytest.raises(HistoryError, match="not JSON data"):
        store.append("wf", [ev.WorkflowExecutionStarted(1, 0.0, "w", "wf", [object()])])
    assert store.length("wf") == 0


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_infinity_are_not_json_in_either_store(store, value):
    """Python's json writes them (as NaN, Infinity), but no JSON reader, Temporal's included, takes them."""
    with pytest.raises(HistoryError, match="not JSON data"):
        store.append("wf", [ev.WorkflowExecutionStarted(1, 0.0, "w", "wf", [{"x": [value]}])])
    assert store.length("wf") == 0


def test_history_survives_reopening(tmp_path):
    path = tmp_path / "h.sqlite"
    History(path).append("wf", [started(), scheduled(2)])
    assert len(History(path).read("wf")) == 2


def _tamper(path, sql, *args):
    db = sqlite3.connect(path)
    db.execute(sql, args)
    db.commit()
    db.close()


def test_a_deleted_row_is_reported_as_a_hole(tmp_path):
    path = tmp_path / "h.sqlite"
    History(path).append("wf", [started(), scheduled(2), ev.ActivityTaskStarted(3, 2.0, 2, 1)])
    _tamper(path, "DELETE FROM events WHERE event_id = 2")
    with pytest.raises(HistoryError, match="workflow 'wf': event 2 is missing"):
        History(path).read("wf")


def test_unknown_types_and_garbage_payloads_are_named(tmp_path):
    path = tmp_path / "h.sqlite"
    History(path).append("wf", [started(), scheduled(2)])
    _tamper(path, "UPDATE events SET type = 'os.system' WHERE event_id = 2")
    with pytest.raises(HistoryError, match="event 2: unknown event type 'os.system'"):
        History(path).read("wf")
    _tamper(path, "UPDATE events SET type = 'ActivityTaskScheduled', payload = '{oops' WHERE event_id = 2")
    with pytest.raises(HistoryError, match="event 2 \\(ActivityTaskScheduled\\): payload is not JSON"):
        History(path).read("wf")
    _tamper(path, "UPDATE events SET payload = '{\"activity_id\": \"1\"}' WHERE event_id = 2")
    lacking = ("event 2 (ActivityTaskScheduled): payload fields ['activity_id'] but expected "
               "['activity_id', 'activity_type', 'input', 'options']")
    with pytest.raises(HistoryError, match=re.escape(lacking)):
        History(path).read("wf")


def test_files_that_are_not_histories(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(HistoryError, match="cannot open as a history file"):
        History(junk)
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE users (name TEXT)")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match="not a simcore history \\(tables: users\\)"):
        History(other)
    with pytest.raises(HistoryError, match="is a folder"):
        History(tmp_path)


def test_dump_and_load_round_trip(order_history):
    assert load(dump(order_history)) == order_history
    with pytest.raises(HistoryError, match="event 2 is missing"):
        load(dump([order_history[0]] + order_history[2:]))
    with pytest.raises(HistoryError, match="not JSON"):
        load("{")


def test_two_writers_on_one_file_never_fork_the_history(tmp_path):
    path = tmp_path / "h.sqlite"
    a, b = History(path), History(path)
    a.append("wf", [started(), scheduled(2)])
    b.append("wf", [ev.ActivityTaskStarted(3, 2.0, 2, 1)])          # b learns the end from the file
    with pytest.raises(HistoryConflict):
        a.append("wf", [ev.ActivityTaskStarted(3, 2.0, 2, 1)])      # a's own idea of the end is stale
    a.append("wf", [ev.ActivityTaskCompleted(4, 2.0, 2, "ok")])     # and it recovers on the next try
    assert [e.event_id for e in History(path).read("wf")] == [1, 2, 3, 4]


def test_read_from_an_event_on(store):
    store.append("wf", [started(), scheduled(2), ev.ActivityTaskStarted(3, 2.0, 2, 1)])
    assert [e.event_id for e in store.read("wf", start=2)] == [2, 3]
    assert store.read("wf", start=3) == store.read("wf")[2:]
    assert store.read("wf", start=4) == store.read("wf", start=99) == store.read("nobody", start=2) == []
    with pytest.raises(ValueError, match="numbered from 1"):
        store.read("wf", start=0)


def test_read_from_an_event_on_still_finds_holes_and_bad_rows(tmp_path):
    path = tmp_path / "h.sqlite"
    History(path).append("wf", [started(), scheduled(2), ev.ActivityTaskStarted(3, 2.0, 2, 1),
                                ev.ActivityTaskCompleted(4, 3.0, 2, "ok")])
    _tamper(path, "DELETE FROM events WHERE event_id = 3")
    assert [e.event_id for e in History(path).read("wf", start=4)] == [4]    # the hole is before it
    with pytest.raises(HistoryError, match="workflow 'wf': event 3 is missing \\(next stored is 4\\)"):
        History(path).read("wf", start=2)
    with pytest.raises(HistoryError, match="workflow 'wf': event 3 is missing"):
        History(path).read("wf", start=3)
    _tamper(path, "UPDATE events SET payload = '{\"result\": \"ok\"' WHERE event_id = 4")
    with pytest.raises(HistoryError, match="event 4 \\(ActivityTaskCompleted\\): payload is not JSON"):
        History(path).read("wf", start=4)


def test_a_row_sqlite_cannot_decode_is_a_history_error_naming_the_file(tmp_path):
    path = tmp_path / "h.sqlite"
    History(path).append("wf", [started(), scheduled(2)])
    _tamper(path, "UPDATE events SET payload = CAST(X'7B22ff' AS TEXT) WHERE event_id = 2")
    with pytest.raises(HistoryError, match=f"{path} workflow 'wf': cannot read the history \\(Could not decode"):
        History(path).read("wf")
    _tamper(path, "UPDATE events SET payload = ? WHERE event_id = 2", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(HistoryError, match="nested too deeply|payload is not JSON"):
        History(path).read("wf")


def test_load_refuses_fields_of_the_wrong_type(order_history):
    import json
    rows = json.loads(dump(order_history))
    rows[6]["attrs"]["scheduled_event_id"] = "5"
    with pytest.raises(HistoryError, match="event 7 \\(ActivityTaskCompleted\\): field scheduled_event_id should be int"):
        load(json.dumps(rows), "h.json")
    rows[6]["event_id"] = 1e400
    with pytest.raises(HistoryError, match="h.json: malformed event"):
        load(json.dumps(rows).replace("Infinity", "1e400"), "h.json")
    with pytest.raises(HistoryError, match="not JSON"):
        load("[" * 100_000, "h.json")


def test_the_collector_is_paused_inside_and_back_after_even_on_an_error():
    import gc

    from simcore.history import collector_paused
    assert gc.isenabled()
    with pytest.raises(KeyError):
        with collector_paused():
            assert not gc.isenabled()
            with collector_paused():   # nested: the inner one leaves it off
                pass
            assert not gc.isenabled()
            raise KeyError("boom")
    assert gc.isenabled()
    gc.disable()
    try:   # paused already by the caller: left as the caller had it
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_latest_run_is_the_largest_number_and_ignores_what_is_not_one():
    assert latest_run(["1", "2", "10", "9"]) == "10"   # as numbers, not as text
    assert latest_run([]) == "1"
    assert latest_run(["1", "x", "²", "3"]) == "3"     # "²".isdigit() is true, yet int("²") fails
    h = History.memory()
    h.append("w", [ev.WorkflowExecutionStarted(1, 0.0, "t", "w", [], "r")], run_id="²")
    assert h.current_run("w") == "1"


def test_an_append_that_does_not_wait_for_the_disk_is_committed_alike_and_the_next_one_waits_again(tmp_path):
    """`sync=False` (the engine's for a workflow task's start) relaxes the sync for its own commit only,
    also when the append is refused; a process crash keeps it as it keeps any commit (tests/test_kill.py)."""
    h = History(tmp_path / "h.sqlite")
    said = []
    h._db.set_trace_callback(said.append)
    h.append("wf", [started()], sync=False)
    with pytest.raises(HistoryConflict):
        h.append("wf", [started()], sync=False)
    h.append("wf", [scheduled(2)])
    pragmas = [s for s in said if s.startswith("PRAGMA")]
    assert pragmas == ["PRAGMA synchronous=NORMAL", "PRAGMA synchronous=FULL"] * 2
    assert said.index("PRAGMA synchronous=NORMAL") < said.index("COMMIT") < said.index("PRAGMA synchronous=FULL")
    assert h._db.execute("PRAGMA synchronous").fetchone()[0] == 2   # FULL again
    assert [e.event_id for e in History(tmp_path / "h.sqlite").read("wf")] == [1, 2]
    memory = History.memory()
    memory.append("wf", [started()], sync=False)   # nothing to wait for: the same contract
    assert memory.length("wf") == 1


@pytest.mark.parametrize("event", [
    ev.WorkflowTaskStarted(3, 1.5, 2, "worker-1"), ev.WorkflowTaskStarted(3, 1, 2, "w"),        # an int time
    ev.WorkflowTaskStarted(3, float("nan"), 2, "w"), ev.WorkflowTaskStarted(True, 1.0, 2, "w"),  # a bool id
    ev.WorkflowTaskStarted(2**63, 1.0, 2, "w"), ev.WorkflowTaskStarted(3, 1.0, 2, ("a",)),
    ev.TimerStarted(4, 0.0, "1", 30), ev.TimerStarted(4, 0.0, "1", float("inf")),
    ev.WorkflowExecutionStarted(1, 0.0, "w", "wf", [{"x": [1, 2.5, None]}], "r"),
    ev.WorkflowExecutionStarted(1, 0.0, "w", "wf", [{1: "one"}]), ev.WorkflowExecutionCanceled(9, 2.0),
])
def test_the_memory_stores_check_of_an_event_finds_what_checking_every_value_finds(event):
    from simcore.history import _check, _plain
    assert _check(type(event))(event) == _plain(vars(event).values())
