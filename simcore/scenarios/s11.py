"""Scene 11 · Versioning: the same workflow, a year later.

The shop's mugs are made to order: ORDER #1001 is charged and reserved, waits 7 days in the kiln,
ships, and 30 days later asks for a review (scene 08's timer). An order arrives every 12 hours.
On day 25, with 50 orders in flight, the shop deploys v2, which adds FraudCheck before ShipPackage.
At that moment the orders of the last week are still in the kiln, before the change point, and the rest
have shipped and sleep on the 30-day timer, past it. Ten more orders arrive after the deploy.

- naive:   v2's code replaces v1's on every worker. An order past the change point replays a history in
           which ShipPackage follows the kiln, against code that now asks for FraudCheck there: the
           workflow task fails (NON_DETERMINISTIC_ERROR) and the order is stuck, still running. Nobody
           notices on the day of the deploy: each one breaks when its review timer fires and a worker
           replays it. The orders still in the kiln replay without a difference and silently take the
           new path: they run FraudCheck.
- patched: `if (yield ctx.patched("fraud-check")):` is true where the code reaches it live (a marker is
           recorded: new orders, and the in-flight ones still in the kiln), true on replay where the
           marker is there, false where it is not (the orders that shipped under v1): 0 stuck.
- pinned:  workers carry a build id; every order stays on the build that started it, so v1 orders finish
           on v1 workers (kept alive until the last one closes) and v2 runs only new orders, unpatched.
- none:    no deploy: v1 runs on.

The four versions of the code are in `versions.py`. Before the deploy, the replay test of CI replays the in-flight histories against the new code (as
`python -m simcore history replay` does): it fails on the naive v2 and passes on the patched one.
"""
from __future__ import annotations

from .. import events as ev
from ..engine import Engine
from ..replayer import replay
from ..sim import Run, Sim
from ..trace import Recorder
from . import Control
from .s08 import day_of
from .versions import (ACTIVITIES, fraud_check, order_v1, order_v2_naive, order_v2_patched,  # noqa: F401
                       order_v3_deprecated)

NUMBER = 11
TITLE = "Versioning: the same workflow, a year later"
CENTS = 4200
DAY = 24 * 3600.0
EVERY = DAY / 2               # an order arrives every 12 hours
IN_FLIGHT, AFTER = 50, 10     # orders started before the deploy, and after it
DEPLOY = 25 * DAY             # day 25, 09:00
KILN, REVIEW = 7, 30          # days in the kiln before shipping; days after shipping before the review request
HORIZON = DEPLOY + (AFTER + 1) * EVERY + (KILN + REVIEW + 2) * DAY
CONTROLS = (
    Control("deploy", ("naive", "patched", "pinned", "none"), "naive",
            "how v2 (FraudCheck before ShipPackage) reaches the 50 orders in flight: its code replaces v1's, "
            "a patch marker, workers pinned to a build, or no deploy"),
)


V2 = {"naive": order_v2_naive, "patched": order_v2_patched, "pinned": order_v2_naive, "none": order_v1}


def order_ids() -> list[str]:
    return [f"order-{1001 + i}" for i in range(IN_FLIGHT + AFTER)]


class Fleet(Recorder):
    """One frame a day at 09:00 (and one at the deploy), each with every order's position; the engine's
    own incidents (timers fired, workers started) are summed into the next frame's caption, not framed."""

    def __init__(self, base: Recorder):
        super().__init__(base.now, base.effects, base.history, detail=False)
        self.engine, self.sampling = None, False

    def frame(self, caption: str, **changes):
        if self.sampling:
            return super().frame(caption, **changes)
        return self.state


class Scheduled:
    """Each order's activities scheduled so far, read from its history as it grows: a day's frame
    reads the events since the last one (the whole history again, 60 orders a day, was most of
    what the model itself cost)."""

    def __init__(self, history):
        self.history, self.seen = history, {}

    def __call__(self, wid: str) -> set:
        read, steps = self.seen.get(wid, (0, set()))
        events = self.history.read(wid, start=read + 1)
        steps.update(e.activity_type for e in events if isinstance(e, ev.ActivityTaskScheduled))
        self.seen[wid] = (read + len(events), steps)
        return steps


