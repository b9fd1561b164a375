"""History shards with fencing: many hosts, one database, and never two writers in one range.

A workflow's events live on one shard: Temporal's `WorkflowIDToHistoryShard` is
`Fingerprint32(namespace_id + "_" + workflow_id) % shards + 1` (1-based; Cadence hashes the workflow
id alone, 0-based). Hosts own shards as membership tells them (`simcore.ownership`). A host that
takes a shard bumps its range id with a conditional write, and every event it writes on that shard is
a transaction that first checks the range id it holds is still the shard's: a host that lost the shard
(it froze past its membership timeout, or membership told two hosts at once) gets ShardOwnershipLost
and lets the shard go. Membership may say "two owners"; the database accepts one.

`simulate(...)` runs that in simulated time (SimPy, seeded) on a real SQLite database and returns plain
data; `outcome_lines(result)` says what happened. Requests wait in a per-shard queue until a write of
theirs commits, so a host that dies or is fenced off loses nothing: the next owner writes them.
"""
from __future__ import annotations

import random

import simpy

from .ownership import (EVENT_TYPES, NAMESPACE_ID, Membership, Ring, ShardOwnershipLost, ShardStore,
                        cadence_shard, fingerprint32, workflow_shard)

__all__ = ["simulate", "outcome_lines", "workflow_shard", "cadence_shard", "fingerprint32", "Ring",
           "Membership", "ShardStore", "ShardOwnershipLost", "NAMESPACE_ID", "EVENT_TYPES"]


class _Host:
    def __init__(self, env, name):
        self.name, self.state, self.pauses = name, "alive", 0
        self.view_version, self.view = 0, set()   # the shards membership last told it it owns
        self.held: dict[int, int] = {}            # shard -> the range id it acquired
        self.acquiring, self.blocked = set(), {}  # blocked: shard -> until when (after a refusal)
        self.woke, self.changed = env.event(), env.event()


class _Task:
    def __init__(self, env, workflow_id, event_id, type_):
        self.workflow_id, self.event_id, self.type, self.done = workflow_id, event_id, type_, env.event()


