"""The history is durable outside the simulation: real processes, real SIGKILLs, real files.

`order run` is started with a pace (each activity takes PACE_MS) and SIMCORE_EFFECT_GAP_MS (a pause
between an effect committed in the world and its result appended to the history), then killed with
SIGKILL after a seeded random delay, and started again, until one run finishes by itself. Rounds of
that repeat, each on a fresh home, until at least MIN_KILLS kills have landed and every step has been
killed both before its effect and in the gap after it; then every round must show one charge of $42.00,
each effect once, and a clean `history check`. The test stops by itself: DEADLINE bounds it.

Most delays count from the process's first line of output (it has started, taken the lease and
replayed), so a slow machine shifts them rather than wasting them; some count from the spawn, to
kill it while it starts, creates the home or replays. `pytest tests/test_kill.py -s` prints where
the kills landed.
"""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from simcore import audit, check, home, realtime
from simcore.orders import STEPS
from tests.conftest import ROOT

PACE_MS, GAP_MS = 50, 50
MIN_KILLS = 50
DEADLINE = 45.0     # seconds for the kill loop; the test fails if coverage is not reached by then
EARLY = 0.2         # this share of the kills land within EARLY_S seconds of the spawn,
EARLY_S = 0.3
LATE_S = 0.4        # the others within LATE_S seconds after the process's first line
SEED = 1001
WID = "order-1001"


