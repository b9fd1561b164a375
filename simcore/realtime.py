"""The engine on a real clock, over a home's files: what `order run`, `order signal` and `order query` do.

The scenes' `Engine` on SimPy's real-time environment (a second of its time is a second of the wall
clock, from the Unix time now), over the home's history and world. So a real process has everything
the simulated one has: retries with backoff in real seconds, durable timers that fire at their
wall-clock time after a restart, signals, queries, any registered workflow. Nothing here decides what
happens next: a fresh start is `engine.start`, anything else is `engine.resume()`, the engine's own
recovery from its store after a kill. The worker runs in this process: a `kill -9` takes both, as a
crash of a one-machine deployment would.

SIMCORE_EFFECT_GAP_MS (tests/test_kill.py): milliseconds to wait between an activity's effect and the
append of its result, so a kill can land between the two on purpose.
"""
from __future__ import annotations

import os
import random
import time
from contextlib import closing, suppress
from dataclasses import replace
from pathlib import Path

import simpy.rt

from . import check, registry
from . import events as ev
from .audit import compare
from .codec import is_json
from .engine import Engine
from .errors import Stop, WorkflowCodeError, said, shown
from .history import latest_run
from .home import HISTORY, UNIX_EPOCH, WORKFLOWS, Busy, Home, HomeError, _store, locate, outcome
from .orders import CENTS, KEYED_ACTIVITIES, ORDER_ID, fulfill_order, send_return_label_keyed, send_review_request_keyed
from .replay import Machine
from .service import WorkflowClosed
from .sim import Sim
from .trace import Unwatched
from .workflow import ActivityDef, WorkflowDef

GAP_ENV = "SIMCORE_EFFECT_GAP_MS"
POLL = 0.05   # seconds between two looks at the inbox (signals sent while this process runs), or at a lease
COURSE_ACTIVITIES = (*KEYED_ACTIVITIES, send_review_request_keyed, send_return_label_keyed)


class _StoreFailed(Stop):
    """A home's store failed under an activity (a full disk): not an answer from the world, so not the
    activity's failure to retry; it stops the process, and nothing of that step is recorded."""


def run_order(home_dir, order: str = ORDER_ID, *, pace_ms: int = 0, wait: float = 0.0, say=print) -> None:
    """ORDER #1001 (or another order number) run to its end in this process: `order run`."""
    run(home_dir, fulfill_order, f"order-{order}", [order, CENTS], pace_ms=pace_ms, wait=wait, say=say)


def run(home_dir, workflow: WorkflowDef, wid: str, args: list, *, pace_ms: int = 0, wait: float = 0.0,
        say=print) -> None:
    """Run (or resume) `wid` to its end in this process. Safe to run again after any kill, and beside
    another process (one of them waits or gives up: `Busy`). A workflow that is not the course's gets
    the activities of its own module beside the course's."""
    gap, pace = _gap_seconds(), pace_ms / 1000
    ttl = 10.0 + 3 * (pace + gap)   # renewed every third of it, so only a hung owner lets it expire
    workflows = {**WORKFLOWS, workflow.name: workflow}
    mine = () if WORKFLOWS.get(workflow.name) is workflow else registry.activities_of(workflow)
    path = Path(home_dir) / HISTORY
    if not (path.is_file() and any(w == wid for w, _ in check.read_rows(path))):
        registry.check_inputs(workflow, args)   # a fresh start: refused before anything is made
    with closing(Home(home_dir)) as home:
        if _unfinished(home, wid, workflows, say) is None:   # checked before the lease: writes nothing
            return
        deadline = time.monotonic() + wait
        while (holder := home.history.take(wid, ttl)) is not None:
            if time.monotonic() >= deadline:
                raise Busy(f"{home.history_path}: {wid} is being run by {holder}; not starting a second "
                           f"run (use --wait SECONDS to wait for it)")
            time.sleep(POLL)

        def hold(seconds: float) -> None:
            """An attempt runs inside one step of the engine, where the lease is not renewed: renew it
            first, for as long as the attempt may take."""
            home.history.renew(wid, ttl + seconds)
        steps = [_narrated(a, pace, gap, say, hold) for a in {a.name: a for a in (*COURSE_ACTIVITIES, *mine)}.values()]
        try:   # read again: the previous owner may have moved on while we waited
            if (history := _unfinished(home, wid, workflows, say)) is not None:
                _drive(home, workflows[history[0].workflow_type] if history else workflow, wid, args,
                       len(history), steps, ttl, say, limit=10.0 + pace + gap)
        finally:
            with suppress(HomeError, ev.HistoryError):   # lost or unwritable: it expires on its own
                home.history.release(wid)


def _unfinished(home: Home, wid: str, workflows: dict, say) -> list | None:
    """The workflow's history, if it has not closed (None, said, if it has). A history that `history
    check` would not pass, or that the world contradicts, is refused."""
    history = home.history.read(wid, home.history.current_run(wid))
    if _closed(history):
        say(f"{wid} is already {outcome(history[-1].type)} ({len(history)} events); nothing to do")
        return None
    problems = check.check_file(home.history_path, workflows, wid).problems + compare(home.dir, wid)
    if problems:
        raise HomeError("the history cannot be trusted, so it is not run:\n  " +
                        "\n  ".join(map(str, problems[:10])) + "\n(`python -m simcore history check` lists all)")
    return history


