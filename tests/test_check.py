"""`history check`: every problem of a damaged history, named with its file, workflow and event."""
import sqlite3

import pytest

from simcore import check, home, realtime
from simcore import events as ev
from simcore.cli import main
from simcore.history import History, HistoryError


@pytest.fixture
def finished(tmp_path):
    """A home whose ORDER #1001 has completed: 29 events."""
    realtime.run_order(tmp_path, say=lambda line: None)
    return tmp_path


def tamper(home_dir, *statements):
    db = sqlite3.connect(home_dir / home.HISTORY)
    for sql in statements:
        db.execute(sql)
    db.commit()
    db.close()


def problems(home_dir):
    report = check.check_file(home_dir / home.HISTORY, home.WORKFLOWS)
    return [str(p).removeprefix(f"{home_dir / home.HISTORY} workflow 'order-1001': ") for p in report.problems]


def test_a_clean_history_passes(finished, capsys):
    assert problems(finished) == []
    assert main(["history", "check", "--home", str(finished)]) == 0
    assert capsys.readouterr().out.strip().endswith("order-1001 (29 events): ok")


@pytest.mark.parametrize("sql, says", [
    ("DELETE FROM events WHERE event_id = 11",
     "event 11 missing: the sequence jumps from 10 to 12"),
    ("DELETE FROM events WHERE event_id IN (11, 12, 13)",
     "events 11..13 missing: the sequence jumps from 10 to 14"),
    ("UPDATE events SET type = 'ActivityTaskExploded' WHERE event_id = 7",
     "event 7: unknown event type 'ActivityTaskExploded'"),
    ("UPDATE events SET payload = '{\"scheduled_event_id\": 5, \"result\": ' WHERE event_id = 7",
     "event 7 (ActivityTaskCompleted): payload is not JSON"),
    ("UPDATE events SET payload = '[1, 2]' WHERE event_id = 7",
     "event 7 (ActivityTaskCompleted): payload must be a JSON object, got list"),
    ("UPDATE events SET payload = '{\"result\": \"char_1\"}' WHERE event_id = 7",
     "event 7 (ActivityTaskCompleted): payload fields ['result'] but expected ['scheduled_event_id', 'result']"),
    ("UPDATE events SET payload = '{\"scheduled_event_id\": \"5\", \"result\": \"char_1\"}' WHERE event_id = 7",
     "event 7 (ActivityTaskCompleted): field scheduled_event_id should be int, got str '5'"),
    ("UPDATE events SET payload = '{\"scheduled_event_id\": 99, \"result\": \"char_1\"}' WHERE event_id = 7",
     "event 7 (ActivityTaskCompleted): scheduled_event_id 99 refers to no earlier event"),
    ("UPDATE events SET payload = '{\"scheduled_event_id\": 1, \"result\": \"char_1\"}' WHERE event_id = 7",
     "event 7 (ActivityTaskCompleted): scheduled_event_id 1 refers to a WorkflowExecutionStarted, not an "
     "ActivityTaskScheduled"),
    ("UPDATE events SET payload = '{\"scheduled_event_id\": 5, \"result\": \"x\"}' WHERE event_id = 13",
     "event 13 (ActivityTaskCompleted): the ActivityTaskScheduled at event 5 was already answered by event 7"),
    ("UPDATE events SET time = 'noon' WHERE event_id = 6",
     "event 6 (ActivityTaskStarted): time 'noon' is not a number of seconds"),
    ("UPDATE events SET payload = replace(payload, '\"activity_id\":\"2\"', '\"activity_id\":\"1\"') "
     "WHERE event_id = 11", "event 11 (ActivityTaskScheduled): activity id '1' was already used by event 5"),
    ("INSERT INTO events SELECT workflow_id, run_id, 30, type, time, payload FROM events WHERE event_id = 23",
     "event 30 (ActivityTaskScheduled): comes after the workflow closed at event 29"),
    ("UPDATE events SET payload = replace(payload, '\"scheduled_event_id\":8', '\"scheduled_event_id\":7') "
     "WHERE event_id = 9",
     "event 9 (WorkflowTaskStarted): scheduled_event_id 7 refers to no earlier WorkflowTaskScheduled"),
])
def test_each_hand_edit_is_named(finished, sql, says):
    tamper(finished, sql)
    found = problems(finished)
    assert any(says in p for p in found), found


def test_every_problem_is_listed_not_only_the_first(finished, capsys):
    tamper(finished, "DELETE FROM events WHERE event_id = 18",
           "UPDATE events SET type = 'Bogus' WHERE event_id = 24")
    found = problems(finished)
    assert found[0] == "event 18 missing: the sequence jumps from 17 to 19"
    assert any(p.startswith("event 24: unknown event type 'Bogus'") for p in found)
    assert main(["history", "check", "--home", str(finished)]) == 1
    out = capsys.readouterr().out
    assert f"{finished / home.HISTORY} workflow 'order-1001': event 18 missing" in out and "problems" in out


