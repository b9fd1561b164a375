"""bridge/live.py: the course's workflows on a real Temporal dev server, each worker SIGKILLed at the
scene's crash point, side by side with the course's engine; every difference named and explained;
the card charged once; nothing left running."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.live import compare

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("temporalio")


def test_compare_names_each_difference_and_explains_only_what_it_knows():
    same = ["WorkflowExecutionStarted", "WorkflowTaskScheduled"]
    assert compare(same, same) == []
    sticky = compare(same + ["WorkflowTaskScheduled"],
                     same + ["WorkflowTaskScheduled", "WorkflowTaskTimedOut", "WorkflowTaskScheduled"])
    assert [d["course"] for d in sticky] == [["WorkflowTaskTimedOut", "WorkflowTaskScheduled"]] or \
        [d["course"] for d in sticky] == [["WorkflowTaskScheduled", "WorkflowTaskTimedOut"]]
    assert "sticky" in sticky[0]["why"]
    odd = compare(same + ["TimerFired"], same + ["ActivityTaskScheduled"])
    assert odd == [{"at": 3, "server": ["TimerFired"], "course": ["ActivityTaskScheduled"], "why": ""}]


def test_an_unknown_scenario_is_refused_with_the_list():
    p = subprocess.run([sys.executable, "-m", "bridge.live", "nope"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and "no scenario 'nope'; choose from order" in p.stderr


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    out = tmp_path_factory.mktemp("live") / "live.json"
    p = subprocess.run([sys.executable, "-m", "bridge.live", "--json", str(out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=900)
    assert out.exists(), p.stdout + p.stderr
    return p, json.loads(out.read_text())


def test_every_scenario_runs_on_the_server_and_each_difference_is_explained(live):
    p, doc = live
    assert p.returncode == 0, p.stdout + p.stderr
    for c in doc["scenarios"]:
        assert c["server"]["result"] == c["course"]["result"], c["name"]
        assert all(d["why"] for d in c["differences"]), (c["name"], c["differences"])


def test_after_the_real_kill_each_effect_happened_as_often_on_both_engines_and_the_card_once_per_order(live):
    _, doc = live
    for c in doc["scenarios"]:
        assert c["server"]["effects"] == c["course"]["effects"], c["name"]
        assert c["server"]["statement_cents"] == c["course"]["statement_cents"], c["name"]
    order = next(c for c in doc["scenarios"] if c["name"] == "order")
    assert order["server"]["effects"]["ChargeCard"] == 1 and order["server"]["statement_cents"] == 4200


def test_the_saved_comparison_the_notebook_shows_is_what_a_run_gives_today(live):
    from bridge.live import saved
    _, doc = live
    fresh = {c["name"]: (c["server"]["types"], c["course"]["types"]) for c in doc["scenarios"]}
    kept = {c.name: (c.server.types, c.course.types) for c in saved()}
    assert kept == fresh, "regenerate it: python -m bridge.live --save"


def test_nothing_it_started_is_left_running(live):
    _, doc = live
    assert doc["pids"]
    alive = [pid for pid in doc["pids"] if _alive(pid)]
    assert not alive, f"still running: {alive}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())
