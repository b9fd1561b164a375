"""Scene 02: the history file is real, it survives the skull, and its two holes are reproduced."""
import html
import itertools
import json
import re
import sqlite3
import tempfile
from pathlib import Path

import pytest

from scenes import s02
from scenes.kit.code import source_of
from simcore import orders, strategies
from simcore.codec import to_json
from simcore.scenarios import s01 as s01_model, s02 as model

ONCE_EACH = {step: 1 for step in orders.STEPS}


@pytest.fixture
def sim(tmp_path):
    return lambda **controls: model.simulate(folder=tmp_path, **controls)


@pytest.mark.parametrize("step", orders.STEPS)
def test_a_crash_after_any_record_completes_with_one_charge(sim, step):
    for strategy in ("checkpoint", "durable"):
        run = sim(strategy=strategy, crash_after=step, crash_when="after_record")
        lines = model.outcome_lines(run)
        assert run.outcome == "completed" and dict(run.world.effects()) == ONCE_EACH, strategy
        assert lines[0] == "statement: $42.00 (1 charge)" and "shipped: 1 package, paid $42.00" in lines
        assert sum(f.skull for f in run.frames) == 1 and run.history[-1].type == "WorkflowExecutionCompleted"


def test_a_crash_between_the_charge_and_its_record_charges_twice(sim):
    for strategy in ("checkpoint", "durable"):
        lines = model.outcome_lines(sim(strategy=strategy, crash_after="ChargeCard", crash_when="in_the_gap"))
        assert lines[0] == "statement: $84.00 (2 charges)", strategy
        assert "effects: ChargeCard x2, ReserveInventory x1, ShipPackage x1, SendConfirmationEmail x1" in lines
        assert "recorded: ChargeCard x1, ReserveInventory x1, ShipPackage x1, SendConfirmationEmail x1" in lines


def test_recording_first_skips_a_charge_that_never_happened(sim):
    run = sim(crash_after="ChargeCard", crash_when="in_the_gap", record="before_effect")
    lines = model.outcome_lines(run)
    assert lines[0] == "statement: $0.00 (0 charges)" and run.outcome == "completed"
    assert "shipped: 1 package, paid $0.00 (shipped for free)" in lines
    assert "crash: ChargeCard, in the gap: after its record, before the effect: RAM wiped, " \
           "the history kept 4 events" in lines
    charge = next(e for e in run.history if e.type == "ActivityTaskCompleted")
    assert charge.result is None   # "done", with no charge id: nothing was ever charged


def test_the_skull_wipes_ram_and_the_history_survives(sim):
    run = sim(crash_after="ReserveInventory")
    i = next(i for i, f in enumerate(run.frames) if f.skull)
    before, skull, after = run.frames[i - 1], run.frames[i], run.frames[i + 1]
    assert before.ram and skull.ram is None and not after.ram
    assert skull.history == before.history == 7   # started + 2 steps x 3 events, all still there
    assert all(a.history <= b.history for a, b in zip(run.frames, run.frames[1:]))   # never shrinks
    assert "crash: ReserveInventory, after its record: RAM wiped, the history kept 7 events" in \
        model.outcome_lines(run)


def test_the_history_is_a_real_sqlite_file_with_the_runs_rows(sim, tmp_path):
    run = sim()
    assert run.history_path.parent == tmp_path and run.history_path.exists()
    db = sqlite3.connect(run.history_path)
    rows = db.execute("SELECT event_id, type, payload FROM events ORDER BY event_id").fetchall()
    assert rows == [(e.event_id, e.type, to_json(e)) for e in run.history] and len(rows) == 14
    assert json.loads(rows[3][2])["result"] == "char_1"
    line = next(x for x in model.outcome_lines(run) if x.startswith("history:"))
    assert line == f"history: 14 events in 6 commits, file {run.history_path.name}"   # start, 4 steps, end
    assert run.summary()["history_file"] == str(run.history_path)


def test_each_run_starts_from_a_fresh_file(sim, tmp_path):
    path = model.history_file(folder=tmp_path)
    path.write_bytes(b"left over from somewhere else")
    assert len(sim().history) == 14 and len(sim().history) == 14   # not 28, not a conflict
    assert len(sqlite3.connect(path).execute("SELECT * FROM events").fetchall()) == 14


def test_cron_writes_no_file_and_ignored_controls_are_said_out_loud(sim, tmp_path):
    run = sim(strategy="cron", record="before_effect")
    lines = model.outcome_lines(run)
    assert run.history_path is None and not list(tmp_path.iterdir())
    assert lines[0] == "statement: $84.00 (2 charges)"
    assert "history: none: cron keeps its progress in RAM only" in lines
    assert "note: 'write down, then do' applies to the checkpoint file only; cron retry records nothing" in lines
    lines = model.outcome_lines(sim(strategy="durable", record="before_effect"))
    assert "note: 'write down, then do' applies to the checkpoint file only; durable execution records each result " \
        "after its effect" in lines and lines[0] == "statement: $42.00 (1 charge)"