def test_the_story_must_start_with_the_start(tmp_path):
    h = History(tmp_path / home.HISTORY)
    h.append("order-1001", [ev.ActivityTaskScheduled(1, 0.0, "1", "ChargeCard", ["1001", 4200])])
    h.append("order-1002", [ev.WorkflowExecutionStarted(1, 0.0, "fulfill_order", "order-9", ["1002", 4200])])
    h.close()
    report = check.check_file(tmp_path / home.HISTORY, home.WORKFLOWS)
    text = "\n".join(map(str, report.problems))
    assert "'order-1001': event 1 (ActivityTaskScheduled): a history must begin with WorkflowExecutionStarted" in text
    assert "starts workflow 'order-9' but is stored as the history of 'order-1002'" in text


def test_a_history_of_other_code_or_another_workflow_type(finished, tmp_path):
    tamper(finished, "UPDATE events SET payload = replace(payload, 'ChargeCard', 'ShipPackage') WHERE event_id = 5")
    assert any("written by different code: non-determinism in order-1001 at event 5" in p
               for p in problems(finished)), problems(finished)
    tamper(finished, "UPDATE events SET payload = replace(payload, 'fulfill_order', 'refund_order') "
                     "WHERE event_id = 1")
    assert problems(finished) == ["event 1 (WorkflowExecutionStarted): workflow type 'refund_order' is not one "
                                  "this engine runs (known: fulfill_and_review, fulfill_order); name its code with --workflow "
                                      "MODULE:NAME"]


def test_an_unfinished_history_is_fine(tmp_path):
    h = History(tmp_path / home.HISTORY)
    h.append("order-1001", [ev.WorkflowExecutionStarted(1, 0.0, "fulfill_order", "order-1001", ["1001", 4200]),
                            ev.ActivityTaskScheduled(2, 0.0, "1", "ChargeCard", ["1001", 4200])])
    h.close()
    assert check.check_file(tmp_path / home.HISTORY, home.WORKFLOWS).ok


def test_files_that_are_not_histories(tmp_path, finished):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"\x00garbage" * 500)
    assert [p.message for p in check.check_file(junk).problems] == [
        "cannot read as a history file (file is not a database)"]
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE users (name TEXT)").connection.commit()
    assert "not a simcore history (tables: users)" in check.check_file(other).problems[0].message
    assert check.check_file(tmp_path / "nope.sqlite").problems[0].message == "no such file"


def test_a_truncated_file_is_reported_as_damaged(finished):
    path = finished / home.HISTORY
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 100])
    found = check.check_file(path, home.WORKFLOWS).problems
    assert found and all(str(path) in str(p) for p in found)
    assert any("damaged database" in p.message or "cannot read" in p.message for p in found), found


def test_checking_never_runs_code_from_the_history(finished, tmp_path):
    marker = tmp_path / "pwned"
    tamper(finished, f"UPDATE events SET type = '__import__(\"os\").system(\"touch {marker}\")' WHERE event_id = 3",
           "UPDATE events SET payload = '{\"__reduce__\": \"os.system\", \"scheduled_event_id\": 2, "
           "\"attempt\": 1}' WHERE event_id = 3")
    found = problems(finished)
    assert found and "unknown event type" in found[0] and not marker.exists()


def test_a_full_disk_on_append_writes_nothing_and_keeps_what_was_there(tmp_path):
    """SQLite's max_page_count makes the disk full for real: the append fails whole."""
    path = tmp_path / home.HISTORY
    h = History(path)
    h.append("wf", [ev.WorkflowExecutionStarted(1, 0.0, "fulfill_order", "wf", ["1001", 4200])])
    pages = h._db.execute("PRAGMA page_count").fetchone()[0]
    h._db.execute(f"PRAGMA max_page_count = {pages + 1}")
    big = ev.ActivityTaskScheduled(2, 1.0, "1", "ChargeCard", ["x" * 100_000])
    with pytest.raises(HistoryError, match=f"{path}: cannot append to wf: database or disk is full. Nothing "
                                           "was written"):
        h.append("wf", [big, ev.ActivityTaskStarted(3, 1.0, 2, 1)])
    h.close()
    assert [e.type for e in History(path).read("wf")] == ["WorkflowExecutionStarted"]
    assert check.check_file(path).ok


