"""Our histories against a real Temporal server's, event for event, and Temporal's own Replayer as
the judge of what we export.

The fixtures in tests/fixtures/temporal-server/ were recorded from a Temporal dev server (Temporal
CLI 1.9.1, Server 1.32.0, Python SDK 1.35.0) by scripts/record-temporal-histories, running the
bridge's ports of the same workflows. They are compared by shape: event types in order, and the ids
each event refers to (times, run ids and identities differ from run to run, and do not count).
"""
import json
import subprocess
import sys

import pytest

from simcore import events as ev
from simcore import orders
from simcore import temporal as T
from simcore.engine import Engine
from simcore.faults import CallFault, FaultPlan, KillWorker
from simcore.history import HistoryError
from simcore.replayer import replay
from simcore.scenarios import s03
from simcore.sim import Sim
from simcore.strategies import run_workflow
from tests.conftest import FIXTURES, ROOT

SERVER = FIXTURES / "temporal-server"
REFS = ("scheduledEventId", "startedEventId", "attempt", "activityId", "timeoutType", "cause")


def server(name: str) -> list[dict]:
    return json.loads((SERVER / f"{name}.json").read_text())["events"]


def shape(events: list[dict], first: int = 1) -> list[tuple]:
    """Each event's type and what it refers to, ids counted from `first`; the activity's type too."""
    out = []
    for e in events:
        attrs = next(v for k, v in e.items() if k.endswith("EventAttributes"))
        refs = {k: int(attrs[k]) - first + 1 if k.endswith("EventId") else attrs[k] for k in REFS if k in attrs}
        if "activityType" in attrs:
            refs["activityType"] = attrs["activityType"]["name"]
        out.append((e["eventType"].removeprefix("EVENT_TYPE_"), refs))
    return out


def history_of(plan=FaultPlan(), workflow=orders.fulfill_order, activities=orders.ACTIVITIES, **sim):
    sim = Sim(faults=plan, **sim)
    run = run_workflow("durable", workflow, activities, [orders.ORDER_ID, orders.CENTS], wid="order-1001", sim=sim)
    assert run.outcome == "completed", run.error
    return run.history


def ours(history, **kw) -> list[dict]:
    return T.export(history, **kw)["events"]


# -- the same events as the server writes -----------------------------------------------------------
def test_a_clean_order_is_the_servers_29_events():
    assert len(server("clean")) == 29 and shape(ours(history_of())) == shape(server("clean"))


def test_retries_leave_one_started_event_with_the_attempt_and_the_last_failure():
    mine = ours(history_of(FaultPlan(calls=(CallFault("ShipPackage", "fail", attempts=(1, 2)),))))
    theirs = server("retried")
    assert shape(mine) == shape(theirs)
    started = [e["activityTaskStartedEventAttributes"] for e in mine if "activityTaskStartedEventAttributes" in e]
    assert started[2]["attempt"] == 3 and started[2]["lastFailure"]["message"] == "ShipPackage attempt 2"
    assert "lastFailure" in theirs[17]["activityTaskStartedEventAttributes"]


def test_a_worker_dying_inside_a_workflow_task_times_it_out_and_the_retry_is_transient():
    """The server's wft-timeout: the task times out (START_TO_CLOSE), attempt 2 is written only when it
    completes. Ours, a crash in the task after ChargeCard, writes the same six events."""
    mine = ours(history_of(FaultPlan.crash_after("ChargeCard")))
    theirs = server("wft-timeout")
    assert shape(theirs[1:7], first=2) == shape(mine[7:13], first=8)
    assert [e["eventType"] for e in mine[7:13]][2] == "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT"
    assert mine[10]["workflowTaskScheduledEventAttributes"]["attempt"] == 2
    assert len(mine) == 32 and shape(mine[13:], first=14) == shape(server("clean")[10:], first=11)


def test_a_dead_workers_sticky_queue_times_out_and_the_task_moves_to_the_normal_queue():
    """The server's crash-after-charge: the workflow's worker is killed while ChargeCard runs on
    another; the next task waits on the dead worker's sticky queue until its schedule-to-start timeout."""
    sim = Sim(faults=FaultPlan(workers=(KillWorker("worker-1", at=1.0, restart=False),)))
    engine = Engine(sim, [orders.fulfill_order], orders.ACTIVITIES, workers=2)
    engine.start(orders.fulfill_order, "order-1001", orders.ORDER_ID, orders.CENTS)
    sim.run()
    mine = ours(sim.history.read("order-1001"))
    assert shape(mine) == shape(server("crash-after-charge")) and len(mine) == 31
    assert mine[8]["workflowTaskTimedOutEventAttributes"]["timeoutType"] == "TIMEOUT_TYPE_SCHEDULE_TO_START"


def test_code_that_disagrees_with_its_history_is_one_workflow_task_failed():
    theirs = server("nondeterminism")
    sim = Sim()
    sim.history.append("order-1001", T.load({"events": theirs[:13]}).events)   # the server's first 13 events
    engine = Engine(sim, [swapped_named_as_the_original()], orders.ACTIVITIES)
    engine._schedule_workflow_task("order-1001")
    sim.run()
    mine = ours(sim.history.read("order-1001"))
    assert [t for t, _ in shape(mine[13:])] == ["WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED",
                                                "WORKFLOW_TASK_FAILED"]
    failed = mine[-1]["workflowTaskFailedEventAttributes"]
    assert failed["cause"] == theirs[17]["workflowTaskFailedEventAttributes"]["cause"] == \
        "WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR"
    assert "at event 5: history recorded [ActivityTaskScheduled ChargeCard]" in failed["failure"]["message"]
    assert "order-1001" in engine.stuck


