"""Scene 12 · DAGs and schedules: the Airflow way.

A nightly revenue report as an Airflow-style DAG (`extract_orders` -> `compute_revenue`,
`compute_refunds` -> `publish_report`) on the course's clock, scheduled daily from 2026-03-01 by
simcore/dag. The orders and the revenue table (one partition per data interval) are a real SQLite
file; so is the scheduler's metadata (WAL, synchronous=NORMAL: each commit survives the death of the
scheduler's process, which is what the scene kills; not a power loss). The scheduler can be down from 03-05 00:30 to 03-08 06:00
(catchup decides what it makes of the missed days), and the first run it creates on 03-08 (the
watched run) can meet a flaky or failing compute_refunds, a publish_report that fails after its
write, or a scheduler killed while publish_report runs. Retries run the task again from its start:
in append mode the retried publish_report counts the day's revenue twice; overwriting the
interval's partition does not.
"""
from __future__ import annotations

import random
import sqlite3
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..dag.dag import DAG, Task
from ..dag.scheduler import Board, supervise
from ..dag.store import Metadata, iso, parse
from ..faults import CallFault, Crash, FaultPlan
from ..sim import Run, Sim
from . import Control

NUMBER = 12
TITLE = "DAGs and schedules: the Airflow way"
EPOCH = datetime(2026, 3, 1, tzinfo=timezone.utc)
DOWN, BACK = datetime(2026, 3, 5, 0, 30, tzinfo=timezone.utc), datetime(2026, 3, 8, 6, tzinfo=timezone.utc)
WATCH_FROM, END = datetime(2026, 3, 8, tzinfo=timezone.utc), datetime(2026, 3, 8, 12, tzinfo=timezone.utc)
RETRIES, RETRY_DELAY = 1, timedelta(minutes=5)
FOLDER = Path(tempfile.gettempdir()) / "durable-sim" / "s12"
FAULTS = ("none", "publish fails after writing", "scheduler killed")
CONTROLS = (
    Control("timetable", ("trigger", "data_interval"), "data_interval",
            "trigger: Airflow 3's default for a cron string (runs at D, zero-width interval); data_interval: "
            "Airflow 2's (the run for [D, D+1) runs after D+1)"),
    Control("catchup", (True, False), True, "after an outage, create every missed run (True) or only the latest"),
    Control("outage", ("none", "3 days"), "3 days", "the scheduler is down from 03-05 00:30 to 03-08 06:00"),
    Control("refunds", ("ok", "flaky", "fails"), "ok",
            "compute_refunds in the watched run: fine, fails once (retried), or fails on both tries"),
    Control("publish", ("append", "overwrite"), "append",
            "publish_report INSERTs a row, or replaces the interval's partition"),
    Control("fault", FAULTS, "none", "what else happens to publish_report in the watched run"),
    Control("max_active_runs", (16, 1), 16, "DAG runs that may run at once (Airflow's default: 16)"),
)
TASK_SECONDS = {"extract_orders": 120, "compute_revenue": 300, "compute_refunds": 180, "publish_report": 60}


# -- the tasks: what a learner would write in an Airflow DAG file ---------------------------------
def extract_orders(ctx):
    (n,) = ctx.data.execute("SELECT COUNT(*) FROM orders WHERE ts >= ? AND ts < ?", interval(ctx)).fetchone()
    return n


def compute_revenue(ctx):
    (cents,) = ctx.data.execute("SELECT COALESCE(SUM(cents), 0) FROM orders WHERE ts >= ? AND ts < ?",
                                interval(ctx)).fetchone()
    return cents


def compute_refunds(ctx):
    (cents,) = ctx.data.execute("SELECT COALESCE(SUM(cents), 0) FROM refunds WHERE ts >= ? AND ts < ?",
                                interval(ctx)).fetchone()
    return cents


