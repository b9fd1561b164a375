"""Who owns which shard, and how the database makes that true: FarmHash's Fingerprint32, the shard of a
workflow id, a consistent-hash ring, a membership service that learns of a dead or frozen host only after
a delay, and the shards table whose range id fences a stale owner off.

`fingerprint32` is FarmHash's Fingerprint32 (farmhashmk's Hash32), as `farm.Fingerprint32` in
github.com/dgryski/go-farm computes it, the function Temporal hashes workflow ids and ring keys with.
Checked in tests/test_shards.py against go-farm's golden values and the C++ library's (pyfarmhash).

The ring is a consistent-hash ring keyed by the same hash: each host puts `points` points on it
(Fingerprint32 of "host#i"), and a shard belongs to the first point at or after Fingerprint32(str(shard
id)), going round. Temporal's ring is keyed by the same hash (`hashring.New(farm.Fingerprint32,
replicaPoints)`) and looked up by the shard id as a string; how points are named and how many, here, is
ours.

How this differs from Ringpop, which Temporal's membership uses: Ringpop "maintains a consistent hash
ring atop a gossip-based membership protocol" (its package documentation), so there is no central list,
and hosts learn of each other by gossip. Here one membership service holds the one list, declares a host
gone when it has not been heard from for `detect` seconds, and sends each host the new ring after a
delay of its own (up to `lag` seconds; a frozen host gets it when it wakes). As with gossip, hosts
briefly disagree: for a moment two hosts may each have been told that they own a shard.
"""
from __future__ import annotations

import sqlite3
from bisect import bisect_left

MASK = 0xFFFFFFFF
C1, C2 = 0xCC9E2D51, 0x1B873593


def _ror(v: int, s: int) -> int:
    return ((v >> s) | (v << (32 - s))) & MASK