class _Sim:
    def __init__(self, hosts, shards, workflows, plan, seed, detect, lag, fence, db_path, work, tick, backoff):
        self.env, self.rng, self.nshards, self.fence = simpy.Environment(), random.Random(seed), shards, fence
        self.work, self.tick, self.backoff = work, tick, backoff
        self.store = ShardStore(db_path, shards)
        self.hosts = {f"host-{i}": _Host(self.env, f"host-{i}") for i in range(1, hosts + 1)}
        self.queue = {s: [] for s in range(1, shards + 1)}
        self.arrived = {s: self.env.event() for s in range(1, shards + 1)}
        self.counts = dict.fromkeys(
            ["writes_accepted", "writes_refused", "late_writes_refused", "late_writes_accepted", "shard_moves",
             "acquisitions", "acquire_races", "shards_released", "double_ownership_moments",
             "workflows_completed", "workflows_lost", "invariant_checks", "invariant_violations"], 0)
        self.by_host = {h: {"writes_refused": 0, "late_writes_refused": 0, "late_writes_accepted": 0}
                        for h in self.hosts}
        self.moves, self.moments, self._open = [], [], {}
        self.frames, self.violations, self.writers, self.top, self.last_write = [], [], {}, {}, {}
        self.membership = Membership(self.env, list(self.hosts), shards, detect=detect, lag=lag,
                                     rng=self.rng, deliver=self._deliver)
        self.wids = [f"order-{1001 + i}" for i in range(workflows)]
        self.all_done = self.env.event()
        if not self.wids:
            self.all_done.succeed()
        for wid in self.wids:   # the workload, drawn up front so the faults cannot change it
            start = self.rng.uniform(0, 30)
            gaps = [self.rng.uniform(0.5, 2.5) for _ in EVENT_TYPES[1:]]
            self.env.process(self._workflow(wid, workflow_shard(wid, shards), start, gaps))
        for h in self.hosts.values():
            self.env.process(self._controller(h))
        for fault in plan:
            self.env.process(self._fault(*fault))
        self.env.process(self._ticker())

    # -- the parts --------------------------------------------------------------------------------
    def _gate(self, h):
        while h.state == "paused":   # frozen: every process of the host stops where it stands
            yield h.woke

    def _workflow(self, wid, shard, start, gaps):
        yield self.env.timeout(start)
        for k, type_ in enumerate(EVENT_TYPES, 1):
            if k > 1:
                yield self.env.timeout(gaps[k - 2])
            task = _Task(self.env, wid, k, type_)
            self.queue[shard].append(task)
            self.arrived[shard].succeed()
            self.arrived[shard] = self.env.event()
            yield task.done
        self.counts["workflows_completed"] += 1
        if self.counts["workflows_completed"] == len(self.wids):
            self.all_done.succeed()

    def _deliver(self, name, version, assignment, wait):
        h = self.hosts[name]
        yield self.env.timeout(wait)
        if h.state == "paused":   # it reads the message only after it wakes, as long after
            yield from self._gate(h)
            yield self.env.timeout(wait)
        if h.state == "dead" or version <= h.view_version:
            return
        h.view_version, h.view = version, {s for s, o in assignment.items() if o == name}
        for s in sorted(h.held):
            if s not in h.view:   # told to let it go: unload (the next owner's acquire fences it)
                del h.held[s]
                self.counts["shards_released"] += 1
        if not h.changed.triggered:
            h.changed.succeed()
        self._claims()
        self._snap(f"{name} told ring v{version}: shards {sorted(h.view)}")

    def _controller(self, h):
        while h.state != "dead":
            yield from self._gate(h)
            for s in sorted(h.view):
                if s not in h.held and s not in h.acquiring and h.blocked.get(s, -1) <= self.env.now:
                    self.env.process(self._acquire(h, s))
            h.changed = self.env.event()
            yield self.env.any_of([h.changed, self.env.timeout(self.tick)])

    def _acquire(self, h, s):
        h.acquiring.add(s)
        seen, before = self.store.read(s)
        yield self.env.timeout(self.work)
        yield from self._gate(h)
        h.acquiring.discard(s)
        if h.state == "dead" or s not in h.view:
            return
        new = self.store.acquire(s, h.name, seen)
        if new is None:
            self.counts["acquire_races"] += 1
            return
        if new <= self.top.get(s, 0):
            self._violation(f"shard {s}: range id went from {self.top[s]} to {new}")
        self.top[s] = new
        h.held[s] = new
        self.counts["acquisitions"] += 1
        if before not in (None, h.name):
            self.counts["shard_moves"] += 1
            self.moves.append({"t": round(self.env.now, 6), "shard": s, "from": before, "to": h.name,
                               "range_id": new})
        self._snap(f"{h.name} acquired shard {s}: range id {seen} -> {new}")
        self.env.process(self._serve(h, s, new, h.pauses))

    def _serve(self, h, s, rng_id, pauses):
        """Write the shard's queued requests, one at a time, while the host holds it at `rng_id`. A write
        after a freeze the host slept through since it acquired the shard is a late one."""
        queue = self.queue[s]
        while h.state != "dead" and h.held.get(s) == rng_id:
            if not queue:
                yield self.arrived[s]
                continue
            task = queue[0]
            yield from self._gate(h)
            yield self.env.timeout(self.work)
            yield from self._gate(h)   # a freeze here is a GC pause between preparing and committing
            if h.state == "dead" or h.held.get(s) != rng_id:
                return   # unloaded meanwhile: the request stays queued for the next owner
            late = h.pauses != pauses
            try:
                current = self.store.append(s, rng_id, h.name, task.workflow_id, task.event_id, task.type,
                                            self.env.now, fence=self.fence)
            except ShardOwnershipLost as e:
                self.counts["writes_refused"] += 1
                self.counts["late_writes_refused"] += late
                self.by_host[h.name]["writes_refused"] += 1
                self.by_host[h.name]["late_writes_refused"] += late
                del h.held[s]
                h.blocked[s] = self.env.now + self.backoff
                self._snap(f"{h.name} refused{' (a late write)' if late else ''}: {e}", "refused")
                return
            self._audit(h.name, s, rng_id, current)
            self.counts["writes_accepted"] += 1
            self.counts["late_writes_accepted"] += late
            self.by_host[h.name]["late_writes_accepted"] += late
            if task in queue:
                queue.remove(task)
            if not task.done.triggered:
                task.done.succeed()

    def _audit(self, host, s, rng_id, current):
        """The invariant, at every accepted write."""
        self.counts["invariant_checks"] += 1
        first = self.writers.setdefault((s, current), host)
        if current != rng_id:
            self._violation(f"shard {s}: {host} wrote with range {rng_id}, the shard was at {current}")
        if first != host:
            self._violation(f"shard {s}: range {current} written by {first} and {host}")
        if current < self.last_write.get(s, 0) or current < self.top.get(s, 0):
            self._violation(f"shard {s}: a write in range {current} after range {self.top.get(s)}")
        self.last_write[s] = current

    def _violation(self, what):
        self.counts["invariant_violations"] += 1
        self.violations.append(f"t={self.env.now:.2f}s {what}")

    def _fault(self, kind, name, at, duration=0.0):
        h = self.hosts[name]
        yield self.env.timeout(at)
        if h.state == "dead" or (kind == "pause" and h.state == "paused"):
            return
        if kind == "kill":   # a frozen host can be killed too: it never wakes
            h.state = "dead"
            h.held.clear()
            self.membership.host_down(name)
            self._claims()
            self._snap(f"{name} killed", "crash")
            return
        h.state, h.pauses, h.woke = "paused", h.pauses + 1, self.env.event()
        self.membership.host_down(name)
        self._snap(f"{name} frozen for {duration:g}s", "pause")
        yield self.env.timeout(duration)
        if h.state == "dead":
            return
        h.state = "alive"
        h.woke.succeed()
        self._snap(f"{name} woke up")
        self.membership.host_up(name)

    def _claims(self):
        """Moments when membership has told two live hosts that they own the same shard."""
        for s in range(1, self.nshards + 1):
            told = [n for n, h in self.hosts.items() if h.state != "dead" and s in h.view]
            if len(told) >= 2 and s not in self._open:
                self._open[s] = {"shard": s, "hosts": told, "start": round(self.env.now, 6), "end": None}
                self.moments.append(self._open[s])
                self.counts["double_ownership_moments"] += 1
            elif len(told) < 2 and s in self._open:
                self._open.pop(s)["end"] = round(self.env.now, 6)

    def _ticker(self):
        while not self.all_done.triggered:
            self._snap("")
            yield self.env.timeout(1.0)

    def _snap(self, note, kind=""):
        """The moment, for the view: `note` says what happened, `kind` which incident it is ("" for none)."""
        self.frames.append({
            "t": round(self.env.now, 6), "note": note, "kind": kind,
            "hosts": [{"name": n, "state": h.state, "shards": sorted(h.held), "told": sorted(h.view)}
                      for n, h in self.hosts.items()],
            "shards": self.store.shards(), "counts": dict(self.counts)})

    def run(self, horizon):
        self.membership.publish("start", delay=False)
        self.env.run(until=self.env.any_of([self.all_done, self.env.timeout(horizon)]))
        for moment in self._open.values():
            moment["end"] = round(self.env.now, 6)
        self.counts["workflows_lost"] = len(self.wids) - self.counts["workflows_completed"]
        self._snap("end")


