"""Scene 12: the Must-shows, read from the metadata database and the report's own table; the view
draws every frame; the staff engineer's answers are short (tests/test_texts.py's check, for 12)."""
import json
import sqlite3

import pytest

from scenes import s12
from simcore.cli import main
from simcore.dag.dag import DAG, Task, decide, run_state
from simcore.scenarios import s12 as model


def runs_after_outage(run):
    return [(r["logical_date"][5:10], r["data_interval_start"][5:10], r["data_interval_end"][5:10])
            for r in run.meta.runs() if r["created"] >= model.BACK.isoformat()]


def test_down_3_days_with_catchup_creates_each_missed_interval_in_order():
    run = model.simulate(timetable="data_interval", catchup=True)
    assert runs_after_outage(run) == [("03-05", "03-05", "03-06"), ("03-06", "03-06", "03-07"), ("03-07", "03-07", "03-08")]
    assert "after the outage: 3 runs created (each missed interval, in order)" in model.outcome_lines(run)


@pytest.mark.parametrize("timetable, latest", [("data_interval", ("03-07", "03-07", "03-08")),
                                               ("trigger", ("03-08", "03-08", "03-08"))])
def test_without_catchup_only_the_latest(timetable, latest):
    run = model.simulate(timetable=timetable, catchup=False)
    assert runs_after_outage(run) == [latest]


def test_both_timetables_side_by_side_the_trigger_kind_has_zero_width_intervals():
    lines = model.timetables_side_by_side()
    assert lines[1] == "03-01 [03-01 00:00, 03-01 00:00) at 03-01 00:00 | 03-01 [03-01 00:00, 03-02 00:00) at 03-02 00:00"
    run = model.simulate(timetable="trigger", catchup=False)
    assert run.extra["report_cents"] == run.extra["true_cents"] == 0   # [D, D) reads nothing


@pytest.mark.parametrize("fault", ["publish fails after writing", "scheduler killed"])
def test_a_retried_publish_double_counts_in_append_mode_and_not_in_overwrite_mode(fault):
    append, overwrite = (model.simulate(publish=mode, fault=fault) for mode in ("append", "overwrite"))
    assert append.extra["tasks"]["publish_report"] == overwrite.extra["tasks"]["publish_report"] == ["success", 2]
    assert append.extra["report_cents"] == 2 * append.extra["true_cents"] > 0
    assert overwrite.extra["report_cents"] == overwrite.extra["true_cents"]
    assert any(line.startswith("double-counted") for line in model.outcome_lines(append))


def test_a_killed_scheduler_picks_up_from_the_database_and_reruns_the_task_from_its_start():
    run = model.simulate(fault="scheduler killed")
    db = sqlite3.connect(run.home / "metadata.sqlite")   # the real file, as a learner would open it
    assert db.execute("SELECT state FROM job ORDER BY id").fetchall() == [("stopped",), ("failed",), ("running",)]
    tries = db.execute("SELECT try_number, job_id, outcome FROM task_try WHERE run_id=? AND task_id='publish_report'",
                       (run.workflow_id,)).fetchall()
    assert tries == [(1, 2, "running"), (2, 3, "success")]   # try 1 died with job 2; job 3 ran it again
    assert any(f.skull for f in run.frames) and run.outcome == "success"


def test_a_failed_compute_refunds_marks_publish_upstream_failed_and_the_run_failed():
    run = model.simulate(refunds="fails")
    assert run.extra["tasks"] == {"extract_orders": ["success", 1], "compute_revenue": ["success", 1],
                                  "compute_refunds": ["failed", 2], "publish_report": ["upstream_failed", 0]}
    assert run.outcome == "failed" and run.extra["report_rows"] == 0


def test_a_flaky_compute_refunds_succeeds_on_its_second_try():
    assert model.simulate(refunds="flaky").extra["tasks"]["compute_refunds"] == ["success", 2]


