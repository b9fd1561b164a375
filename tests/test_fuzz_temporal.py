"""Fuzzing the Temporal history JSON importer (`temporal.load`, `history import`, `history replay`) and
the bridge's input: valid JSON of every wrong shape, at every level, and files that are not JSON.

The property: a clear error (HistoryError, exit 2) or a correct result (well-formed course events,
exit 0; a replay verdict, exit 0 or 1), never a traceback; and the input file is left as it was.
"""
import copy
import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simcore import check, orders
from simcore import temporal as T
from simcore.cli import main
from simcore.faults import CallFault, FaultPlan
from simcore.history import HistoryError
from simcore.sim import Sim
from simcore.strategies import run_workflow
SCALE = int(os.environ.get("SIMCORE_FUZZ_SCALE", "1"))   # e.g. 20 for a long run
from tests.conftest import FIXTURES, ROOT

SERVER = FIXTURES / "temporal-server"


def _history():
    sim = Sim(faults=FaultPlan(calls=(CallFault("ShipPackage", "fail", attempts=(1, 2)),)))
    run = run_workflow("durable", orders.fulfill_order, orders.ACTIVITIES, [orders.ORDER_ID, orders.CENTS],
                       wid="order-1001", sim=sim)
    return run.history


def _ours() -> dict:
    return T.export(_history())


DOCS = {name: json.loads((SERVER / f"{name}.json").read_text())
        for name in ("clean", "retried", "wft-timeout", "nondeterminism")}
DOCS["ours"] = _ours()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) |
    st.text(max_size=12) | st.sampled_from(["", "0", "5", "-1", "1e400", "10s", "infs", "x", "²", "EVENT_TYPE_",
                                            "anNvbi9wbGFpbg==", "e30=", "!!", "TIMEOUT_TYPE_HEARTBEAT"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


@st.composite
def mutated(draw):
    """A real history with one to three places changed: a value replaced by JSON of any shape, a key
    removed, or a key added, at any depth (the walk goes down to payloads and their metadata)."""
    doc = copy.deepcopy(DOCS[draw(st.sampled_from(sorted(DOCS)))])
    for _ in range(draw(st.integers(1, 3))):
        parent, key = None, None
        node = doc
        while isinstance(node, (dict, list)) and node and draw(st.integers(0, 9)) < 8:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            parent, key = node, draw(st.sampled_from(keys))
            node = node[key]
        if parent is None:
            doc = {"events": draw(json_values)} if draw(st.booleans()) else draw(json_values)
            break
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["eventId", "eventType", "eventTime", "payloads", "data", "metadata",
                                         "timerStartedEventAttributes", "lastFailure", "failure"]))] = \
                draw(json_values)
        else:
            parent.insert(key, draw(json_values))
    return doc


def loads_cleanly(doc) -> T.Imported | None:
    """load's answer: None for a clear refusal; otherwise every event well formed."""
    try:
        imported = T.load(json.dumps(doc), "fuzz.json")
    except HistoryError as e:
        assert str(e).startswith("fuzz.json: "), e
        return None
    for e in imported.events:
        if not isinstance(e, T.TemporalEvent):
            assert check.field_problems(e) == [], (e, check.field_problems(e))
    assert [e.event_id for e in imported.events] == list(range(1, len(imported.events) + 1))
    return imported


