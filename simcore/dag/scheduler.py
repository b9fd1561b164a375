"""The scheduler: a loop that creates DAG runs when the timetable says so and moves task instances
through their states, with a LocalExecutor that runs tasks as SimPy processes.

It keeps nothing in memory that matters: each pass reads the metadata database and writes what it
decides back (simcore/dag/store.py). So killing it is cheap to recover from: the supervisor starts a
new scheduler job, which resets the dead job's orphaned task instances and carries on from the
tables. A task that was halfway through starts again from its first line, as a new try: nothing is
replayed, which is the difference from scenes 01-03's durable execution.

Faults come from the course's injector: `CallFault(task_id, "fail", attempts=(try numbers,),
order=run_id or "watched")` fails a try after its code ran; `Crash(f"{task_id} (watched run)",
when="after_effect")` kills the scheduler right after that task's write, before its success is
recorded. The watched run is the first one created at or after `watch_from`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..faults import KillWorker, ProcessCrashed
from .dag import DAG, Skip, decide, run_state
from .store import Metadata, iso, parse
from .timetables import DataInterval

PICKUP = 1.0   # seconds from queued to running: the executor taking the task


class TaskFailed(Exception):
    """A try's failure that the injector planned (the task's own exceptions fail it just the same)."""


@dataclass
class Context:
    """What a task is handed, named as Airflow's context names it."""
    run_id: str
    task_id: str
    try_number: int
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    meta: Metadata
    data: object = None   # the task's own data (scene 12: the orders and revenue database)

    def xcom_pull(self, task_id: str):
        return self.meta.pull(self.run_id, task_id)


class Board:
    """The trace side, outside any scheduler: every state change in order, and the frames. It
    survives a scheduler's death because it is the film of the run, not part of the scheduler."""

    def __init__(self, sim, quiet: bool = False):
        self.sim, self.quiet = sim, quiet
        self.transitions: list[tuple] = []   # (t, run_id, task_id or None for the run, state, try_number)
        self.scheduler = "up"

    def note(self, run_id, task_id, state, try_number=0):
        self.transitions.append((self.sim.env.now, run_id, task_id, state, try_number))

    def frame(self, caption, skull=False, **changes):
        if self.quiet:
            return
        self.sim.trace.frame(caption, extra={"changes": len(self.transitions), "scheduler": self.scheduler}, **changes)
        if skull:
            from dataclasses import replace
            self.sim.trace.frames[-1] = self.sim.trace.state = replace(self.sim.trace.state, skull=True)


