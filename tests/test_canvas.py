"""Scene 13's canvas (simcore/scenarios/canvas.py): the same order three ways, each run, the same fault;
and the DAG sensor it needs (simcore/dag: reschedule mode, its timeout, skipped tasks, a manual run)."""
import pytest

from simcore.scenarios import canvas

DAY = canvas.DAY
FAULTS = ("none", "crash_after_charge", "kill_during_wait")


@pytest.fixture(scope="module", params=[(f, c) for f in FAULTS for c in (False, True)], ids=str)
def lanes(request):
    fault, cancel = request.param
    return fault, cancel, canvas.run_all(fault, cancel, 0, 31 * DAY)


def first(world, kind):
    return next((e for e in world.log if e.kind == kind), None)


def test_each_model_charges_once_whatever_the_fault(lanes):
    _, _, runs = lanes
    for lane in runs.values():
        assert lane.sim.world.effects()["ChargeCard"] == 1 and lane.sim.world.statement_cents() == 4200


def test_the_fault_happened_in_each_model(lanes):
    fault, _, runs = lanes
    if fault != "none":
        for m, lane in runs.items():
            assert any(f.skull for f in lane.sim.trace.frames), m


def test_the_wait_and_the_cancel_each_model_its_own_way(lanes):
    _, cancel, runs = lanes
    wf, dag, sm = (runs[m].sim.world for m in canvas.MODELS)
    if not cancel:
        for lane in runs.values():
            assert lane.outcome == "completed"
            assert 30 * DAY <= first(lane.sim.world, "SendReviewRequestEmail").t <= 30 * DAY + canvas.POKE + 60
        assert runs["dag"].extra["pokes"] >= 30 * DAY / canvas.POKE - 1
        return
    label = first(wf, "SendReturnLabelEmail")
    assert label and canvas.CANCEL_AT <= label.t < canvas.CANCEL_AT + 60          # the signal wakes the code at once
    seen = first(dag, "SendReturnLabelEmail")
    assert seen and canvas.CANCEL_AT + 3600 <= seen.t <= canvas.CANCEL_AT + canvas.POKE + 60   # at its next poke
    assert runs["dag"].extra["tasks"]["send_review_request"] == "skipped"
    assert runs["state_machine"].outcome == "aborted" and "SendReturnLabelEmail" not in sm.effects()
    for w in (wf, dag, sm):
        assert "SendReviewRequestEmail" not in w.effects()


def test_the_sensor_left_at_airflows_default_timeout_fails_the_run_before_the_review():
    lane = canvas.run_dag("none", False, 0, 7 * 86400.0)
    assert lane.outcome == "failed" and lane.extra["timeout"].startswith("AirflowSensorTimeout")
    assert lane.extra["tasks"]["wait_30_days"] == "failed"
    assert lane.extra["tasks"]["send_review_request"] == "upstream_failed"
    assert "SendReviewRequestEmail" not in lane.sim.world.effects()
    assert lane.extra["pokes"] == 7 * 86400 // canvas.POKE


def test_the_same_controls_give_the_same_frames():
    a = canvas.run_all("kill_during_wait", True, 3, 31 * DAY)
    b = canvas.run_all("kill_during_wait", True, 3, 31 * DAY)
    for m in canvas.MODELS:
        assert a[m].sim.trace.frames == b[m].sim.trace.frames