def spawn(home_dir, *extra, gap_ms=GAP_MS, **kw):
    env = {**os.environ, realtime.GAP_ENV: str(gap_ms)}
    return subprocess.Popen([sys.executable, "-m", "simcore", "order", "run", "--home", str(home_dir),
                             "--pace-ms", str(PACE_MS), *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def one_life(home_dir, rng) -> bool:
    """Start `order run`, SIGKILL it after a seeded delay; True if it was killed, False if it finished."""
    p = spawn(home_dir, bufsize=0)      # unbuffered: reading the first line reads nothing more
    watchdog = threading.Timer(30, p.kill)   # a hung process fails the test instead of hanging it
    watchdog.start()
    try:
        if rng.random() < EARLY:
            delay = rng.uniform(0, EARLY_S)
            first = b""
        else:
            delay = rng.uniform(0, LATE_S)
            first = p.stdout.readline()
        try:
            out, err = p.communicate(timeout=delay)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.communicate()
            return True
    finally:
        watchdog.cancel()
    out, err = (first + out).decode(), err.decode()
    assert p.returncode == 0 and "completed" in out and "Traceback" not in err, (p.returncode, out, err)
    return False


def cli(*args):
    return subprocess.run([sys.executable, "-m", "simcore", *args], cwd=ROOT, capture_output=True, text=True)


def world_of(home_dir):
    """The world as its own file says (an empty one if the kill came before the file was created)."""
    if not (home_dir / home.WORLD).exists():
        return home.World()
    world = home.DurableWorld(home_dir / home.WORLD, readonly=True)
    world.close()
    return world


def events_of(home_dir) -> list:
    if not (home_dir / home.HISTORY).exists():
        return []
    rows = check.read_rows(home_dir / home.HISTORY).get((WID, "1"), [])
    events, problems = check.parse_rows(rows, WID)
    assert not problems, problems
    return events


def closed(home_dir) -> bool:
    events = events_of(home_dir)
    return bool(events) and events[-1].type in ("WorkflowExecutionCompleted", "WorkflowExecutionFailed")


def where_it_stopped(home_dir) -> str:
    """Where a kill landed, from the files alone: the last durable fact of the history and the world."""
    if not (home_dir / home.HISTORY).exists():
        return "before the home existed"
    events = events_of(home_dir)
    if not events:
        return "before the workflow started"
    last = events[-1]
    if last.type in ("WorkflowExecutionCompleted", "WorkflowExecutionFailed"):
        return "after the workflow closed"
    if last.type in ("WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
                     "WorkflowTaskTimedOut"):
        return "in a workflow task, before its commands"
    if last.type != "ActivityTaskScheduled":
        return "after a result, before the next command"
    done = f"{events[0].run_id}/{last.activity_id}" in world_of(home_dir)._keys   # its idempotency key
    return f"{last.activity_type}: {'in the gap after the effect' if done else 'before the effect'}"


def assert_at_most_once(home_dir):
    """Whatever the moment: no effect twice, and what the history holds is a valid history."""
    world = world_of(home_dir)
    counts = Counter(e.kind for e in world.log)
    assert world.statement_cents() in (0, 4200) and all(counts[step] <= 1 for step in STEPS), world.log
    if not (home_dir / home.HISTORY).exists():
        return
    report = check.check_file(home_dir / home.HISTORY, home.WORKFLOWS)
    assert report.ok, [str(p) for p in report.problems]


WANTED = {f"{s}: {w}" for s in STEPS for w in ("before the effect", "in the gap after the effect")}


class Tally:
    """What the kill loops have done so far (two of them run side by side, one per core)."""

    def __init__(self):
        self.lock, self.started = threading.Lock(), time.monotonic()
        self.kills, self.rounds, self.processes, self.landed = 0, 0, 0, Counter()

    def enough(self) -> bool:
        with self.lock:
            missing = sorted(WANTED - set(self.landed))
            if self.kills >= MIN_KILLS and not missing:
                return True   # covered: a round that ran past the deadline meanwhile fails nothing
            assert time.monotonic() - self.started < DEADLINE, (
                f"after {self.kills} kills in {self.rounds} rounds, never killed at: {missing}")
            return False


def kill_loop(tmp_path, worker: int, tally: Tally) -> None:
    """Rounds on fresh homes, each killed until a run finishes by itself, until the tally has enough."""
    rng = random.Random(f"{SEED}/{worker}")
    n = 0
    while not tally.enough():
        n += 1
        home_dir = tmp_path / f"worker-{worker}-round-{n}"
        while not closed(home_dir):
            killed = one_life(home_dir, rng)
            place = where_it_stopped(home_dir)
            assert_at_most_once(home_dir)
            with tally.lock:
                tally.processes += 1
                tally.kills += killed
                tally.landed[place] += killed
        again = spawn(home_dir)   # and once more, left alone: it must see the order done and stop
        out, err = again.communicate(timeout=30)
        assert again.returncode == 0 and b"already completed" in out, (out, err)
        out = audit.status(home_dir)
        assert out["statement_cents"] == 4200 and out["charges"] == 1 and out["refunds"] == 0, out
        assert out["effects"] == {step: 1 for step in STEPS} and out["outcome"] == "completed", out
        events = [e.type for e in home.History(home_dir / home.HISTORY).read(WID)]
        timed_out = events.count("WorkflowTaskTimedOut")   # a task a killed process had started
        assert out["history_events"] == len(events) == 29 + 3 * timed_out, events
        assert check.check_file(home_dir / home.HISTORY, home.WORKFLOWS).ok
        with tally.lock:
            tally.rounds += 1
            tally.processes += 1


def test_kill_9_anywhere_then_restart_charges_exactly_once(tmp_path):
    tally = Tally()
    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(kill_loop, tmp_path, worker, tally) for worker in (1, 2)]:
            done.result()   # re-raises a failed assertion of either loop
    elapsed = time.monotonic() - tally.started
    # the last round once more through the command line, as a person would look at it
    home_dir = tmp_path / "worker-1-round-1"
    status = json.loads(cli("order", "status", "--home", str(home_dir), "--json").stdout)
    assert (status["statement_cents"], status["charges"], status["outcome"]) == (4200, 1, "completed")
    checked = cli("history", "check", "--home", str(home_dir))
    assert checked.returncode == 0 and checked.stdout.strip().endswith(": ok"), checked
    again = cli("order", "run", "--home", str(home_dir))
    assert again.returncode == 0 and "already completed" in again.stdout
    print(f"\nkill test: {tally.kills} SIGKILLs over {tally.rounds} rounds ({tally.processes} processes) in "
          f"{elapsed:.1f}s; every round: 1 charge of $42.00, each effect once, history check clean")
    for place, n in sorted(tally.landed.items()):
        print(f"  {n:3d} x killed {place}")


def assert_exactly_once(home_dir):
    assert_at_most_once(home_dir)
    assert world_of(home_dir).effects() == {step: 1 for step in STEPS}


def test_two_processes_at_once_never_both_run_the_order(tmp_path):
    for n in range(3):
        home_dir = tmp_path / f"race-{n}"
        procs = [spawn(home_dir, gap_ms=0) for _ in range(3)]
        results = [(p.wait(timeout=30), *(x.decode() for x in p.communicate())) for p in procs]
        ran = [r for r in results if "started" in r[1]]
        busy = [r for r in results if r[0] == 3 and "is being run by process" in r[2]]
        late = [r for r in results if r[0] == 0 and "already completed" in r[1]]   # slow to start
        assert len(ran) == 1 and ran[0][0] == 0 and len(ran) + len(busy) + len(late) == 3, results
        assert all("Traceback" not in r[2] for r in results)
        assert_exactly_once(home_dir)


def test_a_waiting_process_takes_over_when_the_owner_is_killed(tmp_path):
    first = spawn(tmp_path)
    assert first.stdout.readline().startswith(f"{WID}: started".encode())
    second = spawn(tmp_path, "--wait", "30")
    time.sleep(0.3)                       # the second one is waiting for the lease by now
    assert second.poll() is None
    first.send_signal(signal.SIGKILL)
    first.communicate()
    out, err = (x.decode() for x in second.communicate(timeout=30))
    assert second.returncode == 0 and f"{WID} completed" in out and f"{WID}: resumed from" in out, (out, err)
    assert_exactly_once(tmp_path)
    again = spawn(tmp_path, "--wait", "30")
    out, _ = again.communicate(timeout=30)
    assert again.returncode == 0 and b"already completed" in out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_other_signals_stop_it_without_a_traceback_and_it_resumes(tmp_path, sig):
    p = spawn(tmp_path)
    assert p.stdout.readline().startswith(f"{WID}: started".encode())
    p.send_signal(sig)
    out, err = p.communicate(timeout=30)
    assert p.returncode != 0 and b"Traceback" not in err
    p = spawn(tmp_path)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and b"completed" in out, (out, err)
    assert_exactly_once(tmp_path)


# -- a real process waits in real time: kills during a durable timer and a backoff, a signal between ----
def wait_for(home_dir, event_type: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not any(e.type == event_type for e in events_of(home_dir)):
        assert time.monotonic() < deadline, f"no {event_type} in {timeout:g}s: {[e.type for e in events_of(home_dir)]}"
        time.sleep(0.02)


def killed(p):
    p.send_signal(signal.SIGKILL)
    p.communicate()


def finish(home_dir, *extra):
    out = cli("order", "run", "--home", str(home_dir), *extra)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out
    assert cli("history", "check", "--home", str(home_dir), *(("--workflow", extra[1]) if extra else ())
               ).returncode == 0
    return out.stdout


def test_a_durable_timer_fires_at_its_wall_clock_time_after_a_kill(tmp_path):
    p = spawn(tmp_path, "--review-after", "2s", gap_ms=0)
    wait_for(tmp_path, "TimerStarted")
    killed(p)                                     # asleep: the timer lives in the history, not in the process
    started = next(e for e in events_of(tmp_path) if e.type == "TimerStarted")
    out = finish(tmp_path)
    assert "order-1001 completed: order 1001 fulfilled and reviewed" in out
    fired = next(e for e in events_of(tmp_path) if e.type == "TimerFired")
    assert fired.time >= started.time + 2.0        # at its time, though no process was there to sleep
    assert world_of(tmp_path).effects() == {**{step: 1 for step in STEPS}, "SendReviewRequestEmail": 1}


def test_a_signal_sent_between_kills_is_recorded_once_and_acted_on(tmp_path):
    p = spawn(tmp_path, "--review-after", "60s", gap_ms=0)
    wait_for(tmp_path, "TimerStarted")
    killed(p)
    sent = cli("order", "signal", "--home", str(tmp_path), "cancel", '"changed my mind"')
    assert sent.returncode == 0 and "recorded as event" in sent.stdout and "no process running it" in sent.stdout
    again = spawn(tmp_path, gap_ms=0)             # killed again, at once: the signal is on record already
    time.sleep(0.05)
    killed(again)
    out = finish(tmp_path)
    assert "cancelled after shipping (changed my mind): return label sent" in out
    signals = [e for e in events_of(tmp_path) if e.type == "WorkflowExecutionSignaled"]
    assert len(signals) == 1 and "TimerCanceled" in [e.type for e in events_of(tmp_path)]
    assert world_of(tmp_path).effects() == {**{step: 1 for step in STEPS}, "SendReturnLabelEmail": 1}


def test_a_signal_to_a_running_process_goes_through_its_inbox_and_a_query_writes_nothing(tmp_path):
    p = spawn(tmp_path, "--review-after", "60s", gap_ms=0)
    wait_for(tmp_path, "TimerStarted")
    before = len(events_of(tmp_path))
    asked = cli("order", "query", "--home", str(tmp_path), "status")
    assert asked.returncode == 0 and "a review request in 60s unless cancelled" in asked.stdout
    assert len(events_of(tmp_path)) == before
    sent = cli("order", "signal", "--home", str(tmp_path), "cancel", '"too slow"')
    assert sent.returncode == 0 and "in the inbox" in sent.stdout
    out, err = (x.decode() for x in p.communicate(timeout=30))
    assert p.returncode == 0 and "return label sent" in out, (out, err)
    assert [e.request_id for e in events_of(tmp_path) if e.type == "WorkflowExecutionSignaled"] == ["inbox-1"]


def test_a_kill_during_a_backoff_wait_and_the_retries_go_on_in_the_next_process(tmp_path):
    flaky = "tests.realtime_workflows:flaky_order"
    p = subprocess.Popen([sys.executable, "-m", "simcore", "order", "run", "--home", str(tmp_path), "--id", "w-1",
                          "--workflow", flaky, "--input", '["7"]'], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    first = p.stdout.readline()
    assert b"started" in first, first
    deadline = time.monotonic() + 10
    while b"failed" not in p.stdout.readline():      # attempt 1 failed: the process now waits 1 s to retry
        assert time.monotonic() < deadline
    killed(p)
    out = cli("order", "run", "--home", str(tmp_path), "--id", "w-1", "--workflow", flaky)
    assert out.returncode == 0 and "w-1 completed: order 7 booked" in out.stdout, out
    assert cli("history", "check", "--home", str(tmp_path), "--id", "w-1", "--workflow", flaky).returncode == 0
    assert world_of(tmp_path).effects() == {"CallWarehouse": 1}
