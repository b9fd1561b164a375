"""Scene 05: workers pull from a task queue, so kills, zombies and redeploys lose nothing.

Each count the scene prints is checked against a second source: the world's own log, the durable
histories, the engine's counters, or the frames the engine recorded."""
from collections import Counter

import pytest

from scenes import s05
from simcore.cli import main
from simcore.scenarios import s05 as model

CALM = dict(deploy="none", kill="none", zombie="off")


@pytest.fixture(scope="module")
def default():
    return model.simulate()


def test_every_order_completes_once_through_a_kill_a_zombie_and_a_rolling_deploy(default):
    run = default
    assert run.controls == dict(workers=3, deploy="rolling", kill="worker-2", zombie="on", orders=100)
    assert run.outcome == "completed" and run.extra["completed"] == 100
    assert run.world.statement_cents() == 100 * 4200
    assert Counter(e.order for e in run.world.statement()) == Counter({str(1001 + i): 1 for i in range(100)})
    assert dict(run.world.effects()) == {step: 100 for step in model.STEPS}
    for i in range(100):   # one recorded result per step in every history: fencing kept the zombie out
        history = run.sim.history.read(f"order-{1001 + i}")
        assert [e.type for e in history].count("ActivityTaskCompleted") == 4
        assert history[-1].type == "WorkflowExecutionCompleted"


def test_the_faults_happened_and_the_engine_counted_them(default):
    run, x = default, default.extra
    captions = [f.caption for f in run.frames]
    assert sum(f.skull for f in run.frames) == 1 and any("CRASH (worker-2: killed)" in c for c in captions)
    assert x["rejected"] == sum(c.startswith("stale completion of") for c in captions) >= 1
    assert x["replays"] == sum("has no cached state" in c for c in captions) >= 1
    assert x["leases_expired"] == sum("the lease is taken back" in c for c in captions) >= 2
    # the zombie's repeat reached the world and its key absorbed it: more calls than effects
    assert x["world_calls"] > x["world_effects"] == len(run.world.log) == 400
    deploys = [c for c in captions if c.startswith("deploy:")]
    assert deploys == [f"deploy: worker-{n} {what}" for n in (1, 2, 3) for what in
                       ("going down", "back, with new code and empty caches")]


def test_the_curriculum_outcome_lines(default):
    lines = model.outcome_lines(default)
    assert lines[0].startswith("orders: 100 of 100 completed by 3 workers, the last at ")
    assert lines[1] == "statement: $4,200.00 (100 charges) = 100 × $42.00: one charge per order"
    assert lines[2].startswith("deploy: 175s-") and "rolling" in lines[2]
    assert lines[3].startswith("schedule-to-start during the deploy: ")
    assert "kill: worker-2 killed at 52.5s, restarted 20s later with an empty cache" in lines
    assert "zombie: worker-3 froze at 105s for 30s, longer than its 10s lease" in lines
    refused = next(c for c in (f.caption for f in default.frames) if c.startswith("stale completion of "))
    task = refused.removeprefix("stale completion of ").split(" refused")[0]
    assert f"stale completions rejected: 1 ({task})" in lines and lines[-1] == "outcome: completed"


def test_a_deploy_makes_tasks_wait_and_nothing_else():
    calm = model.simulate(**CALM)
    rolling = model.simulate(**{**CALM, "deploy": "rolling"})
    at_once = model.simulate(**{**CALM, "deploy": "all_at_once"})
    for run in (calm, rolling, at_once):
        assert run.outcome == "completed" and run.world.statement_cents() == 420000
        assert run.extra["rejected"] == 0 and run.extra["leases_expired"] == 0
    assert calm.extra["replays"] == 0 and calm.extra["deploy_window"] is None
    calm_longest = calm.extra["rest"]["longest"]
    assert rolling.extra["during"]["longest"] > calm_longest and rolling.extra["during"]["waited"] > 0
    # all at once: a moment with no worker at all, and the tasks queued then wait it out
    assert any(all(s == "deploying" for _, s, *_ in f.extra["workers"]) for f in at_once.frames)
    assert at_once.extra["during"]["longest"] >= model.DOWN > rolling.extra["during"]["longest"]
    # a redeployed worker comes back with an empty cache: its workflows replay elsewhere
    assert rolling.extra["replays"] > 0 and at_once.extra["replays"] > 0


