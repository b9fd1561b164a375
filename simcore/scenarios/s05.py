"""Scene 05 · Task queues: workers pull, so redeploys are safe.

A hundred orders arrive, one every few seconds, and a handful of workers poll one task queue. The
engine never pushes work to a worker, so a worker that is killed, frozen or redeployed simply stops
taking tasks: its lease runs out and the task goes back in the queue, a late completion from a frozen
"zombie" is refused by its stale fencing token, and a workflow that lands on a worker without its
cached state replays its history there. Nothing in this module decides any of that; it sets up the
workers and the faults, and samples the engine's state every two seconds for the diagram.

Fencing protects the history, not the world: a zombie may have reached the card network or the
carrier before it froze, and the retry on another worker reaches it again. So every activity here
sends a stable idempotency key (the workflow run id + the activity id), the key scene 07 is about, and the world
answers a repeat with its first result; the outcome lines count those repeats.
"""
from __future__ import annotations

from collections import Counter

from ..engine import Engine
from ..faults import FaultPlan, KillWorker, PauseWorker, Redeploy
from ..sim import Run, Sim
from ..trace import Recorder
from ..orders import (KEYED_ACTIVITIES, STEPS, charge_card_keyed, reserve_inventory_keyed,  # noqa: F401 (STEPS: the scene's)
                      send_confirmation_email_keyed, ship_package_keyed)
from ..workflow import workflow
from . import Control

NUMBER = 5
TITLE = "Task queues: workers pull, so redeploys are safe"
CENTS = 4200
EVERY = 3.5          # seconds between two orders arriving
SAMPLE = 2.0         # seconds between two sampled frames
LEASE = 10.0         # start-to-close of an activity, and the workflow task timeout
RESTART = 20.0       # a killed worker is restarted by its supervisor this long after
FROZEN = 30.0        # the zombie's pause: longer than a lease
DOWN = 15.0          # a redeployed worker's replacement starts this long after it stops
HORIZON = 3600.0
SLOW = 2.0           # a wait in the queue worth counting (schedule-to-start)
CONTROLS = (
    Control("workers", (1, 2, 3, 5), 3, "how many workers poll the task queue"),
    Control("deploy", ("none", "rolling", "all_at_once"), "rolling",
            "redeploy every worker half-way through the arrivals: one at a time, or all together"),
    Control("kill", ("none", "worker-1", "worker-2", "worker-3"), "worker-2",
            "kill -9 one worker early on (its supervisor restarts it 20 s later)"),
    Control("zombie", ("off", "on"), "on", "freeze another worker for 30 s, longer than its lease"),
    Control("orders", (20, 100), 100, f"orders arriving, one every {EVERY:g} s"),
)


ACTIVITIES = KEYED_ACTIVITIES   # each sends its stable idempotency key, "<run id>/<activity id>"


@workflow
def fulfill_order(ctx, order_id, cents):
    yield ctx.activity(charge_card_keyed, order_id, cents, start_to_close=LEASE)   # how long a worker may hold it
    yield ctx.activity(reserve_inventory_keyed, order_id, start_to_close=LEASE)
    yield ctx.activity(ship_package_keyed, order_id, start_to_close=LEASE)
    yield ctx.activity(send_confirmation_email_keyed, order_id, start_to_close=LEASE)
    return f"order {order_id} fulfilled"


def plan(workers: int, deploy: str, kill: str, zombie: str, orders: int) -> FaultPlan:
    """The faults, timed as fractions of the arrivals so that 20 orders see them as 100 do."""
    span, names = orders * EVERY, [f"worker-{n + 1}" for n in range(workers)]
    faults = []
    if kill in names:
        faults.append(KillWorker(kill, at=0.15 * span))
    if zombie == "on":   # the last worker that is not the one killed
        faults.append(PauseWorker(([n for n in names if n != kill] or names)[-1], at=0.3 * span, seconds=FROZEN))
    if deploy != "none":
        faults.append(Redeploy(at=0.5 * span, down_for=DOWN, rolling=deploy == "rolling"))
    return FaultPlan(workers=tuple(faults))