def position(engine, steps: set, wid: str) -> tuple:
    """(where the order is, whether it ran FraudCheck, its build): from the activities its history
    scheduled (`Scheduled`) and the engine."""
    fraud = "FraudCheck" in steps
    where = ("stuck" if wid in engine.stuck else "done" if wid in engine.closed else
             "shipped" if "ShipPackage" in steps else "kiln")
    return where, fraud, engine.pinned.get(wid, "")


def simulate(deploy: str = "naive", seed: int = 0) -> Run:
    sim = Sim(seed=seed)
    sim.world.stock["mug"] = IN_FLIGHT + AFTER
    sim.trace = trace = Fleet(sim.trace)
    engine = trace.engine = Engine(sim, [order_v1], ACTIVITIES, workers=2, pinned=deploy == "pinned")
    ids, v2 = order_ids(), V2[deploy]
    sim.watch = ids[0]
    for i, wid in enumerate(ids[:IN_FLIGHT]):
        engine.later(i * EVERY, engine.start, order_v1, wid, wid[6:], CENTS)
    for i, wid in enumerate(ids[IN_FLIGHT:]):
        engine.later(DEPLOY + (i + 1) * EVERY, engine.start, v2, wid, wid[6:], CENTS)
    at_deploy: dict = {}
    scheduled = Scheduled(sim.history)
    engine.later(DEPLOY, _before_deploy, sim, engine, v2, at_deploy, scheduled)
    if deploy != "none":
        engine.deploy([v2], at=DEPLOY, build="v2" if deploy == "pinned" else None)
    sim.env.process(_daily(sim, engine, ids, scheduled))
    sim.run(until=HORIZON)
    run = Run("11", dict(deploy=deploy), seed, sim, v2, ids[0], "stuck" if engine.stuck else "completed"
              if len(engine.closed) == len(ids) else "running", sim.history.read(ids[0]))
    run.histories, run.at_deploy = {wid: sim.history.read(wid) for wid in ids}, at_deploy
    c = counts(run, engine)
    run.extra = {k: len(v) for k, v in c.items()} | {   # plain data, as `simcore run --json` prints it
        "drained_at": [t for t, kind, *_ in engine.incidents if kind == "drained"],
        "replay_test_failed": sum(not r.ok for r in at_deploy["replay"].values())}
    run.engine = engine
    return run


def _before_deploy(sim, engine, v2, at_deploy, scheduled):
    """What is in flight at the deploy, and what the replay test says of the new code against it."""
    open_ = [wid for wid, _ in sim.history.workflows() if wid not in engine.closed]
    at_deploy["positions"] = {wid: position(engine, scheduled(wid), wid)[0] for wid in open_}
    at_deploy["histories"] = {wid: sim.history.read(wid) for wid in open_}
    at_deploy["replay"] = {wid: replay(v2, h) for wid, h in at_deploy["histories"].items()}


def _daily(sim, engine, ids, scheduled):
    seen = 0
    trace = sim.trace
    while sim.env.now < HORIZON - DAY:
        news = [(kind, text) for _, kind, text, _ in engine.incidents[seen:]]
        seen = len(engine.incidents)
        trace.sampling = True
        caption, kind = _caption(sim, engine, news)
        trace.frame(caption, kind=kind, extra=_snapshot(sim, engine, ids, scheduled))
        trace.sampling = False
        yield sim.env.timeout(DAY if sim.env.now else 3600.0)   # then daily at 10:00, an hour after a deploy


def _snapshot(sim, engine, ids, scheduled) -> dict:
    started = {wid for wid, _ in sim.history.workflows()}
    return {"orders": [position(engine, scheduled(wid), wid) if wid in started else ("", False, "")
                       for wid in ids],
            "workers": [(w.name, _code_of(engine, w), w.status) for w in engine.workers.values()],
            "stuck": len(engine.stuck), "closed": len(engine.closed)}