def simulate(hosts: int = 4, shards: int = 16, workflows: int = 200, kill: str | None = "host-2",
             zombie: str | None = "host-3", seed: int = 0, *, detect: float = 5.0, lag: float = 1.0,
             kill_at: float = 8.0, pause_at: float = 16.0, pause_for: float = 12.0, plan=None,
             fence: bool = True, db_path=None) -> dict:
    """Run `workflows` workflows (4 events each, over about 30 s) on `shards` shards owned by `hosts`
    hosts, under a fault plan: by default `kill` dies at `kill_at` and `zombie` freezes at `pause_at`
    for `pause_for` seconds; `plan` replaces that with ("kill", host, at) and ("pause", host, at, for)
    entries. Membership notices a silent host after `detect` s and tells hosts after up to `lag` s.
    `fence=False` drops the range-id check from the write (to show what it prevents).
    Returns plain data (JSON-serialisable); the same arguments give the same result."""
    names = [f"host-{i}" for i in range(1, hosts + 1)]
    if plan is None:
        plan = ([("kill", kill, kill_at)] if kill else []) + ([("pause", zombie, pause_at, pause_for)]
                                                             if zombie else [])
    plan = [list(f) for f in plan]
    for f in plan:
        if f[0] not in ("kill", "pause") or f[1] not in names:
            raise ValueError(f"bad fault {f!r}: kinds are kill, pause; hosts are {', '.join(names)}")
    sim = _Sim(hosts, shards, workflows, plan, seed, detect, lag, fence, db_path,
               work=0.05, tick=1.0, backoff=max(2.0, 2 * lag))
    last_fault = max([f[2] + (f[3] if f[0] == "pause" else 0) for f in plan], default=0)
    sim.run(horizon=40 + last_fault + 4 * detect + 60)
    return {
        "params": {"hosts": hosts, "shards": shards, "workflows": workflows, "seed": seed, "detect": detect,
                   "lag": lag, "plan": plan, "fence": fence},
        "namespace_id": NAMESPACE_ID, "hosts": names, "end_time": round(sim.env.now, 6),
        "workflow_shards": {w: workflow_shard(w, shards) for w in sim.wids},
        "counts": sim.counts, "by_host": sim.by_host,
        "moves": sim.moves, "double_ownership": sim.moments, "membership": sim.membership.log,
        "violations": sim.violations, "db_check": sim.store.check(len(EVENT_TYPES)), "frames": sim.frames}