class Sampled(Recorder):
    """Frames for a run of many orders: no routine frame per step (`detail=False`), and every frame
    carries the engine's snapshot (workers, queue, counts) plus the worst wait in the queue so far."""

    def __init__(self, base: Recorder):
        super().__init__(base.now, base.effects, base.history, detail=False)
        self.engine, self._seen, self.max_wait, self.waited = None, 0, 0.0, 0
        self._incidents, self.leases = 0, 0   # engine incidents looked at so far; leases taken back among them

    def frame(self, caption: str, snapshot: dict | None = None, **changes):
        """`snapshot`: one taken a moment ago (nothing has happened since), not taken again."""
        return super().frame(caption, extra=self.snapshot() if snapshot is None else snapshot, **changes)

    def snapshot(self) -> dict:
        e = self.engine
        if e is None:
            return {}
        for _, _, waited in e.waits[self._seen:]:
            self.max_wait, self.waited = max(self.max_wait, waited), self.waited + (waited > SLOW)
        self._seen = len(e.waits)
        self.leases += sum(kind == "lease" for _, kind, *_ in e.incidents[self._incidents:])
        self._incidents = len(e.incidents)
        return {**e.snapshot(rows=12), "max_wait": self.max_wait, "waited": self.waited, "leases": self.leases}


def simulate(workers: int = 3, deploy: str = "rolling", kill: str = "worker-2", zombie: str = "on",
             orders: int = 100, seed: int = 0) -> Run:
    controls = dict(workers=workers, deploy=deploy, kill=kill, zombie=zombie, orders=orders)
    sim = Sim(seed=seed, faults=plan(**controls), restart_delay=RESTART)
    sim.trace = trace = Sampled(sim.trace)
    sim.world.stock["mug"] = orders
    engine = trace.engine = Engine(sim, [fulfill_order], ACTIVITIES, workers=workers, task_timeout=LEASE)
    ids = [(f"order-{1001 + i}", (str(1001 + i), CENTS)) for i in range(orders)]
    sim.watch = ids[0][0]
    trace.frame(f"{orders} orders will arrive, one every {EVERY:g}s; {workers} worker"
                f"{'s' * (workers > 1)} poll the task queue")
    sim.env.process(engine.start_every(fulfill_order, ids, EVERY))
    sim.env.process(_sampler(sim, engine, orders))
    sim.run(until=HORIZON)
    outcome = "completed" if len(engine.closed) == orders else "stuck" if engine.stuck else "lost"
    extra = dict(completed=len(engine.closed), rejected=engine.rejected, replays=engine.replays,
                 **_stats(sim, engine))
    return Run("05", controls, seed, sim, fulfill_order, ids[0][0], outcome, sim.history.read(ids[0][0]),
               extra=extra)


def _sampler(sim: Sim, engine: Engine, orders: int):
    while len(engine.closed) < orders and sim.env.now < HORIZON:
        yield sim.env.timeout(SAMPLE)
        snapshot = sim.trace.snapshot()   # one snapshot for the caption and the frame: most of a sample's cost
        sim.trace.frame(_caption(snapshot, orders), snapshot, replaying=False, cursor=None)
    sim.trace.frame(f"all {len(engine.closed)} orders completed; the queue is empty", replaying=False, cursor=None)


def _caption(s: dict, orders: int) -> str:
    workers, parts = s["workers"], []
    for status, label in (("deploying", "down for the deploy"), ("dead", "dead"), ("paused", "frozen (a zombie)")):
        names = [name for name, st, *_ in workers if st == status]
        if names:
            parts.append(f"{'every worker' if len(names) == len(workers) > 1 else ', '.join(names)} {label}")
    parts.append(f"{s['queued']} task{'s' * (s['queued'] != 1)} waiting" + (
        f" (oldest {s['oldest']:.1f}s)" if s["queued"] else ""))
    return "; ".join(parts + [f"{s['closed']}/{orders} orders completed"])


