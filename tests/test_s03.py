"""Scene 03 · Replay. The model's outcomes, the view, and replay tests against saved histories.

The fixtures were written by the engine (`simcore.history.dump(s03.simulate(...).history)`, crash after
ShipExpress): `s03-ctx-now.json` by the fixed code (it completed), `s03-wall-clock.json` by the
wall-clock code (it stopped at the replay after noon). They are kept as saved, like the histories a
Temporal replay test loads, so a change to the workflow code is checked against what was recorded.
"""
import sqlite3
from datetime import datetime

import pytest
from matplotlib.colors import to_rgb

from scenes import s03
from scenes.kit.panels import DANGER
from simcore.faults import FaultPlan
from simcore.history import History, load
from simcore.replayer import replay
from simcore.scenarios import s03 as model
from simcore.sim import Sim
from simcore.strategies import run_workflow
from simcore.world import World, entered

from .conftest import FIXTURES

NOON_AND_7 = datetime(2026, 11, 24, 12, 0, 7)
ND = ("non-determinism in order-1001 at event 17: history recorded [ActivityTaskScheduled ShipExpress] "
      "but the code produced [ScheduleActivity ShipStandard]")


def fixture(name):
    return load((FIXTURES / name).read_text(), name)


def replay_at(when, workflow, history):
    """Replay as a CI job would, on a machine whose clock reads `when`."""
    with entered(World(wall=lambda: when)):
        return replay(workflow, history)


# -- the outcomes the curriculum asks for -------------------------------------------------------------
@pytest.mark.parametrize("crash", ("none",) + model.CRASH_POINTS)
def test_replay_charges_once_for_every_crash_point_and_counts_its_steps(crash):
    run = model.simulate(strategy="durable", crash_after=crash, code="ctx_now")
    replayed, executed = model.steps(run)
    assert run.outcome == "completed" and run.world.statement_cents() == 4200
    assert executed == 4   # each step touched the world once
    assert replayed == {"none": 0, "ChargeCard": 1, "ReserveInventory": 2, "ShipExpress": 3,
                        "SendConfirmationEmail": 4}[crash]
    assert "statement: $42.00 (1 charge)" in model.outcome_lines(run)


@pytest.mark.parametrize("crash", model.CRASH_POINTS)
def test_cron_charges_twice_for_every_crash_after_the_charge(crash):
    run = model.simulate(strategy="cron", crash_after=crash)
    assert model.outcome_lines(run)[0] == "statement: $84.00 (2 charges)" and model.steps(run)[0] == 0


def test_wall_clock_code_is_stopped_when_it_recovers_after_noon():
    run = model.simulate(strategy="durable", crash_after="ShipExpress", code="wall_clock")
    lines = model.outcome_lines(run)
    assert run.outcome == "nondeterminism" and run.error == ND
    assert "clock: crash at 11:59:57, replay at 12:00:07" in lines
    assert f"error: {ND}" in lines and "outcome: nondeterminism (stuck, not silently wrong)" in lines
    # stuck, not silently wrong: one charge, one package (express), and no step past the divergence
    assert run.world.statement_cents() == 4200 and run.world.effects().get("SendConfirmationEmail", 0) == 0
    assert [e.ref for e in run.world.log if e.kind == "ShipPackage"] == ["ship_3 express"]


def test_the_fixed_code_replays_the_same_crash_cleanly():
    run = model.simulate(strategy="durable", crash_after="ShipExpress", code="ctx_now")
    assert not any(e.type == "MarkerRecorded" for e in run.history)   # the clock needs no event of its own
    task = model.clock_read(run.history)   # the workflow task that chose the step: before noon, on record
    assert task.event_id == 15 and model.clock_at(run, task.time) == "11:59:53"
    assert run.outcome == "completed" and "shipped: express; confirmation emails: 1" in model.outcome_lines(run)


def test_the_scoreboard_is_computed_from_runs():
    rows = {r["crash_after"]: r for r in model.scoreboard("wall_clock")}
    assert rows["ShipExpress"]["durable"]["outcome"] == "nondeterminism"
    assert rows["ChargeCard"]["durable"]["outcome"] == "completed"   # the branch was not on record yet
    fixed = model.scoreboard("ctx_now")
    assert all(r["durable"]["cents"] == 4200 and r["durable"]["outcome"] == "completed" for r in fixed)
    assert [r["cron"]["cents"] for r in fixed] == [4200] + [8400] * len(model.CRASH_POINTS)
    text = model.scoreboard_lines("ctx_now")
    assert len(text) == 2 + 1 + len(model.CRASH_POINTS) and "ShipExpress" in text[5]


def test_same_controls_and_seed_give_the_same_frames():
    a, b = (model.simulate(strategy="durable", crash_after="ReserveInventory", code="ctx_now") for _ in "ab")
    assert a.frames == b.frames and a.history == b.history


# -- saved histories, replayed ------------------------------------------------------------------------
def test_the_deterministic_history_replays_at_any_hour():
    history = fixture("s03-ctx-now.json")
    for when in (datetime(2026, 11, 24, 9), NOON_AND_7, datetime(2027, 3, 1, 23, 59)):
        result = replay_at(when, model.fulfill_ctx_now, history)
        assert result.ok and result.completed and result.result == "order 1001 shipped express"


