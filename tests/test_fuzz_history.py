"""Fuzzing the SQLite history reader: a finished home's history.sqlite with random byte flips,
truncations, and rows deleted, swapped and edited, read by every read command.

The property: each command gives a clear error (exit 2), a verdict (exit 0 or 1), or a correct
result, never a traceback; and the read-only commands (`history show`, `check`, `export`,
`order status`) leave every file of the home byte for byte as it was. `order run` on the damaged home
must refuse clearly or finish the order (it is allowed to write).
"""
import json
import os
import shutil
import signal
import sqlite3

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simcore import home, realtime
from simcore.cli import main

SCALE = int(os.environ.get("SIMCORE_FUZZ_SCALE", "1"))   # e.g. 20 for a long run
BOUND = 30   # seconds: an undamaged order runs in well under one
READ_ONLY = (["history", "show"], ["history", "check"], ["history", "export"], ["order", "status"],
             ["order", "status", "--json"])


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    d = tmp_path_factory.mktemp("pristine")
    realtime.run_order(d, say=lambda line: None)
    return d


def snapshot(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)
values = (st.integers(-3, 40) | st.floats() | st.text(max_size=12) | st.binary(max_size=8) | st.none() |
          json_values.map(json.dumps) |
          st.sampled_from(["ActivityTaskCompleted", "WorkflowTaskScheduled", "WorkflowExecutionCompleted",
                           "TimerFired", "order-1001", "1", '{"scheduled_event_id": 5, "result": "char_9"}']))

edit = st.one_of(
    st.tuples(st.just("delete"), st.integers(1, 29), st.integers(0, 3)),
    st.tuples(st.just("swap"), st.integers(1, 29), st.integers(1, 29)),
    st.tuples(st.just("set"), st.integers(1, 29),
              st.sampled_from(["event_id", "type", "time", "payload", "workflow_id", "run_id"]), values),
    st.tuples(st.just("field"), st.integers(1, 29), st.text(max_size=20), json_values),
    st.tuples(st.just("world"), st.sampled_from(["DELETE FROM effects WHERE seq = ?",
                                                 "UPDATE effects SET ref = ref || 'x' WHERE seq = ?",
                                                 "UPDATE effects SET key = NULL WHERE seq = ?",
                                                 "UPDATE effects SET cents = 'lots' WHERE seq = ?"]),
              st.integers(1, 4)),
)
damage = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 2**20), st.integers(1, 255)), min_size=1, max_size=6)),
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("rows"), st.lists(edit, min_size=1, max_size=3)),
)


def apply(d, how):
    path = d / home.HISTORY
    kind, what = how
    if kind == "flip":
        data = bytearray(path.read_bytes())
        for at, mask in what:
            data[at % len(data)] ^= mask
        path.write_bytes(bytes(data))
    elif kind == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[:int(len(data) * what)])
    else:
        db = sqlite3.connect(path)
        world = sqlite3.connect(d / home.WORLD)
        for e in what:
            if e[0] == "delete":
                db.execute("DELETE FROM events WHERE event_id BETWEEN ? AND ?", (e[1], e[1] + e[2]))
            elif e[0] == "swap":
                a = db.execute("SELECT type, payload FROM events WHERE event_id=?", (e[1],)).fetchone()
                b = db.execute("SELECT type, payload FROM events WHERE event_id=?", (e[2],)).fetchone()
                if a and b:
                    db.execute("UPDATE events SET type=?, payload=? WHERE event_id=?", (*b, e[1]))
                    db.execute("UPDATE events SET type=?, payload=? WHERE event_id=?", (*a, e[2]))
            elif e[0] == "set":
                try:
                    db.execute(f"UPDATE OR REPLACE events SET {e[2]} = ? WHERE event_id = ?", (e[3], e[1]))
                except sqlite3.IntegrityError:
                    pass   # NOT NULL: a value the table itself refuses
            elif e[0] == "field":
                row = db.execute("SELECT payload FROM events WHERE event_id=?", (e[1],)).fetchone()
                try:
                    attrs = json.loads(row[0]) if row else None
                except (TypeError, ValueError):
                    attrs = None   # an earlier edit made it something else
                if isinstance(attrs, dict):
                    key = sorted(attrs)[len(e[2]) % len(attrs)] if attrs and len(e[2]) % 2 else e[2]
                    attrs[key] = e[3]
                    db.execute("UPDATE events SET payload=? WHERE event_id=?", (json.dumps(attrs), e[1]))
            else:
                world.execute(e[1], (e[2],))
        db.commit()
        world.commit()
        db.close()
        world.close()