def publish_append(ctx):
    net = ctx.xcom_pull("compute_revenue") - ctx.xcom_pull("compute_refunds")
    with ctx.data:   # one transaction: a new row every time the task runs
        ctx.data.execute("INSERT INTO revenue VALUES (?, ?, ?)", (*interval(ctx), net))


def publish_overwrite(ctx):
    net = ctx.xcom_pull("compute_revenue") - ctx.xcom_pull("compute_refunds")
    with ctx.data:   # one transaction: the interval's partition is replaced, so a re-run writes the same
        ctx.data.execute("DELETE FROM revenue WHERE interval_start = ?", (interval(ctx)[0],))
        ctx.data.execute("INSERT INTO revenue VALUES (?, ?, ?)", (*interval(ctx), net))


def interval(ctx) -> tuple[str, str]:
    return iso(ctx.data_interval_start), iso(ctx.data_interval_end)


def revenue_dag(timetable="data_interval", catchup=True, publish="append", max_active_runs=16,
                trigger_rule="all_success", start_date=EPOCH) -> DAG:
    dag = DAG("nightly_revenue", "@daily", start_date, timetable_kind=timetable, catchup=catchup,
              max_active_runs=max_active_runs)
    task = lambda tid, fn, **kw: Task(tid, fn, TASK_SECONDS[tid], RETRIES, RETRY_DELAY, **kw)   # noqa: E731
    dag.add(task("extract_orders", extract_orders))
    dag.add(task("compute_revenue", compute_revenue), upstream=["extract_orders"])
    dag.add(task("compute_refunds", compute_refunds), upstream=["extract_orders"])
    publish_fn = publish_append if publish == "append" else publish_overwrite
    dag.add(task("publish_report", publish_fn, trigger_rule=trigger_rule), upstream=["compute_revenue", "compute_refunds"])
    return dag


def fault_plan(refunds="ok", fault="none", who="watched") -> FaultPlan:
    calls = {"ok": (), "flaky": (CallFault("compute_refunds", "fail", (1,), who, error_type="RefundsUnavailable"),),
             "fails": (CallFault("compute_refunds", "fail", (1, 2), who, error_type="RefundsUnavailable"),)}[refunds]
    if fault == "publish fails after writing":
        calls += (CallFault("publish_report", "fail", (1,), who, error_type="ConnectionReset"),)
    crashes = (Crash("publish_report (watched run)", when="after_effect"),) if fault == "scheduler killed" else ()
    return FaultPlan(crashes=crashes, calls=calls)


def shop_data(path: Path, seed: int) -> sqlite3.Connection:
    """The shop's orders and refunds (seeded), and the report's revenue table."""
    db = sqlite3.connect(path)   # `with db:` is one transaction (the publish tasks rely on it)
    db.executescript("CREATE TABLE orders (id INTEGER PRIMARY KEY, ts TEXT, cents INTEGER);"
                     "CREATE TABLE refunds (order_id INTEGER, ts TEXT, cents INTEGER);"
                     "CREATE TABLE revenue (interval_start TEXT, interval_end TEXT, net_cents INTEGER);")
    rng, rows, refunds = random.Random(f"shop/{seed}"), [], []
    for day in range(-1, 10):
        for _ in range(rng.randint(18, 30)):
            ts = EPOCH + timedelta(days=day, seconds=rng.randrange(86400))
            rows.append((len(rows) + 1001, iso(ts), rng.randrange(1500, 9000, 100)))
            if rng.random() < 0.1:
                refunds.append((rows[-1][0], iso(ts + timedelta(hours=2)), rows[-1][2]))
    with db:
        db.executemany("INSERT INTO orders VALUES (?, ?, ?)", rows)
        db.executemany("INSERT INTO refunds VALUES (?, ?, ?)", refunds)
    return db


