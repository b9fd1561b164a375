"""Scene 08: a durable timer fires once, on day 30, whatever happens to the workers, with or without a
worker alive; time.sleep in a plain process dies with the process; a cron job scanning a table sends
once, at its next tick. Every number is checked against the history, the world's log or the table."""
import json

import pytest

from scenes import s08
from simcore import events as ev
from simcore.cli import main
from simcore.scenarios import s08 as model

DAY = model.DAY


def emails(run):
    return [e for e in run.world.log if e.kind == "SendReviewRequestEmail"]


@pytest.mark.parametrize("crashes", [0, 1, 3, 10])
@pytest.mark.parametrize("day_30", ["up", "down"])
def test_the_review_email_goes_exactly_once_on_day_30_for_any_number_of_crashes(crashes, day_30):
    run = model.simulate(strategy="durable", crashes=crashes, day_30=day_30)
    started = [e for e in run.history if isinstance(e, ev.TimerStarted)]
    fired = [e for e in run.history if isinstance(e, ev.TimerFired)]
    assert len(started) == len(fired) == 1 and fired[0].time == started[0].time + 30 * DAY == model.DUE
    sent = emails(run)
    assert len(sent) == 1 and model.day_number(sent[0].t) == 30 and run.outcome == "completed"
    assert run.world.effects()["ShipPackage"] == 1
    kills = sum(kind == "crash" for _, kind, *_ in run.engine.incidents)
    deploys = sum(kind == "deploy" for _, kind, *_ in run.engine.incidents)
    assert kills + deploys == crashes + (day_30 == "down")
    assert f"review emails sent: 1, on {model.day_of(sent[0].t)}" in model.outcome_lines(run)


def test_the_timer_fires_with_no_worker_alive_and_a_workflow_task_waits_for_the_deploy():
    run = model.simulate(strategy="durable", crashes=3, day_30="down")
    types = [e.type for e in run.history]
    at = types.index("TimerFired")
    # every worker stopped polling an hour before: its sticky queue counts as gone (Temporal: after 10 s
    # without a poll), so the task goes straight to the normal queue and waits there, with nothing on record
    assert types[at:at + 3] == ["TimerFired", "WorkflowTaskScheduled", "WorkflowTaskStarted"]
    fired = run.history[at]
    frame = next(f for f in reversed(run.frames) if f.t <= fired.time)
    assert all(status in ("dead", "deploying") for _, status in frame.extra["workers"])
    taken = next(e for e in run.history[at:] if isinstance(e, ev.WorkflowTaskStarted))
    assert taken.time == pytest.approx(model.DUE - 3600 + model.LONG_DEPLOY, abs=1)   # when the deploy ends
    lines = model.outcome_lines(run)
    assert any(line.startswith("the engine wrote TimerFired with no worker alive; the workflow task waited in the "
                               "queue until day 30, 11:00") for line in lines)


def test_a_sleeping_workflow_is_a_timer_in_the_engine_not_a_worker():
    run = model.simulate(strategy="durable", crashes=1)
    asleep = [f for f in run.frames if "asleep" in f.caption]
    assert asleep and all(f.extra["timers"] == [(("order-1001", "1"), model.DUE)] for f in asleep)
    after_kill = [f for f in asleep if f.t > run.extra["crash_times"][0]]
    assert after_kill and all(f.ram is None for f in after_kill)   # nothing in any worker's RAM
    assert run.engine.replays == 1   # on day 30 a worker without the workflow replayed its history


@pytest.mark.parametrize("crashes", [1, 3, 10])
def test_time_sleep_in_a_plain_process_never_sends_after_a_crash(crashes):
    run = model.simulate(strategy="plain", crashes=crashes)
    assert emails(run) == [] and run.outcome == "lost" and run.history == []
    skull = next(f for f in run.frames if f.skull)
    assert skull.t == run.extra["crash_times"][0]
    assert "review emails sent: 0" in model.outcome_lines(run)


def test_time_sleep_without_a_crash_sends_on_day_30():
    run = model.simulate(strategy="plain", crashes=0)
    assert len(emails(run)) == 1 and model.day_number(emails(run)[0].t) == 30


