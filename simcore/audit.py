"""Reading a home without changing it: the history against the world's own records (what `history
check` adds to checking the history file, and what `order run` checks before it acts), and what
`order status` prints. Every function here only reads, and works on a read-only home.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from . import check
from . import events as ev
from .history import HistoryError, latest_run
from .home import HISTORY, WORLD, WORLD_LOST, DurableWorld, HomeError, locate, outcome
from .orders import KEYED_ACTIVITIES, ORDER_ID
from .world import CARD, Effect, World


def disagreements(world: DurableWorld, wid: str, runs: list[list], effects: list[Effect], since=None):
    """Where the world and a workflow's history (its `runs`, each a list of events, oldest first) tell
    different stories, as (event id or None, message). `effects`: those the world made for this
    workflow (`compare` says which). An effect the world holds for this workflow must
    have been scheduled in one of its runs (it is appended before the activity runs), and a result a run
    holds must be the world's. Otherwise the history was truncated, edited, or belongs elsewhere. A key
    is `<run id>/<activity id>` (ActivityContext.idempotency_key). Only well-formed events are looked
    at: what the history itself gets wrong is `check`'s to say. `since`: the runs as read again after the
    world was, for the first question (beside a running process, an effect read in the world may have
    been scheduled after `runs` was read; a result read in `runs` has its effect in the world)."""
    mine = {e.ref: e for e in effects}
    keys = {k: ref for k, ref in world.keys().items() if ref in mine}
    scheduled = {f"{_run_id(h)}/{e.activity_id}" for h in (runs if since is None else since) for e in h
                 if isinstance(e, ev.ActivityTaskScheduled)}
    for key in sorted(keys):
        if key not in scheduled:
            yield None, (f"{wid} has no ActivityTaskScheduled for the effect {keys[key]!r} that {world.path} "
                         f"records (key {key!r}): the history was truncated or replaced; refusing to run the "
                         "order again on it")
    keyed = {a.name for a in KEYED_ACTIVITIES}   # the steps whose results are the world's references
    for history in runs:
        run, by_id = _run_id(history), {e.event_id: e for e in history}
        for e in history:
            step = by_id.get(e.scheduled_event_id) if isinstance(e, ev.ActivityTaskCompleted) else None
            if not isinstance(step, ev.ActivityTaskScheduled) or step.activity_type not in keyed:
                continue
            key = f"{run}/{step.activity_id}"
            if keys.get(key) != e.result:
                record = f"its {mine[keys[key]].kind} record, key {key!r}" if key in keys else f"no record with key {key!r}"
                yield e.event_id, (f"event {e.event_id} records {step.activity_type} -> {e.result!r}, but "
                                   f"{world.path} has {keys.get(key)!r} for it ({record}): this history does "
                                   "not belong to this world")


def _run_id(history: list) -> str | None:
    return history[0].run_id if history and isinstance(history[0], ev.WorkflowExecutionStarted) else None


def compare(home_dir, workflow_id: str | None = None) -> list:
    """The history against the world's own records (`disagreements`), for every workflow in the history
    and every order the world has acted for (or only `workflow_id`'s): what `history check` adds to
    checking the history file, and what `order run` checks before it acts. Reads only. A history that
    cannot be read is left to `check.check_file` to report."""
    d = Path(home_dir)
    history_path, world_path = d / HISTORY, d / WORLD
    try:
        stored = check.read_rows(history_path)
    except HistoryError:
        return []
    runs = {k: v for k, v in stored.items() if workflow_id in (None, k[0])}
    if not world_path.exists():
        return [check.Problem(str(world_path), WORLD_LOST.format(history=history_path))] if runs else []
    try:
        world = DurableWorld(world_path, readonly=True)
    except HomeError as e:
        return [check.Problem(str(world_path), f"the world's records cannot be read: "
                                               f"{str(e).removeprefix(f'{world_path}: ')}")]
    try:   # the history again, after the world: what a running process appended meanwhile
        later = check.read_rows(history_path)
    except HistoryError:
        return []
    made_for = _made_for(world, later)
    wids = {wid for wid, run in runs if run == "1" and isinstance(wid, str)}   # others: check_story's to say
    wids |= {w for w in made_for.values() if workflow_id in (None, w)}
    problems = []
    for wid in sorted(wids):
        where = f"{history_path} workflow {wid!r}"
        parsed, since = (_runs(rows, wid, where) for rows in (stored, later))
        if parsed is None or since is None:
            continue   # rows that cannot be read: check_file names them; what follows from them is not news
        problems += [check.Problem(where, f"disagrees with the world: {message}", eid)
                     for eid, message in disagreements(world, wid, parsed,
                                                       [e for e in world.log if made_for.get(e.ref) == wid], since)]
    return problems


def _runs(stored: dict, wid: str, where: str) -> list[list] | None:
    """Every run of the workflow, oldest first (its effects may be any run's), or None if a row of
    them cannot be read."""
    parsed = [check.parse_rows(rows, where) for (w, _), rows in sorted(stored.items(), key=_run_order) if w == wid]
    return None if any(bad for _, bad in parsed) else [events for events, _ in parsed]


def _made_for(world: DurableWorld, stored: dict) -> dict[str, str]:
    """The workflow each keyed effect of the world was made for (effect ref -> workflow id): the one
    whose run its key names (`<run id>/<activity id>`), else, for a run no history holds any more, the
    order the effect names (`order-<order>`, a course order's id)."""
    owner = {}
    for (wid, _), rows in stored.items():
        first = check.event_of(rows[0], "") if rows else None
        if isinstance(first, ev.WorkflowExecutionStarted) and isinstance(wid, str):   # (others: check_story's)
            owner[first.run_id] = wid
    orders = {e.ref: e.order for e in world.log}
    return {ref: owner.get(key.partition("/")[0]) or f"order-{orders[ref]}"
            for key, ref in world.keys().items() if ref in orders}


def _run_order(item) -> tuple:
    """(workflow, run) rows sorted by run as numbers sort: "2" before "10" (any text sorts, if oddly)."""
    (_, run), _ = item
    return len(str(run)), str(run)


def status(home_dir, order: str = ORDER_ID, workflow_id: str | None = None) -> dict:
    """What `order status` prints for an order (or any workflow): the world's effects made for it, as
    its own records say, the history's length and end, and how many problems `history check` would
    report for it (its code aside: that needs --workflow). Reads only (works on a read-only home)."""
    d, wid = locate(home_dir), workflow_id or f"order-{order}"
    stored = check.read_rows(d / HISTORY)
    rows = stored.get((wid, latest_run(r for w, r in stored if w == wid)), [])   # its current run
    world = DurableWorld(d / WORLD, readonly=True) if (d / WORLD).exists() else World()
    made_for = _made_for(world, stored)
    mine = [e for e in world.log if made_for.get(e.ref, f"order-{e.order}") == wid]
    card = [e for e in mine if e.kind in CARD]
    return {"home": str(d), "workflow_id": wid, "statement_cents": sum(e.cents for e in card),
            "charges": sum(e.cents > 0 for e in card), "refunds": sum(e.cents < 0 for e in card),
            "effects": dict(sorted(Counter(e.kind for e in mine).items())),
            "outcome": outcome(rows[-1][1] if rows else None), "history_events": len(rows),
            "problems": len(check.check_file(d / HISTORY, None, wid).problems + compare(d, wid))}