def test_max_active_runs_1_runs_the_catchup_runs_one_after_another():
    run = model.simulate(max_active_runs=1)
    after = [r for r in run.meta.runs() if r["created"] >= model.BACK.isoformat()]
    assert all(a["ended"] <= b["started"] for a, b in zip(after, after[1:]))
    spread = model.simulate(max_active_runs=16)
    later = [r for r in spread.meta.runs() if r["created"] >= model.BACK.isoformat()]
    assert later[1]["started"] < later[0]["ended"]   # with 16, they overlap


@pytest.mark.parametrize("rule, ups, verdict", [
    ("all_success", ["success", "failed"], "upstream_failed"), ("all_success", ["success", None], "wait"),
    ("all_success", ["skipped", "success"], "skipped"), ("all_success", ["upstream_failed", "running"], "upstream_failed"),
    ("all_done", ["failed", "success"], "run"), ("all_done", ["failed", "running"], "wait"),
    ("one_failed", ["failed", None], "run"), ("one_failed", ["success", "success"], "skipped"),
    ("none_failed", ["skipped", "success"], "run"), ("none_failed", ["failed", "success"], "upstream_failed")])
def test_trigger_rules(rule, ups, verdict):
    assert decide(rule, ups) == verdict


def test_a_runs_state_comes_from_its_leaves():
    dag = model.revenue_dag()
    done = {t: "success" for t in dag.task_ids}
    assert run_state(dag, done) == "success"
    assert run_state(dag, {**done, "compute_refunds": "failed"}) == "success"   # not a leaf (all_done downstream)
    assert run_state(dag, {**done, "publish_report": "upstream_failed"}) == "failed"
    assert run_state(dag, {**done, "publish_report": "running"}) == "running"


def test_a_bad_dag_is_refused_saying_what_is_wrong():
    dag = DAG("d", "@daily", model.EPOCH)
    with pytest.raises(ValueError, match="upstream 'nope' is not in the DAG"):
        dag.add(Task("t", lambda ctx: 1, 1), upstream=["nope"])
    with pytest.raises(ValueError, match="choose one of all_success"):
        Task("t", lambda ctx: 1, 1, trigger_rule="sometimes")


def test_the_same_controls_give_the_same_frames():
    a, b = model.simulate(fault="scheduler killed"), model.simulate(fault="scheduler killed")
    assert a.frames == b.frames and a.board.transitions == b.board.transitions


def test_controls_re_run_the_scheduler_and_every_frame_draws():
    view = s12.Scene()
    assert "after the outage: 3 runs created" in view.outcome.value
    view.controls["catchup"].value = False   # as a click would
    assert "after the outage: 1 run created (only the latest)" in view.outcome.value
    view.set_controls(refunds="fails")
    for i in range(len(view.run.frames)):
        view.goto(i)
        assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    dag = next(p for p in view.diagram.panels if isinstance(p, s12.DagPanel))
    assert dag.states["publish_report"].get_text() == "upstream_failed"


def test_the_crash_frame_lights_the_write_that_ran_twice():
    view = s12.Scene(fault="scheduler killed")
    view.goto(next(i for i, f in enumerate(view.run.frames) if f.skull))
    assert "ds-lit ds-crash" in view.now.value and "INSERT INTO revenue" in view.now.value


def test_the_staff_engineer_answers_briefly_first_sentence_first():
    assert 3 <= len(s12.QUESTIONS) <= 5
    assert all(len(a.split()) <= 120 for a in s12.QUESTIONS.values()), {q: len(a.split()) for q, a in s12.QUESTIONS.items()}
    chat = s12.Scene(outage="none").chat
    assert "zero width" in chat.ask("data interval")
    assert "catchup_window" in chat.ask("Temporal")


def test_command_line(capsys):
    assert main(["run", "12", "--set", "refunds=fails", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outcome"] == "failed" and out["tasks"]["publish_report"] == ["upstream_failed", 0]
