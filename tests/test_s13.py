"""Scene 13 (simcore/scenarios/s13.py and scenes/s13.py): three parts, each a real run; the view draws each."""
import json

import pytest

from simcore import cli
from simcore.scenarios import s13 as model


@pytest.mark.parametrize("part", ["canvas", "shards"])
def test_each_part_runs_and_says_what_happened(part):
    run = model.simulate(part=part)
    json.dumps(run.summary())
    lines = model.outcome_lines(run)
    assert lines and run.frames
    assert all(model.so_far(run, f) for f in run.frames[::7])
    assert [f.t for f in run.frames] == sorted(f.t for f in run.frames)


def test_the_canvas_shows_the_three_models_and_the_cards():
    run = model.simulate(part="canvas", fault="crash_after_charge", cancel="day 10")
    lines = model.outcome_lines(run)
    assert [m for m in run.extra["models"]] == ["workflow", "dag", "state_machine"]
    assert all(m["charged_cents"] == 4200 for m in run.extra["models"].values())
    assert any(f.skull for f in run.frames)
    assert sum(line.startswith("Card ") for line in lines) == 4
    assert run.extra["cards"]["nightly warehouse refresh"] == ["dag"]


def test_the_shards_part_refuses_the_zombie_and_not_without_the_fence():
    fenced, open_ = model.simulate(part="shards"), model.simulate(part="shards", fence=False)
    assert fenced.extra["shards"]["writes_refused"] > 0 and fenced.extra["ranges_written_by_two_hosts"] == 0
    assert fenced.extra["shards"]["workflows_lost"] == 0 and fenced.extra["shards"]["shard_moves"] > 0
    assert open_.extra["ranges_written_by_two_hosts"] > 0


def test_the_chaos_part_replays_the_rows_first_order_gone_wrong():
    a = model.simulate(part="chaos", orders=100, replay="durable, no keys")
    b = model.simulate(part="chaos", orders=100, replay="durable, no keys")
    assert a.frames == b.frames and a.order == b.order
    assert sum(e.kind == "ChargeCard" for e in a.world.log) == 2
    assert "Replayed from its seed" in model.outcome_lines(a)[-1]


@pytest.mark.parametrize("part", ["canvas", "shards", "chaos"])
def test_the_command_line_runs_each_part(part, capsys):
    assert cli.main(["run", "13", "--set", f"part={part}", "--set", "orders=100"]) == 0
    assert capsys.readouterr().out.count("\n") >= 5


@pytest.mark.parametrize("part", ["canvas", "shards", "chaos"])
def test_the_view_draws_every_part(part):
    from scenes import s13
    scene = s13.Scene(part, **({"orders": 100} if part == "chaos" else {}))
    for i in (0, len(scene.run.frames) // 2, len(scene.run.frames) - 1):
        scene.goto(i)
        assert scene.image.value[:4] == b"\x89PNG"
        assert "so far" in scene.outcome.value or "end of the run" in scene.outcome.value


def test_the_cards_view_judges_the_learners_pick_from_the_table():
    from scenes import s13
    view = s13.cards_view()
    pick, said = view.children[1].children[1:]   # the nightly warehouse refresh
    pick.value = "state_machine"
    assert "does not fit" in said.value and "scene 12" in said.value and "a DAG" in said.value
    pick.value = "dag"
    assert said.value.startswith("<b>fits</b>") and "would use" not in said.value


def test_a_part_is_a_model_of_its_own_and_a_part_that_is_not_is_refused():
    from simcore.scenarios import ControlError, part_of
    shards = part_of(model, "shards")
    assert [c.name for c in shards.CONTROLS] == ["hosts", "fence"] and shards.simulate().controls["part"] == "shards"
    with pytest.raises(ControlError, match="its parts: canvas, shards, chaos"):
        part_of(model, "lanes")


def test_a_host_killed_in_the_shards_part_is_the_crash_to_jump_to():
    """The ring draws the killed host's skull; its frame is the scene's crash, so "jump to the crash"
    goes there (it was disabled with the skull on screen)."""
    from scenes.kit.view import is_crash
    run = model.simulate(part="shards")
    crashes = [f.caption for f in run.frames if is_crash(f)]
    assert crashes and all(c.endswith(" killed") for c in crashes), crashes


def test_the_chaos_part_lights_the_replayed_orders_running_line():
    """The replayed order's own code is shown, and the line it runs is lit under the player (the strip
    showed `faults_for`, which never runs in a frame, and so said no line ran on every frame)."""
    from scenes import s13
    scene = s13.Scene("chaos", orders=100, replay="cron retry")
    lit = []
    for i in range(len(scene.run.frames)):
        scene.goto(i)
        lit.append("ds-now-idle" not in scene.now.value)
    assert sum(lit) > len(lit) // 2
    assert "fulfill_order" in scene.now.value and "ctx.activity" in scene.code.value
