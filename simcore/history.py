"""The durable, append-only event history.

Why SQLite: it is a real file on disk with real transactions, in the standard library, and a learner
can open it with `sqlite3` and read the rows. An append is one transaction: when `append` returns,
the events are on disk (WAL journal, synchronous=FULL: a commit survives a process crash and a power
loss). Nothing is ever updated or deleted.

An append may ask not to wait for the disk (`sync=False`): the engine's, for a workflow task's
WorkflowTaskStarted, which nothing acts on before the task's answer is committed, synced. It still
survives a process crash. In WAL mode every synced commit first syncs the whole log, so what is on
disk is always a prefix of what was committed: the next synced commit, of any writer of the file,
makes it durable with itself, and a power loss can take it back only together with everything after
it (here: the history ends at WorkflowTaskScheduled again, and the task runs again).

Fencing comes for free from the key (workflow id, run id, event id): an append must continue the
sequence exactly where the writer believes it ends, so a writer working from a stale copy (a zombie
worker, a second process) gets `HistoryConflict` instead of forking the history.

`History.memory()` keeps the same contract (JSON payloads, gap-free ids, conflicts) without a disk,
for sweeps of thousands of runs. It says so in its repr.
"""
from __future__ import annotations

import functools
import gc
import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

from .codec import event_dict, from_dict, from_records, to_json
from .events import Event, HistoryError

