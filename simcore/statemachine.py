"""ORDER #1001 as a Step Functions state machine: a small interpreter of the Amazon States Language.

The language (definitions as data, `validate()`, paths, retry rules, `ORDER_1001`) is `simcore.asl`;
`run()` executes a definition in simulated time, each task attempt through `simcore.sim.perform`
(faults apply).

The history has Step Functions' event types and detail fields (TaskStateEntered, TaskScheduled,
TaskStarted, TaskSucceeded/Failed, TaskStateExited, WaitStateEntered/Exited, ExecutionSucceeded/Failed/
Aborted, ...; inputs and outputs as JSON text, as the API gives them) in SQLite (WAL, synchronous=FULL,
JSON, never pickle), one transaction per state transition. It is the interpreter's only memory: a
restart reads it and goes on from its tail: a task scheduled with no result (run it again), a failure
whose retry is due, a Wait entered (due at its entered timestamp plus Seconds: a 30-day Wait survives
crashes because it is a timestamp on record, not a sleep in memory), or the end. AWS: Standard
workflows are "exactly-once workflow execution"; "execution state internally persists between state
transitions". We play the service: dying between TaskScheduled and the result, it cannot know whether
the call happened, so the task runs again (at least once) under the same idempotency key (execution id
and state name, as a user builds it from `$$.Execution.Id` and `$$.State.Name`), and keyed activities
act once. An append must continue the history where its writer read it: no stale writer forks it.

Stop: nothing reaches into a running Wait (a state machine waits for a message with a callback task,
`.waitForTaskToken`, not modelled here); the outside calls StopExecution, which writes ExecutionAborted.
No Catch runs (catchers belong to states), so no compensation: the card keeps the charge unless
something outside refunds it. An attempt in flight finishes, and its result is dropped.

Simplified: one resource, `arn:aws:states:::lambda:invoke`, whose Parameters name a course activity
(FunctionName) and its arguments (Payload); the result is the function's value, without Lambda's
envelope. No TimeoutSeconds: a lost response is States.Timeout when the attempt ends. Paths: `$`,
`$.a.b`, and in Parameters `$$.Execution.Id|Name|Input`, `$$.State.Name`. Wait: Seconds only. No Pass,
Parallel, Map, ResultSelector. previousEventId is id - 1. A stop writes <Type>StateAborted, then
ExecutionAborted (both event types of the service; the order is our reading). Faults: Crash(step,
"before_effect") and Crash(effect kind, "after_effect") as everywhere; Crash(state, "after_step") once
its result is on record; KillWorker("interpreter", at=...) at any moment (during the Wait, say).
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import timedelta

import simpy

from . import events as ev
from .asl import (ARN, DAY, FUNCTIONS, INPUT, INTERPRETER, ORDER_1001, RES, DefinitionError,  # noqa: F401
                  PathError, _args, _get, _holds, _matches, _put, _resolve, _task, retry_wait, validate)
from .faults import FaultPlan, KillWorker, ProcessCrashed
from .sim import NO_RESPONSE, Sim, perform

# -- the durable history --------------------------------------------------------------------------
SCHEMA = """CREATE TABLE IF NOT EXISTS executions (arn TEXT PRIMARY KEY, definition TEXT NOT NULL, input TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (arn TEXT NOT NULL, id INTEGER NOT NULL, type TEXT NOT NULL, t REAL NOT NULL,
  timestamp TEXT NOT NULL, details TEXT NOT NULL, PRIMARY KEY (arn, id)) WITHOUT ROWID;"""
CLOSING = {"ExecutionSucceeded": "succeeded", "ExecutionFailed": "failed", "ExecutionAborted": "aborted"}


class Conflict(Exception):
    """Someone wrote to the history since this writer read it (a StopExecution, say)."""


class Store:
    """Execution histories in SQLite: a file (WAL, synchronous=FULL) or, with no path, in memory."""

    def __init__(self, path=None):
        self.db = sqlite3.connect(str(path) if path else ":memory:", isolation_level=None)
        self.db.executescript(("PRAGMA journal_mode=WAL;" if path else "") + "PRAGMA synchronous=FULL;" + SCHEMA)

    def read(self, arn) -> list[dict]:
        rows = self.db.execute("SELECT id, type, t, timestamp, details FROM history WHERE arn=? ORDER BY id", (arn,))
        return [{"id": i, "previousEventId": i - 1, "timestamp": ts, "t": t, "type": typ,
                 **({_key(typ): json.loads(d)} if _key(typ) else {})} for i, typ, t, ts, d in rows]

    def append(self, arn, after: int, rows, t: float, stamp: str) -> None:
        """One transaction: the events go in right after event `after`, or none does (Conflict)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self.db.execute("SELECT COALESCE(MAX(id), 0) FROM history WHERE arn=?", (arn,)).fetchone()[0] != after:
                raise Conflict(f"{arn}: the history no longer ends at event {after}")
            self.db.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?)", [
                (arn, after + k, typ, t, stamp, json.dumps(d)) for k, (typ, d) in enumerate(rows, 1)])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise


def _key(typ):
    if typ.endswith("StateAborted"):
        return None
    return next((k for end, k in (("Entered", "stateEnteredEventDetails"), ("StateExited", "stateExitedEventDetails"))
                 if typ.endswith(end)), typ[0].lower() + typ[1:] + "EventDetails")


def _visit(events):
    return next((events[i:] for i in range(len(events) - 1, -1, -1) if events[i]["type"].endswith("StateEntered")), [])


def _errors(visit):
    return [e["taskFailedEventDetails"]["error"] for e in visit if e["type"] == "TaskFailed"]


def position(defn, events):
    """Where the history says the execution is: (kind, state or outcome, due time)."""
    if not events:
        return "start", None, 0.0
    last, visit = events[-1], _visit(events)
    if last["type"] in CLOSING:
        return "closed", CLOSING[last["type"]], None
    name = visit[0]["stateEnteredEventDetails"]["name"]
    st, t = defn["States"][name], last["t"]
    if last["type"] == "TaskStarted":
        return "attempt", name, t
    if last["type"] == "TaskFailed":   # the failure that ended a batch always has a retry due
        return "retry", name, t + retry_wait(st, _errors(visit))
    if last["type"] == "WaitStateEntered":
        return "wait", name, t + st["Seconds"]
    raise ev.HistoryError(f"the history ends with {last['type']}: not a place this interpreter stops")