def test_every_combination_runs_and_only_the_gap_changes_the_money(sim):
    for strategy, step, when, record in itertools.product(*(c.choices for c in model.CONTROLS)):
        run = sim(strategy=strategy, crash_after=step, crash_when=when, record=record)
        cents, charges = run.world.statement_cents(), run.world.effects()["ChargeCard"]
        assert run.outcome == "completed"
        if strategy == "cron" and step != "none":
            assert cents == 8400
        elif step != "ChargeCard" or when == "after_record":
            assert cents == 4200 and charges == 1
        elif strategy == "checkpoint" and record == "before_effect":
            assert cents == 0
        else:
            assert cents == 8400


def test_same_controls_same_frames(sim):
    a, b = sim(crash_after="ShipPackage", crash_when="in_the_gap"), sim(crash_after="ShipPackage", crash_when="in_the_gap")
    assert a.frames == b.frames and a.history == b.history


def test_default_files_go_to_the_shared_temp_folder():
    path = model.history_file(strategy="durable", crash_after="none")
    assert path == Path(tempfile.gettempdir()) / "durable-sim" / "scene02-durable-none-after_record-after_effect.sqlite"


def test_the_view_draws_every_frame_and_follows_the_controls():
    view = s02.Scene()
    assert "statement: $42.00 (1 charge)" in view.outcome.value
    for i in range(len(view.run.frames)):
        view.goto(i)
        assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    view.set_controls(crash_when="in_the_gap")
    assert "statement: $84.00 (2 charges)" in view.outcome.value
    view.controls["record"].value = "before_effect"   # as a click would
    assert "statement: $0.00 (0 charges)" in view.outcome.value and "shipped for free" in view.outcome.value


def lit_rows(panels: str) -> list[str]:
    """The text of each lit line of `panels`, in order."""
    rows = re.findall(r'<div class="ds-line ds-lit[^"]*"><span class="ds-ln">\s*\d+</span>(.*?)</div>', panels)
    return [html.unescape(r) for r in rows]


def test_the_code_panel_lights_the_append_when_the_record_is_written():
    view = s02.Scene(crash_after="none")
    i = next(i for i, f in enumerate(view.run.frames) if "result recorded" in f.caption)
    view.goto(i)
    # the checkpoint loop is the lesson, shown in full; the simulation under it is folded away
    loop = source_of(strategies.checkpoint_loop)
    assert "checkpoint loop" in view.code.value and len(loop.splitlines()) <= 12 and "sim." not in loop
    assert "class Checkpointed" in view.engine_code.value and view.engine.selected_index is None
    assert view.now.value.count("ds-lit") == 1   # the pinned strip: the first lit line, the workflow's
    assert lit_rows(view.code.value)[-1].strip() == "process.append(step.run())     # do it, then append its result: one commit"
    view.set_controls(record="before_effect")
    view.goto(next(i for i, f in enumerate(view.run.frames) if "recorded as done" in f.caption))
    assert lit_rows(view.code.value)[-1].strip() == "process.append(step.done())"
    view.goto(next(i for i, f in enumerate(view.run.frames) if " returned " in f.caption))
    assert lit_rows(view.code.value)[-1].strip() == "step.run()"


def test_cron_shows_the_plain_function_and_the_cron_job_that_run():
    view = s02.Scene(strategy="cron", crash_after="ChargeCard")
    assert "statement: $84.00 (2 charges)" in view.outcome.value
    assert source_of(s01_model.fulfill_order) and "yield" not in source_of(s01_model.fulfill_order)
    assert "cron retry" in view.code.value and "for order in shop.orders_not_marked_done():" in html.unescape(view.code.value)
    view.goto(next(i for i, f in enumerate(view.run.frames) if f.caption == "ReserveInventory: called"))
    assert lit_rows(view.code.value) == ["    reserve_inventory(order_id)"]


def test_the_staff_engineer_answers_the_four_questions():
    chat = s02.Scene().chat
    buttons, log = chat.buttons, chat.answers
    assert len(buttons) == 4
    buttons[1].click()
    assert "14,000" in log.value and "200,000" in log.value and "synchronous=FULL" in log.value


def test_the_history_file_named_under_the_panel_fits_inside_it():
    from scenes.kit.panels import HistoryPanel
    view = s02.Scene()
    verdict = next(p for p in view.diagram.panels if isinstance(p, s02.SkullVerdict))
    panel = next(p for p in view.diagram.panels if isinstance(p, HistoryPanel))
    renderer = verdict.file.axes.figure.canvas.get_renderer()
    right = verdict.file.axes.transData.transform((panel.x + panel.w, 0))[0]
    for crash, when, record in itertools.product(orders.STEPS, ("after_record", "in_the_gap"),
                                                 ("after_effect", "before_effect")):
        view.set_controls(strategy="checkpoint", crash_after=crash, crash_when=when, record=record)
        view.goto(len(view.run.frames) - 1)
        assert verdict.file.get_text().endswith(".sqlite")   # its end, which names the controls, is kept
        assert verdict.file.get_window_extent(renderer).x1 < right, verdict.file.get_text()
