"""A simcore *home*: the files a real process runs a workflow against (`simcore.realtime` runs it).

The simulation proves durability to itself. A home proves it to the operating system: the history and
the world are files, the process can be killed with `kill -9` at any moment, and running the same
command again must finish the order with one charge.

    DIR/history.sqlite   the engine's event history (`simcore.history`), plus the `owners` and `inbox` tables
    DIR/world.sqlite     the outside world's own database: card statement, warehouse, shipments, mail

Two files on purpose: the world is not the engine's to roll back; it keeps each effect with its
idempotency key, as a payment provider does (`DurableWorld`). Reading a home, the history against
the world and `order status`, is `simcore.audit`'s.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import check, registry
from .history import History, HistoryConflict, _transaction, connect, db_error, opened
from .world import Effect, World

HISTORY, WORLD = "history.sqlite", "world.sqlite"
UNIX_EPOCH = datetime(1970, 1, 1)   # a real process stamps its events with time.time()
WORKFLOWS = registry.course()       # what a home runs and checks without --workflow
OUTCOMES = {"WorkflowExecutionCompleted": "completed", "WorkflowExecutionFailed": "failed",
            "WorkflowExecutionCanceled": "canceled", "WorkflowExecutionContinuedAsNew": "continued as new"}
HISTORY_LOST = ("missing, but {world} records effects: the history of what made them is gone; `order run` "
                "refuses to act on the world again without it (restore the history file)")
WORLD_LOST = ("missing, but {history} records workflows: the world's own records are gone; `order run` refuses "
              "to act on the world again without them")


class HomeError(Exception):
    """A home that cannot be used as it is. The message names the file and the problem."""


class Busy(HomeError):
    """Another live process owns the workflow (or took it over from us)."""


# -- the world, as an outside system with its own database ----------------------------------------
WORLD_FORMAT = "simcore-world/1"
WORLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS effects (
    seq      INTEGER PRIMARY KEY,   -- the order things happened in the world
    t        REAL NOT NULL,         -- Unix time
    kind     TEXT NOT NULL,         -- ChargeCard, ReserveInventory, ...
    order_id TEXT NOT NULL,
    cents    INTEGER NOT NULL,      -- money moved: + charge, - refund
    ref      TEXT NOT NULL,         -- charge id, hold id, tracking number, message id
    sku      TEXT,
    delta    INTEGER NOT NULL,      -- stock moved
    key      TEXT UNIQUE            -- idempotency key: a repeat returns the first ref, does nothing
)"""


