import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from simcore import scenarios
from simcore.cli import main
from tests.conftest import ROOT


def run_json(capsys, *args):
    assert main(["run", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cron_charges_twice_and_durable_once_for_every_crash_point(capsys):
    out = run_json(capsys, "01", "--set", "strategy=cron", "--set", "crash_after=ChargeCard")
    assert out["statement_cents"] == 8400 and out["charges"] == 2 and out["outcome"] == "completed"
    assert out["controls"] == {"strategy": "cron", "crash_after": "ChargeCard"} and out["seed"] == 0
    for crash in ("none", "ChargeCard", "ReserveInventory", "ShipPackage", "SendConfirmationEmail"):
        out = run_json(capsys, "1", "--set", "strategy=durable", "--set", f"crash_after={crash}")
        # a crash in a workflow task adds its timeout: WorkflowTaskStarted, WorkflowTaskTimedOut, and the
        # retry's WorkflowTaskScheduled (attempt 2) where a clean task has only its Scheduled
        assert out["statement_cents"] == 4200 and out["history_events"] == (29 if crash == "none" else 32), crash
        assert set(out) >= {"scene", "controls", "seed", "statement_cents", "charges", "refunds", "effects",
                            "outcome", "history_events"}


def test_text_output_prints_the_outcome_lines(capsys):
    assert main(["run", "01", "--set", "strategy=cron", "--set", "crash_after=ReserveInventory"]) == 0
    out = capsys.readouterr().out
    assert "statement: $84.00 (2 charges)" in out and "warehouse: 2 units held" in out


@pytest.mark.parametrize("args, says", [
    (["run", "99"], "no scene '99'; scenes: 01"),
    (["run", "01", "--set", "strategy=yolo"], "strategy='yolo' is not allowed; choose one of: plain, cron, durable"),
    (["run", "01", "--set", "speed=3"], "has no control 'speed'; its controls: strategy, crash_after"),
    (["run", "01", "--set", "strategy"], "--set takes NAME=VALUE"),
    (["controls", "x"], "no scene 'x'"),
    (["run", "01", "--set", "strategy=cron", "--set", "strategy=durable"], "--set strategy is given twice"),
    (["run", "01", "--export-history", ""], "--export-history takes a file name"),
])
def test_bad_input_exits_2_with_the_choices(capsys, args, says):
    assert main(args) == 2
    assert says in capsys.readouterr().err


def test_lists_scenes_and_controls(capsys):
    assert main(["scenes"]) == 0 and "01  The crash that charges you twice" in capsys.readouterr().out
    assert main(["controls", "01"]) == 0
    assert "crash_after    none | ChargeCard" in capsys.readouterr().out


def test_module_entry_point_runs_without_a_traceback():
    p = subprocess.run([sys.executable, "-m", "simcore", "run", "01", "--set", "crash_after=Nope"],
                       cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "choose one of" in p.stderr


def test_export_a_simulated_run_and_import_it_back(tmp_path, capsys):
    out = tmp_path / "h.json"
    assert main(["run", "01", "--set", "strategy=durable", "--set", "crash_after=ShipPackage",
                 "--export-history", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
    capsys.readouterr()
    assert main(["history", "import", str(out)]) == 0
    shown = capsys.readouterr().out.splitlines()[1:]
    run = scenarios.load("01").simulate(strategy="durable", crash_after="ShipPackage")
    assert [line.split("s  ", 1)[1] for line in shown] == [e.summary() for e in run.history]   # the same rows


def test_export_refuses_a_run_without_a_history_and_import_refuses_junk(tmp_path, capsys):
    assert main(["run", "01", "--export-history", str(tmp_path / "x.json")]) == 2
    assert "keeps no history to export" in capsys.readouterr().err
    junk = tmp_path / "junk.json"
    junk.write_text("{\"not\": \"events\"}")
    assert main(["history", "import", str(junk)]) == 2
    assert "not a Temporal history JSON" in capsys.readouterr().err
    assert main(["history", "import", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_export_from_a_home(tmp_path, capsys):
    home = tmp_path / "home"
    assert main(["order", "run", "--home", str(home)]) == 0
    capsys.readouterr()
    assert main(["history", "export", "--format", "temporal", "--home", str(home)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["events"][-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
    assert doc["events"][0]["eventTime"][:4] == str(datetime.now(timezone.utc).year)   # a real process's clock


def test_a_home_store_given_for_a_history_json_says_how_to_export_one(tmp_path, capsys):
    home = tmp_path / "home"
    assert main(["order", "run", "--home", str(home)]) == 0
    capsys.readouterr()
    for action in ("import", "replay"):
        assert main(["history", action, str(home / "history.sqlite")]) == 2
        err = capsys.readouterr().err
        assert "a SQLite history store" in err and f"history export --format temporal --home {home} " in err
    out = tmp_path / "h.json"   # and what it says to do works
    assert main(["history", "export", "--format", "temporal", "--home", str(home), "--out", str(out)]) == 0
    assert main(["history", "import", str(out)]) == 0


def test_history_replay_is_the_ci_replay_test(capsys, tmp_path):
    """Saved histories (the course's JSON or a Temporal server's) against code: 0 when all replay, 1 naming
    the file, the event and the difference when one does not, 2 when the code cannot be found."""
    fixtures = ROOT / "tests" / "fixtures"
    good = [str(fixtures / "order-1001.json"), str(fixtures / "temporal-server" / "clean.json")]
    assert main(["history", "replay", *good]) == 0
    assert capsys.readouterr().out.count("ok (completed)") == 2
    old = str(fixtures / "s03-ctx-now.json")   # written by scene 03's code, which ships express or standard
    assert main(["history", "replay", old, "--workflow", "simcore.orders:fulfill_order"]) == 1
    assert (f"{old}: FAILED: non-determinism in order-1001 at event 17: history recorded "
            "[ActivityTaskScheduled ShipExpress] but the code produced [ScheduleActivity ShipPackage]") in \
        capsys.readouterr().out
    assert main(["history", "replay", old, "--workflow", "simcore.scenarios.s03:fulfill_ctx_now"]) == 0
    for spec, says in (("nope", "--workflow takes MODULE:NAME"), ("simcore.orders:STEPS", "not a @workflow"),
                       ("no.such.module:x", "cannot import 'no.such.module'")):
        assert main(["history", "replay", old, "--workflow", spec]) == 2 and says in capsys.readouterr().err


def test_history_commands_take_any_workflow_id(tmp_path, capsys):
    home = tmp_path / "home"
    assert main(["order", "run", "--home", str(home), "--order", "7"]) == 0
    capsys.readouterr()
    assert main(["history", "check", "--home", str(home), "--id", "order-7"]) == 0
    assert capsys.readouterr().out.strip().endswith("order-7 (29 events): ok")
    assert main(["history", "export", "--home", str(home), "--id", "order-7"]) == 0
    assert json.loads(capsys.readouterr().out)["events"][0]["workflowExecutionStartedEventAttributes"][
        "workflowId"] == "order-7"
    assert main(["history", "show", "--home", str(home), "--id", "nobody"]) == 2
    assert "no history for nobody" in capsys.readouterr().err


def test_output_closed_early_is_a_quiet_141_not_a_traceback(tmp_path):
    """`python -m simcore history show ... | head`: the reader goes away; the command stops quietly with
    the status of a command killed by SIGPIPE (docs/CLI.md), and the home is as it was."""
    import os
    from simcore import realtime
    realtime.run_order(tmp_path, say=lambda line: None)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for args in (["history", "show", "--home", str(tmp_path)], ["history", "export", "--home", str(tmp_path)],
                 ["scenes"], ["history", "import", str(ROOT / "tests" / "fixtures" / "temporal-server" / "clean.json")]):
        r, w = os.pipe()
        os.close(r)   # the reader is gone before the first line
        try:
            p = subprocess.run([sys.executable, "-m", "simcore", *args], cwd=ROOT, stdout=w, stderr=subprocess.PIPE,
                               text=True, timeout=60)
        finally:
            os.close(w)
        assert p.returncode == 141 and p.stderr == "", (args, p.returncode, p.stderr)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_file_or_folder_the_machine_refuses_is_a_message(tmp_path, capsys):
    out = tmp_path / "no-such-folder" / "h.json"
    assert main(["run", "01", "--set", "strategy=durable", "--export-history", str(out)]) == 2
    assert f"{out}: cannot write (No such file or directory)" in capsys.readouterr().err
    assert main(["history", "import", str(tmp_path)]) == 2   # a folder
    assert f"{tmp_path}: cannot read (Is a directory)" in capsys.readouterr().err
    binary = tmp_path / "h.bin"
    binary.write_bytes(bytes(range(256)))
    assert main(["history", "import", str(binary)]) == 2
    assert "not a Temporal history JSON" in capsys.readouterr().err


def test_a_command_started_with_its_output_closed_still_runs(tmp_path):
    """`python -m simcore order run ... >&-` (a job started with nowhere to print): it runs, quietly."""
    import os
    for args in (["scenes"], ["order", "run", "--home", str(tmp_path / "h")]):
        p = subprocess.run([sys.executable, "-m", "simcore", *args], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                           timeout=60, preexec_fn=lambda: os.close(1))
        assert p.returncode == 0 and p.stderr == "", (args, p.stderr)
    assert (tmp_path / "h" / "history.sqlite").exists()