class Scheduler:
    """One scheduler job (a process): its loop and its executor's task processes."""

    def __init__(self, sim, dag: DAG, meta: Metadata, board: Board, data=None, watch_from: datetime | None = None):
        self.sim, self.env, self.dag, self.meta, self.board, self.data = sim, sim.env, dag, meta, board, data
        self.watch_from, self.alive, self.tasks = watch_from, True, []
        self.died, self.wake = self.env.event(), self.env.event()
        self.job = meta.start_job(self.now())
        board.scheduler = "up"
        for ti in meta.reset_orphans(self.job):
            board.note(ti["run_id"], ti["task_id"], None, ti["try_number"])
            board.frame(f"scheduler job {self.job} starts: {ti['task_id']} was {ti['state']} under a dead job; "
                        f"reset to none, it will run again from its start", line=None)
        self.loop = self.env.process(self._loop())

    def now(self) -> datetime:
        return self.sim.clock()

    def at(self, d: datetime) -> float:
        return (d - self.sim.epoch).total_seconds()

    # -- the loop ----------------------------------------------------------------------------
    def _loop(self):
        from simpy import Interrupt
        try:
            while True:
                self.wake = self.env.event()
                before = len(self.board.transitions)
                said = self.schedule()
                if said:   # an incident if the pass failed a run, or a task because its upstream did
                    failed = any(state in ("failed", "upstream_failed")
                                 for _, _, _, state, _ in self.board.transitions[before:])
                    self.board.frame("scheduler: " + "; ".join(said), kind="failed" if failed else "")
                wait = self._next_wake() - self.env.now
                yield self.env.any_of([self.wake, self.env.timeout(max(wait, 0))]) if wait < math.inf else self.wake
        except Interrupt:
            return

    def _next_wake(self) -> float:
        """The next moment a pass could change something: a run falling due, a retry's delay ending, a
        sensor's next poke."""
        times, running = [], self.meta.runs("running")
        full = len(self.meta.runs("queued")) + len(running) >= self.dag.max_active_runs
        if getattr(self.dag.timetable, "periodic", True) and not full:   # when full, a finishing task wakes it
            last = self.meta.last_automated_interval()
            info = self.dag.timetable.next_dagrun_info(last and DataInterval(*last), self.dag.restriction, self.now())
            if info is not None:
                times.append(self.at(info.run_after))
        for run in running:
            times += [self.at(parse(ti["next_try_at"])) for ti in self.meta.task_instances(run["run_id"]).values()
                      if ti["state"] in ("up_for_retry", "up_for_reschedule")]
        return min(times, default=math.inf)

    def schedule(self) -> list[str]:
        """One pass: create the runs that are due, start queued runs, move task instances on."""
        said, now, dag, meta = [], self.now(), self.dag, self.meta
        periodic = getattr(dag.timetable, "periodic", True)   # schedule=None: runs are triggered, not made
        while periodic and len(meta.runs("queued")) + len(meta.runs("running")) < dag.max_active_runs:
            last = meta.last_automated_interval()
            info = dag.timetable.next_dagrun_info(last and DataInterval(*last), dag.restriction, now)
            if info is None or info.run_after > now:
                break
            run_id = f"scheduled__{iso(info.logical_date)}"
            watched = self.watch_from is not None and now >= self.watch_from and \
                not meta.db.execute("SELECT 1 FROM dag_run WHERE watched=1").fetchone()
            meta.create_run(run_id, info, dag.task_ids, {t: dag.task(t).retries for t in dag.task_ids}, now, watched)
            self.board.note(run_id, None, "queued")
            said.append(f"creates run {info.logical_date:%m-%d %H:%M} {info.data_interval!r}")
        room = dag.max_active_runs - len(meta.runs("running"))
        for run in meta.runs("queued")[:max(room, 0)]:
            meta.set_run_state(run["run_id"], "running", now)
            self.board.note(run["run_id"], None, "running")
        for run in meta.runs("running"):
            said += self._move_tasks(run, now)
        return said

    def _move_tasks(self, run, now) -> list[str]:
        said, rid, dag = [], run["run_id"], self.dag
        tis = self.meta.task_instances(rid)
        states = {t: tis[t]["state"] for t in dag.task_ids}
        tries = {t: tis[t]["try_number"] for t in dag.task_ids}
        changed = True
        while changed:   # until nothing moves: an upstream_failed propagates down the whole graph in one pass
            changed = False
            for t in dag.task_ids:
                task, state = dag.task(t), states[t]
                verdict = decide(task.trigger_rule, [states[u] for u in dag.upstream(t)]) if state is None else \
                    "run" if state == "up_for_retry" and parse(tis[t]["next_try_at"]) <= now else \
                    "poke" if state == "up_for_reschedule" and parse(tis[t]["next_try_at"]) <= now else None
                if verdict == "poke":   # a sensor's next poke: the same try, scheduled again
                    states[t] = "queued"
                    self.meta.set_ti(rid, t, state="queued", job_id=self.job)
                    self.board.note(rid, t, "queued", tries[t])
                    self.tasks.append(self.env.process(self._execute(run, t, tries[t])))
                elif verdict == "run":   # Airflow counts the try when it schedules it
                    states[t], tries[t] = "queued", tries[t] + 1
                    self.meta.set_ti(rid, t, state="queued", try_number=tries[t], job_id=self.job)
                    self.board.note(rid, t, "scheduled", tries[t])
                    self.board.note(rid, t, "queued", tries[t])
                    self.tasks.append(self.env.process(self._execute(run, t, tries[t])))
                    said.append(f"{t} scheduled, queued (try {tries[t]})")
                elif verdict in ("upstream_failed", "skipped"):
                    states[t], changed = verdict, True
                    self.meta.set_ti(rid, t, state=verdict)
                    self.board.note(rid, t, verdict, tries[t])
                    said.append(f"{t} {verdict}")
        state = run_state(dag, states)
        if state != "running":
            self.meta.set_run_state(rid, state, now)
            self.board.note(rid, None, state)
            said.append(f"run {parse(run['logical_date']):%m-%d} {state}")
        return said

    # -- the executor ------------------------------------------------------------------------
    def _execute(self, run, task_id, try_number):
        from simpy import Interrupt
        task, rid, meta = self.dag.task(task_id), run["run_id"], self.meta
        who = "watched" if run["watched"] else rid
        try:
            yield self.env.timeout(PICKUP)
            meta.set_ti(rid, task_id, state="running")
            meta.start_try(rid, task_id, try_number, self.job, self.now())
            self.board.note(rid, task_id, "running", try_number)
            if task.poke_interval is None or not meta.first_poke(rid, task_id, try_number):
                self.board.frame(f"{task_id} running (run {parse(run['logical_date']):%m-%d}, try {try_number})",
                                 step=task_id)
            yield self.env.timeout(task.seconds / 2)
            ctx = Context(rid, task_id, try_number, parse(run["logical_date"]), parse(run["data_interval_start"]),
                          parse(run["data_interval_end"]), meta, self.data)
            started = self.now()
            try:
                value = task.fn(ctx)
                self.sim.faults.reached("after_effect", f"{task_id} (watched run)" if run["watched"] else task_id)
                fault = self.sim.faults.call_fault(task_id, try_number, who)
                if fault:
                    raise TaskFailed(f"{fault.error_type} (after its code ran)")
                outcome = "success" if task.poke_interval is None or value else "reschedule"
            except Skip as e:
                value, outcome = None, f"skipped: {e}"
            except ProcessCrashed:
                self.die(f"CRASH: the scheduler is killed while {task_id} runs (after its write, before "
                         f"its success is recorded); its task processes die with it", task_id)
                return
            except Exception as e:   # the task's failure: recorded; a retry if any are left
                value, outcome = None, f"{type(e).__name__}: {e}"
            yield self.env.timeout(task.seconds / 2)
        except Interrupt:
            return
        now, last = self.now(), try_number > task.retries
        if outcome == "reschedule":   # the sensor's condition is not met: free the slot, poke again later
            first = meta.first_poke(rid, task_id, try_number) or started
            if (now - first).total_seconds() < task.timeout:
                again = now + timedelta(seconds=task.poke_interval)
                meta.reschedule(rid, task_id, try_number, started, again)
                meta.set_ti(rid, task_id, state="up_for_reschedule", next_try_at=iso(again))
                self.board.note(rid, task_id, "up_for_reschedule", try_number)
                return self._wake()
            outcome, last = f"AirflowSensorTimeout: not done {task.timeout / 86400:g} days after its first poke", True
        meta.end_try(rid, task_id, try_number, outcome, now)
        if outcome == "success":
            meta.push(rid, task_id, value)
        state = "success" if outcome == "success" else "skipped" if outcome.startswith("skipped") else \
            "failed" if last else "up_for_retry"
        meta.set_ti(rid, task_id, state=state, next_try_at=iso(now + task.retry_delay) if state == "up_for_retry" else None)
        self.board.note(rid, task_id, state, try_number)
        retry = f"; retry in {task.retry_delay.total_seconds() / 60:g} min" if state == "up_for_retry" else ""
        said = state if state in ("success", "skipped") else "failed: " + outcome
        self.board.frame(f"{task_id} {said}{retry} (run {parse(run['logical_date']):%m-%d}, try {try_number})",
                         step=task_id, kind={"up_for_retry": "retry", "failed": "failed"}.get(state, ""))
        self._wake()

    def _wake(self):
        if not self.wake.triggered:
            self.wake.succeed()

    # -- stopping ----------------------------------------------------------------------------
    def stop(self, why: str):
        """Stopped (an outage): nothing is lost; the tables hold every decision."""
        self._end("stopped")
        self.board.scheduler = "down"
        self.board.frame(why, kind="outage")

    def die(self, why: str, step=None):
        self._end("failed")
        self.board.scheduler = "dead"
        self.board.frame(why, skull=True, step=step, kind="crash")
        self.died.succeed()

    def _end(self, state):
        self.alive = False
        me = self.env.active_process
        for p in [self.loop, *self.tasks]:
            if p.is_alive and p is not me:
                p.interrupt()
        self.meta.end_job(self.job, state, self.now())


