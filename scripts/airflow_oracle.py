"""Ask Airflow itself: run with the Python of the Airflow virtualenv (scripts/ensure-airflow).

Reads one JSON object on stdin and writes one to the file named by its argument (or stdout):
- "timetables": cases {schedule, kind, start, catchup, up: [[from, to], ...]}; for each, the runs
  Airflow's own timetable classes create when a scheduler is up over those periods (its clock
  frozen at each moment it looks, as tests freeze `utcnow`): [logical_date, start, end, run_after].
- "dag_test": cases {refunds: ok|flaky|fails, trigger_rule}; for each, `dag.test()` of the nightly
  revenue DAG: every task instance's state and try number, and the DAG run's state.
- "defaults": what `schedule="@daily"` and `schedule=timedelta(days=1)` become, and the catchup default.
The course's side of the comparison is tests/test_dag_airflow.py. Nothing here touches the network.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from unittest import mock

import pendulum


def when(text):
    return pendulum.parse(text).in_timezone("UTC")


def make_timetable(schedule, kind):
    from airflow.timetables.interval import CronDataIntervalTimetable, DeltaDataIntervalTimetable
    from airflow.timetables.trigger import CronTriggerTimetable, DeltaTriggerTimetable
    if isinstance(schedule, dict):
        delta = dt.timedelta(seconds=schedule["seconds"])
        return DeltaTriggerTimetable(delta) if kind == "trigger" else DeltaDataIntervalTimetable(delta)
    return (CronTriggerTimetable(schedule, timezone="UTC") if kind == "trigger"
            else CronDataIntervalTimetable(schedule, "UTC"))


def runs(case):
    from airflow.timetables.base import TimeRestriction
    tt = make_timetable(case["schedule"], case["kind"])
    restriction = TimeRestriction(earliest=when(case["start"]), latest=None, catchup=case["catchup"])
    out, last = [], None
    for a, b in case["up"]:
        t, until = when(a), when(b)
        while True:
            with mock.patch("airflow.timetables.trigger.utcnow", lambda: t), \
                    mock.patch("airflow.timetables.interval.utcnow", lambda: t):
                info = tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
            if info is None:
                break
            if info.run_after <= t:   # due: the scheduler creates it now
                di = info.data_interval
                out.append([info.logical_date.isoformat(), di.start.isoformat(), di.end.isoformat(),
                            info.run_after.isoformat()])
                last = di
            elif info.run_after < until:   # the scheduler sleeps until then
                t = info.run_after
            else:
                break
    return out


DAG_FILE = '''
"""The nightly revenue report, one DAG per case in DURABLE_SIM_CASES (written here by airflow_oracle.py)."""
import datetime as dt
import json
import os

import pendulum
from airflow.sdk import DAG, task


def revenue_dag(refunds, trigger_rule):
    @task
    def extract_orders():
        return 1

    @task
    def compute_revenue(_):
        return 2

    @task
    def compute_refunds(_, ti=None):
        if refunds == "fails" or (refunds == "flaky" and ti.try_number == 1):
            raise RuntimeError("refunds service unavailable")
        return 3

    @task(trigger_rule=trigger_rule)
    def publish_report(a, b):
        return 4

    with DAG(f"nightly_revenue_{refunds}_{trigger_rule}", schedule="@daily",
             start_date=pendulum.datetime(2026, 3, 1, tz="UTC"),
             default_args={"retries": 1, "retry_delay": dt.timedelta(seconds=1)}) as dag:
        orders = extract_orders()
        publish_report(compute_revenue(orders), compute_refunds(orders))
    return dag


for case in json.loads(os.environ.get("DURABLE_SIM_CASES", "[]")):
    d = revenue_dag(case["refunds"], case["trigger_rule"])
    globals()[d.dag_id] = d
'''


def dag_tests(cases):
    """`dag.test()` needs the DAG in a bundle (the dags folder), so the DAGs are written there first."""
    import importlib.util

    from airflow.configuration import conf
    from airflow.utils import db
    folder = conf.get("core", "dags_folder")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "nightly_revenue.py")
    with open(path, "w") as f:
        f.write(DAG_FILE)
    os.environ["DURABLE_SIM_CASES"] = json.dumps(cases)
    db.initdb()   # the metadata database (SQLite in AIRFLOW_HOME) that dag.test() writes to
    spec = importlib.util.spec_from_file_location("nightly_revenue", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = []
    for case in cases:
        dag = getattr(module, f"nightly_revenue_{case['refunds']}_{case['trigger_rule']}")
        run = dag.test(logical_date=pendulum.datetime(2026, 3, 7, tz="UTC"))
        tis = {ti.task_id: [str(ti.state) if ti.state else None, ti.try_number] for ti in run.get_task_instances()}
        out.append({"run": str(run.state), "tasks": tis})
    return out


def defaults():
    from airflow.sdk import DAG
    out = {}
    for name, schedule in (("cron", "@daily"), ("timedelta", dt.timedelta(days=1))):
        dag = DAG(f"defaults_{name}", schedule=schedule, start_date=pendulum.datetime(2026, 3, 1, tz="UTC"))
        out[name] = type(dag.timetable).__name__
        out["catchup"] = dag.catchup
    import airflow
    out["version"] = airflow.__version__
    return out


def main():
    ask = json.load(sys.stdin)
    out = {"timetables": [runs(c) for c in ask.get("timetables", [])], "defaults": defaults()}
    if ask.get("dag_test"):
        out["dag_test"] = dag_tests(ask["dag_test"])
    if len(sys.argv) > 1:   # Airflow's task logs go to stdout too: the answer goes to a file of its own
        with open(sys.argv[1], "w") as f:
            json.dump(out, f)
    else:
        json.dump(out, sys.stdout)


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    main()
