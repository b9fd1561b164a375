"""Signals to a real process, one after another, from another terminal (`order signal` while `order run`
runs): each goes through the inbox and is recorded once, whatever was recorded and taken out before it."""
import subprocess
import sys
import time

from simcore import check, home
from simcore.workflow import workflow
from tests.conftest import ROOT

SPEC = "tests.test_realtime_signals:two_signals"


@workflow
def two_signals(ctx):
    first = yield ctx.signal("go")
    second = yield ctx.signal("go")
    return f"got {first} and {second}"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "simcore", *args], cwd=ROOT, capture_output=True, text=True)


def signals(home_dir):
    rows = check.read_rows(home_dir / home.HISTORY).get(("w", "1"), [])
    return [e for e in check.parse_rows(rows, "w")[0] if e.type == "WorkflowExecutionSignaled"]


def test_a_second_signal_to_a_running_process_is_not_taken_for_the_first(tmp_path):
    """The inbox was empty again after the first was recorded; the second must not get its id (its
    request id), or the engine drops it as a repeat and the workflow waits for ever."""
    p = subprocess.Popen([sys.executable, "-m", "simcore", "order", "run", "--home", str(tmp_path), "--id", "w",
                          "--workflow", SPEC], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "w: started" in p.stdout.readline()
        for n, why in enumerate(("one", "two"), start=1):
            sent = cli("order", "signal", "--home", str(tmp_path), "--id", "w", "go", f'"{why}"')
            assert sent.returncode == 0 and f"in the inbox (#{n})" in sent.stdout, sent
            deadline = time.monotonic() + 10
            while len(signals(tmp_path)) < n:   # recorded by the running process, then out of the inbox
                assert time.monotonic() < deadline, f"signal {why!r} never recorded"
                time.sleep(0.02)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0 and "w completed: got one and two" in out, (out, err)
    assert [(e.input, e.request_id) for e in signals(tmp_path)] == [("one", "inbox-1"), ("two", "inbox-2")]