def supervise(sim, dag, meta, board, outages=(), restart_delay=120.0, data=None, watch_from=None):
    """A SimPy process: keep a scheduler running, except during `outages` ((down, back) in simulated
    seconds); a scheduler that dies is replaced after `restart_delay` (systemd, Kubernetes)."""
    periods, current = list(outages) + [(math.inf, math.inf)], []
    for f in sim.faults.plan.workers:   # KillWorker("scheduler", at): kill -9 of the scheduler job at `at`
        if isinstance(f, KillWorker) and f.worker == "scheduler":
            sim.env.timeout(f.at).callbacks.append(lambda _: current and current[-1].alive and current[-1].die(
                "CRASH: the scheduler is killed (kill -9); its tables keep every decision"))
    for down, back in periods:
        while sim.env.now < down:
            s = Scheduler(sim, dag, meta, board, data, watch_from)
            current.append(s)
            end = sim.env.timeout(down - sim.env.now) if down < math.inf else sim.env.event()
            yield sim.env.any_of([s.died, end])
            if s.died.triggered:
                yield sim.env.timeout(restart_delay)
                continue
            s.stop(f"the scheduler is down until {sim.epoch + _seconds(back):%m-%d %H:%M} (an outage): "
                   "no runs are created")
        yield sim.env.timeout(back - sim.env.now)