@settings(max_examples=1000 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_the_importer_refuses_clearly_or_reads_well_formed_events(doc):
    loads_cleanly(doc)


@settings(max_examples=300 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(doc=mutated(), command=st.sampled_from(["import", "replay"]))
def test_import_and_replay_exit_0_1_or_2_and_leave_the_file_alone(tmp_path, capsys, doc, command):
    path = tmp_path / "h.json"
    path.write_text(json.dumps(doc))
    before = path.read_bytes()
    code = main(["history", command, str(path)])
    out, err = capsys.readouterr()
    assert code in ((0, 2) if command == "import" else (0, 1, 2)), (code, err)
    assert (code == 2) == err.startswith("error: "), err
    assert "Traceback" not in err and path.read_bytes() == before


@settings(max_examples=60 * SCALE, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=100).map(str.encode) |
       st.sampled_from([b"\xff\xfe{\x00}\x00", b"[" * 100_000, b'{"events": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
                        b"\x00" * 64, b"SQLite format 3\x00"]))
def test_files_that_are_not_json_are_refused_with_a_message(data):
    with pytest.raises(HistoryError, match="^x.json: "):
        T.load(data, "x.json")


def test_what_the_fuzzer_found():
    """Minimal examples the fuzzing found, each of which was a traceback."""
    for doc, says in [
        ({"events": [{"eventId": "²", "eventType": "X"}]}, "eventId must be a number"),           # ValueError
        ({"events": [{"eventId": "1", "eventType": "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
                      "workflowTaskScheduledEventAttributes": {"taskQueue": "q"}}]}, "taskQueue must be"),
        ({"events": [{"eventId": "1", "eventType": "EVENT_TYPE_TIMER_STARTED",
                      "timerStartedEventAttributes": {"startToFireTimeout": "infs"}}]}, "a duration must be"),
        ({"events": [{"eventId": "1", "eventType": "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT",
                      "workflowTaskTimedOutEventAttributes": {"scheduledEventId": "2", "timeoutType": 7}}]},
         "timeoutType must be a string"),
        ({"events": [{"eventId": "1", "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
                      "workflowExecutionCompletedEventAttributes": {"result": {"payloads": [
                          {"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "/w=="}]}}}]},
         "a json/plain payload that is not JSON"),                                          # UnicodeDecodeError
        ({"events": [{"eventId": "1", "eventType": "EVENT_TYPE_ACTIVITY_TASK_STARTED",
                      "activityTaskStartedEventAttributes": {"scheduledEventId": "5",
                                                             "lastFailure": {"message": ["x"]}}}]},
         "message must be a string"),
    ]:
        with pytest.raises(HistoryError, match=says):
            T.load(doc, "x.json")


def test_nothing_the_course_models_is_dropped():
    """A real server's retried activity keeps its attempt, last failure, times and options; an event
    the course does not model keeps its attributes."""
    imported = T.load(json.dumps(DOCS["retried"]), "retried.json")
    started = imported.events[17]
    assert started.attempt == 3 and started.last_failure == {"error_type": "CarrierUnavailable",
                                                             "message": "carrier unavailable (attempt 2)"}
    assert started.time > 3 and imported.start.year == 2026
    scheduled = imported.events[16]
    assert scheduled.options["start_to_close"] == 10 and scheduled.options["retry"]["maximum_interval"] == 100
    doc = copy.deepcopy(DOCS["clean"])
    doc["events"].append({"eventId": "30", "eventType": "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
                          "upsertWorkflowSearchAttributesEventAttributes": {"searchAttributes": {"a": 1}}})
    assert T.load(doc).events[-1].attributes == {"searchAttributes": {"a": 1}}
    history = _history()   # ours, retried: our export and import keep every field but the options' defaults
    back = T.load(T.export(history)).events
    assert [(e.type, round(e.time, 6), e.summary()) for e in back] == \
        [(e.type, round(e.time, 6), e.summary()) for e in history]
    assert [getattr(e, "last_failure", None) for e in back] == [getattr(e, "last_failure", None) for e in history]
    assert any(getattr(e, "last_failure", None) for e in history)


@pytest.mark.parametrize("content, code", [
    (None, 2),                                      # missing
    (b"\x89PNG\r\n\x1a\n\x00\x00", 2),              # binary
    (b'{"events": [', 2),                           # truncated JSON
    (b'{"events": "no"}', 1),                       # JSON of the wrong shape: the SDK refuses it
    (b"[" * 100_000, 2),                            # nested too deeply to parse: was a RecursionError traceback
])
def test_the_bridge_exits_1_or_2_for_a_bad_file_never_0(tmp_path, content, code):
    path = tmp_path / "h.json"
    if content is not None:
        path.write_bytes(content)
    p = subprocess.run([sys.executable, "-m", "bridge.replay", str(path)], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == code and "Traceback" not in p.stderr, (p.returncode, p.stdout, p.stderr)
    if code == 1:
        assert json.loads(p.stdout.strip().splitlines()[-1])["ok"] is False