class DurableWorld(World):
    """`World` whose effects are rows in a SQLite file. `effect` commits the effect and its key in one
    transaction: after a kill, either both are on disk or neither happened. `readonly`: the records as
    they are now, read through a connection that writes nothing (and is closed at once)."""

    def __init__(self, path, *, stock: int = 10, readonly: bool = False):
        super().__init__(clock=time.time, wall=datetime.now, stock=stock)
        self.path, self.readonly = Path(path), readonly
        with _store(self.path, "world"):
            self._db = check.connect_readonly(self.path) if readonly else connect(self.path)
            schema = "" if readonly else f"{WORLD_SCHEMA}; INSERT OR IGNORE INTO meta VALUES ('stock:mug', '{stock:d}')"
            meta = opened(self._db, self.path, "world", WORLD_FORMAT, {"meta", "effects"}, schema, error=HomeError)
            try:
                self.initial = {k.removeprefix("stock:"): int(v) for k, v in meta.items() if k.startswith("stock:")}
            except (TypeError, ValueError):
                raise HomeError(f"{self.path}: a stock in the world's meta table is not a whole number") from None
            if meta:   # (an empty file is a world being created: nothing has happened in it yet)
                self._reload()
            if readonly:
                self._db.close()

    def close(self):
        self._db.close()

    def keys(self, prefix: str = "") -> dict[str, str]:
        if not self.readonly:   # read afresh: another process may have acted since
            with _store(self.path, "world"):
                self._reload()
        return super().keys(prefix)

    def _reload(self):
        """Rebuild the world in memory (`log`, `stock`, `holds`, the keys) from the rows."""
        self.log, self._keys, self._asked = [], {}, {}
        self.stock, self.holds = dict(self.initial), Counter()
        for seq, t, kind, order, cents, ref, sku, delta, key in self._db.execute(
                "SELECT seq, t, kind, order_id, cents, ref, sku, delta, key FROM effects ORDER BY seq"):
            if not (isinstance(t, (int, float)) and isinstance(cents, int) and isinstance(delta, int)
                    and all(isinstance(v, str) for v in (kind, order, ref)) and isinstance(key, (str, type(None)))):
                raise HomeError(f"{self.path}: effect {seq} is not a record the world writes "
                                f"({kind!r}, {order!r}, {cents!r}, {ref!r}, key {key!r})")
            # a committed request is done; its note is what its reference shows after the id
            self._book(Effect(t, kind, order, cents, ref), sku and (sku, delta), key, ref.partition(" ")[2], 0.0)

    def effect(self, kind: str, order: str, key: str | None = None, cents: int = 0, stock=None,
               note: str = "") -> str:
        with _store(self.path, "world"), _transaction(self._db):
            self._reload()   # under the write lock: what every process has done so far
            if key is not None and key in self._asked:
                return self._repeat(key, (kind, order, cents, note))   # the first result, no second effect
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM effects").fetchone()[0]
            e = Effect(self.clock(), kind, order, cents, f"{kind[:4].lower()}_{seq}" + (f" {note}" if note else ""))
            sku, delta = stock or (None, 0)
            self._db.execute("INSERT INTO effects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (seq, e.t, kind, order, cents, e.ref, sku, delta, key))
        self._book(e, stock, key, note, 0.0)   # committed, so done: as `_reload` would book it
        self.on_effect(kind)       # it has happened; a kill from here on cannot undo it
        return e.ref


# -- ownership: a lease with a fencing token, and an inbox of signals, kept in the history store ---
INBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,   -- never reused: it is the signal's request id
    workflow_id TEXT NOT NULL,
    name        TEXT NOT NULL,     -- the signal's name
    input       TEXT NOT NULL,     -- its input, JSON
    sent        REAL NOT NULL      -- Unix time
)"""
HOME_SCHEMA = """
CREATE TABLE IF NOT EXISTS owners (
    workflow_id TEXT PRIMARY KEY,
    token       INTEGER NOT NULL,  -- fencing: one more at every take-over; appends must carry the newest
    holder      TEXT NOT NULL,     -- host:pid
    expires     REAL NOT NULL      -- Unix time; 0 once released
);
""" + INBOX_SCHEMA


@dataclass(frozen=True)
class Owner:
    token: int
    holder: str
    expires: float

    def __str__(self):
        return f"process {self.holder} (lease token {self.token})"


class LostOwnership(HistoryConflict, Busy):
    """An append or renewal by a process whose lease was taken over: to the history, a conflict; to
    the command, a busy home (someone else carries on), not damage."""


class OwnedHistory(History):
    """A history file whose workflows are written only by the process that holds their lease (`take`),
    which hands out a larger fencing token at every take-over: each append checks, in its own
    transaction, that ours is still the current one, so a process that lost the lease writes nothing.
    Signals sent while another process runs a workflow wait in its inbox, for that process to record."""

    def __init__(self, path):
        super().__init__(path)
        self.me = f"{socket.gethostname()}:{os.getpid()}"
        self.held: dict[str, int] = {}   # workflow id -> our token
        with _store(self.path, "history"):
            self._db.executescript(HOME_SCHEMA)
            _upgrade_inbox(self._db)

    def post(self, workflow_id: str, name: str, value) -> int:
        """Leave a signal for the process that runs the workflow (`order signal`); returns its inbox id."""
        with _store(self.path, "history"), _transaction(self._db):
            return self._db.execute("INSERT INTO inbox (workflow_id, name, input, sent) VALUES (?, ?, ?, ?)",
                                    (workflow_id, name, json.dumps(value), time.time())).lastrowid

    def inbox(self, workflow_id: str) -> list[tuple[int, str, object]]:
        with _store(self.path, "history"):
            rows = self._db.execute("SELECT id, name, input FROM inbox WHERE workflow_id=? ORDER BY id",
                                    (workflow_id,)).fetchall()
        return [(i, name, json.loads(value)) for i, name, value in rows]

    def taken(self, ids: list[int]) -> None:
        """The signals recorded in the history (with their inbox ids as request ids): out of the inbox."""
        with _store(self.path, "history"), _transaction(self._db):
            self._db.executemany("DELETE FROM inbox WHERE id=?", [(i,) for i in ids])

    def owner(self, workflow_id: str) -> Owner | None:
        row = self._db.execute("SELECT token, holder, expires FROM owners WHERE workflow_id=?",
                               (workflow_id,)).fetchone()
        return Owner(*row) if row else None

    def take(self, workflow_id: str, ttl: float) -> Owner | None:
        """Take the lease, or return the live owner that holds it. A lease is free once it expires, or at
        once when its holder was a process on this machine that is gone (a restart after `kill -9`)."""
        with _store(self.path, "history"), _transaction(self._db):
            now, current = time.time(), self.owner(workflow_id)
            if current and current.holder != self.me and current.expires > now and _alive(current.holder):
                return current
            token = (current.token if current else 0) + 1
            self._db.execute("INSERT OR REPLACE INTO owners VALUES (?, ?, ?, ?)",
                             (workflow_id, token, self.me, now + ttl))
        self.held[workflow_id] = token
        return None

    def renew(self, workflow_id: str, ttl: float) -> None:
        with _store(self.path, "history"), _transaction(self._db):
            self._fence(workflow_id, "1")
            self._db.execute("UPDATE owners SET expires=? WHERE workflow_id=?", (time.time() + ttl, workflow_id))

    def release(self, workflow_id: str) -> None:
        with _store(self.path, "history"), _transaction(self._db):
            self._fence(workflow_id, "1")
            self._db.execute("UPDATE owners SET expires=0 WHERE workflow_id=?", (workflow_id,))
        self.held.pop(workflow_id, None)

    def _fence(self, workflow_id: str, run_id: str) -> None:
        """Inside every append: refuse unless our token is still the current one."""
        current, mine = self.owner(workflow_id), self.held.get(workflow_id)
        if mine is None or current is None or current.token != mine:
            who = f"{current}" if current else "nobody"
            raise LostOwnership(f"{self.path}: {workflow_id} is owned by {who}, not by this process "
                                f"(token {mine}); nothing was written: another process took this order over; "
                                "stopping here")


def _upgrade_inbox(db: sqlite3.Connection) -> None:
    """An inbox made before its ids were AUTOINCREMENT handed out the largest id again once its row was
    deleted, and a signal with a reused id was dropped as a repeat: rebuild it, keeping its waiting
    signals, numbering on past every id a recorded signal has used."""
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='inbox'").fetchone()[0]
    if "AUTOINCREMENT" in sql:
        return
    last = db.execute(   # request ids are "inbox-<id>"; a payload that is not JSON is history check's to report
        "SELECT MAX((SELECT COALESCE(MAX(id), 0) FROM inbox), COALESCE(MAX(CAST(substr(r, 7) AS INTEGER)), 0)) "
        "FROM (SELECT CASE WHEN json_valid(payload) THEN json_extract(payload, '$.request_id') END AS r FROM events "
        "WHERE type = 'WorkflowExecutionSignaled') WHERE r LIKE 'inbox-%'").fetchone()[0]
    db.executescript(f"BEGIN IMMEDIATE; ALTER TABLE inbox RENAME TO inbox_old; {INBOX_SCHEMA}; INSERT INTO inbox "
                     f"SELECT * FROM inbox_old; DROP TABLE inbox_old; DELETE FROM sqlite_sequence WHERE "
                     f"name='inbox'; INSERT INTO sqlite_sequence VALUES ('inbox', {last}); COMMIT")


def _alive(holder: str) -> bool:
    """Whether the holder of a lease may still be running. Only a process on this machine can be
    known dead; anything else is trusted until its lease expires."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdecimal():
        return True
    try:
        os.kill(int(pid), 0)   # signal 0 only asks whether there is such a process
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        pass                   # another user's: there is one
    try:   # a zombie has died, only its exit status is left (Linux says so in /proc)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