def swapped_named_as_the_original():
    from simcore.workflow import workflow

    @workflow(name="fulfill_order")
    def swapped(ctx, order_id, cents):
        yield ctx.activity(orders.reserve_inventory, order_id)
        yield ctx.activity(orders.charge_card, order_id, cents)
    return swapped


# -- a real server's histories, read and replayed by the course ----------------------------------------
@pytest.mark.parametrize("name, code", [("clean", orders.fulfill_order), ("retried", orders.fulfill_order),
                                        ("crash-after-charge", orders.fulfill_order),
                                        ("wft-timeout", orders.fulfill_order), ("ctx-now", s03.fulfill_ctx_now)])
def test_a_real_servers_history_replays_in_our_engine(name, code):
    imported = T.load((SERVER / f"{name}.json").read_text(), name)
    assert not [e for e in imported.events if isinstance(e, T.TemporalEvent)]   # every event is one we model
    result = replay(code, imported.events)
    assert result.ok and result.completed, result


def test_a_real_servers_stuck_workflow_is_refused_by_the_changed_code_and_replays_with_the_original():
    events = T.load((SERVER / "nondeterminism.json").read_text()).events
    assert replay(orders.fulfill_order, events).ok
    err = replay(swapped_named_as_the_original(), events).error
    assert err.index == 5 and err.produced == "ScheduleActivity ReserveInventory"


def test_import_shows_what_it_does_not_model_by_name_and_refuses_what_is_not_a_history():
    doc = T.export(history_of())
    doc["events"].append({"eventId": "30", "eventType": "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
                          "upsertWorkflowSearchAttributesEventAttributes": {}})
    rows = T.load(json.dumps(doc)).events
    assert [e.summary() for e in rows[:29]] == [e.summary() for e in history_of()]
    assert rows[-1].summary() == "UpsertWorkflowSearchAttributes  (not modelled by the course)"
    with pytest.raises(HistoryError, match="not a Temporal history JSON"):
        T.load("[1, 2]", "x.json")
    with pytest.raises(HistoryError, match="x.json: event 1: eventType must be a string"):
        T.load({"events": [{"eventId": "1", "eventType": 7}]}, "x.json")


def test_durations_are_written_as_temporal_parses_them():
    assert [T.duration(s) for s in (0, 10, 2592000, 0.25, 1.5e-3)] == ["0s", "10s", "2592000s", "0.25s", "0.0015s"]
    assert T.seconds("2592000s") == 2592000.0


def test_histories_without_workflow_tasks_are_not_exported_as_temporals():
    sim = Sim()
    run = run_workflow("checkpoint", orders.fulfill_order, orders.ACTIVITIES, ["1001", 4200], wid="w", sim=sim)
    with pytest.raises(HistoryError, match="records no workflow tasks"):
        T.export(run.history)


# -- Temporal's Replayer judges our exports ------------------------------------------------------------
def temporal_replay(tmp_path, doc, port="original"):
    path = tmp_path / f"{port}.json"
    path.write_text(json.dumps(doc))
    p = subprocess.run([sys.executable, "-m", "bridge.replay", str(path), port], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    verdict = json.loads(p.stdout.strip().splitlines()[-1])   # the SDK's core logs its warnings above
    assert p.returncode == (0 if verdict["ok"] else 1), (p.returncode, verdict, p.stderr)
    return verdict


PLANS = {
    "clean": FaultPlan(),
    **{f"crash after {s}": FaultPlan.crash_after(s) for s in orders.STEPS},
    "retried": FaultPlan(calls=(CallFault("ShipPackage", "fail", attempts=(1, 2)),)),
}


def test_every_simulated_run_replays_in_temporal(tmp_path):
    for name, plan in PLANS.items():
        assert temporal_replay(tmp_path, T.export(history_of(plan))) == {"ok": True}, name


def test_scene_03s_clock_replays_against_workflow_now(tmp_path):
    for crash in ("none", "ShipExpress"):
        run = s03.simulate(strategy="durable", crash_after=crash, code="ctx_now")
        assert run.outcome == "completed"
        assert temporal_replay(tmp_path, T.export(run.history, epoch=run.sim.epoch), "clock") == {"ok": True}


@pytest.mark.parametrize("controls", [dict(cancel="before_shipping", workers="down"),
                                      dict(cancel="after_shipping", update="while_packing"),
                                      dict(cancel="never", update="after_shipping")])
def test_scene_09s_signals_updates_and_cancelled_timers_replay_in_temporal(tmp_path, controls):
    from simcore.scenarios import s09
    run = s09.simulate(**controls)
    assert temporal_replay(tmp_path, T.export(run.history, epoch=run.sim.epoch), "s09") == {"ok": True}


@pytest.mark.parametrize("controls", [dict(), dict(crash="refund_unrecorded"), dict(charge="response_lost"),
                                      dict(release="fails_for_good", on_failure="continue")])
def test_scene_10s_saga_replays_in_temporal(tmp_path, controls):
    from simcore.scenarios import s10
    run = s10.simulate(**controls)
    assert temporal_replay(tmp_path, T.export(run.history, epoch=run.sim.epoch), "saga") == {"ok": True}


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


def test_the_bridge_says_what_is_wrong_with_its_input(tmp_path):
    def bridge(*args):
        return subprocess.run([sys.executable, "-m", "bridge.replay", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
    p = bridge(str(tmp_path / "missing.json"))
    assert p.returncode == 2 and "cannot read a Temporal history JSON" in p.stderr and "Traceback" not in p.stderr
    (tmp_path / "junk.json").write_text("{oops")
    assert bridge(str(tmp_path / "junk.json")).returncode == 2
    p = bridge(str(tmp_path / "junk.json"), "nonsense")
    assert p.returncode == 2 and "usage: python -m bridge.replay" in p.stderr
