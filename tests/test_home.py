"""A home directory: ORDER #1001 run against files, recovered from them, and refused when they are bad.

Every bad home gets a clear error naming the file and the problem, a non-zero exit, and no change to
what was already recorded. (Real processes and real kills: tests/test_kill.py.)
"""
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from simcore import audit, check, home, realtime
from simcore import events as ev
from simcore.cli import main
from simcore.history import History, HistoryError
from tests.conftest import ROOT

STEPS = {"ChargeCard": 1, "ReserveInventory": 1, "SendConfirmationEmail": 1, "ShipPackage": 1}


def run(capsys, *args):
    """`python -m simcore ...` in this process: (exit status, stdout, stderr)."""
    code = main(list(map(str, args)))
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(home_dir):
    """Everything recorded in a home, row by row."""
    rows = {}
    for name in (home.HISTORY, home.WORLD):
        if (home_dir / name).exists():
            db = check.connect_readonly(home_dir / name)
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY 1")]
            rows[name] = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}
            db.close()
    return rows


def tamper(path, *statements):
    db = sqlite3.connect(path)
    for sql in statements:
        db.execute(sql)
    db.commit()
    db.close()


@pytest.fixture
def finished(tmp_path, capsys):
    d = tmp_path / "home"
    assert run(capsys, "order", "run", "--home", d)[0] == 0
    return d


def test_run_status_and_a_second_run_that_changes_nothing(tmp_path, capsys):
    d = tmp_path / "home"
    code, out, err = run(capsys, "order", "run", "--home", d)
    assert code == 0 and err == ""
    assert out.splitlines()[0] == "order-1001: started (ORDER #1001, $42.00)"
    assert out.splitlines()[-1] == "order-1001 completed: order 1001 fulfilled (29 events)"
    code, out, _ = run(capsys, "order", "status", "--home", d, "--json")
    status = json.loads(out)
    assert {k: status[k] for k in ("statement_cents", "charges", "refunds", "effects", "outcome",
                                   "history_events")} == {
        "statement_cents": 4200, "charges": 1, "refunds": 0, "effects": STEPS, "outcome": "completed",
        "history_events": 29}
    code, out, _ = run(capsys, "order", "status", "--home", d)
    assert "statement: $42.00 (1 charge)" in out and "ShipPackage x1" in out and "history: 29 events" in out
    before = snapshot(d)
    code, out, _ = run(capsys, "order", "run", "--home", d)
    assert code == 0 and out == "order-1001 is already completed (29 events); nothing to do\n"
    assert snapshot(d) == before
    code, out, _ = run(capsys, "history", "show", "--home", d)
    assert code == 0 and "ActivityTaskCompleted #5 -> 'char_1'" in out and out.count("\n") == 30


def test_a_crash_between_the_effect_and_its_record_recovers_with_one_charge(tmp_path, capsys, monkeypatch):
    """The charge is committed in the world, the process dies before the history records it: the next
    run replays, runs ChargeCard again with the same idempotency key, and the card network answers
    with the first charge instead of a second one."""
    d = tmp_path / "home"

    class Killed(BaseException):
        pass

    def die(*a, **kw):
        raise Killed
    from simcore import service
    real = service.recorded
    monkeypatch.setattr(service, "recorded", die)   # where the engine turns a result into its events
    with pytest.raises(Killed):
        main(["order", "run", "--home", str(d)])
    assert audit.status(d)["charges"] == 1 and audit.status(d)["history_events"] == 5   # charged, not recorded
    monkeypatch.setattr(service, "recorded", real)
    code, out, _ = run(capsys, "order", "run", "--home", d)
    assert code == 0 and "order-1001: resumed from 5 events" in out
    assert "ChargeCard: done -> char_1 (already done by an earlier attempt: same idempotency key)" in out
    status = audit.status(d)
    assert status["statement_cents"] == 4200 and status["effects"] == STEPS and status["history_events"] == 29


@pytest.mark.parametrize("setup, says", [
    (lambda d: (d.mkdir(), (d / "notes.txt").write_text("mine")),
     "not a simcore home (no history.sqlite; it holds notes.txt); point --home at a home, or a new"),
    (lambda d: d.write_text("a file"), "not a directory; --home takes a folder"),
])
def test_a_folder_that_is_not_a_home_is_left_alone(tmp_path, capsys, setup, says):
    d = tmp_path / "x"
    setup(d)
    for cmd in (["order", "run"], ["order", "status"], ["history", "show"], ["history", "check"]):
        code, out, err = run(capsys, *cmd, "--home", d)
        assert code == 2 and f"error: {d}: " in err and "Traceback" not in err, (cmd, err)
    assert says in err
    assert not (tmp_path / "x" / home.HISTORY).exists() if d.is_dir() else d.read_text() == "a file"


def test_only_order_run_creates_a_home(tmp_path, capsys):
    for cmd in (["order", "status"], ["order", "signal", "cancel"], ["order", "query", "status"], ["history", "show"],
                ["history", "check"]):
        code, _, err = run(capsys, *cmd, "--home", tmp_path / "nothing")
        assert code == 2 and "not a simcore home (no history.sqlite in it)" in err
    assert not (tmp_path / "nothing").exists()