# -- the home --------------------------------------------------------------------------------------
@contextmanager
def _store(path: Path, what: str):
    """Turn a SQLite failure into an error naming the file and what it is."""
    try:
        yield
    except (sqlite3.Error, UnicodeDecodeError) as e:   # see history.DB_ERRORS
        hint = (": the disk is full (nothing of this step was written)" if "full" in str(e) else
                f": {db_error(e)}")
        raise HomeError(f"{path}: the {what} store failed{hint}") from None


class Home:
    """The two stores of a home directory, opened for writing (`order run`, `order signal`)."""

    def __init__(self, path, command: str = "`order run` records its progress"):
        self.dir = locate(path, create=True)
        self.history_path, self.world_path = self.dir / HISTORY, self.dir / WORLD
        for p in (self.dir, self.history_path, self.world_path):
            if p.exists() and not os.access(p, os.W_OK):
                raise HomeError(f"{p}: read-only: {command} in {self.dir}, so the "
                                "folder and its files must be writable (`order status` and `history` only read)")
        # a history of workflows without its world cannot be run: their effects would happen again
        if self.history_path.exists() and not self.world_path.exists() and check.read_rows(self.history_path):
            raise HomeError(f"{self.world_path}: " + WORLD_LOST.format(history=self.history_path))
        # and the world's effects without their history: run again, they would happen again
        if self.world_path.exists() and not self.history_path.exists() and \
                DurableWorld(self.world_path, readonly=True).log:
            raise HomeError(f"{self.history_path}: " + HISTORY_LOST.format(world=self.world_path))
        # the world first: the history file is what makes a folder a home, so once it exists the world does
        self.world = DurableWorld(self.world_path)
        try:
            self.history = OwnedHistory(self.history_path)
        except BaseException:
            self.world.close()
            raise

    def close(self):
        self.history.close()
        self.world.close()


