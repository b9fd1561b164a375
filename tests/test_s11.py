"""Scene 11: a naive deploy strands only the orders past the change point, and the others silently take
the new path; a patch and pinning strand none; CI's replay test (the real command, over saved v1
histories) fails on the naive v2 and passes on the patched one, and Temporal's Replayer agrees, for
every step of the patch's life. Checked against the histories and the world."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenes import s11
from simcore import events as ev
from simcore.cli import main
from simcore.engine import Engine
from simcore.scenarios import s11 as model
from simcore.sim import Sim
from simcore.temporal import export, load

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / model.FIXTURES


@pytest.fixture(scope="module")
def runs():
    return {deploy: model.simulate(deploy) for deploy in ("naive", "patched", "pinned", "none")}


def test_fifty_orders_are_in_flight_at_the_deploy_some_before_the_change_point_most_past_it(runs):
    c = model.counts(runs["naive"])
    assert len(c["kiln"]) + len(c["shipped"]) == model.IN_FLIGHT
    assert 0 < len(c["kiln"]) < len(c["shipped"])


def test_a_naive_deploy_strands_exactly_the_orders_past_the_change_point_and_the_rest_take_the_new_path(runs):
    run = runs["naive"]
    c = model.counts(run)
    assert c["stuck"] == c["shipped"]
    for wid in c["stuck"]:
        h = run.histories[wid]
        failed = [e for e in h if isinstance(e, ev.WorkflowTaskFailed)]
        assert [f.cause for f in failed] == ["NON_DETERMINISTIC_ERROR"]   # the first failure only is written
        assert not isinstance(h[-1], ev.WorkflowExecutionCompleted)     # still running
        fired = [e for e in h if isinstance(e, ev.TimerFired)]
        assert len(fired) == 2 and failed[0].time >= fired[-1].time     # it broke when its review timer fired
    assert c["fraud"] == c["kiln"] | c["new"] and c["closed"] == c["kiln"] | c["new"]
    lines = model.outcome_lines(run)
    assert f"stuck: {len(c['shipped'])} orders" in lines[2] and "the first on day 37" in lines[2]


@pytest.mark.parametrize("deploy", ["patched", "pinned"])
def test_with_a_patch_or_pinning_no_order_is_stuck_and_each_is_charged_once(runs, deploy):
    run = runs[deploy]
    c = model.counts(run)
    assert not c["stuck"] and len(c["closed"]) == model.IN_FLIGHT + model.AFTER
    assert run.world.statement_cents() == (model.IN_FLIGHT + model.AFTER) * model.CENTS
    if deploy == "patched":   # true live (new orders, and those still in the kiln), false on replay without a marker
        assert c["fraud"] == c["markers"] == c["kiln"] | c["new"]
        for wid in c["markers"]:
            markers = [e.value for e in run.histories[wid] if isinstance(e, ev.MarkerRecorded)]
            assert markers == [{"id": "fraud-check", "deprecated": False}]
    else:                     # every order finishes on the build it started on
        assert c["fraud"] == c["new"]
        assert {wid for wid, b in run.engine.pinned.items() if b == "v1"} == c["kiln"] | c["shipped"]


def test_pinned_keeps_the_v1_workers_until_the_last_v1_order_closes(runs):
    run = runs["pinned"]
    last_v1 = max(run.histories[wid][-1].time for wid, b in run.engine.pinned.items() if b == "v1")
    assert run.extra["drained_at"] and min(run.extra["drained_at"]) >= last_v1
    assert "36.5 days after the deploy, then drained" in "\n".join(model.outcome_lines(run))


def test_the_replay_test_before_the_deploy_fails_exactly_the_orders_past_the_change_point(runs):
    for deploy in ("naive", "patched"):
        run = runs[deploy]
        failed = {wid for wid, r in run.at_deploy["replay"].items() if not r.ok}
        assert failed == (model.counts(run)["shipped"] if deploy == "naive" else set())


def test_the_fixtures_are_what_v1_writes_today(tmp_path):
    written = model.write_v1_histories(str(tmp_path))
    assert sorted(Path(p).name for p in written) == sorted(p.name for p in FIXTURES.glob("*.json"))
    for p in written:
        assert Path(p).read_text() == (FIXTURES / Path(p).name).read_text(), \
            f"{Path(p).name} changed: regenerate with simcore.scenarios.s11.write_v1_histories()"


def test_the_ci_replay_command_fails_on_the_naive_v2_naming_file_event_and_difference_and_passes_the_patched(capsys):
    files = sorted(str(p) for p in FIXTURES.glob("*.json"))
    assert main(["history", "replay", "--workflow", "simcore.scenarios.s11:order_v2_naive", *files]) == 1
    out = capsys.readouterr().out
    assert "order-1001-shipped.json: FAILED: non-determinism in order-1001 at event 22" in out
    assert "history recorded [ActivityTaskScheduled ShipPackage] but the code produced [ScheduleActivity " \
           "FraudCheck]" in out
    assert "order-1050-in-the-kiln.json: order-1050: replayed" in out   # not yet at the change point: fine
    assert main(["history", "replay", "--workflow", "simcore.scenarios.s11:order_v2_patched", *files]) == 0
    assert main(["history", "replay", "--workflow", "simcore.scenarios.s11:order_v1", *files]) == 0


def test_the_notebooks_replay_test_runs_the_real_command_in_its_own_process(capsys):
    assert s11.replay_test("order_v2_naive") == 1 and s11.replay_test("order_v2_patched") == 0
    out = capsys.readouterr().out
    assert "exit code 1" in out and "exit code 0" in out


def replayer(path: Path, port: str) -> int:
    return subprocess.run([sys.executable, "-m", "bridge.replay", str(path), port], cwd=ROOT, capture_output=True,
                          text=True, timeout=120).returncode


def test_temporals_replayer_agrees_with_the_course_on_the_fixtures():
    verdicts = {p.name: {port: replayer(p, port) for port in ("v1", "v2-naive", "v2-patched")}
                for p in sorted(FIXTURES.glob("*.json"))}
    assert verdicts == {"order-1001-completed.json": {"v1": 0, "v2-naive": 1, "v2-patched": 0},
                        "order-1001-shipped.json": {"v1": 0, "v2-naive": 1, "v2-patched": 0},
                        "order-1050-in-the-kiln.json": {"v1": 0, "v2-naive": 0, "v2-patched": 0}}


def test_the_patchs_life_and_temporals_replayer_agrees_on_every_step(tmp_path):
    table = model.lifecycle()
    assert table == {
        "v1": {"old path (no marker)": True, "patched (marker)": False, "v3's (deprecated marker)": False},
        "v2 naive": {"old path (no marker)": False, "patched (marker)": False, "v3's (deprecated marker)": True},
        "v2 patched": {"old path (no marker)": True, "patched (marker)": True, "v3's (deprecated marker)": True},
        "v3 deprecate_patch": {"old path (no marker)": False, "patched (marker)": True,
                               "v3's (deprecated marker)": True},
        "v4 call removed": {"old path (no marker)": False, "patched (marker)": False,
                            "v3's (deprecated marker)": True}}
    ports = {"v1": "v1", "v2 naive": "v2-naive", "v2 patched": "v2-patched", "v3 deprecate_patch": "v3-deprecated"}
    for k, (kind, history) in enumerate(model.lifecycle_histories().items()):
        path = tmp_path / f"{k}.json"
        doc = export(history)
        assert [type(e) for e in load(doc).events] == [type(e) for e in history]
        path.write_text(json.dumps(doc))
        for name, port in ports.items():
            assert (replayer(path, port) == 0) == table[name][kind], (kind, name)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.floats(0, 40), min_size=1, max_size=6), st.floats(1, 45), st.sampled_from(["patched", "pinned"]))
def test_with_the_patch_or_pinning_no_order_ever_gets_stuck_for_any_positions_and_deploy_time(starts, deploy_day,
                                                                                            how):
    """Orders started at any days, a deploy on any day: with the patch or with pinning, none is stuck, each
    completes, and FraudCheck ran exactly for the orders that reached the change point under v2."""
    sim = Sim()
    engine = Engine(sim, [model.order_v1], model.ACTIVITIES, pinned=how == "pinned")
    v2 = model.order_v2_patched if how == "patched" else model.order_v2_naive
    for i, day in enumerate(starts):
        code = v2 if day >= deploy_day else model.order_v1
        engine.later(day * model.DAY, engine.start, code, f"o{i}", str(i), model.CENTS)
    engine.deploy([v2], at=deploy_day * model.DAY, build="v2" if how == "pinned" else None)
    sim.run()
    assert not engine.stuck and engine.closed == {f"o{i}" for i in range(len(starts))}
    for i, day in enumerate(starts):
        h = sim.history.read(f"o{i}")
        kiln_over = next(e.time for e in h if isinstance(e, ev.TimerFired))
        if how == "pinned":   # the build current when it started (at the very moment of the deploy: either)
            build = engine.pinned[f"o{i}"]
            assert build == ("v1" if day < deploy_day else "v2" if day > deploy_day else build)
            reached_under_v2 = build == "v2"
        else:
            reached_under_v2 = kiln_over > deploy_day * model.DAY
        ran = any(getattr(e, "activity_type", "") == "FraudCheck" for e in h)
        assert ran == reached_under_v2, (i, day, deploy_day, how)


def test_the_same_controls_give_the_same_frames():
    a, b = model.simulate("naive"), model.simulate("naive")
    assert a.frames == b.frames


def test_run_11_from_the_command_line(capsys):
    assert main(["run", "11", "--set", "deploy=patched"]) == 0
    assert "stuck: 0" in capsys.readouterr().out