def simulate(timetable="data_interval", catchup=True, outage="3 days", refunds="ok", publish="append", fault="none",
             max_active_runs=16, seed=0, folder=None) -> Run:
    controls = dict(timetable=timetable, catchup=catchup, outage=outage, refunds=refunds, publish=publish,
                    fault=fault, max_active_runs=max_active_runs)
    home = Path(folder or FOLDER) / "-".join(str(v).replace(" ", "_") for v in (*controls.values(), seed))
    home.mkdir(parents=True, exist_ok=True)
    for f in home.glob("*.sqlite*"):
        f.unlink()
    sim = Sim(seed=seed, faults=fault_plan(refunds, fault), epoch=EPOCH)
    meta, data = Metadata(home / "metadata.sqlite", synchronous="NORMAL"), shop_data(home / "shop.sqlite", seed)
    board, dag = Board(sim), revenue_dag(timetable, catchup, publish, max_active_runs)
    outages = [(_secs(DOWN), _secs(BACK))] if outage == "3 days" else []
    board.frame(f"nightly_revenue: schedule='@daily' ({timetable} timetable), catchup={catchup}, start 03-01")
    sim.env.process(supervise(sim, dag, meta, board, outages, data=data, watch_from=WATCH_FROM))
    sim.run(until=_secs(END))
    watched = meta.db.execute("SELECT * FROM dag_run WHERE watched=1").fetchone()
    run = Run("12", controls, seed, sim, dag, watched["run_id"] if watched else "", watched["state"] if watched else
              "none", extra=_stats(meta, data, watched))
    run.meta, run.data, run.board, run.dag, run.home = meta, data, board, dag, home
    return run


def _secs(d: datetime) -> float:
    return (d - EPOCH).total_seconds()


def _stats(meta, data, watched) -> dict:
    runs = [dict(r) for r in meta.runs()]
    out = {"runs": [[r["logical_date"], r["data_interval_start"], r["data_interval_end"], r["state"]] for r in runs],
           "scheduler_jobs": meta.db.execute("SELECT COUNT(*) FROM job").fetchone()[0]}
    if watched:
        start, end = watched["data_interval_start"], watched["data_interval_end"]
        out["report_cents"] = data.execute("SELECT COALESCE(SUM(net_cents), 0) FROM revenue WHERE interval_start=?",
                                           (start,)).fetchone()[0]
        out["report_rows"] = data.execute("SELECT COUNT(*) FROM revenue WHERE interval_start=?", (start,)).fetchone()[0]
        sums = [data.execute(f"SELECT COALESCE(SUM(cents), 0) FROM {t} WHERE ts >= ? AND ts < ?", (start, end)).fetchone()[0]
                for t in ("orders", "refunds")]
        out["true_cents"] = sums[0] - sums[1]
        tis = meta.task_instances(watched["run_id"])
        out["tasks"] = {t: [tis[t]["state"], tis[t]["try_number"]] for t in TASK_SECONDS}
    return out


def propagation(refunds="flaky", trigger_rule="all_success") -> dict:
    """One run of the DAG, as `dag.test()` reports it: each task's state and try number, and the run's
    state. tests/test_dag_airflow.py compares it with Airflow's."""
    day = datetime(2026, 3, 7, tzinfo=timezone.utc)
    sim = Sim(faults=fault_plan(refunds, who=None), epoch=day)
    meta = Metadata(":memory:")
    dag = revenue_dag("trigger", catchup=False, trigger_rule=trigger_rule, start_date=day)
    for t in dag.task_ids:   # no data needed: each task returns a number
        object.__setattr__(dag.task(t), "fn", lambda ctx: 1)
    sim.env.process(supervise(sim, dag, meta, Board(sim, quiet=True)))
    sim.run(until=3600)
    (run,) = meta.runs()
    return {"run": run["state"], "tasks": {t: [ti["state"], ti["try_number"]]
                                           for t, ti in sorted(meta.task_instances(run["run_id"]).items())}}