def test_a_home_whose_creation_was_killed_reads_as_empty_and_runs(tmp_path, capsys):
    """Each store's schema is made in one transaction: a kill before it leaves an empty database,
    which is a store with nothing in it yet."""
    d = tmp_path / "home"
    d.mkdir()
    (d / home.WORLD).write_bytes(b"")
    (d / home.HISTORY).write_bytes(b"")
    code, out, _ = run(capsys, "order", "status", "--home", d)
    assert code == 0 and "outcome: not started" in out and "history: 0 events" in out
    code, out, _ = run(capsys, "history", "check", "--home", d)
    assert code == 0 and out.strip().endswith("no workflows: ok")
    assert run(capsys, "order", "run", "--home", d)[0] == 0 and audit.status(d)["outcome"] == "completed"


def test_a_garbage_history_file(tmp_path, capsys):
    d = tmp_path / "home"
    d.mkdir()
    (d / home.HISTORY).write_bytes(b"\x13\x37 not sqlite at all " * 300)
    before = (d / home.HISTORY).read_bytes()
    for cmd in (["order", "run"], ["order", "status"], ["history", "show"]):
        code, _, err = run(capsys, *cmd, "--home", d)
        assert code == 2 and str(d / home.HISTORY) in err and "file is not a database" in err, (cmd, err)
    code, out, _ = run(capsys, "history", "check", "--home", d)
    assert code == 1 and "cannot read as a history file (file is not a database)" in out
    assert (d / home.HISTORY).read_bytes() == before


def test_a_truncated_history_file(finished, capsys):
    path = finished / home.HISTORY
    path.write_bytes(path.read_bytes()[:5000])
    before = path.read_bytes()
    code, _, err = run(capsys, "order", "run", "--home", finished)
    assert code == 2 and str(path) in err and "Traceback" not in err, err
    assert run(capsys, "history", "check", "--home", finished)[0] != 0
    assert path.read_bytes() == before


@pytest.mark.parametrize("sql, says", [
    ("DELETE FROM events WHERE event_id = 13", "event 13 is missing (next stored is 14)"),
    ("UPDATE events SET payload = '{\"scheduled_event_id\": 99, \"result\": \"char_1\"}' WHERE event_id = 7",
     "the history cannot be trusted, so it is not run:\n  {path} workflow 'order-1001': event 7 "
     "(ActivityTaskCompleted): scheduled_event_id 99 refers to no earlier event"),
    ("UPDATE events SET type = 'os.system' WHERE event_id = 3", "event 3: unknown event type 'os.system'"),
    ("UPDATE events SET payload = replace(payload, 'fulfill_order', 'refund_order') WHERE event_id = 1",
     "workflow type 'refund_order' is not one this engine runs (known: fulfill_and_review, fulfill_order)"),
    ("UPDATE events SET payload = replace(payload, 'ChargeCard', 'ShipPackage') WHERE event_id = 5",
     "written by different code: non-determinism in order-1001 at event 5: history recorded "
     "[ActivityTaskScheduled ShipPackage] but the code produced [ScheduleActivity ChargeCard]"),
    ("DELETE FROM events WHERE event_id > 8",   # a valid prefix, but the world has seen more
     "order-1001 has no ActivityTaskScheduled for the effect 'rese_2' that {world} records"),
])
def test_a_hand_edited_or_foreign_history_is_refused_and_kept(tmp_path, capsys, sql, says):
    d = tmp_path / "home"
    realtime.run_order(d, say=lambda line: None)
    tamper(d / home.HISTORY, "DELETE FROM events WHERE event_id > 17")   # in progress: ShipPackage next
    tamper(d / home.HISTORY, sql)
    before = snapshot(d)
    code, out, err = run(capsys, "order", "run", "--home", d)
    assert code == 2 and "Traceback" not in err
    assert says.format(path=d / home.HISTORY, world=d / home.WORLD) in err, err
    assert snapshot(d) == before


def test_a_history_cut_after_a_workflow_task_is_refused_not_waited_on(finished, capsys):
    """Its commands were appended with it; without them nothing would wake the workflow (the fuzzer
    found `order run` waiting for ever on a history whose last event was deleted)."""
    tamper(finished / home.HISTORY, "DELETE FROM events WHERE event_id = 29")
    before = snapshot(finished)
    says = "ends at event 28 (WorkflowTaskCompleted) without the command its code makes there (CompleteWorkflow): " \
           "it was cut short"
    code, _, err = run(capsys, "order", "run", "--home", finished)
    assert code == 2 and says in err and "the history cannot be trusted, so it is not run" in err, err
    code, out, _ = run(capsys, "history", "check", "--home", finished)   # and `history check` says so too
    assert code == 1 and says in out, out
    assert snapshot(finished) == before