def locate(path, *, create: bool = False) -> Path:
    """The home at `path`, checked: a folder holding a history. With `create`, a new or empty folder
    (or one with only our files) is accepted and will become a home."""
    if not str(path).strip():
        raise HomeError("--home is empty: give it a folder (a new one becomes a simcore home)")
    d = Path(path)
    if d.exists() and not d.is_dir():
        raise HomeError(f"{d}: not a directory; --home takes a folder (a new one becomes a simcore home)")
    if (d / HISTORY).exists():
        return d
    others = sorted(p.name for p in d.iterdir() if not p.name.startswith((HISTORY, WORLD))) if d.exists() else []
    if others:
        raise HomeError(f"{d}: not a simcore home (no {HISTORY}; it holds {', '.join(others[:4])}"
                        f"{', ...' if len(others) > 4 else ''}); point --home at a home, or a new or empty folder")
    if not create and (d / WORLD).exists():
        raise HomeError(f"{d / HISTORY}: missing, but {d / WORLD} is there: the history of what the world "
                        "records is gone (restore the history file)")
    if not create:
        raise HomeError(f"{d}: not a simcore home (no {HISTORY} in it); "
                        f"`python -m simcore order run --home {d}` creates one")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise HomeError(f"{d}: cannot create the home folder: {e.strerror}") from None
    return d


def outcome(last: str | None) -> str:
    """How a workflow stands whose history ends with an event of type `last` (None: no events)."""
    return "not started" if last is None else OUTCOMES.get(last, "in progress")
