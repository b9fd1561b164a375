"""Temporal's own Replayer checks our engine: exported histories replay against the Temporal port of
ORDER #1001, and the course's changed-code cases fail there with Temporal's non-determinism error."""
import json
import subprocess
import sys

import pytest

from simcore import orders
from simcore import temporal as T
from simcore.faults import CallFault, FaultPlan
from simcore.history import HistoryError
from simcore.sim import Sim
from simcore.strategies import run_workflow
from tests.conftest import ROOT


def history_of(plan=FaultPlan()):
    sim = Sim(faults=plan)
    run = run_workflow("durable", orders.fulfill_order, orders.ACTIVITIES, [orders.ORDER_ID, orders.CENTS],
                       wid="order-1001", sim=sim)
    assert run.outcome == "completed"
    return run.history


def temporal_replay(tmp_path, doc, variant="original"):
    path = tmp_path / f"{variant}.json"
    path.write_text(json.dumps(doc))
    p = subprocess.run([sys.executable, "-m", "bridge.replay", str(path), variant], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])   # the SDK's core logs its warnings above


PLANS = {
    "clean": FaultPlan(),
    **{f"crash after {s}": FaultPlan.crash_after(s) for s in orders.STEPS},
    "retried": FaultPlan(calls=(CallFault("ShipPackage", "fail", attempts=(1, 2)),)),
}


def test_every_simulated_run_replays_in_temporal(tmp_path):
    docs = {name: T.export(history_of(plan)) for name, plan in PLANS.items()}
    retried = [e for e in docs["retried"]["events"] if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_STARTED"]
    assert [e["activityTaskStartedEventAttributes"]["attempt"] for e in retried] == [1, 1, 3, 1]
    for name, doc in docs.items():
        assert temporal_replay(tmp_path, doc) == {"ok": True}, name


@pytest.mark.parametrize("variant, says", [
    ("swapped", "Activity type of scheduled event 'ChargeCard' does not match activity type of activity "
                "command 'ReserveInventory'"),
    ("inserted", "Activity type of scheduled event 'ShipPackage' does not match activity type of activity "
                 "command 'FraudCheck'"),
])
def test_changed_code_fails_in_temporal_as_in_our_engine(tmp_path, variant, says):
    verdict = temporal_replay(tmp_path, T.export(history_of(FaultPlan.crash_after("ReserveInventory"))), variant)
    assert verdict["ok"] is False and verdict["error"] == "NondeterminismError" and says in verdict["message"]


def test_without_the_core_flag_a_swapped_order_slips_through(tmp_path):
    doc = T.export(history_of())
    for e in doc["events"]:
        e.get("workflowTaskCompletedEventAttributes", {}).pop("sdkMetadata", None)
    assert temporal_replay(tmp_path, doc, "swapped") == {"ok": True}


def test_the_shape_temporal_expects():
    events = T.export(history_of())["events"]
    types = [e["eventType"].removeprefix("EVENT_TYPE_") for e in events]
    assert types[:7] == ["WORKFLOW_EXECUTION_STARTED", "WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED",
                         "WORKFLOW_TASK_COMPLETED", "ACTIVITY_TASK_SCHEDULED", "ACTIVITY_TASK_STARTED",
                         "ACTIVITY_TASK_COMPLETED"]
    assert types[-1] == "WORKFLOW_EXECUTION_COMPLETED" and [e["eventId"] for e in events] == \
        [str(n) for n in range(1, len(events) + 1)]
    scheduled = [e["activityTaskScheduledEventAttributes"] for e in events if "activityTaskScheduledEventAttributes" in e]
    assert [s["activityId"] for s in scheduled] == ["1", "2", "3", "4"]
    assert [s["activityType"]["name"] for s in scheduled] == list(orders.STEPS)
    assert T._decode(scheduled[0]["input"]) == ["1001", 4200]


def test_load_shows_every_event_and_names_the_ones_we_do_not_model():
    doc = T.export(history_of())
    doc["events"].insert(3, {"eventId": "99", "eventType": "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
                             "upsertWorkflowSearchAttributesEventAttributes": {}})
    rows = T.load(json.dumps(doc))
    assert len(rows) == len(doc["events"]) and rows[0].summary() == 'WorkflowExecutionStarted fulfill_order("1001",4200)'
    odd = rows[3]
    assert not odd.known and odd.summary() == "UpsertWorkflowSearchAttributes  (not modelled by the course)"
    with pytest.raises(HistoryError, match="not a Temporal history JSON"):
        T.load("[1, 2]", "x.json")