def outcome_lines(result: dict) -> list[str]:
    """What happened, in plain words."""
    p, c = result["params"], result["counts"]
    how = ("each in a transaction fenced by the shard's range id" if p["fence"]
           else "with the range-id check switched OFF")
    lines = [f"{p['workflows']} workflows on {p['shards']} shards (Fingerprint32(namespace_id + \"_\" + "
             f"workflow_id) % {p['shards']} + 1) owned by {p['hosts']} hosts; {c['writes_accepted']} events "
             f"written, {how}"]
    log = result["membership"]
    for f in p["plan"]:
        kind, host, at = f[0], f[1], f[2]
        dropped = next((e["t"] for e in log if e["why"] == "dropped" and e["host"] == host and e["t"] >= at),
                       None)
        gone = sorted({m["shard"] for m in result["moves"] if m["from"] == host and m["t"] >= at})
        moved = f"its {len(gone)} shards moved ({', '.join(map(str, gone))})" if gone else "no shard moved"
        if kind == "kill":
            seen = f"membership noticed at t={dropped:.1f}s" if dropped is not None else "membership never noticed"
            lines.append(f"{host} killed at t={at:.1f}s; {seen}; {moved}")
            continue
        refused, accepted = (result["by_host"][host][k] for k in ("late_writes_refused", "late_writes_accepted"))
        late = refused + accepted
        if dropped is None:
            lines.append(f"{host} froze at t={at:.1f}s for {f[3]:g}s, within the membership timeout "
                         f"({p['detect']:g}s): it kept its shards, and its {accepted} late writes were accepted "
                         f"(its range ids were still the shards')")
            continue
        back = sorted({m["shard"] for m in result["moves"] if m["to"] == host and m["t"] >= at + f[3]})
        lines.append(f"{host} froze at t={at:.1f}s for {f[3]:g}s (membership timeout {p['detect']:g}s): dropped at "
                     f"t={dropped:.1f}s, {moved}; when it woke it tried {late} late write{'s' * (late != 1)}: "
                     f"{refused} refused (ShardOwnershipLost){', and it let those shards go' if refused else ''}"
                     + (f", {accepted} ACCEPTED" if accepted else "")
                     + (f"; admitted again, it took back {len(back)}" if back else ""))
    moments = result["double_ownership"]
    longest = max((m["end"] - m["start"] for m in moments), default=0)
    two = result["db_check"]["ranges_written_by_two_hosts"]
    lines.append(f"membership told two hosts they owned the same shard {len(moments)} times"
                 + (f" (longest {longest:.1f}s)" if moments else "")
                 + f"; ranges written by two owners: {two}")
    if c["invariant_violations"] == 0:
        lines.append(f"the invariant held at every write ({c['invariant_checks']} checked): each accepted write "
                     f"carried the shard's current range id, and range ids only grew")
    else:
        lines.append(f"the invariant FAILED {c['invariant_violations']} times, first: {result['violations'][0]}")
    if result["db_check"]["duplicate_events"]:
        lines.append(f"{result['db_check']['duplicate_events']} events were written twice: forked histories")
    lines.append(f"shard moves: {c['shard_moves']}; writes refused from stale owners: {c['writes_refused']}; "
                 f"workflows completed: {c['workflows_completed']}/{p['workflows']}; lost: {c['workflows_lost']}")
    return lines
