"""The metadata database: every scheduler decision is a row here, and nothing lives anywhere else.

Airflow keeps its state in a metadata database (Postgres or MySQL in production, SQLite to try it):
DAG runs, task instances and their tries, XComs, and the scheduler jobs. That is its answer to a
crash: a scheduler that dies loses nothing it had decided, and the next one reads the tables and
carries on. What it cannot do is resume a task halfway: a task instance that was running under the
dead scheduler is reset and runs again from its first line, as a new try (Airflow's
`adopt_or_reset_orphaned_tasks`). Nothing is replayed; so tasks must be idempotent.

Times are stored as ISO-8601 text in UTC, as a learner reading the file with `sqlite3` expects.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS job (id INTEGER PRIMARY KEY, state TEXT, started TEXT, ended TEXT);
CREATE TABLE IF NOT EXISTS dag_run (
    run_id TEXT PRIMARY KEY, logical_date TEXT, data_interval_start TEXT, data_interval_end TEXT,
    run_after TEXT, state TEXT, created TEXT, started TEXT, ended TEXT, watched INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS task_instance (
    run_id TEXT, task_id TEXT, state TEXT, try_number INTEGER DEFAULT 0, max_tries INTEGER,
    next_try_at TEXT, job_id INTEGER, PRIMARY KEY (run_id, task_id));
CREATE TABLE IF NOT EXISTS task_try (
    run_id TEXT, task_id TEXT, try_number INTEGER, job_id INTEGER, started TEXT, ended TEXT, outcome TEXT,
    PRIMARY KEY (run_id, task_id, try_number));
CREATE TABLE IF NOT EXISTS task_reschedule (
    run_id TEXT, task_id TEXT, try_number INTEGER, start_date TEXT, reschedule_date TEXT);
CREATE TABLE IF NOT EXISTS xcom (run_id TEXT, task_id TEXT, value TEXT, PRIMARY KEY (run_id, task_id));
"""


def iso(d: datetime | None) -> str | None:
    return None if d is None else d.isoformat()


def parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class Metadata:
    """A thin door onto the tables, one method per thing the scheduler asks or records."""

    def __init__(self, path: str | Path, synchronous: str = "FULL"):
        """`synchronous="NORMAL"`: each commit survives the process's death, not the machine's power
        (SQLite's WAL mode); a scene whose scheduler is killed, not its machine, may take it for speed."""
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)   # autocommit: each write is durable
        self.db.row_factory = sqlite3.Row
        self.db.executescript(f"PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous};" + SCHEMA)

    def close(self):
        self.db.close()

    # -- scheduler jobs ----------------------------------------------------------------------
    def start_job(self, now: datetime) -> int:
        return self.db.execute("INSERT INTO job (state, started) VALUES ('running', ?)", (iso(now),)).lastrowid

    def end_job(self, job_id: int, state: str, now: datetime):
        self.db.execute("UPDATE job SET state=?, ended=? WHERE id=?", (state, iso(now), job_id))

    def reset_orphans(self, job_id: int) -> list[sqlite3.Row]:
        """Task instances queued or running under a scheduler job that is gone: back to state None,
        so they are scheduled again (a new try, from the task's first line)."""
        rows = self.db.execute("SELECT * FROM task_instance WHERE state IN ('queued', 'running') AND job_id != ?",
                               (job_id,)).fetchall()
        self.db.execute("UPDATE task_instance SET state=NULL, job_id=NULL WHERE state IN ('queued', 'running') "
                        "AND job_id != ?", (job_id,))
        return rows

    # -- DAG runs ----------------------------------------------------------------------------
    def last_automated_interval(self):
        row = self.db.execute("SELECT data_interval_start, data_interval_end FROM dag_run "
                              "ORDER BY logical_date DESC LIMIT 1").fetchone()
        return None if row is None else (parse(row[0]), parse(row[1]))

    def create_run(self, run_id, info, task_ids, max_tries: dict, now: datetime, watched: bool):
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT INTO dag_run VALUES (?, ?, ?, ?, ?, 'queued', ?, NULL, NULL, ?)",
                            (run_id, iso(info.logical_date), iso(info.data_interval.start),
                             iso(info.data_interval.end), iso(info.run_after), iso(now), int(watched)))
            self.db.executemany("INSERT INTO task_instance (run_id, task_id, state, max_tries) VALUES (?, ?, NULL, ?)",
                                [(run_id, t, max_tries[t]) for t in task_ids])

    def runs(self, state: str | None = None) -> list[sqlite3.Row]:
        where, args = ("WHERE state=?", (state,)) if state else ("", ())
        return self.db.execute(f"SELECT * FROM dag_run {where} ORDER BY logical_date", args).fetchall()

    def set_run_state(self, run_id: str, state: str, now: datetime):
        column = "started" if state == "running" else "ended"
        self.db.execute(f"UPDATE dag_run SET state=?, {column}=? WHERE run_id=?", (state, iso(now), run_id))

    # -- task instances and tries ------------------------------------------------------------
    def task_instances(self, run_id: str) -> dict[str, sqlite3.Row]:
        rows = self.db.execute("SELECT * FROM task_instance WHERE run_id=?", (run_id,)).fetchall()
        return {r["task_id"]: r for r in rows}

    def set_ti(self, run_id: str, task_id: str, **columns):
        sets = ", ".join(f"{k}=?" for k in columns)
        self.db.execute(f"UPDATE task_instance SET {sets} WHERE run_id=? AND task_id=?",
                        (*columns.values(), run_id, task_id))

    def start_try(self, run_id, task_id, try_number, job_id, now):
        self.db.execute("INSERT OR REPLACE INTO task_try VALUES (?, ?, ?, ?, ?, NULL, 'running')",
                        (run_id, task_id, try_number, job_id, iso(now)))

    def end_try(self, run_id, task_id, try_number, outcome, now):
        self.db.execute("UPDATE task_try SET ended=?, outcome=? WHERE run_id=? AND task_id=? AND try_number=?",
                        (iso(now), outcome, run_id, task_id, try_number))

    def reschedule(self, run_id, task_id, try_number, started, again):
        self.db.execute("INSERT INTO task_reschedule VALUES (?, ?, ?, ?, ?)",
                        (run_id, task_id, try_number, iso(started), iso(again)))

    def first_poke(self, run_id, task_id, try_number) -> datetime | None:
        row = self.db.execute("SELECT MIN(start_date) FROM task_reschedule WHERE run_id=? AND task_id=? AND "
                              "try_number=?", (run_id, task_id, try_number)).fetchone()
        return parse(row[0])

    def tries(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM task_try ORDER BY started, run_id, task_id").fetchall()

    # -- XCom: how one task hands a small value to the next ----------------------------------
    def push(self, run_id, task_id, value):
        self.db.execute("INSERT OR REPLACE INTO xcom VALUES (?, ?, ?)", (run_id, task_id, json.dumps(value)))

    def pull(self, run_id, task_id):
        row = self.db.execute("SELECT value FROM xcom WHERE run_id=? AND task_id=?", (run_id, task_id)).fetchone()
        return None if row is None else json.loads(row[0])
