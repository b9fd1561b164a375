"""The engine on a real clock, over a home's files: what `order run`, `order signal` and `order query` do.

The same `Engine` the scenes run, on SimPy's real-time environment (one second of the engine's time is
one second of the wall clock, starting at the Unix time now), over the home's history (appends fenced
by this process's lease) and its world (effects committed with their keys). So a real process has
everything the simulated one has: retries with backoff in real seconds, durable timers that fire at
their wall-clock time after a restart, signals, queries, any registered workflow. Nothing here decides
what happens next: a fresh start is `engine.start`, anything else is `engine.resume()`, the engine's
own recovery from its store after a kill.

The workflow runs in this one process, worker included: a `kill -9` takes both, as a crash of a
one-machine deployment would.
"""
from __future__ import annotations

import random
import time
from dataclasses import replace

import simpy.rt

from . import events as ev
from .engine import Engine
from .home import (QUEUE, TASK_TIMEOUT, UNIX_EPOCH, WORKFLOWS, Busy, Home, HomeError, _finished, _gap_seconds, _outcome,
                   _owned, _read, _store, _verify)
from .orders import KEYED_ACTIVITIES, send_return_label_keyed, send_review_request_keyed
from .replay import Machine
from .sim import Sim
from .workflow import ActivityDef, WorkflowDef

POLL = 0.05   # seconds between two looks at the inbox (signals sent while this process runs)


class _StoreFailed(BaseException):
    """A home's store failed under an activity (a full disk): not an answer from the world, so not the
    activity's failure to retry; it stops the process, and nothing of that step is recorded."""


def run(home_dir, workflow: WorkflowDef, wid: str, args: list, *, pace_ms: int = 0, wait: float = 0.0,
        say=print, activities: tuple = ()) -> str:
    """Run (or resume) `wid` to its end in this process; return its outcome. Safe to run again after any
    kill, and beside another process (one of them waits or gives up: `Busy`)."""
    gap, pace = _gap_seconds(), pace_ms / 1000
    ttl = 10.0 + 3 * (pace + gap)   # renewed every third of it, so only a hung owner lets it expire
    workflows = {**WORKFLOWS, workflow.name: workflow}
    home = Home(home_dir)
    try:
        history = _read(home, wid)
        if _finished(history, wid, say):   # checked before taking the lease: writes nothing
            return _outcome(history)
        _verify(home, wid, history, workflows)   # a bad history is refused before anything is written
        deadline = time.monotonic() + wait
        while (holder := home.history.take(wid, ttl)) is not None:
            if time.monotonic() >= deadline:
                raise Busy(f"{home.history_path}: {wid} is being run by {holder}; not starting a second "
                           f"run (use --wait SECONDS to wait for it)")
            time.sleep(0.05)
        try:
            return _drive(home, workflows, workflow, wid, args, pace, gap, ttl, say, activities)
        finally:
            try:
                home.history.release(wid)
            except (HomeError, ev.HistoryError):
                pass   # lost or unwritable: the lease expires on its own
    finally:
        home.close()


def _drive(home: Home, workflows: dict, workflow: WorkflowDef, wid: str, args: list, pace: float, gap: float,
           ttl: float, say, activities: tuple) -> str:
    history = _read(home, wid)   # again: the previous owner may have moved on while we waited
    if _finished(history, wid, say):
        return _outcome(history)
    _verify(home, wid, history, workflows)
    env = simpy.rt.RealtimeEnvironment(initial_time=time.time(), strict=False)
    sim = Sim(env=env, history=home.history, world=home.world, epoch=UNIX_EPOCH, run_ids=random.SystemRandom())
    sim.trace.detail = False
    code = [workflows[history[0].workflow_type]] if history else [workflow]
    steps = {a.name: a for a in (*KEYED_ACTIVITIES, send_review_request_keyed, send_return_label_keyed, *activities)}
    engine = Engine(sim, code, [_narrated(a, pace, gap, say, home) for a in steps.values()], workers=1,
                    task_timeout=TASK_TIMEOUT, decide_seconds=0.0)
    with _owned(home):
        if history:
            engine.resume([wid])
            say(f"{wid}: resumed from {len(history)} events")
        else:
            engine.start(workflow, wid, *args)
            say(f"{wid}: started ({_described(workflow, args)})")
    env.process(_renew(home, wid, ttl, env))
    env.process(_inbox(home, engine, wid, env))
    try:
        with _owned(home):
            env.run(until=env.process(_until_closed(engine, wid)))
    except _StoreFailed as failed:
        raise failed.args[0] from None
    if wid in engine.stuck:
        raise HomeError(f"{home.history_path} workflow {wid!r}: {engine.stuck[wid]}")
    if wid in engine.unreadable:
        raise HomeError(str(engine.unreadable[wid]))
    events = _read(home, wid)
    end, outcome = events[-1], _outcome(events)
    said = end.result if isinstance(end, ev.WorkflowExecutionCompleted) else getattr(end, "message", end.type)
    say(f"{wid} {outcome}: {said} ({len(events)} events)")
    return outcome