def _seconds(s):
    return timedelta(seconds=s)


def trigger(dag: DAG, meta: Metadata, now: datetime, watched: bool = True) -> str:
    """A manual run, as `airflow dags trigger` makes one: run id manual__<time>, a zero-width interval."""
    from .timetables import DagRunInfo
    run_id = f"manual__{iso(now)}"
    meta.create_run(run_id, DagRunInfo(DataInterval(now, now), now), dag.task_ids,
                    {t: dag.task(t).retries for t in dag.task_ids}, now, watched)
    return run_id


def created_runs(dag: DAG, up: list[tuple[datetime, datetime]], sim=None) -> list[tuple]:
    """The runs the scheduler creates when it is up over the periods `up`: (logical_date, data
    interval start, end, run_after) each. What tests/test_dag_airflow.py compares with Airflow."""
    from ..sim import Sim
    sim = sim or Sim(epoch=up[0][0])
    meta, board = Metadata(":memory:"), Board(sim, quiet=True)
    secs = [((a - sim.epoch).total_seconds(), (b - sim.epoch).total_seconds()) for a, b in up]
    outages = [(b0, a1) for (_, b0), (a1, _) in zip(secs, secs[1:])]
    sim.env.process(supervise(sim, dag, meta, board, outages))
    sim.run(until=secs[-1][1])
    return [(parse(r["logical_date"]), parse(r["data_interval_start"]), parse(r["data_interval_end"]),
             parse(r["run_after"])) for r in meta.runs()]
