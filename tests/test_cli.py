import json
import subprocess
import sys

import pytest

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
        assert out["statement_cents"] == 4200 and out["history_events"] == 14, crash
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