def _closed(history: list) -> bool:
    """Whether a run's history closes the workflow for good. A run that continued as new does not: a kill
    between it and the next run's start leaves the workflow open (`engine.resume` starts that run)."""
    return bool(history) and history[-1].type in ev.CLOSING and \
        not isinstance(history[-1], ev.WorkflowExecutionContinuedAsNew)


class _WallClock(simpy.rt.RealtimeEnvironment):
    """SimPy's real-time environment, whose time never lags the wall clock. An activity's real work (a
    paced call, a slow store) happens inside one step, where SimPy's own clock stands still; what comes
    after it is stamped, and scheduled (a timer's 30 s), from the moment it really happens."""

    @property
    def now(self) -> float:
        return max(self._now, time.time())

    def schedule(self, event, priority=simpy.events.NORMAL, delay=0) -> None:
        super().schedule(event, priority, delay + max(0.0, time.time() - self._now))


def _engine(home: Home, code: list, activities: list, limit: float = 10.0) -> Engine:
    """`limit`: the seconds an attempt with no start_to_close of its own may take (its pace included)."""
    env = _WallClock(initial_time=time.time(), strict=False)
    sim = Sim(env=env, history=home.history, world=home.world, epoch=UNIX_EPOCH, run_ids=random.SystemRandom())
    sim.trace = Unwatched()
    return Engine(sim, code, activities, task_timeout=limit, decide_seconds=0.0)


def _drive(home: Home, workflow: WorkflowDef, wid: str, args: list, recorded: int, steps: list, ttl: float,
           say, limit: float) -> None:
    """The engine, this process its one worker, until the workflow closes: resumed after the `recorded`
    events of its history, or started."""
    engine = _engine(home, [workflow], steps, limit)
    env = engine.env
    try:
        with _store(home.history_path, "history"):
            if recorded:
                engine.resume([wid])
                say(f"{wid}: resumed from {recorded} events")
            else:
                engine.start(workflow, wid, *args)
                say(f"{wid}: started ({_described(workflow, args)})")
            env.process(_renew(home, wid, ttl, env))
            env.run(until=env.process(_inbox(home, engine, wid)))
    except _StoreFailed as failed:
        raise failed.args[0] from None
    except WorkflowCodeError as e:   # (its workflow task stays unanswered: it runs again, on fixed code)
        raise HomeError(f"{wid}: {e} ({e.where or workflow.name}); its step was not recorded: fix the code and "
                        "run the same command again") from None
    if wid in engine.stuck:
        raise HomeError(f"{home.history_path} workflow {wid!r}: {engine.stuck[wid]}")
    if wid in engine.unreadable:
        raise HomeError(str(engine.unreadable[wid]))
    events = home.history.read(wid, home.history.current_run(wid))
    end = events[-1]
    said = end.result if isinstance(end, ev.WorkflowExecutionCompleted) else getattr(end, "message", end.type)
    say(f"{wid} {outcome(end.type)}: {said} ({len(events)} events)")


def _described(workflow: WorkflowDef, args: list) -> str:
    if WORKFLOWS.get(workflow.name) is workflow and workflow.name.startswith("fulfill") and len(args) >= 2:
        return f"ORDER #{args[0]}, ${args[1] / 100:.2f}" + (f", review after {args[2]:g}s" if len(args) > 2 else "")
    return f"{workflow.name}({', '.join(map(shown, args))})"


def _narrated(a: ActivityDef, pace: float, gap: float, say, hold) -> ActivityDef:
    """The activity as a real worker runs it: it holds the workflow's lease for as long as the attempt
    may take (`hold(seconds)`), says what it does, takes `pace` seconds (the time an outside kill has
    to land), and waits `gap` seconds after its effect."""
    def fn(act, *args):
        try:   # a store that fails (or a lease lost to another process) stops this one; it is not the activity's
            hold(act.start_to_close)
            say(f"{a.name}: running")
            time.sleep(pace)
            seen = act.idempotency_key in act.world.keys(act.idempotency_key)
            value = a.fn(act, *args)
        except HomeError as e:
            raise _StoreFailed(e) from None
        except Exception as e:
            say(f"{a.name}: failed: {type(e).__name__}: {said(e)}")
            raise
        text = value if isinstance(value, str) else shown(value, 200)
        say(f"{a.name}: done -> {text}" + (" (already done by an earlier attempt: same idempotency key)"
                                             if seen else ""))
        time.sleep(gap)
        return value
    return replace(a, fn=fn, seconds=0.0)


def _renew(home: Home, wid: str, ttl: float, env):
    while True:
        yield env.timeout(ttl / 3)
        home.history.renew(wid, ttl)