# -- the interpreter -------------------------------------------------------------------------------
class Execution:
    """One execution: its history in the store, and the interpreter process that moves it on."""

    def __init__(self, sim: Sim, store: Store, name: str, definition, input):
        self.sim, self.env, self.store, self.name, self.arn = sim, sim.env, store, name, ARN + name
        self.defn, self.input = validate(definition), input
        store.db.execute("INSERT INTO executions VALUES (?, ?, ?)", (self.arn, json.dumps(self.defn),
                                                                       json.dumps(input)))
        self.proc, self.sleeping, self.crashes, self.stops = None, False, [], []
        sim.trace.history = lambda: len(store.read(self.arn))

    def history(self):
        return self.store.read(self.arn)

    def supervise(self):
        """A SimPy process: keep an interpreter running until the execution closes (systemd, say)."""
        while (yield self.env.process(self._interpret())) == "died":
            yield self.env.timeout(self.sim.restart_delay)

    def _interpret(self):
        self.proc = self.env.active_process
        try:
            while True:
                events = self.history()
                kind, name, due = position(self.defn, events)
                if self.crashes and "resumed" not in self.crashes[-1]:
                    self.crashes[-1].update(resumed=(kind, name, due), events=len(events), back=self.env.now)
                if kind == "closed":
                    return "closed"
                if kind == "start":
                    rows = [("ExecutionStarted", {"input": json.dumps(self.input)})] + self._enter(
                        self.defn["StartAt"], self.input)
                elif kind == "attempt":
                    rows = yield from self._attempt(name, events)
                else:
                    self.sleeping = True
                    yield self.env.timeout(max(0.0, due - self.env.now))
                    self.sleeping, visit = False, _visit(events)
                    if kind == "retry":   # the failed attempt's TaskScheduled and TaskStarted, again
                        rows = [(e["type"], e[_key(e["type"])]) for e in visit[-3:-1]]
                    else:
                        out = self._through(name, json.loads(visit[0]["stateEnteredEventDetails"]["input"]))
                        rows = [("WaitStateExited", {"name": name, "output": json.dumps(out)})] + self._next(name, out)
                try:
                    self._append(events, rows)
                except Conflict:
                    continue   # a stop came first: read again, and find the execution closed
                if kind in ("attempt", "wait"):
                    self.sim.faults.reached("after_step", name)
        except ProcessCrashed as crash:
            return self._died(crash.point)
        except simpy.Interrupt as i:
            return "stopped" if i.cause == "stopped" else self._died(i.cause)

    def _died(self, point):
        self.sleeping = False
        self.crashes.append({"t": self.env.now, "point": point})
        self.sim.trace.crash(point)
        return "killed for good" if point == "killed for good" else "died"

    def _append(self, events, rows):
        self.store.append(self.arn, len(events), rows, self.env.now, self.sim.clock().isoformat() + "Z")
        step = next((d["name"] for t, d in reversed(rows) if t.endswith("Entered")), None)
        failed = any(t.endswith(("Failed", "TimedOut")) for t, _ in rows)   # TaskFailed, ExecutionTimedOut, ...
        self.sim.trace.frame(", ".join(t for t, _ in rows), step=step, kind="failed" if failed else "")

    def _attempt(self, name, events):
        """Run the scheduled attempt (again, if a crash lost its result); return what to record."""
        st, visit = self.defn["States"][name], _visit(events)
        sched = [e for e in visit if e["type"] == "TaskScheduled"]
        params = json.loads(sched[-1]["taskScheduledEventDetails"]["parameters"])
        fn = FUNCTIONS[params["FunctionName"]]
        n = sum(e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == name for e in events)
        scheduled = ev.ActivityTaskScheduled(sched[0]["id"], sched[0]["t"], name + (f"#{n}" if n > 1 else ""), fn.name,
                                             [params["Payload"][a] for a in _args(fn.name)])
        outcome = yield from perform(self.sim, fn, self.name, scheduled, len(sched), INTERPRETER, run_id=self.arn)
        data = json.loads(visit[0]["stateEnteredEventDetails"]["input"])
        if outcome is not NO_RESPONSE and outcome.ok:
            out = _get(_put(data, st.get("ResultPath", "$"), outcome.value), st.get("OutputPath", "$"))
            return [("TaskSucceeded", {**RES, "output": json.dumps(outcome.value)}),
                    ("TaskStateExited", {"name": name, "output": json.dumps(out)})] + self._next(name, out)
        error, cause = (("States.Timeout", f"{fn.name} attempt {len(sched)}: no response")
                        if outcome is NO_RESPONSE else (outcome.error_type, outcome.message))
        rows = [("TaskFailed", {**RES, "error": error, "cause": cause})]
        if retry_wait(st, _errors(visit) + [error]) is not None:
            return rows   # the retry is due at this failure's timestamp plus the interval: on record
        catcher = next((c for c in st.get("Catch", []) if _matches(c["ErrorEquals"], error)), None)
        if catcher is None:
            return rows + [("ExecutionFailed", {"error": error, "cause": cause})]
        out = _put(data, catcher.get("ResultPath", "$"), {"Error": error, "Cause": cause})
        return rows + [("TaskStateExited", {"name": name, "output": json.dumps(out)})] + self._enter(catcher["Next"],
                                                                                                  out)

    def _through(self, name, data):
        st = self.defn["States"][name]
        return _get(_get(data, st.get("InputPath", "$")), st.get("OutputPath", "$"))

    def _next(self, name, out):
        st = self.defn["States"][name]
        return [("ExecutionSucceeded", {"output": json.dumps(out)})] if st.get("End") else self._enter(st["Next"], out)

    def _enter(self, name, data):
        """The events of entering a state, up to where the execution next waits: one transaction."""
        st = self.defn["States"][name]
        typ, done = st["Type"], lambda out: {"name": name, "output": json.dumps(out)}
        rows = [(f"{typ}StateEntered", {"name": name, "input": json.dumps(data)})]
        try:
            if typ == "Task":
                ctx = {"Execution": {"Id": self.arn, "Name": self.name, "Input": self.input}, "State": {"Name": name}}
                params = _resolve(st["Parameters"], _get(data, st.get("InputPath", "$")), ctx)
                return rows + [("TaskScheduled", {**RES, "region": "us-east-1", "parameters": json.dumps(params)}),
                               ("TaskStarted", RES)]
            if typ == "Wait":
                return rows
            if typ == "Fail":
                return rows + [("ExecutionFailed", {"error": st.get("Error", ""), "cause": st.get("Cause", "")})]
            out = self._through(name, data)
            if typ == "Succeed":
                return rows + [("SucceedStateExited", done(out)), ("ExecutionSucceeded", {"output": json.dumps(out)})]
            nxt = next((r["Next"] for r in st["Choices"] if _holds(r, _get(data, st.get("InputPath", "$")))),
                       st.get("Default"))
            if nxt is None:
                return rows + [("ExecutionFailed", {"error": "States.NoChoiceMatched", "cause": f"{name}: no match"})]
            return rows + [("ChoiceStateExited", done(out))] + self._enter(nxt, out)
        except PathError as e:
            return rows + [("ExecutionFailed", {"error": "States.Runtime", "cause": f"{name}: {e}"})]

    def stop(self, error="", cause=""):
        """StopExecution: ExecutionAborted on record, a sleeping interpreter woken. No Catch runs."""
        events = self.history()
        kind, name, _ = position(self.defn, events)
        if kind == "closed":
            return False
        aborted = [(self.defn["States"][name]["Type"] + "StateAborted", {})] if name else []
        self._append(events, aborted + [("ExecutionAborted", {"error": error, "cause": cause})])
        self.stops.append({"t": self.env.now, "in": name})
        if self.proc is not None and self.proc.is_alive and self.sleeping:
            self.proc.interrupt("stopped")
        return True

    def kill(self, fault: KillWorker):
        """kill -9 of the interpreter process, wherever it is; the supervisor restarts it (or not)."""
        if self.proc is not None and self.proc.is_alive:
            self.proc.interrupt(f"kill -9 at {_when(fault.at)}" if fault.restart else "killed for good")