def test_the_wall_clock_history_replays_only_in_the_morning():
    history = fixture("s03-wall-clock.json")
    assert replay_at(datetime(2026, 11, 25, 9), model.fulfill_wall_clock, history).ok
    result = replay_at(NOON_AND_7, model.fulfill_wall_clock, history)
    assert not result.ok and result.error.index == 17 and str(result.error) == ND


def test_the_fix_replays_the_histories_the_old_code_wrote():
    """ctx.now() reads the workflow task's recorded start, so the fixed code replays, at any hour, what the
    wall-clock code wrote in the morning: deploying the fix un-sticks it (Temporal's workflow.now() too)."""
    for when in (datetime(2026, 11, 25, 9), NOON_AND_7):
        result = replay_at(when, model.fulfill_ctx_now, fixture("s03-wall-clock.json"))
        assert result.ok and not result.completed and result.replayed == 3


# -- a hand-corrupted history file -----------------------------------------------------------------------
CORRUPTIONS = {
    "a row deleted from the middle": ("DELETE FROM events WHERE event_id=6", "event 6 is missing"),
    "an unknown event type": ("UPDATE events SET type='ActivityTaskExploded' WHERE event_id=6",
                              "event 6: unknown event type 'ActivityTaskExploded'"),
    "a payload that is not JSON": ("UPDATE events SET payload='{\"scheduled_event_id\": 5,' WHERE event_id=6",
                                   "event 6 (ActivityTaskStarted): payload is not JSON"),
}


@pytest.mark.parametrize("damage", CORRUPTIONS)
def test_a_run_resumed_on_a_corrupted_history_file_fails_with_a_clear_message(tmp_path, damage):
    """Crash after ChargeCard, damage the file while no worker holds the order, let the lease run out.
    The recovering worker's read refuses the file: the run ends `corrupt_history`, its error naming
    the file, the workflow and the event, and nothing runs on the strength of a broken history."""
    sql, says = CORRUPTIONS[damage]
    path = tmp_path / "history.db"
    sim = Sim(faults=FaultPlan.crash_after("ChargeCard"), epoch=model.EPOCH, history=History(path))

    def vandal():
        yield sim.env.timeout(6)   # after the crash (2.5 s), before the lease runs out (12.25 s)
        with sqlite3.connect(path) as db:
            db.execute(sql)
    sim.env.process(vandal())
    run = run_workflow("durable", model.fulfill_ctx_now, model.ACTIVITIES, ["1001", 4200], wid=model.WID, sim=sim)
    message = run.error
    assert run.outcome == "corrupt_history" and run.summary()["outcome"] == "corrupt_history"
    assert str(path) in message and "workflow 'order-1001'" in message and says in message
    assert sim.world.statement_cents() == 4200   # nothing ran on the strength of a broken history


# -- the view ---------------------------------------------------------------------------------------------
def test_the_scene_draws_the_replay_and_the_scoreboard():
    view = s03.Scene()
    assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n" and "outcome: nondeterminism" in view.outcome.value
    assert "ds-scoreboard" in view.board.value and "code=wall_clock" in view.board.value
    view.set_controls(code="ctx_now")
    assert "outcome: completed" in view.outcome.value and "code=ctx_now" in view.board.value
    replayed = next(i for i, f in enumerate(view.run.frames) if f.replaying and f.line)
    view.goto(replayed)
    assert "ds-lit ds-replay" in view.code.value and "now = ctx.now()" in view.code.value
    for i in range(len(view.run.frames)):
        view.goto(i)
    view.set_controls(code="wall_clock")   # the last frame: replay refused, the contradicted event in red
    view.goto(len(view.run.frames) - 1)
    verdict, history = view.diagram.panels[1], view.diagram.panels[5]
    assert verdict.rows[0].get_text().startswith("STUCK: non-determinism in order-1001 at event 17")
    assert history.cursor.get_visible() and to_rgb(history.cursor.get_facecolor()) == to_rgb(DANGER)
    view.controls["strategy"].value = "cron"   # as a click would
    assert "statement: $84.00 (2 charges)" in view.outcome.value and "cron retry" in view.code.value


def test_the_staff_engineer_answers():
    chat = s03.Scene().chat
    buttons, log = chat.buttons, chat.answers
    assert len(buttons) == len(s03.QUESTIONS) >= 4
    buttons[-1].click()
    assert "51,200 events or 50 MB" in log.value and "10,240" in log.value


def test_the_frames_count_what_the_history_holds_at_the_timeout_and_the_replay():
    """The timed-out workflow task's frame counts the WorkflowTaskTimedOut it records, and the replay's
    caption tells the events on record from the two its (transient) task is handed with."""
    run = model.simulate(strategy="durable", crash_after="ShipExpress", code="ctx_now")
    timed_out = next(e for e in run.history if e.type == "WorkflowTaskTimedOut")
    lease = next(f for f in run.frames if f.kind == "lease")
    replay = next(f for f in run.frames if f.kind == "replay")
    assert lease.history == timed_out.event_id == replay.history
    assert f"({replay.history} on record + this task's 2)" in replay.caption