FORMAT = "simcore-history/1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    workflow_id TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    event_id    INTEGER NOT NULL,
    type        TEXT NOT NULL,
    time        REAL NOT NULL,
    payload     TEXT NOT NULL,      -- JSON: the event's fields; never pickle
    PRIMARY KEY (workflow_id, run_id, event_id)
) WITHOUT ROWID"""


DB_ERRORS = (sqlite3.DatabaseError, UnicodeDecodeError)   # the second: Python's sqlite3 decodes SQLite's own
                                                          # messages as UTF-8, and a damaged schema's are not


def db_error(e: Exception) -> str:
    """What SQLite said, readably (a message quoting damaged bytes shows them escaped)."""
    if isinstance(e, UnicodeDecodeError):
        return bytes(e.object).decode("utf-8", "backslashreplace")
    return str(e)


class HistoryConflict(HistoryError):
    """An append that does not continue the history where it ends: someone else wrote first."""


class History:
    """Histories of many workflow runs, keyed by (workflow id, run id)."""

    def __init__(self, path: str | os.PathLike | None = None, *, synchronous: str = "FULL"):
        self.path = Path(path) if path is not None else None
        self._mem: dict[tuple[str, str], list[Event]] | None = None
        if self.path is None:
            self._mem = {}
            return
        self._db, self._sync = _open(self.path, synchronous), synchronous.upper()
        self._ends: dict[tuple[str, str], int] = {}   # (workflow, run) -> last event id this connection wrote

    @classmethod
    def memory(cls) -> History:
        return cls(None)

    def __repr__(self):
        return f"History({str(self.path)!r})" if self.path else "History.memory()  # in RAM: not durable"

    def close(self):
        if self._mem is None:
            self._db.close()

    # -- writing -----------------------------------------------------------------------------
    def append(self, workflow_id: str, events: list[Event], run_id: str = "1", *, sync: bool = True) -> None:
        """Append `events` atomically. Their ids must continue the stored sequence without a gap. With
        `sync=False` the commit does not wait for the disk (see the module's docstring)."""
        if not events:
            return
        if self._mem is None:
            rows = [(e.event_id, e.type, e.time, _payload(e, workflow_id)) for e in events]
        else:   # nothing is encoded, but what a file would refuse is refused
            for e in events:
                if not _check(type(e))(e):
                    _payload(e, workflow_id)
        first = events[0].event_id
        for offset, e in enumerate(events):
            if e.event_id != first + offset:
                raise HistoryError(f"{workflow_id}: events to append are not consecutive at {e.event_id}")
        if self._mem is not None:
            log = self._mem.setdefault((workflow_id, run_id), [])
            if first != len(log) + 1:
                raise _conflict(workflow_id, first, len(log))
            log.extend(events)
            return
        lazy = not sync and self._sync in ("FULL", "EXTRA")
        try:
            key = (workflow_id, run_id)
            if lazy:
                self._db.execute("PRAGMA synchronous=NORMAL")   # for this commit only (restored below)
            with _transaction(self._db):  # all of these events, or none
                self._fence(workflow_id, run_id)
                # Where the history ends: as this connection last wrote it, checked against the file
                # only when that does not fit (another writer). The primary key refuses a duplicate
                # id either way, and a history only grows, so a stale end cannot open a gap.
                end = self._ends.get(key)
                if end is None or first != end + 1:
                    end = self._db.execute(
                        "SELECT COALESCE(MAX(event_id), 0) FROM events WHERE workflow_id=? AND run_id=?",
                        key).fetchone()[0]
                if first != end + 1:
                    raise _conflict(workflow_id, first, end)
                self._db.executemany(
                    "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                    [(workflow_id, run_id, *row) for row in rows])
            self._ends[key] = events[-1].event_id
        except sqlite3.IntegrityError:
            self._ends.pop((workflow_id, run_id), None)
            raise _conflict(workflow_id, first, None) from None
        except sqlite3.OperationalError as e:
            raise HistoryError(f"{self.path}: cannot append to {workflow_id}: {e}. "
                               "Nothing was written; the history is as it was.") from None
        finally:
            if lazy:
                self._db.execute(f"PRAGMA synchronous={self._sync}")

    def _fence(self, workflow_id: str, run_id: str) -> None:
        """Runs inside an append's transaction, before anything is written. Nothing to check here; a
        store that hands out ownership (`simcore.home.OwnedHistory`) refuses a writer that lost it."""

    # -- reading -----------------------------------------------------------------------------
    def read(self, workflow_id: str, run_id: str = "1", *, start: int = 1) -> list[Event]:
        """The run's events from event `start` on, in order, checked: ids from `start` without gaps,
        known types, JSON payloads. A reader that holds the first events asks only for the rest; past
        the end of the history the list is empty."""
        if start < 1:
            raise ValueError(f"events are numbered from 1, cannot read from {start}")
        if self._mem is not None:
            return self._mem.get((workflow_id, run_id), [])[start - 1:]
        where = f"{self.path} workflow {workflow_id!r}"
        with collector_paused():   # tens of thousands of small objects, none of them garbage
            with self._reading(where):
                rows = self._db.execute(
                    "SELECT event_id, type, time, payload FROM events WHERE workflow_id=? AND run_id=? "
                    "AND event_id >= ? ORDER BY event_id", (workflow_id, run_id, start)).fetchall()
            try:
                return from_records(rows, where, start)
            except RecursionError:   # a payload of [[[[...]]]]: no event is nested that deep
                raise HistoryError(f"{where}: a payload is JSON nested too deeply to be an event's") from None

    def length(self, workflow_id: str, run_id: str = "1") -> int:
        """How many events the run has. A writer knows where its own last append ended (the engine
        asks after every step); for any other history this asks the file. Events another writer
        appended since are found by `read`, and refused by the next append's check."""
        if self._mem is not None:
            return len(self._mem.get((workflow_id, run_id), ()))
        end = self._ends.get((workflow_id, run_id))
        if end is not None:
            return end
        with self._reading(f"{self.path} workflow {workflow_id!r}"):
            return self._db.execute("SELECT COALESCE(MAX(event_id), 0) FROM events WHERE workflow_id=? AND "
                                    "run_id=?", (workflow_id, run_id)).fetchone()[0]

    def current_run(self, workflow_id: str) -> str:
        """The run a workflow is on: its latest ("1" for one with a single run, or none yet). Runs are
        numbered "1", "2", ... as it continues as new."""
        if self._mem is not None:
            runs = [run for wid, run in self._mem if wid == workflow_id]
        else:
            with self._reading(f"{self.path} workflow {workflow_id!r}"):
                runs = [r for (r,) in self._db.execute("SELECT DISTINCT run_id FROM events WHERE workflow_id=?",
                                                       (workflow_id,))]
        return latest_run(runs)

    def workflows(self) -> list[tuple[str, str]]:
        """Every (workflow id, run id) with at least one event."""
        if self._mem is not None:
            return sorted(k for k, v in self._mem.items() if v)
        with self._reading(str(self.path)):
            return self._db.execute("SELECT DISTINCT workflow_id, run_id FROM events ORDER BY 1, 2").fetchall()

    @contextmanager
    def _reading(self, where: str):
        """A read SQLite cannot do (a damaged page, text that is not UTF-8) is a HistoryError naming
        the file: the history cannot be trusted, and nothing was changed."""
        try:
            yield
        except DB_ERRORS as e:
            raise HistoryError(f"{where}: cannot read the history ({db_error(e)}); `python -m simcore history "
                               "check` says what is damaged") from None


def latest_run(runs) -> str:
    """The newest of a workflow's run ids: runs are numbered "1", "2", ... as it continues as new
    ("1" when there is none yet; an id that is not a number is no run of ours)."""
    return max((r for r in runs if str(r).isdecimal()), key=int, default="1")   # isdigit() passes "²"


def _payload(event: Event, workflow_id: str) -> str:
    try:
        return to_json(event)
    except (TypeError, ValueError) as e:
        raise HistoryError(f"{workflow_id}: {event.type} carries a value that is not JSON data ({e}); "
                           "workflow inputs and activity results must be JSON (str, number, list, dict)") from None


_SCALARS = frozenset({str, bool, type(None)})
_INF = float("inf")


def _plain(values) -> bool:
    """True if every value is JSON data of the plainest kind, which `to_json` always encodes: str,
    a finite float, bool, None, an int of 64 bits, and lists and str-keyed dicts of them. Anything else (a
    tuple, a longer int, a cycle) is left to `to_json`, to encode or refuse."""
    try:
        for v in values:
            t = type(v)
            if t is list:
                ok = _plain(v)
            elif t is dict:
                ok = all(type(k) is str for k in v) and _plain(v.values())
            elif t is float:
                ok = -_INF < v < _INF   # not NaN, not an infinity: no JSON number
            else:
                ok = -2**63 <= v < 2**63 if t is int else t in _SCALARS
            if not ok:
                return False
        return True
    except RecursionError:
        return False


_TYPED = {"str": "type({v}) is str", "int": "type({v}) is int and -2**63 <= {v} < 2**63",
          "float": "type({v}) is float and -_INF < {v} < _INF"}


@functools.cache
def _check(cls):
    """`_plain` over an event's fields, made once per event type: a field typed str, int or float (what
    the engine puts there) is first tested for that type alone, which is all `_plain` would find; any
    other field, or one that fails, goes to `_plain`."""
    def test(f) -> str:
        v = f"d[{f.name!r}]"
        return f"({_TYPED[f.type].format(v=v)} or _plain(({v},)))" if f.type in _TYPED else f"_plain(({v},))"
    scope = {"_plain": _plain, "_INF": _INF}
    exec(f"def check(e):\n    d = e.__dict__\n    return {' and '.join(map(test, fields(cls))) or 'True'}", scope)
    return scope["check"]


def _conflict(workflow_id, first, end):
    where = f"it ends at event {end}" if end is not None else "that event id is taken"
    return HistoryConflict(f"{workflow_id}: append at event {first} refused, {where}: another writer "
                           "got there first; reload the history and retry")


def _open(path: Path, synchronous: str) -> sqlite3.Connection:
    if path.is_dir():
        raise HistoryError(f"{path}: is a folder, not a history file")
    try:
        db = connect(path, synchronous)
        opened(db, path, "history", FORMAT, {"meta", "events"}, SCHEMA, hint="; point at a history file or a new path")
    except DB_ERRORS as e:
        raise HistoryError(f"{path}: cannot open as a history file ({db_error(e)})") from None
    return db


def connect(path: Path, synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection for writing: transactions explicit (`_transaction`), WAL, each commit synced."""
    db = sqlite3.connect(path, isolation_level=None, timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db


def opened(db: sqlite3.Connection, path, what: str, fmt: str, tables: set, schema: str = "", *,
           hint: str = "", error=HistoryError) -> dict:
    """The meta table of the simcore `what` (its `tables`, format `fmt`) that `db` holds. An empty
    database is given the `schema`, in one transaction, so a store is never half made; without a
    schema (a reader) it is a store with nothing in it yet: {}. Any other database raises `error`."""
    found = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not found and schema:
        db.executescript(f"BEGIN IMMEDIATE; {schema}; INSERT OR IGNORE INTO meta VALUES ('format', '{fmt}'); COMMIT")
        found = tables
    if not found:
        return {}
    if not tables <= found:
        raise error(f"{path}: a SQLite file, but not a simcore {what} (tables: {', '.join(sorted(found)) or 'none'})"
                    f"{hint}")
    meta = dict(db.execute("SELECT key, value FROM meta"))
    if meta.get("format") != fmt:
        raise error(f"{path}: {what} format {meta.get('format')!r}, this engine reads {fmt!r}")
    return meta


@contextmanager
def collector_paused():
    """No garbage collection inside: for work that makes many objects and no garbage cycles (reading a
    history; a simulation run, whose engine makes none: 20,000 sleeping workflows, armed and fired,
    leave 0 objects for `gc.collect()` to free). Python's collector would sweep them again and again as
    they pile up (a third of such a run); once this ends, its next sweep takes what survived in one go.
    Nesting is fine: only the outermost turns it back on."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class _transaction:
    """`with _transaction(db):` all of the block's writes, or none. (A class, not a @contextmanager
    generator: every append of the engine goes through it, and this costs a third as much.)"""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")  # take the write lock before reading where the history ends

    def __exit__(self, kind, error, tb):
        db = self.db
        try:
            if kind is None:
                db.execute("COMMIT")
        finally:   # the block failed, or the commit did
            if db.in_transaction:   # after some errors (a full disk) SQLite has already rolled back
                db.execute("ROLLBACK")


def dump(events: list[Event]) -> str:
    """A history as JSON text, one event per line: the fixture format of the tests."""
    return "[\n" + ",\n".join(json.dumps(event_dict(e)) for e in events) + "\n]\n"


def load(text: str, where: str = "history") -> list[Event]:
    """Parse the output of `dump`, with the same checks as reading the database."""
    from .check import field_problems
    try:
        items = json.loads(text)
    except (ValueError, RecursionError) as e:   # RecursionError: JSON nested thousands deep
        raise HistoryError(f"{where}: not JSON ({e})") from None
    if not isinstance(items, list):
        raise HistoryError(f"{where}: expected a JSON list of events")
    events = []
    for expected, d in enumerate(items, start=1):
        try:
            e = from_dict(d, where) if isinstance(d, dict) else _bad(where, d)
        except (OverflowError, RecursionError) as err:   # an event_id of 1e400; attrs nested too deeply
            raise HistoryError(f"{where}: malformed event {str(d)[:80]}: {err}") from None
        if e.event_id != expected:
            raise HistoryError(f"{where}: event {expected} is missing (found {e.event_id} in its place)")
        wrong = field_problems(e)
        if wrong:
            raise HistoryError(f"{where}: event {e.event_id} ({e.type}): {wrong[0]}")
        events.append(e)
    return events


def _bad(where, d):
    raise HistoryError(f"{where}: expected an event object, got {str(d)[:60]!r}")