def _code_of(engine, w) -> str:
    """The version of the code a worker runs: its build's (a deploy that is not pinned swaps the code
    under the same build, so the build's name would still say v1)."""
    return "v1" if engine.code.get(w.build, engine.workflows).get(order_v1.name) is order_v1 else "v2"


def _caption(sim, engine, news) -> tuple[str, str]:
    """The day's frame: its caption, and its kind (the day's incident, if it had one)."""
    day = day_of(sim.env.now).split(",")[0]
    stuck = [text for kind, text in news if kind == "stuck"]
    if stuck:
        return f"STUCK on {day}: {len(stuck)} more order{'s' * (len(stuck) > 1)}; {stuck[-1][7:]}", "stuck"
    code = [text for kind, text in news if kind == "code"]
    if code:
        return f"DEPLOY on {day}: {code[-1]}", "code"
    drained = [text.split(":")[0] for kind, text in news if kind == "drained"]
    if drained:
        return f"{day}: the last v1 order has closed: the v1 workers stop ({', '.join(drained)})", ""
    open_ = len({wid for wid, _ in sim.history.workflows()}) - len(engine.closed)
    return f"{day}: {open_} orders in flight, {len(engine.closed)} done, {len(engine.stuck)} stuck", ""


def counts(run, engine=None) -> dict:
    """Which orders were where at the deploy, and which ran FraudCheck, recorded a patch marker, are stuck,
    closed: sets of workflow ids, from the histories and the engine."""
    e = engine or run.engine
    fraud = {wid for wid, h in run.histories.items()
             if any(getattr(x, "activity_type", "") == "FraudCheck" for x in h)}
    markers = {wid for wid, h in run.histories.items() if any(isinstance(m, ev.MarkerRecorded) for m in h)}
    pos = run.at_deploy["positions"]
    return dict(kiln={w for w, p in pos.items() if p == "kiln"}, shipped={w for w, p in pos.items() if p == "shipped"},
                new=set(order_ids()[IN_FLIGHT:]), fraud=fraud, markers=markers, stuck=set(e.stuck), closed=set(e.closed))


def outcome_lines(run) -> list[str]:
    c, x, deploy = counts(run), run.extra, run.controls["deploy"]
    w, n, tested = run.world, IN_FLIGHT + AFTER, run.at_deploy["replay"]
    failed = [wid for wid, r in tested.items() if not r.ok]
    lines = [f"in flight at the deploy (day 25): {len(c['kiln']) + len(c['shipped'])} orders: {len(c['kiln'])} in "
             f"the kiln, before the change point; {len(c['shipped'])} shipped, past it, asleep on the 30-day timer"]
    if deploy == "pinned":
        lines.append("replay test before the deploy: not what protects a pinned deploy; no v1 history is ever "
                     "replayed by v2 code")
    elif deploy != "none":
        first = tested[failed[0]].error if failed else None
        lines.append(f"replay test before the deploy: {len(failed)} of {len(tested)} in-flight "
                     f"histories fail against the {deploy} v2" + (f" (first: {first})" if first else ""))
    if c["stuck"]:
        days = sorted(next(e.time for e in run.histories[wid] if isinstance(e, ev.WorkflowTaskFailed))
                      for wid in c["stuck"])
        lines.append(f"stuck: {len(c['stuck'])} orders, each with one WorkflowTaskFailed (NON_DETERMINISTIC_ERROR) "
                     f"and still running; the first on {day_of(days[0]).split(',')[0]}, the last on "
                     f"{day_of(days[-1]).split(',')[0]}, as each review timer fired")
    else:
        lines.append("stuck: 0")
    took = lambda group: len(group & c["fraud"])   # noqa: E731
    lines.append(f"FraudCheck ran for {len(c['fraud'])} orders: {took(c['kiln'])} of the {len(c['kiln'])} in the "
                 f"kiln at the deploy, {took(c['shipped'])} of the {len(c['shipped'])} shipped, "
                 f"{took(c['new'])} of the {len(c['new'])} new")
    if deploy == "patched":
        lines.append(f"patch markers (core_patch, fraud-check) recorded: {len(c['markers'])}; the "
                     f"{len(c['shipped'] - c['markers'])} without one replayed the old path")
    if deploy == "pinned":
        v1 = [name for name, build, _ in run.frames[-1].extra["workers"] if build == "v1"]
        drained = x["drained_at"]
        lines.append(f"v1 workers ({', '.join(v1)}) kept alive until {day_of(drained[0]).split(',')[0]}, "
                     f"{(drained[0] - DEPLOY) / DAY:.1f} days after the deploy, then drained" if drained
                     else "v1 workers: still running at the end")
    charges = w.statement()
    lines.append(f"card: {len(charges)} charges, ${w.statement_cents() / 100:,.2f}: "
                 + ("one per order" if len({e.order for e in charges}) == len(charges) == n else "NOT one per order"))
    lines.append(f"orders completed: {len(c['closed'])} of {n}" + (f", {len(c['stuck'])} stuck" if c["stuck"] else ""))
    return lines