def test_the_cron_job_sends_once_at_its_next_tick_a_day_late():
    run = model.simulate(strategy="cron_table", crashes=10)
    sent = emails(run)
    assert len(sent) == 1 and sent[0].t == 31 * DAY   # day 31, 09:00: the first tick after 09:00:03 on day 30
    assert run.extra["scans"] == 32   # every day at 09:00, the table scanned
    rows = run.frames[-1].extra["rows"]
    assert rows == [("1001", 3.5, 1)]
    assert "cron: 32 daily scans of the table; the email went at the first tick after it was due, 24.0 hours late" \
        in model.outcome_lines(run)


def test_the_same_controls_give_the_same_frames():
    for strategy in ("durable", "plain", "cron_table"):
        a, b = model.simulate(strategy=strategy, crashes=3), model.simulate(strategy=strategy, crashes=3)
        assert a.frames == b.frames and a.world.log == b.world.log


def test_controls_re_run_the_engine_and_every_frame_draws():
    view = s08.Scene(strategy="durable", crashes=3)
    assert "review emails sent: 1, on day 30, 09:00:04" in view.outcome.value
    view.controls["strategy"].value = "plain"    # as a click would
    assert "review emails sent: 0" in view.outcome.value
    for strategy in ("durable", "plain", "cron_table"):
        view.set_controls(strategy=strategy, crashes=10, day_30="down")
        for i in range(len(view.run.frames)):
            view.goto(i)
            assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_calendar_marks_what_happened_on_each_day():
    view = s08.Scene(strategy="durable", crashes=3)
    calendar = next(p for p in view.diagram.panels if isinstance(p, s08.CalendarPanel))
    view.goto(len(view.run.frames) - 1)
    day30 = calendar.day0 + 30
    assert calendar.notes[day30].get_text() == "fired\nemail"
    assert calendar.notes[calendar.day0].get_text() == "ship"
    kills = [model.day_number(t) for t, k in view.run.extra["marks"] if k in ("crash", "deploy")]
    assert len(kills) == 3 and all(calendar.notes[calendar.day0 + d].get_text() for d in kills)
    view.goto(0)
    assert calendar.notes[day30].get_text() == "due"


def lit_lines(html):
    return [row for row in html.split('<div class="ds-line') if row.startswith(" ds-lit")]


def test_code_panels_light_the_sleep_and_the_crashed_line():
    view = s08.Scene(strategy="durable", crashes=1)
    view.goto(next(i for i, f in enumerate(view.run.frames) if "asleep" in f.caption))
    assert "ctx.sleep(days=30)" in lit_lines(view.code.value)[0]
    view.set_controls(strategy="plain")
    view.goto(next(i for i, f in enumerate(view.run.frames) if f.skull))
    lit = lit_lines(view.code.value)
    assert "time.sleep(30 * 24 * 3600)" in lit[0] and "ds-crash" in lit[0]


def test_the_staff_engineer_answers_in_at_most_120_words():
    chat = s08.Scene().chat
    assert 3 <= len(chat.buttons) == len(s08.QUESTIONS) <= 5
    assert all(len(a.split()) <= 120 for a in s08.QUESTIONS.values())
    next(b for b in chat.buttons if "millions" in b.description).click()
    assert "timer queue per history shard" in chat.answers.value


def test_command_line(capsys):
    assert main(["run", "08", "--set", "strategy=plain", "--set", "crashes=1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outcome"] == "lost" and out["effects"] == {"ShipPackage": 1}


def test_the_frame_line_tells_the_emails_story_not_a_card():
    """Scene 08 has no card: its "so far" line counts the shipment and the review emails at that frame."""
    run = model.simulate()
    first, last = model.so_far(run, run.frames[0]), model.so_far(run, run.frames[-1])
    assert first.startswith("shipped: not yet · 0 review emails sent") and "card" not in first
    assert last == f"shipped: yes · 1 review email sent · {len(run.history)} events in the history"
    assert model.so_far(model.simulate(strategy="plain"), model.simulate(strategy="plain").frames[-1]) == \
        "shipped: yes · 0 review emails sent"