def timetables_side_by_side(catchup=True, outage="3 days") -> list[str]:
    """The same '@daily' schedule under both timetable kinds: what each creates, one line a run."""
    from ..dag.scheduler import created_runs
    up = [(EPOCH, DOWN), (BACK, END)] if outage == "3 days" else [(EPOCH, END)]
    cols = {k: created_runs(revenue_dag(k, catchup), up) for k in ("trigger", "data_interval")}
    f = lambda r: f"{r[0]:%m-%d} [{r[1]:%m-%d %H:%M}, {r[2]:%m-%d %H:%M}) at {r[3]:%m-%d %H:%M}"   # noqa: E731
    lines = [f"{'trigger (Airflow 3 default)':<47} | data_interval (Airflow 2 default)"]
    for i in range(max(map(len, cols.values()))):
        a, b = (f(c[i]) if i < len(c) else "" for c in cols.values())
        lines.append(f"{a:<47} | {b}")
    return lines


def _d(text) -> str:
    return parse(text).strftime("%m-%d %H:%M")


def outcome_lines(run) -> list[str]:
    c, x, meta = run.controls, run.extra, run.meta
    lines = [f"schedule='@daily', {c['timetable']} timetable, catchup={c['catchup']}, outage: {c['outage']}, "
             f"max_active_runs={c['max_active_runs']}"]
    runs = meta.runs()
    for r in runs:
        width = "zero-width" if r["data_interval_start"] == r["data_interval_end"] else "1 day"
        lines.append(f"run {_d(r['logical_date'])}: data interval [{_d(r['data_interval_start'])}, "
                     f"{_d(r['data_interval_end'])}) ({width}), created {_d(r['created'])}, {r['state']}")
    if c["outage"] == "3 days":
        after = [r for r in runs if parse(r["created"]) >= BACK]
        how = "each missed interval, in order" if c["catchup"] else "only the latest"
        lines.append(f"after the outage: {len(after)} run{'s' * (len(after) != 1)} created ({how})")
    if "tasks" in x:
        tis = ", ".join(f"{t} {s} (try {n})" for t, (s, n) in x["tasks"].items())
        lines.append(f"watched run {run.workflow_id.split('__')[1][5:10]}: {tis}; run {run.outcome}")
        killed = [j for j in meta.db.execute("SELECT id FROM job WHERE state='failed'")]
        if killed:
            lines.append(f"scheduler killed {len(killed)}x; the next job reset publish_report and ran it again "
                         "from its start (a new try): nothing is replayed")
        rows = x["report_rows"]
        lines.append(f"revenue table for the watched interval: ${x['report_cents'] / 100:,.2f} in {rows} "
                     f"row{'s' * (rows != 1)}; the interval's orders less refunds: ${x['true_cents'] / 100:,.2f}")
        if x["report_cents"] != x["true_cents"] and rows > 1:
            lines.append(f"double-counted: publish_report ran {rows} times in {c['publish']} mode")
        if run.outcome == "success" and c["timetable"] == "trigger":
            lines.append("zero-width interval [D, D): every query for the interval reads nothing")
    return lines


def states_at(run, frame) -> dict:
    """(run_id, task_id or None) -> state, as the metadata database held them at this frame."""
    out = {}
    for _, rid, tid, state, _ in run.board.transitions[:frame.extra.get("changes", 0)]:
        out[rid, tid] = state
    return out


def so_far(run, frame) -> str:
    """What the player's "so far" line says at a frame: the DAG runs and their tasks, as the metadata
    database held them then (scene 12's story is runs, not a card)."""
    states = states_at(run, frame)
    runs = {rid for rid, tid in states if tid is None}
    tasks = [s for (rid, tid), s in states.items() if tid is not None]
    counts = {s: tasks.count(s) for s in ("success", "failed", "upstream_failed", "up_for_retry") if tasks.count(s)}
    scheduler = frame.extra.get("scheduler", "up")
    return (f"{len(runs)} DAG run{'s' * (len(runs) != 1)} created; tasks: "
            + (", ".join(f"{n} {s}" for s, n in counts.items()) or "none finished")
            + f"; scheduler {scheduler}")