def test_show_prints_what_it_can_and_names_the_rest(finished, capsys):
    tamper(finished, "UPDATE events SET payload = '{oops' WHERE event_id = 12")
    assert main(["history", "show", "--home", str(finished), "--order", "1001"]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == f"{finished / home.HISTORY} · order-1001 · 29 events" and len(lines) == 30
    assert "ActivityTaskScheduled ReserveInventory" in lines[11] and lines[12].startswith("   12  !! unreadable")
    assert "event 12 (ActivityTaskStarted): payload is not JSON" in err
    assert main(["history", "check", "--home", str(finished), "--order", "1002"]) == 2
    assert "no history for order-1002" in capsys.readouterr().err


@pytest.mark.parametrize("sql, says", [
    ("UPDATE events SET payload = replace(payload, '\"start_to_close\":null', '\"start_to_close\":\"soon\"') "
     "WHERE event_id = 5", "event 5 (ActivityTaskScheduled): options are not a retry policy and timeouts"),
    ("UPDATE events SET payload = json_set(payload, '$.options', json_array(1)) WHERE event_id = 5",
     "event 5 (ActivityTaskScheduled): field options should be dict, got list '[1]'"),
    ("UPDATE events SET payload = '{\"scheduled_event_id\": 5, \"attempt\": 2, \"last_failure\": \"boom\"}' "
     "WHERE event_id = 6", "event 6 (ActivityTaskStarted): field last_failure should be dict | None, got str 'boom'"),
    ("UPDATE events SET payload = '{\"scheduled_event_id\": 5, \"attempt\": 2, \"last_failure\": {\"why\": 1}}' "
     "WHERE event_id = 6", "event 6 (ActivityTaskStarted): last_failure should be"),
    ("UPDATE events SET time = 1e300 WHERE event_id = 6",
     "event 6 (ActivityTaskStarted): time 1e+300 is not a time the engine writes"),
    ("UPDATE events SET payload = CAST(X'7B22ff' AS TEXT) WHERE event_id = 6",
     "event 6 (ActivityTaskStarted): its payload is not UTF-8 text"),
    ("UPDATE events SET payload = '{\"scheduled_event_id\": 5, \"attempt\": 1, \"last_failure\": ' || "
     "substr(replace(hex(zeroblob(5000)), '00', '[['), 1, 10000) || '}' WHERE event_id = 6",
     "event 6 (ActivityTaskStarted): payload is"),
])
def test_values_the_engine_never_writes_are_named(finished, sql, says):
    tamper(finished, sql)
    found = problems(finished)
    assert any(says in p for p in found), found


def test_checking_leaves_no_file_behind(finished, capsys):
    """Reading opens the file immutable when no writer is at work: SQLite leaves no -wal or -shm."""
    before = sorted(p.name for p in finished.iterdir())
    assert main(["history", "check", "--home", str(finished)]) == 0
    assert main(["order", "status", "--home", str(finished)]) == 0
    assert sorted(p.name for p in finished.iterdir()) == before == [home.HISTORY, home.WORLD]


def test_a_timer_cancelled_and_then_fired_is_answered_twice():
    from simcore.engine import Engine
    from simcore.sim import Sim
    from simcore.workflow import workflow

    @workflow(name="race")
    def race(ctx):
        which, _ = yield ctx.first(ctx.sleep(seconds=10), ctx.signal("go"))
        return which
    sim = Sim()
    e = Engine(sim, [race], [])
    e.start(race, "w")
    e.later(1, e.signal, "w", "go")
    sim.run()
    h = sim.history.read("w")
    cancel = next(x for x in h if x.type == "TimerCanceled")
    assert check.check_story(h, "w", "h") == []
    fired = ev.TimerFired(len(h) + 1, 20.0, cancel.timer_id, cancel.started_event_id)
    said = [p.message for p in check.check_story(h[:-1] + [ev.copy_with(fired, event_id=len(h))], "w", "h")]
    assert said == [f"event {len(h)} (TimerFired): the TimerStarted at event {cancel.started_event_id} was already "
                    f"answered by event {cancel.event_id}"], said


def test_an_arrival_no_workflow_task_hands_over_is_reported():
    """A result, a fired timer or a signal is recorded with the workflow task that hands it to the code,
    in one append, unless a task is already on its way. A history cut between the two would leave the
    workflow asleep for ever (`order run` waited for ever on one): `history check` says so."""
    from simcore.engine import Engine
    from simcore.sim import Sim
    from simcore.workflow import workflow

    @workflow(name="nap")
    def nap(ctx):
        yield ctx.sleep(seconds=10)
        got = yield ctx.signal("go")
        return got
    sim = Sim()
    e = Engine(sim, [nap], [])
    e.start(nap, "w")
    e.later(1, e.signal, "w", "go", "early")   # arrives while the workflow sleeps: a task is scheduled with it
    sim.run()
    h = sim.history.read("w")
    assert check.check_story(h, "w", "h") == []
    for arrival in ("WorkflowExecutionSignaled", "TimerFired"):
        cut = next(i for i, x in enumerate(h) if x.type == arrival) + 1
        assert h[cut].type == "WorkflowTaskScheduled"
        said = [p.message for p in check.check_story(h[:cut], "w", "h")]
        assert said == [f"event {cut} ({arrival}): {check.NO_TASK}"], said