# -- a run ----------------------------------------------------------------------------------------
@dataclass
class Result:
    history: list                # the events, as plain dicts
    world: object
    outcome: str                 # succeeded | failed | aborted | running
    execution: Execution
    sim: Sim

    @property
    def effects(self):
        return dict(sorted(self.world.effects().items()))


def run(definition=ORDER_1001, faults: FaultPlan = FaultPlan(), stop_at: float | None = None, seed: int = 0,
        input=None, path=None, name="order-1001", horizon: float = 400 * DAY) -> Result:
    """One execution in simulated time; a StopExecution at `stop_at` seconds, if given."""
    sim = Sim(seed=seed, faults=faults)
    ex = Execution(sim, Store(path), name, definition, dict(INPUT) if input is None else input)
    done = sim.env.process(ex.supervise())
    for f in faults.workers:
        if isinstance(f, KillWorker) and f.worker == INTERPRETER:
            sim.env.timeout(max(0.0, f.at)).callbacks.append(lambda _, f=f: ex.kill(f))
    if stop_at is not None:
        sim.env.timeout(max(0.0, stop_at)).callbacks.append(lambda _: ex.stop("OrderCancelled", "customer cancelled"))
    sim.run(until=sim.env.any_of([done, sim.env.timeout(horizon)]))
    kind, closed, _ = position(ex.defn, ex.history())
    return Result(ex.history(), sim.world, closed if kind == "closed" else "running", ex, sim)


def _when(t):
    return f"day {int(t // DAY)} {(ev.EPOCH + timedelta(seconds=t)):%H:%M:%S}"


def outcome_lines(result: Result) -> list[str]:
    """What happened, in plain words: the outcome, the card, the effects, each crash and each stop."""
    h, w, ex = result.history, result.world, result.execution
    end = h[-1] if h and h[-1]["type"] in CLOSING else None
    why = end and end["type"] != "ExecutionSucceeded" and end[_key(end["type"])]
    lines = [(f"{end['type']} at {_when(end['t'])}" if end else "Still running") + (
        f" ({why['error']}: {why['cause']})" if why else "") + f"; {len(h)} events on record.",
        "Card: " + (", ".join(f"{'charged' if e.cents > 0 else 'refunded'} ${abs(e.cents) / 100:.2f}"
                              for e in w.statement()) or "nothing") + f"; net ${w.statement_cents() / 100:.2f}.",
        "Effects: " + (", ".join(f"{k} x{n}" for k, n in result.effects.items()) or "none") + "."]
    for e in (e for e in h if e["type"] == "WaitStateEntered"):
        out = next((x for x in h[e["id"]:] if x["type"] in ("WaitStateExited", "WaitStateAborted")), None)
        lines.append(f"Wait {e['stateEnteredEventDetails']['name']}: entered {_when(e['t'])}, " + (
            f"exited {_when(out['t'])}" if out and out["type"] == "WaitStateExited" else "aborted" if out else
            "waiting") + "; it wakes at its entered timestamp plus Seconds, on record, not in memory.")
    for c in ex.crashes:
        kind, name, due = c.get("resumed", (None, None, 0))
        how = {"start": "nothing was on record: it started the execution",
               "attempt": f"{name} was scheduled, no result on record: it ran it again, same idempotency key",
               "retry": f"{name} had failed: it waited for the retry due {_when(due or 0)}",
               "wait": f"it went back to waiting in {name} until {_when(due or 0)}",
               "closed": f"the execution was {name}: nothing to do"}.get(kind, "it was not restarted")
        lines.append(f"Crash at {_when(c['t'])} ({c['point']}): " + (
            f"back at {_when(c['back'])}, read {c['events']} events; {how}." if kind else how + "."))
    for s in ex.stops:
        lines.append(f"StopExecution at {_when(s['t'])} (in {s['in'] or 'no state'}): ExecutionAborted. No Catch and "
                     f"no compensation ran: the card keeps ${w.statement_cents() / 100:.2f} unless something outside "
                     "refunds it.")
    return lines