def _stats(sim: Sim, engine: Engine) -> dict:
    """The numbers the outcome lines print, counted from the engine, the frames and the world's log.
    A task waited "during the deploy" if its time in the queue overlaps the deploy's window."""
    deploy = [t for t, kind, *_ in engine.incidents if kind in ("deploy", "deployed")]
    window = (deploy[0], deploy[-1]) if deploy else None
    during, rest = [], []
    for taken, _, waited in engine.waits:
        (during if window and taken - waited <= window[1] and taken >= window[0] else rest).append(waited)
    last = [sim.history.read(wid)[-1].time for wid in engine.closed]
    return dict(deploy_window=window, finished_at=max(last, default=0.0),
                during=dict(waited=sum(w > SLOW for w in during), longest=max(during, default=0.0)),
                rest=dict(waited=sum(w > SLOW for w in rest), longest=max(rest, default=0.0)),
                leases_expired=sum(kind == "lease" for _, kind, *_ in engine.incidents),
                refused=[d["task"] for _, kind, _, d in engine.incidents if kind == "stale"],
                world_calls=sum(1 for m in sim.messages if m.src == "world"), world_effects=len(sim.world.log))


def outcome_lines(run) -> list[str]:
    x, c, faults = run.extra, run.controls, run.sim.faults.plan.workers
    n, w = c["orders"], c["workers"]
    charges, cents = run.world.statement(), run.world.statement_cents()
    once = cents == n * CENTS and sorted(Counter(e.order for e in charges).values()) == [1] * n
    lines = [f"orders: {x['completed']} of {n} completed by {w} worker{'s' * (w > 1)}, "
             f"the last at {x['finished_at']:g}s",
             f"statement: ${cents / 100:,.2f} ({len(charges)} charges) {'=' if once else 'instead of'} "
             f"{n} × ${CENTS / 100:.2f}" + (": one charge per order" if once else "")]
    window = x["deploy_window"]
    if window:
        how = ("rolling: one worker at a time stopped polling, finished its task, and its replacement polled"
               if c["deploy"] == "rolling" else "all at once: every worker stopped polling; their replacements polled")
        lines.append(f"deploy: {window[0]:g}s-{window[1]:g}s, {how} {DOWN:g}s later")
        lines.append(_waits("during the deploy", x["during"]))
    lines.append(_waits("the rest of the run" if window else "the whole run", x["rest"]))
    for f in faults:
        if isinstance(f, KillWorker):
            lines.append(f"kill: {f.worker} killed at {f.at:g}s, restarted {RESTART:g}s later with an empty cache")
        if isinstance(f, PauseWorker):
            lines.append(f"zombie: {f.worker} froze at {f.at:g}s for {f.seconds:g}s, longer than its {LEASE:g}s lease")
    if c["kill"] != "none" and not any(isinstance(f, KillWorker) for f in faults):
        lines.append(f"kill: there is no {c['kill']} among {w} worker{'s' * (w > 1)}; nobody was killed")
    repeats = x["world_calls"] - x["world_effects"]
    return lines + [
        f"leases run out: {x['leases_expired']} (the task went back in the queue for another worker)",
        f"stale completions rejected: {x['rejected']}" + (f" ({', '.join(x['refused'])})" if x["refused"] else ""),
        f"replays: {x['replays']} (a workflow task reached a worker without that workflow cached)",
        f"world: {x['world_calls']} calls for {x['world_effects']} effects "
        f"({repeats} repeat{'s' * (repeats != 1)} absorbed by idempotency keys)",
        f"outcome: {run.outcome}"]


def _waits(when: str, w: dict) -> str:
    return (f"schedule-to-start {when}: {w['waited']} task{'s' * (w['waited'] != 1)} waited over {SLOW:g}s "
            f"in the queue, the longest {w['longest']:.1f}s")


def so_far(run, frame) -> str:
    """What has happened by this frame, for a screen of many orders (the kit's line counts one order's
    history, which this scene does not show): orders completed, the card, the queue."""
    x, lines = frame.extra, run.world.statement(frame.effects)
    charges, queued = sum(e.cents > 0 for e in lines), x.get("queued", 0)
    return (f"{x.get('closed', 0)}/{run.controls['orders']} orders completed \u00b7 "
            f"${sum(e.cents for e in lines) / 100:,.2f} on the card, {charges:,} charge{'s' * (charges != 1)} \u00b7 "
            f"{queued} task{'s' * (queued != 1)} waiting")