def _described(workflow: WorkflowDef, args: list) -> str:
    if workflow.name.startswith("fulfill") and len(args) >= 2:
        return f"ORDER #{args[0]}, ${args[1] / 100:.2f}" + (f", review after {args[2]:g}s" if len(args) > 2 else "")
    return f"{workflow.name}({', '.join(map(repr, args))})"


def _narrated(a: ActivityDef, pace: float, gap: float, say, home: Home) -> ActivityDef:
    """The activity as a real worker runs it: it says what it does, takes `pace` seconds (the time an
    outside kill has to land), and waits `gap` seconds after its effect before its result is recorded
    (SIMCORE_EFFECT_GAP_MS: so a kill can land between the two on purpose)."""
    def fn(act, *args):
        say(f"{a.name}: running")
        time.sleep(pace)
        seen = act.idempotency_key in home.world.keys(act.idempotency_key)
        try:
            value = a.fn(act, *args)
        except HomeError as e:
            raise _StoreFailed(e) from None
        except Exception as e:
            say(f"{a.name}: failed: {type(e).__name__}: {e}")
            raise
        say(f"{a.name}: done -> {value}" + (" (already done by an earlier attempt: same idempotency key)"
                                             if seen else ""))
        time.sleep(gap)
        return value
    return replace(a, fn=fn, seconds=0.0)


def _renew(home: Home, wid: str, ttl: float, env):
    while True:
        yield env.timeout(ttl / 3)
        home.history.renew(wid, ttl)


def _inbox(home: Home, engine: Engine, wid: str, env):
    """Signals sent from another terminal while this process runs: recorded by it, each once (its inbox
    id is its request id: a signal recorded just before a kill is not recorded again)."""
    while True:
        posted = home.history.inbox(wid)
        for i, name, value in posted:
            engine.signal(wid, name, value, request_id=f"inbox-{i}")
        if posted:
            home.history.taken([i for i, _, _ in posted])
        yield env.timeout(POLL)


def _until_closed(engine: Engine, wid: str):
    while wid not in engine.closed and wid not in engine.stuck and wid not in engine.unreadable:
        yield engine.env.timeout(POLL)


# -- from another terminal ------------------------------------------------------------------------------
def signal(home_dir, wid: str, name: str, value=None) -> str:
    """Send a signal. With no process running the workflow, it is recorded in the history now (and a
    workflow task scheduled for it), as a server records it; with one running, it goes to the inbox
    and that process records it. Returns what was done."""
    home = Home(home_dir)
    try:
        history = _read(home, wid)
        if not history:
            raise HomeError(f"{home.history_path}: no workflow {wid!r}; the signal {name!r} is refused")
        if history[-1].type in ev.CLOSING:
            raise HomeError(f"{wid}: workflow execution already {_outcome(history)}; the signal {name!r} is refused")
        if home.history.take(wid, 10.0) is not None or _task_started(history):
            if home.history.held.get(wid):
                home.history.release(wid)
            i = home.history.post(wid, name, value)
            return f"signal {name!r} to {wid}: in the inbox (#{i}); the process that runs it records it"
        try:
            n = len(history)
            events = [ev.WorkflowExecutionSignaled(n + 1, time.time(), name, value, f"cli-{time.time_ns()}")]
            if not _task_pending(history):
                events.append(ev.WorkflowTaskScheduled(n + 2, time.time(), QUEUE, TASK_TIMEOUT))
            with _owned(home):
                home.history.append(wid, events)
        finally:
            home.history.release(wid)
        return f"signal {name!r} to {wid}: recorded as event {n + 1}, with no process running it"
    finally:
        home.close()


def _task_pending(history: list) -> bool:
    last = max((i for i, e in enumerate(history) if isinstance(e, ev.WorkflowTaskScheduled)), default=None)
    return last is not None and not any(isinstance(e, (ev.WorkflowTaskCompleted, ev.WorkflowTaskFailed))
                                        for e in history[last + 1:])


def _task_started(history: list) -> bool:
    """A workflow task a dead process had started: `order run` must time it out first; leave it the signal."""
    return _task_pending(history) and isinstance(history[-1], (ev.WorkflowTaskStarted, ev.WorkflowTaskTimedOut))


def query(home_dir, wid: str, name: str, workflows: dict = WORKFLOWS):
    """Answer a query by replaying the history in this process: reads, writes nothing."""
    from .home import locate
    from .history import History
    d = locate(home_dir)
    with _store(d / "history.sqlite", "history"):
        store = History(d / "history.sqlite")
        try:
            history = store.read(wid)
        finally:
            store.close()
    if not history:
        raise HomeError(f"{d}: no workflow {wid!r} to query")
    kind = history[0].workflow_type
    if kind not in workflows:
        raise HomeError(f"{wid} is a {kind!r}; name its code with --workflow MODULE:NAME")
    m = Machine(workflows[kind], wid, epoch=UNIX_EPOCH)
    m.feed(history)
    handler = m.ctx.queries.get(name)
    if handler is None:
        raise HomeError(f"{wid} has no query handler {name!r} (it has: {', '.join(m.ctx.queries) or 'none'})")
    return handler()