@settings(max_examples=300 * SCALE, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(how=damage)
@example(how=("rows", [("field", 1, "00000", [])]))   # a run id that is a list (found by this test)
@example(how=("rows", [("delete", 26, 3)]))   # a result with no workflow task after it: order run waited for ever
@example(how=("rows", [("set", 1, "workflow_id", b"\x00")]))   # a workflow id stored as bytes (sorted among str ones)
def test_damaged_histories_are_read_clearly_and_left_alone(pristine, tmp_path_factory, capsys, how):
    d = tmp_path_factory.mktemp("home")
    shutil.rmtree(d)
    shutil.copytree(pristine, d)
    apply(d, how)
    before = snapshot(d)
    for command in READ_ONLY:
        code = main([*command, "--home", str(d)])
        out, err = capsys.readouterr()
        assert code in (0, 1, 2), (command, code, err)
        assert (code == 2) == err.startswith("error: "), (command, err)
        assert snapshot(d) == before, command
        if command == ["history", "export"] and code == 0:
            assert json.loads(out)["events"]
    code = main(["history", "export", "--home", str(d), "--out", str(d.parent / f"{d.name}.json")])
    capsys.readouterr()
    assert code in (0, 2) and snapshot(d) == before
    code = bounded(main, ["order", "run", "--home", str(d)])   # writes: must refuse clearly or carry on
    out, err = capsys.readouterr()
    if code is None:   # still running: only an activity the damage makes fail, retried for ever, may do that
        assert ": failed: " in out, f"order run neither finished nor refused in {BOUND} s: {(out + err)[-800:]}"
        return
    assert code in (0, 2), (code, err)
    assert (code == 2) == err.startswith("error: "), err


class Overran(BaseException):
    pass


def bounded(fn, *args):
    """fn(*args), or None if it has not returned after BOUND seconds (a hang fails the test, not CI)."""
    def overran(signum, frame):
        raise Overran
    previous = signal.signal(signal.SIGALRM, overran)
    signal.alarm(BOUND)
    try:
        return fn(*args)
    except Overran:
        return None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def tamper(path, *statements):
    db = sqlite3.connect(path)
    for sql in statements:
        db.execute(sql)
    db.commit()
    db.close()


def test_history_check_compares_the_history_with_the_world(tmp_path, capsys):
    """`history check` says what `order run` would refuse: a history whose last events were deleted
    (the world has acted on steps it no longer records), or whose ChargeCard result was edited."""
    realtime.run_order(tmp_path, say=lambda line: None)
    path, world = tmp_path / home.HISTORY, tmp_path / home.WORLD
    tamper(path, "UPDATE events SET payload = replace(payload, 'char_1', 'char_9') WHERE event_id = 7")
    assert main(["history", "check", "--home", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert (f"{path} workflow 'order-1001': disagrees with the world: event 7 records ChargeCard -> 'char_9', "
            f"but {world} has 'char_1' for it (its ChargeCard record, key ") in out, out
    assert out.strip().endswith("order-1001 (29 events): 1 problem")
    tamper(path, "UPDATE events SET payload = replace(payload, 'char_9', 'char_1') WHERE event_id = 7",
           "DELETE FROM events WHERE event_id > 16")
    before = snapshot(tmp_path)
    assert main(["history", "check", "--home", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "disagrees with the world: order-1001 has no ActivityTaskScheduled for the effect 'ship_3 standard'" in out
    assert "'send_4'" in out and out.strip().endswith("order-1001 (16 events): 3 problems")
    assert "ends at event 16 (WorkflowTaskCompleted) without the command its code makes there" in out   # cut there
    assert snapshot(tmp_path) == before
    assert main(["order", "run", "--home", str(tmp_path)]) == 2   # as order run refuses it
    assert "no ActivityTaskScheduled for the effect 'ship_3 standard'" in capsys.readouterr().err
    tamper(path, "DELETE FROM events")
    assert main(["history", "check", "--home", str(tmp_path)]) == 1   # every event gone: the world remembers
    assert "order-1001 has no ActivityTaskScheduled for the effect 'char_1'" in capsys.readouterr().out
    assert main(["history", "check", "--home", str(tmp_path), "--id", "order-7"]) == 2   # nothing of order-7
    assert "no history for order-7" in capsys.readouterr().err
    world.unlink()
    assert main(["history", "check", "--home", str(tmp_path)]) == 0   # nothing recorded, nothing to compare
    assert capsys.readouterr().out.strip().endswith("no workflows: ok")


def test_what_the_fuzzer_found(tmp_path, capsys):
    """Minimal examples the fuzzing found."""
    realtime.run_order(tmp_path, say=lambda line: None)
    before = snapshot(tmp_path)
    for command in READ_ONLY:   # reading left history.sqlite-wal and -shm behind (any home, any read)
        assert main([*command, "--home", str(tmp_path)]) == 0
    capsys.readouterr()
    assert snapshot(tmp_path) == before and sorted(before) == [home.HISTORY, home.WORLD]
    tamper(tmp_path / home.HISTORY, "UPDATE events SET time = 1e300 WHERE event_id = 29")   # export: OverflowError
    assert main(["history", "export", "--home", str(tmp_path)]) == 2
    assert "event 29 (WorkflowExecutionCompleted): time 1e+300 is not a time the engine writes" in \
        capsys.readouterr().err
    tamper(tmp_path / home.HISTORY, "UPDATE events SET time = 1.0 WHERE event_id = 29",
           "UPDATE events SET payload = CAST(X'7B22ff' AS TEXT) WHERE event_id = 3")   # not UTF-8
    # check said "no workflows: 1 problem" (the whole file unreadable); now it names the row
    assert main(["history", "check", "--home", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "workflow 'order-1001': event 3 (WorkflowTaskStarted): its payload is not UTF-8 text" in out
    assert out.strip().endswith("order-1001 (29 events): 1 problem")
    assert main(["history", "show", "--home", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "    3  !! unreadable: WorkflowTaskStarted" in out and "ActivityTaskScheduled ChargeCard" in out
    assert main(["order", "run", "--home", str(tmp_path)]) == 2
    assert "cannot read the history (Could not decode to UTF-8" in capsys.readouterr().err