def test_a_zombie_alone_is_fenced_off():
    run = model.simulate(**{**CALM, "zombie": "on"})
    assert run.extra["rejected"] == 1 and run.extra["leases_expired"] == 1
    frozen = [f for f in run.frames if ("worker-3", "paused") in [(n, s) for n, s, *_ in f.extra["workers"]]]
    assert frozen and min(f.t for f in frozen) >= 105 and max(f.t for f in frozen) <= 135
    assert run.world.statement_cents() == 420000 and len(run.world.log) == 400


def test_more_workers_finish_sooner_and_wait_less():
    runs = [model.simulate(workers=n, **CALM) for n in (1, 2, 3, 5)]
    finished = [r.extra["finished_at"] for r in runs]
    longest = [r.extra["rest"]["longest"] for r in runs]
    assert finished == sorted(finished, reverse=True) and longest == sorted(longest, reverse=True)
    assert longest[0] > 60 > 5 > longest[-1]   # one worker: a backlog all run; five: barely a queue
    assert all(r.world.statement_cents() == 420000 for r in runs)


def test_a_kill_naming_a_missing_worker_kills_nobody():
    run = model.simulate(workers=2, kill="worker-3", zombie="off", deploy="none")
    assert not any(f.skull for f in run.frames)
    assert "kill: there is no worker-3 among 2 workers; nobody was killed" in model.outcome_lines(run)


def test_frames_are_snapshots_that_add_up(default):
    frames = default.frames
    assert 150 < len(frames) < 300   # sampled, not one per step
    closed = [f.extra["closed"] for f in frames]
    assert closed == sorted(closed) and closed[-1] == 100
    for f in frames:
        assert len(f.extra["workers"]) == 3 and f.extra["queued"] >= len(f.extra["queue"])
        assert all(s in ("idle", "busy", "dead", "paused", "deploying") for _, s, *_ in f.extra["workers"])
        charged = default.world.statement(f.effects)
        assert default.world.statement_cents(f.effects) == 4200 * len(charged)
    dead = next(f for f in frames if f.skull)
    assert ("worker-2", "dead", "", 0) in dead.extra["workers"]   # its cache died with it


def test_the_same_controls_give_the_same_frames():
    a, b = model.simulate(orders=20), model.simulate(orders=20)
    assert a.frames == b.frames and a.world.log == b.world.log and a.extra == b.extra


def test_controls_re_run_the_engine_and_frames_draw():
    view = s05.Scene(orders=20)
    assert "statement: $840.00 (20 charges) = 20 × $42.00: one charge per order" in view.outcome.value
    view.controls["workers"].value = 1   # as a click would
    assert view.run.controls["workers"] == 1 and "completed by 1 worker," in view.outcome.value
    view.set_controls(workers=5, deploy="all_at_once")
    for i in list(range(0, len(view.run.frames), 7)) + [len(view.run.frames) - 1]:
        view.goto(i)
        assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def lit_lines(html):
    return [row for row in html.split('<div class="ds-line') if row.startswith(" ds-lit")]


def test_code_panels_light_the_engine_line_the_frame_is_about(default):
    view = s05.Scene()
    for caption, piece in (("stale completion", "self.rejected += 1"), ("CRASH", "except (ProcessCrashed"),
                           ("the lease is taken back", "reason = "), ("orders completed", "task = yield poll")):
        view.goto(next(i for i, f in enumerate(view.run.frames) if caption in f.caption))
        lit = lit_lines(view.code.value + view.engine_code.value)
        assert len(lit) == 1 and piece in lit[0], caption
        assert piece in view.now.value, caption
    assert "key=act.idempotency_key" in view.code.value


def test_the_staff_engineer_answers():
    chat = s05.Scene(orders=20).chat
    buttons, log = chat.buttons, chat.answers
    assert 3 <= len(buttons) == len(s05.QUESTIONS) <= 5
    next(b for b in buttons if "Cadence" in b.description).click()
    assert "decision task" in log.value and "matching service" in log.value


def test_command_line(capsys):
    import json
    assert main(["run", "05", "--set", "orders=20", "--set", "deploy=all_at_once", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["statement_cents"] == 20 * 4200 and out["charges"] == 20 and out["completed"] == 20
    assert out["during"]["longest"] >= model.DOWN


def test_the_so_far_line_counts_orders_not_one_orders_history():
    from scenes.s05 import Scene
    view = Scene()
    view.goto(len(view.run.frames) - 1)
    assert "100/100 orders completed" in view.outcome.value and "events in the history" not in view.outcome.value
