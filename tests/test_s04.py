"""Scene 04: an effect inline in workflow code repeats on every replay; as an activity it happens once.
Every count is checked against the world's log and the durable history, not against the outcome text."""
import pytest

from scenes import s04
from simcore import events as ev
from simcore.cli import main
from simcore.scenarios import s04 as model
from simcore.workflow import WorkflowContext


def charges(run):
    return sum(e.cents > 0 for e in run.world.statement())


@pytest.mark.parametrize("crashes", [0, 1, 2, 3])
def test_inline_effects_repeat_once_per_run_of_the_code_and_activities_do_not(crashes):
    inline, act = model.simulate("inline", crashes), model.simulate("activity", crashes)
    for run in (inline, act):
        assert run.outcome == "completed" and len(run.sim.faults.fired) == crashes
        assert len(model.code_runs(run)) == crashes + 1
        assert {run.world.effects()[s] for s in ("ReserveInventory", "ShipPackage", "SendConfirmationEmail")} == {1}
    assert charges(inline) == inline.world.effects()["SendReceivedEmail"] == crashes + 1
    assert inline.world.statement_cents() == 4200 * (crashes + 1)
    assert charges(act) == act.world.effects()["SendReceivedEmail"] == 1 and act.world.statement_cents() == 4200


def test_the_curriculum_outcomes():
    lines = model.outcome_lines(model.simulate("inline", 2))
    assert lines[0] == "statement: $126.00 (3 charges)"
    assert "order-received email: sent 3 times" in lines
    assert "workflow code ran from line one 3 times (2 crashes, 2 replays)" in lines
    lines = model.outcome_lines(model.simulate("activity", 2))
    assert lines[0] == "statement: $42.00 (1 charge)" and "order-received email: sent 1 time" in lines


@pytest.mark.parametrize("side_effects", ["inline", "activity"])
def test_uuid4_changes_on_every_replay_and_ctx_uuid4_never(side_effects):
    run = model.simulate(side_effects, 3)
    runs = model.code_runs(run)
    assert [r["replay"] for r in runs] == [False, True, True, True]
    assert len({r["fresh_id"] for r in runs}) == 4
    assert not any(isinstance(e, ev.MarkerRecorded) for e in run.history)   # nothing recorded for it
    seeded = WorkflowContext("order-1001", run.history[0].run_id).uuid4()   # drawn from the run's id, on record
    assert {r["stable_id"] for r in runs} == {seeded[:8]}
    assert "fresh_id = uuid4(): 4 distinct values (" in "\n".join(model.outcome_lines(run))
    assert "stable_id = ctx.uuid4(): 1 distinct value (" + seeded[:8] + ")" in model.outcome_lines(run)


def test_an_inline_effect_gets_its_own_frame_on_the_line_that_did_it():
    run = model.simulate("inline", 1)
    source, first = model.fulfill_order_inline.source
    inline = [f for f in run.frames if "INLINE" in f.caption]
    assert [f.step for f in inline] == ["SendReceivedEmail", "ChargeCard"] * 2
    assert [f.replaying for f in inline] == [False, False, True, True]
    for f in inline:
        assert f"current_world().{'charge' if f.step == 'ChargeCard' else 'email'}(" in source[f.line - 1]
        assert run.world.log[f.effects - 1].kind == f.step   # the frame shows the effect it names


def test_the_same_controls_give_the_same_frames():
    a, b = model.simulate("inline", 2), model.simulate("inline", 2)
    assert a.frames == b.frames and a.world.log == b.world.log


def test_controls_re_run_the_engine_and_every_frame_draws():
    view = s04.Scene()
    assert "statement: $42.00 (1 charge)" in view.outcome.value and view.run.controls["crashes"] == 0
    view.controls["crashes"].value = 2    # as a click would
    assert "statement: $126.00 (3 charges)" in view.outcome.value
    view.set_controls(side_effects="activity")
    assert "statement: $42.00 (1 charge)" in view.outcome.value
    for i in range(len(view.run.frames)):
        view.goto(i)
        assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def lit_lines(html):
    return [row for row in html.split('<div class="ds-line') if row.startswith(" ds-lit")]


def test_code_panels_light_the_workflow_line_and_the_activity_that_runs():
    view = s04.Scene(side_effects="activity", crashes=1)
    ran = next(i for i, f in enumerate(view.run.frames) if f.effects and i and
               view.run.frames[i - 1].effects < f.effects and view.run.world.log[f.effects - 1].kind == "ChargeCard")
    view.goto(ran)
    lit = lit_lines(view.code.value)
    assert len(lit) == 2 and "ctx.activity(charge_card" in lit[0] and "act.world.charge(" in lit[1]
    replayed = next(i for i, f in enumerate(view.run.frames) if f.replaying and f.step == "ChargeCard")
    view.goto(replayed)
    lit = lit_lines(view.code.value)
    assert len(lit) == 1 and lit[0].startswith(" ds-lit ds-replay") and "ctx.activity(charge_card" in lit[0]
    view.set_controls(side_effects="inline")
    view.goto(next(i for i, f in enumerate(view.run.frames) if f.replaying and f.step == "ChargeCard"))
    lit = lit_lines(view.code.value)
    assert len(lit) == 1 and "current_world().charge(" in lit[0] and "ds-replay" in lit[0]
    assert "not called here" in view.code.value


def test_the_staff_engineer_answers():
    chat = s04.Scene().chat
    buttons, log = chat.buttons, chat.answers
    assert 3 <= len(buttons) == len(s04.QUESTIONS) <= 5
    next(b for b in buttons if "DBOS" in b.description).click()
    assert "@DBOS.step()" in log.value


def test_command_line(capsys):
    import json
    assert main(["run", "04", "--set", "side_effects=inline", "--set", "crashes=2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["statement_cents"] == 12600 and out["charges"] == 3 and out["crashes"] == 2