# -- the replay test of CI, and the patch's life --------------------------------------------------
FIXTURES = "tests/fixtures/v1-histories"   # what `v1_histories()` writes, kept for CI's replay test


def v1_histories() -> dict[str, list]:
    """Histories v1 wrote, as CI would download them before a deploy: two orders in flight on day 25
    (one shipped, one in the kiln) and one that v1 ran to the end."""
    flight, whole = simulate("naive").at_deploy["histories"], simulate("none").histories
    return {"order-1001-shipped.json": flight["order-1001"], "order-1050-in-the-kiln.json": flight["order-1050"],
            "order-1001-completed.json": whole["order-1001"]}


def write_v1_histories(folder: str = FIXTURES) -> list[str]:
    """Write `v1_histories()` as Temporal history JSON, the format both replayers read."""
    import json
    from pathlib import Path

    from ..temporal import export
    Path(folder).mkdir(parents=True, exist_ok=True)
    paths = []
    for name, history in v1_histories().items():
        path = Path(folder) / name
        path.write_text(json.dumps(export(history), indent=1) + "\n", encoding="utf-8")
        paths.append(str(path))
    return paths


CODES = (("v1", order_v1), ("v2 naive", order_v2_naive), ("v2 patched", order_v2_patched),
         ("v3 deprecate_patch", order_v3_deprecated), ("v4 call removed", order_v2_naive))


def lifecycle_histories() -> dict[str, list]:
    """One finished history of each kind the patch's life leaves behind: the old path (no marker), the
    patched path (a marker), and the path v3 writes (a deprecated marker)."""
    patched = simulate("patched").histories
    sim = Sim()
    engine = Engine(sim, [order_v3_deprecated], ACTIVITIES)
    engine.start(order_v3_deprecated, "order-2001", "2001", CENTS)
    sim.run()
    return {"old path (no marker)": patched["order-1001"], "patched (marker)": patched["order-1060"],
            "v3's (deprecated marker)": sim.history.read("order-2001")}


def lifecycle() -> dict[str, dict[str, bool]]:
    """Which code replays which history: code name -> history kind -> replays."""
    histories = lifecycle_histories()
    return {name: {kind: replay(code, h).ok for kind, h in histories.items()} for name, code in CODES}


def so_far(run, frame) -> str:
    """What the player's "so far" line says at a frame: the orders, not one order's card."""
    orders = frame.extra.get("orders", [])
    where = [w for w, _, _ in orders]
    return (f"{sum(map(bool, where))} orders started, {where.count('done')} completed, {where.count('stuck')} stuck, "
            f"{sum(f for _, f, _ in orders)} ran FraudCheck; the card: {len(run.world.statement(frame.effects))} "
            f"charges")
