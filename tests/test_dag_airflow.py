"""Scene 12's scheduler against Airflow itself (apache-airflow 3.3.2, in .venv-airflow: `make airflow`).

One subprocess asks Airflow (scripts/airflow_oracle.py): the runs its own timetable classes create
for a set of schedules, start dates, outages and catchup settings under both timetable kinds, and
what `dag.test()` of the nightly revenue DAG reports for a flaky and a failing compute_refunds under
several trigger rules. Our scheduler must give the same runs and the same task states. Airflow gets
SQLite in a temporary AIRFLOW_HOME and no network.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from simcore.dag.dag import DAG
from simcore.dag.scheduler import created_runs
from simcore.scenarios import s12

REPO = Path(__file__).resolve().parent.parent
AIRFLOW_PYTHON = Path(os.environ.get("DURABLE_SIM_AIRFLOW_PYTHON") or REPO / ".venv-airflow" / "bin" / "python")
TIMEOUT = 420   # s; measured about 25 s on a 2-core machine

SCHEDULES = {"@daily": "@daily", "hourly cron": "0 * * * *", "timedelta(hours=6)": timedelta(hours=6)}
STARTS = [datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 3, 1, 10, 17, tzinfo=timezone.utc)]
END = datetime(2026, 3, 8, 12, tzinfo=timezone.utc)
OUTAGES = {"no outage": [], "down 3 days": [(datetime(2026, 3, 5, 0, 30, tzinfo=timezone.utc),
                                             datetime(2026, 3, 8, 6, tzinfo=timezone.utc))]}
CASES = [(name, start, outage, catchup, kind) for name in SCHEDULES for start in STARTS for outage in OUTAGES
         for catchup in (True, False) for kind in ("trigger", "data_interval")]
DAG_TESTS = [("flaky", "all_success"), ("fails", "all_success"), ("fails", "all_done"), ("fails", "one_failed"),
             ("ok", "one_failed"), ("fails", "none_failed")]


def up_periods(start, outage):
    edges = [start] + [t for span in OUTAGES[outage] for t in span] + [END]
    return list(zip(edges[::2], edges[1::2]))


def as_json(schedule):
    return {"seconds": schedule.total_seconds()} if isinstance(schedule, timedelta) else schedule


@pytest.fixture(scope="module")
def airflow():
    if not AIRFLOW_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{AIRFLOW_PYTHON} is missing: `make test` installs it (scripts/ensure-airflow)")
        pytest.skip(f"Airflow is not installed ({AIRFLOW_PYTHON}); run `make airflow`")
    ask = {"timetables": [{"schedule": as_json(SCHEDULES[name]), "kind": kind, "start": start.isoformat(),
                           "catchup": catchup, "up": [[a.isoformat(), b.isoformat()] for a, b in up_periods(start, o)]}
                          for name, start, o, catchup, kind in CASES],
           "dag_test": [{"refunds": r, "trigger_rule": rule} for r, rule in DAG_TESTS]}
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"durable-sim-airflow-{os.getpid()}"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(home)), "AIRFLOW_HOME": str(home),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db", "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"), "NO_PROXY": "*", "no_proxy": "*"}
    answer = home / "answer.json"
    home.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run([str(AIRFLOW_PYTHON), str(REPO / "scripts" / "airflow_oracle.py"), str(answer)],
                              input=json.dumps(ask), capture_output=True, text=True, timeout=TIMEOUT, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(answer.read_text())
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_it_is_the_pinned_airflow_with_airflow_3s_defaults(airflow):
    assert airflow["defaults"] == {"version": "3.3.2", "cron": "CronTriggerTimetable",
                                   "timedelta": "DeltaTriggerTimetable", "catchup": False}
    assert DAG("d", "@daily", STARTS[0]).timetable.__class__.__name__ == "CronTriggerTimetable"
    assert DAG("d", timedelta(days=1), STARTS[0]).catchup is False


@pytest.mark.parametrize("i", range(len(CASES)), ids=lambda i: "-".join(
    [CASES[i][0], CASES[i][1].strftime("%H%M"), CASES[i][2].replace(" ", "_"), f"catchup={CASES[i][3]}", CASES[i][4]]))
def test_the_runs_our_scheduler_creates_are_the_runs_airflows_timetables_compute(airflow, i):
    name, start, outage, catchup, kind = CASES[i]
    dag = DAG("nightly_revenue", SCHEDULES[name], start, timetable_kind=kind, catchup=catchup)
    ours = [[d.isoformat() for d in run] for run in created_runs(dag, up_periods(start, outage))]
    assert ours == airflow["timetables"][i]
    assert ours, "every case creates at least one run"


@pytest.mark.parametrize("i", range(len(DAG_TESTS)), ids=lambda i: "-".join(DAG_TESTS[i]))
def test_task_states_and_tries_match_airflows_dag_test(airflow, i):
    refunds, rule = DAG_TESTS[i]
    ours = s12.propagation(refunds=refunds, trigger_rule=rule)
    assert ours == airflow["dag_test"][i]