def _fmix(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK
    return h ^ (h >> 16)


def _mur(a: int, h: int) -> int:
    a = (_ror((a * C1) & MASK, 17) * C2) & MASK
    h = _ror(h ^ a, 19)
    return (h * 5 + 0xE6546B64) & MASK


def _f32(s: bytes, i: int) -> int:
    return int.from_bytes(s[i:i + 4], "little")


def _len0to4(s: bytes) -> int:
    b, c = 0, 9
    for byte in s:
        b = (b * C1 + (byte - 256 if byte > 127 else byte)) & MASK   # C++ reads a signed char
        c ^= b
    return _fmix(_mur(b, _mur(len(s), c)))


def _len5to12(s: bytes) -> int:
    n = len(s)
    a, b, c = n + _f32(s, 0), n * 5 + _f32(s, n - 4), 9 + _f32(s, (n >> 1) & 4)
    return _fmix(_mur(c, _mur(b, _mur(a, n * 5))))


def _len13to24(s: bytes) -> int:
    n = len(s)
    a, b, c = _f32(s, (n >> 1) - 4), _f32(s, 4), _f32(s, n - 8)
    d, e, f = _f32(s, n >> 1), _f32(s, 0), _f32(s, n - 4)
    h = (d * C1 + n) & MASK
    a = (_ror(a, 12) + f) & MASK
    h = (_mur(c, h) + a) & MASK
    a = (_ror(a, 3) + c) & MASK
    h = (_mur(e, h) + a) & MASK
    a = (_ror((a + f) & MASK, 12) + d) & MASK
    h = (_mur(b, h) + a) & MASK
    return _fmix(h)


def fingerprint32(data: str | bytes) -> int:
    """FarmHash Fingerprint32 of `data` (a str is hashed as its UTF-8 bytes, as Go's []byte(s))."""
    s = data.encode() if isinstance(data, str) else bytes(data)
    n = len(s)
    if n <= 4:
        return _len0to4(s)
    if n <= 12:
        return _len5to12(s)
    if n <= 24:
        return _len13to24(s)

    def mixed(i):
        return (_ror((_f32(s, i) * C1) & MASK, 17) * C2) & MASK

    h, g = n, (C1 * n) & MASK
    f = g
    h = (_ror(h ^ mixed(n - 4), 19) * 5 + 0xE6546B64) & MASK
    h = (_ror(h ^ mixed(n - 16), 19) * 5 + 0xE6546B64) & MASK
    g = (_ror(g ^ mixed(n - 8), 19) * 5 + 0xE6546B64) & MASK
    g = (_ror(g ^ mixed(n - 12), 19) * 5 + 0xE6546B64) & MASK
    f = (_ror((f + mixed(n - 20)) & MASK, 19) + 113) & MASK
    for off in range(0, (n - 1) // 20 * 20, 20):
        a, b, c, d, e = (_f32(s, off + 4 * k) for k in range(5))
        h, g, f = (h + a) & MASK, (g + b) & MASK, (f + c) & MASK
        h = (_mur(d, h) + e) & MASK
        g = (_mur(c, g) + a) & MASK
        f = (_mur((b + e * C1) & MASK, f) + d) & MASK
        f = (f + g) & MASK
        g = (g + f) & MASK
    g = (_ror((_ror(g, 11) * C1) & MASK, 17) * C1) & MASK
    f = (_ror((_ror(f, 11) * C1) & MASK, 17) * C1) & MASK
    h = (_ror((h + g) & MASK, 19) * 5 + 0xE6546B64) & MASK
    h = (_ror(h, 17) * C1) & MASK
    h = (_ror((h + f) & MASK, 19) * 5 + 0xE6546B64) & MASK
    return (_ror(h, 17) * C1) & MASK


NAMESPACE_ID = "4d3a2c1b-sim-namespace"   # the namespace's id, as Temporal hashes it (not its name)
EVENT_TYPES = ("started", "step 1", "step 2", "completed")   # one workflow's events in the simulation
SCHEMA = """
CREATE TABLE IF NOT EXISTS shards (shard_id INTEGER PRIMARY KEY, range_id INTEGER NOT NULL, owner TEXT);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, shard_id INTEGER NOT NULL,
    range_id INTEGER NOT NULL,      -- the range id the writing host held
    shard_range INTEGER NOT NULL,   -- the shard's range id at commit (the fence makes them equal)
    host TEXT NOT NULL, workflow_id TEXT NOT NULL, event_id INTEGER NOT NULL, type TEXT NOT NULL,
    time REAL NOT NULL);
"""


def workflow_shard(workflow_id: str, shards: int, namespace_id: str = NAMESPACE_ID) -> int:
    """The shard (1..shards) of a workflow id, as Temporal computes it."""
    return fingerprint32(namespace_id + "_" + workflow_id) % shards + 1


def cadence_shard(workflow_id: str, shards: int) -> int:
    """Cadence's: the workflow id alone, shards numbered from 0."""
    return fingerprint32(workflow_id) % shards


class Ring:
    """A consistent-hash ring of hosts; `lookup(shard_id)` names the host that should own it."""

    def __init__(self, hosts, points: int = 100):
        self.hosts = sorted(hosts)
        pts = sorted((fingerprint32(f"{h}#{i}"), h) for h in self.hosts for i in range(points))
        self._keys = [k for k, _ in pts]
        self._owners = [h for _, h in pts]

    def lookup(self, shard_id: int) -> str | None:
        if not self._keys:
            return None
        i = bisect_left(self._keys, fingerprint32(str(shard_id)))
        return self._owners[i % len(self._owners)]

    def assignment(self, shards: int) -> dict[int, str]:
        """Shard id (1..shards) -> host, for every shard, or {} if no host is alive."""
        return {s: self.lookup(s) for s in range(1, shards + 1)} if self._keys else {}


class Membership:
    """The one list of live hosts. A host is declared gone `detect` seconds after it last spoke (it died
    or froze), and admitted again when a frozen one speaks. Each change is a new numbered ring, sent to
    every host after a seeded delay of up to `lag` seconds: `deliver(host, version, assignment, wait)`
    is the simulation's process (it drops the message for a dead host, and holds it for a frozen one
    until it wakes). `log` is what membership decided, when."""

    def __init__(self, env, hosts, shards: int, *, detect: float, lag: float, rng, deliver):
        self.env, self.hosts, self.shards, self.detect, self.lag = env, list(hosts), shards, detect, lag
        self.rng, self._deliver = rng, deliver
        self.members = list(hosts)
        self.version = 0
        self.assignment: dict[int, str] = {}
        self.down_since: dict[str, float] = {}
        self.log: list[dict] = []

    def publish(self, why: str, host: str | None = None, *, delay: bool = True):
        self.version += 1
        self.assignment = Ring(self.members).assignment(self.shards)
        self.log.append({"t": round(self.env.now, 6), "version": self.version, "why": why, "host": host,
                         "members": list(self.members)})
        for h in self.hosts:
            wait = self.rng.uniform(0, self.lag) if delay else 0.0
            self.env.process(self._deliver(h, self.version, dict(self.assignment), wait))

    def host_down(self, host: str):
        """The host stopped speaking (killed, or frozen). Membership finds out only after `detect`."""
        if host not in self.down_since:
            t = self.down_since[host] = self.env.now
            self.env.process(self._timeout(host, t))

    def host_up(self, host: str):
        """A frozen host woke and spoke again: no longer suspected; admitted again if it was dropped."""
        self.down_since.pop(host, None)
        if host not in self.members:
            self.members = sorted(self.members + [host])
            self.publish("admitted", host)

    def _timeout(self, host, since):
        yield self.env.timeout(self.detect)
        if self.down_since.get(host) == since and host in self.members:
            self.members = [h for h in self.members if h != host]
            self.publish("dropped", host)


class ShardOwnershipLost(Exception):
    """A write by a host whose range id is no longer the shard's: another host has taken the shard."""

    def __init__(self, shard_id, held, current, owner):
        super().__init__(f"shard {shard_id}: this host holds range {held}, the shard is at range {current} "
                         f"(owner {owner}): ShardOwnershipLost")
        self.shard_id, self.held, self.current, self.owner = shard_id, held, current, owner


class ShardStore:
    """The shards table and the events table in one SQLite database (a file, or in memory)."""

    def __init__(self, path=None, shards: int = 16):
        self.db = sqlite3.connect(":memory:" if path is None else str(path), isolation_level=None)
        self.db.executescript(SCHEMA)
        self.db.executemany("INSERT OR IGNORE INTO shards VALUES (?, 0, NULL)",
                            [(s,) for s in range(1, shards + 1)])

    def read(self, shard_id: int) -> tuple[int, str | None]:
        return self.db.execute("SELECT range_id, owner FROM shards WHERE shard_id = ?", (shard_id,)).fetchone()

    def acquire(self, shard_id: int, host: str, seen: int) -> int | None:
        """Take the shard from range `seen` to seen+1; None if someone moved it since it was read. (Temporal's
        renewRangeLocked: RangeId++, then UpdateShard conditioned on the PreviousRangeID.)"""
        cur = self.db.execute("UPDATE shards SET range_id = range_id + 1, owner = ? "
                              "WHERE shard_id = ? AND range_id = ?", (host, shard_id, seen))
        return seen + 1 if cur.rowcount == 1 else None

    def append(self, shard_id, range_id, host, workflow_id, event_id, type_, time, *, fence=True) -> int:
        """Write one event in a transaction conditioned on the range id `host` holds. Returns the range
        id the shard had at commit. Without `fence` (to show why it is there) nothing is checked."""
        # Temporal's SQL stores lock the shard row in the transaction (SELECT range_id ... FOR UPDATE, or
        # LOCK IN SHARE MODE). SQLite has neither: BEGIN IMMEDIATE takes the write lock first, so the
        # check and the insert are one step.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            current, owner = self.read(shard_id)
            if fence and current != range_id:
                raise ShardOwnershipLost(shard_id, range_id, current, owner)
            self.db.execute("INSERT INTO events (shard_id, range_id, shard_range, host, workflow_id, event_id, "
                            "type, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (shard_id, range_id, current, host, workflow_id, event_id, type_, time))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return current

    def shards(self) -> list[dict]:
        return [{"id": s, "range_id": r, "owner": o}
                for s, r, o in self.db.execute("SELECT shard_id, range_id, owner FROM shards ORDER BY shard_id")]

    def check(self, events_per_workflow: int) -> dict:
        """The invariant, from the rows alone: no range of a shard written by two hosts; no write by a
        host holding a stale range id; on each shard, in commit order, writers' range ids never go down; each
        workflow's history is events 1..K, each once."""
        one = self.db.execute
        two = one("SELECT COUNT(*) FROM (SELECT 1 FROM events GROUP BY shard_id, shard_range "
                  "HAVING COUNT(DISTINCT host) > 1)").fetchone()[0]
        stale = one("SELECT COUNT(*) FROM events WHERE range_id != shard_range").fetchone()[0]
        last, down = {}, 0
        for s, r in one("SELECT shard_id, range_id FROM events ORDER BY seq"):
            down += r < last.get(s, 0)
            last[s] = r
        rows = one("SELECT COUNT(*), COUNT(DISTINCT event_id), MIN(event_id), MAX(event_id) "
                   "FROM events GROUP BY workflow_id").fetchall()
        k = events_per_workflow
        return {"ranges_written_by_two_hosts": two, "stale_writes_accepted": stale, "range_regressions": down,
                "duplicate_events": sum(n - d for n, d, _, _ in rows),
                "complete_histories": sum(d == k and lo == 1 and hi == k for _, d, lo, hi in rows)}