def test_a_history_from_another_home_or_without_its_world(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    realtime.run_order(a, say=lambda line: None)
    realtime.run_order(b, "1002", say=lambda line: None)
    shutil.copy(a / home.HISTORY, b / home.HISTORY)   # b's world never saw order 1001
    tamper(b / home.HISTORY, "DELETE FROM events WHERE event_id > 17")
    code, _, err = run(capsys, "order", "run", "--home", b)
    assert code == 2 and f"event 7 records ChargeCard -> 'char_1', but {b / home.WORLD} has None" in err
    (a / home.WORLD).unlink()
    code, _, err = run(capsys, "order", "run", "--home", a)
    assert code == 2 and f"{a / home.WORLD}: missing, but {a / home.HISTORY} records workflows" in err
    assert not (a / home.WORLD).exists()


class Faulty:
    """A connection whose disk fills up: statements starting with `fails` raise SQLITE_FULL once
    `after` of them have gone through."""

    def __init__(self, db, fails: str, after: int):
        self._db, self.fails, self.after = db, fails, after

    def _maybe_fail(self, sql):
        if sql.lstrip().startswith(self.fails):
            if self.after == 0:
                raise sqlite3.OperationalError("database or disk is full")
            self.after -= 1

    def execute(self, sql, *args):
        self._maybe_fail(sql)
        return self._db.execute(sql, *args)

    def executemany(self, sql, *args):
        self._maybe_fail(sql)
        return self._db.executemany(sql, *args)

    def __getattr__(self, name):
        return getattr(self._db, name)


@pytest.mark.parametrize("store, fails, after, says", [
    ("OwnedHistory", "INSERT INTO events", 3,
     "{history}: cannot append to order-1001: database or disk is full. Nothing was written"),
    ("DurableWorld", "INSERT INTO effects", 1, "{world}: the world store failed: the disk is full"),
])
def test_a_full_disk_stops_the_run_and_loses_nothing(tmp_path, capsys, monkeypatch, store, fails, after, says):
    d = tmp_path / "home"
    cls = getattr(home, store)
    real_init = cls.__init__

    def init(self, path, **kw):
        real_init(self, path, **kw)
        if Path(path).parent == d and not kw.get("readonly"):
            self._db = Faulty(self._db, fails, after)
    monkeypatch.setattr(cls, "__init__", init)
    code, out, err = run(capsys, "order", "run", "--home", d)
    assert code == 2 and says.format(history=d / home.HISTORY, world=d / home.WORLD) in err, err
    assert check.check_file(d / home.HISTORY, home.WORKFLOWS).ok
    recorded = audit.status(d)
    assert recorded["charges"] <= 1 and 0 < recorded["history_events"] < 29
    monkeypatch.setattr(cls, "__init__", real_init)   # space freed: run again
    assert run(capsys, "order", "run", "--home", d)[0] == 0
    status = audit.status(d)
    assert status["statement_cents"] == 4200 and status["effects"] == STEPS and status["history_events"] == 29


def _as_unprivileged():
    """A command prefix under which file permissions apply, even when the tests run as root."""
    if os.geteuid() != 0:
        return []
    probe = tempfile.mkdtemp()
    try:
        os.chmod(probe, 0o555)
        p = subprocess.run(["unshare", "--user", "touch", f"{probe}/x"], capture_output=True)
        return ["unshare", "--user"] if p.returncode != 0 and b"Permission denied" in p.stderr else None
    except OSError:
        return None
    finally:
        os.chmod(probe, 0o755)
        shutil.rmtree(probe)


def test_a_read_only_home_can_be_read_but_not_run(tmp_path, capsys):
    prefix = _as_unprivileged()
    if prefix is None:
        pytest.skip("running as root without user namespaces: cannot make a folder read-only")
    d = tmp_path / "home"
    realtime.run_order(d, say=lambda line: None)
    tamper(d / home.HISTORY, "DELETE FROM events WHERE event_id > 17")   # unfinished: a run would write
    tamper(d / home.WORLD, "DELETE FROM effects WHERE seq = 4")   # and the world as it was then (no email yet)
    tamper(d / home.HISTORY, "DELETE FROM owners")
    before = snapshot(d)
    for f in d.iterdir():
        f.chmod(0o444)
    d.chmod(0o555)
    try:
        def cli(*args):
            return subprocess.run([*prefix, sys.executable, "-m", "simcore", *args, "--home", str(d)],
                                  cwd=ROOT, capture_output=True, text=True)
        p = cli("order", "run")
        assert p.returncode == 2 and f"error: {d}: read-only" in p.stderr and "Traceback" not in p.stderr, p
        p = cli("order", "signal", "cancel")
        assert p.returncode == 2 and "read-only: `order signal` records the signal" in p.stderr, p
        p = cli("order", "status")
        assert p.returncode == 0 and "outcome: in progress" in p.stdout and "history: 17 events" in p.stdout, p
        p = cli("history", "check")
        assert p.returncode == 0 and p.stdout.strip().endswith("order-1001 (17 events): ok"), p
        p = cli("order", "query", "status")   # read and replayed: this order's code has no such handler
        assert p.returncode == 2 and "order-1001 has no query handler 'status' (it has: none)" in p.stderr, p
    finally:
        d.chmod(0o755)
    assert snapshot(d) == before


def test_ownership_is_fenced(tmp_path):
    """A process whose lease was taken over can no longer write, whatever it believes."""
    path = tmp_path / home.HISTORY
    first, second = home.OwnedHistory(path), home.OwnedHistory(path)
    second.me = "another-host:1"   # two processes, as far as the lease can tell
    start = ev.WorkflowExecutionStarted(1, 0.0, "fulfill_order", "order-1001", ["1001", 4200])
    with pytest.raises(home.LostOwnership, match="owned by nobody, not by this process"):
        first.append("order-1001", [start])
    assert first.take("order-1001", ttl=60) is None
    first.append("order-1001", [start])
    owner = second.take("order-1001", ttl=60)
    assert owner.holder == first.me and owner.token == 1          # alive and unexpired: busy
    first.take("order-1001", ttl=-1)                               # now its lease has run out
    assert second.take("order-1001", ttl=60) is None and second.held["order-1001"] == 3
    scheduled = ev.ActivityTaskScheduled(2, 1.0, "1", "ChargeCard", ["1001", 4200])
    with pytest.raises(home.LostOwnership, match="owned by process another-host:1 \\(lease token 3\\)"):
        first.append("order-1001", [scheduled])
    with pytest.raises(home.LostOwnership):
        first.renew("order-1001", 60)
    second.append("order-1001", [scheduled])
    assert [e.type for e in second.read("order-1001")] == ["WorkflowExecutionStarted", "ActivityTaskScheduled"]


def test_the_lease_of_a_dead_process_is_free_at_once(tmp_path):
    path = tmp_path / home.HISTORY
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead, alive = home.OwnedHistory(path), home.OwnedHistory(path)
    dead.me = f"{socket.gethostname()}:{gone.pid}"
    assert dead.take("order-1001", ttl=3600) is None
    assert alive.take("order-1001", ttl=60) is None and alive.held["order-1001"] == 2


@pytest.mark.parametrize("args, says", [
    (["order", "run", "--pace-ms", "-5"], "--pace-ms takes a whole number from 0 to 600000, got '-5'"),
    (["order", "run", "--pace-ms", "fast"], "--pace-ms takes a whole number"),
    (["order", "run", "--order", "10;01"], "'10;01' is not an order number"),
    (["order", "stop"], "invalid choice: 'stop'"),
    (["history", "show"], "the following arguments are required: --home"),
    (["order", "run", "--review-after", "99999999999999999999d"], "a timer lasts at most 10,000 years"),
])
def test_bad_arguments_exit_2(tmp_path, capsys, args, says):
    with pytest.raises(SystemExit) as exit_:
        main(args + (["--home", str(tmp_path)] if "--home" not in says else []))
    assert exit_.value.code == 2 and says in capsys.readouterr().err


def test_a_bad_gap_setting_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(realtime.GAP_ENV, "soon")
    code, _, err = run(capsys, "order", "run", "--home", tmp_path / "h")
    assert code == 2 and "SIMCORE_EFFECT_GAP_MS='soon': expected milliseconds" in err


def test_an_unknown_history_format_is_not_touched(tmp_path, capsys):
    d = tmp_path / "home"
    d.mkdir()
    History(d / home.HISTORY).close()
    tamper(d / home.HISTORY, "UPDATE meta SET value = 'simcore-history/9' WHERE key = 'format'")
    before = (d / home.HISTORY).read_bytes()
    code, _, err = run(capsys, "order", "run", "--home", d)
    assert code == 2 and "history format 'simcore-history/9', this engine reads 'simcore-history/1'" in err
    assert (d / home.HISTORY).read_bytes() == before
    with pytest.raises(HistoryError):
        History(d / home.HISTORY)


def test_a_signal_leaves_the_inbox_only_once_it_is_in_the_history():
    """A signal taken from the inbox while a workflow task runs waits in the engine's memory for the task's
    answer; until it is written, it stays in the inbox, so a kill then does not lose it."""
    from types import SimpleNamespace

    from simcore import events as ev
    from simcore.engine import Engine
    from simcore.realtime import POLL, _inbox
    from simcore.sim import Sim
    from simcore.workflow import workflow

    @workflow
    def waits(ctx):
        return (yield ctx.signal("go"))

    inbox, taken = [(7, "go", "now")], []
    history = SimpleNamespace(inbox=lambda wid: [p for p in inbox if p[0] not in taken], taken=taken.extend)
    sim = Sim()
    engine = Engine(sim, [waits], [], workers=1)
    engine.start(waits, "w")
    sim.env.timeout(0.1).callbacks.append(lambda _: sim.env.process(_inbox(SimpleNamespace(history=history), engine, "w")))
    sim.run(until=0.1 + POLL / 2)   # the first workflow task is still running: the signal waits in memory
    assert engine.workflow_task["w"][1] and taken == []
    sim.run(until=5)
    assert taken == [7]
    assert [e.request_id for e in sim.history.read("w") if isinstance(e, ev.WorkflowExecutionSignaled)] == ["inbox-7"]


@pytest.fixture
def asleep(tmp_path, capsys):
    """A home whose order sleeps on its review timer, with no process running it."""
    d = tmp_path / "asleep"
    assert run(capsys, "order", "run", "--home", d, "--review-after", "0.1s")[0] == 0
    store = History(d / home.HISTORY)
    timer = next(e.event_id for e in store.read("order-1001") if e.type == "TimerStarted")
    store.close()
    tamper(d / home.HISTORY, f"DELETE FROM events WHERE event_id > {timer}")
    tamper(d / home.WORLD, "DELETE FROM effects WHERE kind = 'SendReviewRequestEmail'")   # as it was then
    return d


def test_signals_with_no_process_running_are_each_recorded_at_once(asleep, capsys):
    """Each goes through the inbox and is recorded by the sender (its inbox id is its request id, so an
    id is never handed out twice: SQLite would reuse the largest rowid once its row is deleted)."""
    said = [run(capsys, "order", "signal", "--home", asleep, "cancel", json.dumps(why)) for why in ("one", "two")]
    assert [s[0] for s in said] == [0, 0] and all("no process running it" in s[1] for s in said), said
    store = History(asleep / home.HISTORY)
    signals = [e for e in store.read("order-1001") if isinstance(e, ev.WorkflowExecutionSignaled)]
    store.close()
    assert [(e.input, e.request_id) for e in signals] == [("one", "inbox-1"), ("two", "inbox-2")]
    assert [f"recorded as event {e.event_id}," in s[1] for e, s in zip(signals, said)] == [True, True]
    assert snapshot(asleep)[home.HISTORY]["inbox"] == []
    code, out, _ = run(capsys, "order", "run", "--home", asleep)
    assert code == 0 and "cancelled after shipping (one): return label sent" in out


def test_a_signal_or_query_that_cannot_be_delivered_is_refused_and_writes_nothing(asleep, finished, capsys):
    before = snapshot(asleep), snapshot(finished)
    for args, says in [
        (["signal", "--home", asleep, "--id", "nobody", "cancel"], "no workflow 'nobody'; the signal 'cancel' is refused"),
        (["signal", "--home", finished, "cancel"], "order-1001: workflow execution already completed; the signal "
                                                   "'cancel' is refused"),
        (["signal", "--home", asleep, "cancel", "not json"], "INPUT: not JSON"),
        (["query", "--home", asleep, "--id", "nobody", "status"], "no workflow 'nobody' to query"),
        (["query", "--home", asleep, "stock"], "order-1001 has no query handler 'stock' (it has: status)"),
    ]:
        code, _, err = run(capsys, "order", *args)
        assert code == 2 and says in err and "Traceback" not in err, (args, err)
    code, out, _ = run(capsys, "order", "query", "--home", asleep, "status")
    assert code == 0 and json.loads(out) == "shipped; a review request in 0.1s unless cancelled"
    assert (snapshot(asleep), snapshot(finished)) == before


def test_an_inbox_id_is_never_handed_out_twice(tmp_path):
    store = home.OwnedHistory(tmp_path / home.HISTORY)
    first = store.post("w", "go", 1)
    store.taken([first])   # the inbox is empty again
    assert store.post("w", "go", 2) == first + 1 and [i for i, _, _ in store.inbox("w")] == [first + 1]
    store.close()


def test_a_signal_to_a_workflow_that_closes_meanwhile_is_refused_and_leaves_nothing(finished, capsys, monkeypatch):
    """The sender read the history while the process still ran it; by the time it holds the lease, the
    process has closed it: refused as a signal to a closed workflow, nothing left in the inbox."""
    read = home.OwnedHistory.read
    calls = []

    def as_it_was_a_moment_ago(self, wid, *args, **kw):
        calls.append(wid)
        events = read(self, wid, *args, **kw)
        return events[:-1] if len(calls) == 1 else events   # the first read misses the closing event
    monkeypatch.setattr(home.OwnedHistory, "read", as_it_was_a_moment_ago)
    code, _, err = run(capsys, "order", "signal", "--home", finished, "cancel")
    assert code == 2 and "workflow execution already completed; the signal 'cancel' is refused" in err, err
    assert "Traceback" not in err
    monkeypatch.undo()
    assert snapshot(finished)[home.HISTORY]["inbox"] == []


def test_an_inbox_made_before_its_ids_were_never_reused_is_upgraded(tmp_path):
    """An older home's inbox reused the largest id once its row was deleted: it is rebuilt, numbering on
    past every id a recorded signal has used, and its waiting signals kept."""
    path = tmp_path / home.HISTORY
    store = home.OwnedHistory(path)
    store.close()
    with sqlite3.connect(path) as db:   # as an older home made it, one signal recorded (inbox-4), one waiting
        db.executescript("DROP TABLE inbox; CREATE TABLE inbox (id INTEGER PRIMARY KEY, workflow_id TEXT NOT NULL, "
                         "name TEXT NOT NULL, input TEXT NOT NULL, sent REAL NOT NULL); "
                         "INSERT INTO inbox VALUES (2, 'w', 'go', '1', 0);")
        db.execute("INSERT INTO events VALUES ('w', '1', 1, 'WorkflowExecutionSignaled', 0, ?)",
                   (json.dumps({"signal_name": "go", "input": 0, "request_id": "inbox-4"}),))
        db.execute("INSERT INTO events VALUES ('x', '1', 1, 'WorkflowExecutionSignaled', 0, 'not json')")   # damaged
        db.execute("INSERT INTO events VALUES ('y', '1', 1, 'WorkflowExecutionSignaled', 0, '[1]')")
    db.close()
    store = home.OwnedHistory(path)
    assert store.inbox("w") == [(2, "go", 1)]
    assert store.post("w", "go", 3) == 5
    store.close()


def test_a_workflow_that_continued_as_new_is_run_on_its_current_run(tmp_path, capsys):
    """Killed asleep in its second run, a chained workflow is picked up there by the next `order run`
    (not taken for closed because its first run continued as new), and finishes; the world check looks
    at every run of it."""
    d, flags = tmp_path / "chain", ["--id", "order-77", "--workflow", "tests.realtime_workflows:renewing"]
    code, out, _ = run(capsys, "order", "run", "--home", d, *flags, "--input", '["77", 2]')
    assert code == 0 and "order-77 completed: renewed to the end" in out, out
    store = History(d / home.HISTORY)
    asleep = next(e.event_id for e in store.read("order-77", "2") if e.type == "TimerStarted")
    third = store.read("order-77", "3")[0].run_id
    store.close()
    tamper(d / home.HISTORY, "DELETE FROM events WHERE run_id = '3'",   # as a kill -9 asleep in run 2 leaves it
           f"DELETE FROM events WHERE run_id = '2' AND event_id > {asleep}")
    tamper(d / home.WORLD, f"DELETE FROM effects WHERE key LIKE '{third}/%'")   # run 3's effect: not yet
    code, out, err = run(capsys, "order", "run", "--home", d, *flags)
    assert code == 0, err
    assert f"order-77: resumed from {asleep} events" in out and "order-77 completed: renewed to the end" in out, out
    code, out, _ = run(capsys, "history", "check", "--home", d, "--workflow", "tests.realtime_workflows:renewing")
    assert code == 0, out
    code, out, _ = run(capsys, "order", "status", "--home", d, "--order", "77")   # its current run, not run 1's end
    assert code == 0 and "outcome: completed" in out, out


@pytest.mark.parametrize("sql, says, run_says", [
    ("UPDATE events SET run_id = 'x'", "run id 'x' is not a run number", "run id 'x' is not a run number"),
    ("INSERT INTO events SELECT workflow_id, '2', event_id, type, time, payload FROM events",
     "run 2 follows run 1, which did not continue as new (it ends at event 29, WorkflowExecutionCompleted)", ""),
    ("UPDATE events SET run_id = '3'", "runs 3 are stored: a run of the chain is missing", ""),
])
def test_runs_that_do_not_chain_are_reported_and_never_run_again(finished, capsys, sql, says, run_says):
    """A run the engine would not resume (no run number) hides the history from it: `order run` would
    start the order again and charge the card twice; it refuses. A chain with a hole or a run that
    did not continue as new is reported; its newest run closed, so `order run` has nothing to do."""
    tamper(finished / home.HISTORY, sql)
    before = snapshot(finished)
    code, out, _ = run(capsys, "history", "check", "--home", finished)
    assert code == 1 and says in out, out
    code, out, err = run(capsys, "order", "run", "--home", finished)
    assert (code, run_says in err) == ((2, True) if run_says else (0, True)) and snapshot(finished) == before
    assert run_says or "already completed" in out
    code, out, _ = run(capsys, "order", "status", "--home", finished)
    assert code == 1 and "history check: 1 problem" in out, out
    assert json.loads(run(capsys, "order", "status", "--home", finished, "--json")[1])["problems"] == 1


def test_status_of_a_sound_home_has_no_problems_and_one_without_its_world_says_so(finished, capsys):
    code, out, _ = run(capsys, "order", "status", "--home", finished, "--json")
    assert code == 0 and json.loads(out)["problems"] == 0
    (finished / home.WORLD).unlink()
    code, out, _ = run(capsys, "order", "status", "--home", finished)
    assert code == 1 and "statement: $0.00" in out and "history check: 1 problem" in out


def test_a_world_without_its_history_is_not_acted_on_again(finished, capsys):
    (finished / home.HISTORY).unlink()
    before = snapshot(finished)
    for args in (["order", "run"], ["order", "status"]):
        code, _, err = run(capsys, *args, "--home", finished)
        assert code == 2 and "history.sqlite: missing, but" in err and "restore the history file" in err, err
    assert snapshot(finished) == before and sorted(p.name for p in finished.iterdir()) == [home.WORLD]


def test_a_workflow_of_ones_own_is_checked_against_its_own_effects(tmp_path, capsys):
    """Its effect names "bob", not an order: the world's record belongs to the run its key names."""
    d, code = tmp_path / "h", ["--workflow", "tests.realtime_workflows:hello"]
    assert run(capsys, "order", "run", "--home", d, "--id", "hello-1", *code, "--input", '["bob"]')[0] == 0
    code_, out, _ = run(capsys, "history", "check", "--home", d, *code)
    assert code_ == 0 and "disagrees" not in out, out
    code_, out, _ = run(capsys, "history", "check", "--home", d)
    assert code_ == 1 and "name its code with --workflow MODULE:NAME" in out, out


@pytest.mark.parametrize("source, says", [
    ("def f(:\n", "bad_module.py, line 1: invalid syntax"),
    ("raise RuntimeError('boom at import')\n", "importing 'bad_module' failed: RuntimeError: boom at import"),
    ("import sys\nsys.exit(5)\n", "importing 'bad_module' failed: SystemExit: 5"),
])
def test_a_workflow_module_that_fails_to_import_is_a_message(finished, capsys, monkeypatch, source, says):
    (finished.parent / "bad_module.py").write_text(source)
    monkeypatch.syspath_prepend(str(finished.parent))
    monkeypatch.delitem(sys.modules, "bad_module", raising=False)
    new = finished.parent / "new"
    for args in (["order", "run", "--home", new, "--id", "w"], ["history", "check", "--home", finished],
                 ["order", "query", "status", "--home", finished]):
        code, _, err = run(capsys, *args, "--workflow", "bad_module:f")
        assert code == 2 and says in err and "Traceback" not in err, err
    assert not new.exists()


def test_an_input_the_workflow_cannot_take_records_nothing(tmp_path, capsys):
    d, code = tmp_path / "h", ["--workflow", "tests.realtime_workflows:hello", "--id", "h1"]
    code_, _, err = run(capsys, "order", "run", "--home", d, *code, "--input", "[]")
    assert code_ == 2 and "--input: hello(name) cannot take [] (missing a required argument: 'name'); nothing was recorded" in err, err
    assert not d.exists()
    for bad, constant in (("[NaN]", "NaN"), ('["x", Infinity]', "Infinity")):
        code_, _, err = run(capsys, "order", "run", "--home", d, *code, "--input", bad)
        assert code_ == 2 and f"--input: not JSON ({constant} is not JSON)" in err, err
    assert not d.exists()


def test_workflow_code_that_yields_no_command_is_named_at_its_line(tmp_path, capsys):
    d = tmp_path / "h"
    for _ in range(2):   # and again after the crash: the same message, nothing more recorded
        code, _, err = run(capsys, "order", "run", "--home", d, "--id", "w", "--workflow",
                           "tests.realtime_workflows:yields_wrong")
        assert code == 2 and "workflow yields_wrong yielded 42" in err and "Traceback" not in err, err
        assert "realtime_workflows.py, line " in err and "fix the code and run the same command again" in err


@pytest.mark.parametrize("name, said", [
    ("exits", "workflow exits raised SystemExit(5): sys.exit() would stop the worker itself"),
    ("books", "activity Book raised OutOfSeats(full): raise an Exception subclass"),
])
def test_code_that_would_stop_the_worker_is_named_and_nothing_exits_quietly(tmp_path, capsys, name, said):
    """sys.exit() in workflow code, or a BaseException of the learner's in an activity, made `order run`
    (and `history check`) exit with the learner's status and print nothing."""
    d = tmp_path / "h"
    code, _, err = run(capsys, "order", "run", "--home", d, "--id", "w", "--workflow",
                       f"tests.realtime_workflows:{name}")
    assert code == 2 and said in err and "realtime_workflows.py, line " in err and "Traceback" not in err, err
    code, out, err = run(capsys, "history", "check", "--home", d, "--workflow", f"tests.realtime_workflows:{name}")
    if name == "exits":   # its replay meets the sys.exit() (an activity's code is not replayed: its history is sound)
        assert code == 1 and "sys.exit() would stop the worker itself" in out + err, (code, out, err)
    assert code in (0, 1) and "Traceback" not in err, (code, out, err)


def test_a_workflow_named_like_the_course_order_is_described_by_its_own_arguments(tmp_path, capsys):
    code, out, err = run(capsys, "order", "run", "--home", tmp_path / "h", "--id", "t", "--workflow",
                         "tests.realtime_workflows:fulfill_trip", "--input", '["trip-7", "alice"]')
    assert code == 0 and "started (fulfill_trip('trip-7', 'alice'))" in out and "trip-7 for alice" in out, (out, err)


def test_a_bad_row_is_one_problem_not_one_per_effect_that_follows_from_it(finished, capsys):
    tamper(finished / home.HISTORY, "UPDATE events SET payload = 'null' WHERE event_id = 5")
    code, out, _ = run(capsys, "history", "check", "--home", finished)
    assert code == 1 and out.count("\n") == 2 and "event 5 (ActivityTaskScheduled): payload must be" in out, out


def test_status_of_a_workflow_of_ones_own(tmp_path, capsys):
    d = tmp_path / "h"
    run(capsys, "order", "run", "--home", d, "--id", "hello-1", "--workflow", "tests.realtime_workflows:hello",
        "--input", '["bob"]')
    code, out, _ = run(capsys, "order", "status", "--home", d, "--id", "hello-1", "--json")
    out = json.loads(out)
    assert code == 0 and out["effects"] == {"Greet": 1} and out["outcome"] == "completed" and out["problems"] == 0
    assert run(capsys, "order", "status", "--home", d)[0:2] == (0, f"home: {d} · order-1001\nstatement: $0.00 "
                                                               "(0 charges)\neffects: ChargeCard x0, ReserveInventory "
                                                               "x0, ShipPackage x0, SendConfirmationEmail x0\n"
                                                               "outcome: not started\nhistory: 0 events\n")


def test_a_real_process_stamps_each_event_when_it_happens(tmp_path):
    """An activity's real work takes time inside one SimPy step, where SimPy's clock stands still: the
    events after it are stamped from the wall clock (with --pace-ms 150, each step 0.15 s or more)."""
    d = tmp_path / "home"
    realtime.run_order(d, pace_ms=150, say=lambda line: None)
    events = History(d / home.HISTORY).read("order-1001")
    started = {e.scheduled_event_id: e.time for e in events if isinstance(e, ev.ActivityTaskStarted)}
    took = [e.time - started[e.scheduled_event_id] for e in events if isinstance(e, ev.ActivityTaskCompleted)]
    assert len(took) == 4 and min(took) >= 0.15, took
    assert events[-1].time - events[0].time >= 0.6


def test_an_empty_home_name_is_refused_not_taken_for_the_current_folder(capsys):
    for args in (["order", "run"], ["order", "status"], ["history", "check"]):
        code, _, err = run(capsys, *args, "--home", "")
        assert code == 2 and "--home is empty" in err, err


def test_a_query_that_cannot_be_answered_says_why_in_one_line(tmp_path, capsys):
    """A handler that raises, an answer that is not JSON, code that no longer replays the history: each is
    a one-line error (exit 2), not a traceback, and nothing is written."""
    d, flags = tmp_path / "q", ["--id", "q-1", "--workflow", "tests.realtime_workflows:queried"]
    assert run(capsys, "order", "run", "--home", d, *flags)[0] == 0
    before = snapshot(d)
    for name, code_flags, says in [
        ("boom", flags, "the query handler 'boom' failed: ZeroDivisionError: division by zero"),
        ("aset", flags, "the query handler 'aset' answered set '{1, 2}', which is not JSON data"),
        ("boom", ["--id", "q-1", "--workflow", "tests.realtime_workflows:queried_changed"],
         "replaying its history to answer the query failed: NonDeterminismError"),
    ]:
        code, _, err = run(capsys, "order", "query", "--home", d, *code_flags, name)
        assert code == 2 and says in err and "Traceback" not in err, err
    assert snapshot(d) == before


def test_the_lease_covers_an_attempt_for_as_long_as_it_may_take(tmp_path):
    """An activity runs inside one step of the engine, where the lease is not renewed: it is renewed before
    each attempt for the attempt's limit (its start_to_close, else the engine's, which counts the pace).
    With a 10 s lease, a 12 s activity once let a second process take a live one over and run it again;
    and --pace-ms 10500 timed every attempt out, for ever."""
    from simcore import realtime
    from tests import realtime_workflows as rw
    d = tmp_path / "lease"
    said = []
    realtime.run(d, rw.leased, "l-1", [str(d)], pace_ms=200, say=said.append)
    (limit, left), (long_limit, long_left) = json.loads(said[-1].split(": ", 1)[1].rsplit(" (", 1)[0].replace("'", '"'))
    assert limit == pytest.approx(10.2) and left >= limit + 10 - 1, said[-1]
    assert long_limit == 600 and long_left >= 600, said[-1]


def test_a_signal_between_a_continue_as_new_and_its_next_run_goes_to_the_next_run(tmp_path, capsys):
    """A kill between a run's ContinuedAsNew and the next run's start (two commits here) leaves the workflow
    open: `order signal` records the signal in the next run, which it starts, as `order run` would."""
    d, flags = tmp_path / "chain", ["--id", "order-77", "--workflow", "tests.realtime_workflows:renewing"]
    assert run(capsys, "order", "run", "--home", d, *flags, "--input", '["77", 1]')[0] == 0
    store = History(d / home.HISTORY)
    second = store.read("order-77", "2")[0].run_id
    store.close()
    tamper(d / home.HISTORY, "DELETE FROM events WHERE run_id = '2'")
    tamper(d / home.WORLD, f"DELETE FROM effects WHERE key LIKE '{second}/%'")
    code, out, err = run(capsys, "order", "signal", "--home", d, "--id", "order-77", "go", '"now"')
    assert code == 0 and "recorded as event 3, with no process running it" in out, (out, err)
    store = History(d / home.HISTORY)
    signals = [e.input for e in store.read("order-77", "2") if isinstance(e, ev.WorkflowExecutionSignaled)]
    store.close()
    assert signals == ["now"]


def test_the_world_read_beside_a_running_process_is_not_taken_for_damage(finished, monkeypatch):
    """The history is read, then the world, while another process runs the order: an effect it made in
    between was scheduled after the history was read. `compare` reads the history again after the world,
    so that effect is not reported as one the history never scheduled (it once made a second `order run`
    refuse a sound home as "cannot be trusted")."""
    read, calls = check.read_rows, []

    def first_read_is_older(path):
        rows = read(path)
        calls.append(path)
        if len(calls) == 1:   # read before the process scheduled SendConfirmationEmail and ran it
            rows = {k: [r for r in v if r[0] < 23] for k, v in rows.items()}
        return rows
    monkeypatch.setattr(check, "read_rows", first_read_is_older)
    assert audit.compare(finished) == [] and len(calls) == 2