def _inbox(home: Home, engine: Engine, wid: str):
    """Until the workflow closes: the signals sent from another terminal while this process runs."""
    while wid not in engine.closed and wid not in engine.stuck and wid not in engine.unreadable:
        _record(home, engine, wid)
        yield engine.env.timeout(POLL)


def _record(home: Home, engine: Engine, wid: str) -> None:
    """Record the signals in the workflow's inbox, each once (its inbox id is its request id: a signal
    recorded just before a kill is not recorded again). One leaves the inbox only once it is in the
    history: a signal that arrives while a workflow task runs waits in memory for the task's answer, and a
    kill then must not lose it."""
    posted = home.history.inbox(wid)
    for i, name, value in posted:
        engine.signal(wid, name, value, request_id=f"inbox-{i}")   # a repeat of a request id is dropped
    waiting = {e.request_id for e in engine.buffered.get(wid, ()) if isinstance(e, ev.WorkflowExecutionSignaled)}
    recorded = [i for i, _, _ in posted if f"inbox-{i}" not in waiting]
    if recorded:
        home.history.taken(recorded)


def _gap_seconds() -> float:
    text = os.environ.get(GAP_ENV) or "0"
    with suppress(ValueError):
        if float(text) >= 0:
            return float(text) / 1000
    raise HomeError(f"{GAP_ENV}={text!r}: expected milliseconds (a number >= 0)")


# -- from another terminal ------------------------------------------------------------------------------
def signal(home_dir, wid: str, name: str, value=None) -> str:
    """Send a signal: into the workflow's inbox, for the process that runs it to record. With none
    running, this process records it at once (and schedules a workflow task for it), as a server records
    a signal while every worker is down. Returns what was done."""
    with closing(Home(locate(home_dir), "`order signal` records the signal")) as home:   # (only `order run` makes a home)
        history = home.history.read(wid, home.history.current_run(wid))
        if not history:
            raise HomeError(f"{home.history_path}: no workflow {wid!r}; the signal {name!r} is refused")
        if _closed(history):
            raise HomeError(f"{wid}: workflow execution already {outcome(history[-1].type)}; the signal {name!r} "
                            "is refused")
        i = home.history.post(wid, name, value)
        # a workflow task a dead process had started: `order run` must time it out first; leave it the signal
        started = isinstance(history[-1], (ev.WorkflowTaskStarted, ev.WorkflowTaskTimedOut))
        if started or home.history.take(wid, 10.0) is not None:
            return f"signal {name!r} to {wid}: in the inbox (#{i}); the process that runs it records it"
        try:
            engine = _engine(home, [], [])
            with _store(home.history_path, "history"):
                engine.resume([wid])   # writes nothing here (but the next run, if a kill came between the two)
                _record(home, engine, wid)
        except WorkflowClosed as e:   # the process that ran it closed it just now, between our read and here
            home.history.taken([i])
            raise HomeError(str(e)) from None
        finally:
            home.history.release(wid)
        at = next(e.event_id for e in home.history.read(wid, home.history.current_run(wid))
                  if getattr(e, "request_id", "") == f"inbox-{i}")
        return f"signal {name!r} to {wid}: recorded as event {at}, with no process running it"


def query(home_dir, wid: str, name: str, workflows: dict = WORKFLOWS):
    """Answer a query by replaying the history in this process. It reads through a connection that cannot
    write (as `order status` does), so it changes nothing in the home and works on a read-only one."""
    d = locate(home_dir)
    stored = check.read_rows(d / HISTORY)
    where = f"{d / HISTORY} workflow {wid!r}"
    history, problems = check.parse_rows(stored.get((wid, latest_run(r for w, r in stored if w == wid)), []), where)
    problems = problems or check.check_events(history, wid, where)
    if problems:
        raise HomeError(f"the history cannot be read, so it is not queried: {problems[0]}\n"
                        "(`python -m simcore history check` lists all)")
    if not history:
        raise HomeError(f"{d}: no workflow {wid!r} to query")
    kind = history[0].workflow_type
    if kind not in workflows:
        raise HomeError(f"{wid} is a {kind!r}; name its code with --workflow MODULE:NAME")
    try:
        m = Machine(workflows[kind], wid, epoch=UNIX_EPOCH).feed(history)
    except Exception as e:   # code that no longer fits the history, or fails on it: it cannot say its state
        raise HomeError(f"{wid}: replaying its history to answer the query failed: {type(e).__name__}: {e}") from None
    handler = m.ctx.queries.get(name)
    if handler is None:
        raise HomeError(f"{wid} has no query handler {name!r} (it has: {', '.join(m.ctx.queries) or 'none'})")
    try:
        answer = handler()
    except Exception as e:
        raise HomeError(f"{wid}: the query handler {name!r} failed: {type(e).__name__}: {e}") from None
    if not is_json(answer):
        raise HomeError(f"{wid}: the query handler {name!r} answered {type(answer).__name__} {str(answer)[:40]!r}, "
                        "which is not JSON data (a query's answer crosses the wire as JSON)")
    return answer
