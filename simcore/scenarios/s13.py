"""Scene 13 · Design canvas: choose the right engine, then prove it under chaos.

Three parts, each run on simcore (control `part`):
- canvas: ORDER #1001 with scene 08's 30-day review wait and scene 09's cancel, as workflow code, as a
  DAG and as a state machine (`canvas.py`), under the same fault; and the workload cards (`cards.py`),
  whose verdicts come from data.
- shards: hosts own history shards (`simcore.shards`); kill a host and its shards move; freeze one past
  its membership timeout and its late writes are refused by the range-id fence.
- chaos: 1,000 orders through random faults under five strategies (`simcore.chaos`); one order of a
  row, the first that went wrong, runs again from its seed, frame for frame.
"""
from __future__ import annotations

from .. import chaos, shards
from ..sim import Run, Sim
from ..trace import Frame
from . import Control, canvas, cards
from .s08 import day_of

NUMBER = 13
TITLE = "Design canvas: choose the right engine, then prove it under chaos"
DAY = canvas.DAY
TIMEOUTS = {"31 days": 31 * DAY, "7 days": 7 * 86400.0}
HOST_FAULTS = {"kill and zombie": ("host-2", "host-3"), "kill host-2": ("host-2", None),
               "zombie host-3": (None, "host-3"), "none": (None, None)}
RATES = {"default": chaos.Rates(), "gentle": chaos.Rates().scaled(0.2), "harsh": chaos.Rates().scaled(3)}
CANVAS = (
    Control("fault", ("none", "crash_after_charge", "kill_during_wait"), "crash_after_charge",
            "the same fault for all three: the process dies after the card is charged, before anything records "
            "it; or the process that runs the order is killed on day 8 of the wait"),
    Control("cancel", ("none", "day 10"), "day 10", "the customer cancels on day 10 of the 30-day wait, at 22:00"),
    Control("sensor_timeout", tuple(TIMEOUTS), "31 days", "the DAG's sensor timeout: set to 31 days, or left at "
            "Airflow's default ([sensors] default_timeout, 7 days)"),
)
SHARDS = (
    Control("hosts", tuple(HOST_FAULTS), "kill and zombie", "host-2 is killed at 8 s; host-3 freezes at 16 s for "
            "12 s, past its 5 s membership timeout (a zombie); or one of them, or neither"),
    Control("fence", (True, False), True, "every write checks the shard's range id (Temporal's fence), or not"),
)
CHAOS = (
    Control("rates", tuple(RATES), "default", "how often each fault hits an order"),
    Control("replay", tuple(chaos.ROWS), "durable, no keys", "the row whose first order that went wrong runs "
            "again from its seed, frame for frame"),
    Control("orders", (1000, 100), 1000, "orders on the board"),
)
CONTROLS = (Control("part", ("canvas", "shards", "chaos"), "canvas", "which part of the scene"),
            *CANVAS, *SHARDS, *CHAOS)
RECORDS = {"workflow": "events in its history", "dag": "rows in its metadata tables",
           "state_machine": "events in its history"}
PARTS = {"canvas": CANVAS, "shards": SHARDS, "chaos": CHAOS}


def shown(controls: dict) -> dict:
    """The controls that matter to the part chosen: the part, and its own."""
    part = controls.get("part", "canvas")
    return {"part": part, **{c.name: controls[c.name] for c in PARTS[part] if c.name in controls}}


def simulate(part="canvas", fault="crash_after_charge", cancel="day 10", sensor_timeout="31 days",
             hosts="kill and zombie", fence=True, rates="default", replay="durable, no keys", orders=1000,
             seed=0) -> Run:
    if part == "shards":
        return simulate_shards(hosts, fence, seed)
    if part == "chaos":
        return simulate_chaos(rates, replay, orders, seed)
    return simulate_canvas(fault, cancel, sensor_timeout, seed)


# -- the canvas -----------------------------------------------------------------------------------------
def simulate_canvas(fault="crash_after_charge", cancel="day 10", sensor_timeout="31 days", seed=0):
    controls = dict(part="canvas", fault=fault, cancel=cancel, sensor_timeout=sensor_timeout)
    lanes = canvas.run_all(fault, cancel != "none", seed, TIMEOUTS[sensor_timeout])
    sim = Sim(seed=seed)
    for lane in lanes.values():   # one log in time order: what the three cards were charged, and for what
        sim.world.log.extend(lane.sim.world.log)
    sim.world.log.sort(key=lambda e: e.t)
    merged = sorted(((f.t, n, i, m) for n, (m, lane) in enumerate(lanes.items())
                     for i, f in enumerate(lane.sim.trace.frames)))
    at = {m: 0 for m in lanes}
    for t, _, i, m in merged:
        at[m] = i
        f = lanes[m].sim.trace.frames[i]
        effects = sum(lanes[k].sim.trace.frames[j].effects for k, j in at.items())
        sim.trace.frames.append(Frame(t=t, caption=f"{canvas.NAMES[m]}: {f.caption}", step=f.step, skull=f.skull,
                                      kind=f.kind, effects=min(effects, len(sim.world.log)),
                                      extra={"lane": m, "at": dict(at)}))
    run = Run("13", controls, seed, sim, None, "order-1001", "/".join(lane.outcome for lane in lanes.values()))
    run.lanes = lanes
    run.extra = {"models": {m: {"outcome": lane.outcome, "records": lane.records,
                                "effects": dict(sorted(lane.sim.world.effects().items())),
                                "charged_cents": lane.sim.world.statement_cents(), **(
                                    {"pokes": lane.extra["pokes"]} if m == "dag" else {})}
                            for m, lane in lanes.items()},
                 "cards": {c: cards.recommend(c) for c in cards.CARDS}}
    return run


def lane_frame(run, frame, model):
    """The frame of one model's own run that is showing at this canvas frame."""
    return run.lanes[model].sim.trace.frames[frame.extra["at"][model]]


def dying_step_of(run, model, lane_frame):
    """At a lane's skull: the step that lane was at before it died."""
    frames = run.lanes[model].sim.trace.frames
    i = next(i for i, f in enumerate(frames) if f is lane_frame)
    return next((f.step for f in reversed(frames[:i]) if f.step), None)


def _money(cents):
    return f"${cents / 100:,.2f}"


def canvas_lines(run) -> list[str]:
    lanes, out = run.lanes, []
    for m, lane in lanes.items():
        w = lane.sim.world
        charges = sum(e.cents > 0 for e in w.statement())
        effects = ", ".join(f"{k} x{n}" for k, n in sorted(w.effects().items()))
        line = (f"{canvas.NAMES[m]}: {lane.outcome}; card {_money(w.statement_cents())} ({charges} charge"
                f"{'s' * (charges != 1)}); {effects}; {lane.records} {RECORDS[m]}. ")
        out.append(line + _how(m, lane, run.controls))
    return out + cards.lines()


def _how(model, lane, controls):
    w, cancelled = lane.sim.world, controls["cancel"] != "none"
    label = next((e for e in w.log if e.kind in ("SendReviewRequestEmail", "SendReturnLabelEmail")), None)
    when = f" ({label.kind} on {_day(label.t)})" if label else ""
    if model == "workflow":
        return ("The wait is a durable timer" + (", cancelled by the signal recorded on day 10: the code sends a "
                "return label at once" if cancelled else "") + when + ".")
    if model == "dag":
        if lane.extra["timeout"]:
            return (f"The sensor poked {lane.extra['pokes']} times and failed: {lane.extra['timeout']}; the "
                    "review and the return label are upstream_failed.")
        return (f"The wait is a sensor: {lane.extra['pokes']} pokes, one every {canvas.POKE / 3600:g} h" + (
            f"; the cancel is a row it reads at its next poke, {_late(label)} after it was written" if cancelled and label
            else "") + when + ".")
    return ("The wait is a Wait state, a timestamp on record" + (
        "; the cancel is StopExecution from outside: ExecutionAborted, no Catch runs, no return label, and the card "
        "keeps its charge" if cancelled and lane.outcome == "aborted" else "") + when + ".")


def _late(effect) -> str:
    hours = (effect.t - canvas.CANCEL_AT) / 3600
    return f"{hours:.1f} h"


def _day(t):
    """As scenes 08 and 09 say it: the calendar day since the order's, and the time (t=0 is 09:00)."""
    return day_of(t)


# -- the shards -------------------------------------------------------------------------------------------
def simulate_shards(hosts="kill and zombie", fence=True, seed=0):
    kill, zombie = HOST_FAULTS[hosts]
    result = shards.simulate(kill=kill, zombie=zombie, fence=fence, seed=seed)
    sim = Sim(seed=seed)
    for snap in result["frames"]:
        sim.trace.frames.append(Frame(t=snap["t"], caption=snap["note"] or f"t={snap['t']:g}s",
                                      skull=snap["kind"] == "crash",   # a host killed: its skull is on the ring
                                      kind=snap["kind"], extra={"snap": snap}))
    lost = result["counts"]["workflows_lost"]
    run = Run("13", dict(part="shards", hosts=hosts, fence=fence), seed, sim, None, "",
              "lost" if lost else "completed")
    run.shards = result
    run.extra = {"shards": {k: result["counts"][k] for k in ("writes_accepted", "writes_refused", "shard_moves",
                                                             "workflows_completed", "workflows_lost")},
                 "ranges_written_by_two_hosts": result["db_check"]["ranges_written_by_two_hosts"]}
    return run


# -- the chaos scoreboard --------------------------------------------------------------------------------
_BOARDS: dict = {}


def board(rates="default", orders=1000, seed=0, progress=None) -> list[dict]:
    """The whole board, every row; kept, so that choosing another row to replay does not run it again.
    `rates`: a preset's name, or a `chaos.Rates` of your own."""
    if not isinstance(rates, chaos.Rates) and rates not in RATES:
        raise ValueError(f"rates={rates!r}: name a preset ({', '.join(RATES)}) or pass chaos.Rates(crash=0.2, ...)")
    key = (rates, orders, seed)
    if key not in _BOARDS:
        if len(_BOARDS) >= 8:
            _BOARDS.clear()
        _BOARDS[key] = chaos.scoreboard(orders, seed, RATES.get(rates, rates), progress=progress)
    return _BOARDS[key]


def replayed_order(row: dict) -> int:
    """The first order of the row charged twice after a lost record (scene 07's hole), else the first that
    went wrong at all (double charge, lost, stuck), else order 0."""
    found = [row[k] for k in ("first_double", "first_lost", "first_stuck") if row[k] is not None]
    return row["first_lost_record"] if row["first_lost_record"] is not None else min(found, default=0)


def simulate_chaos(rates="default", replay="durable, no keys", orders=1000, seed=0):
    rows = board(rates, orders, seed)
    row = next(r for r in rows if r["row"] == replay)
    i = replayed_order(row)
    run = chaos.run_order(replay, seed, i, RATES[rates], frames=True)
    run.scene, run.controls = "13", dict(part="chaos", rates=rates, replay=replay, orders=orders)
    run.board, run.order = [dict(r) for r in rows], i
    run.extra = {"board": run.board, "replayed_order": i, "order_faults": [chaos.describe(f) for f in _faults(seed, i, rates)]}
    return run


def replay_lines(row="durable, no keys", rates="default", orders=1000, seed=0) -> list[str]:
    """A row's first order that went wrong, replayed from its seed twice: its frames, and whether they agree."""
    a, b = (simulate_chaos(rates, row, orders, seed) for _ in range(2))
    return ([f"order {a.order} under '{row}', faults: {'; '.join(a.extra['order_faults']) or 'none'}"]
            + [f"  t={f.t:7.2f}s  {'SKULL ' if f.skull else ''}{f.caption}" for f in a.frames]
            + [f"replayed twice from its seed: {len(a.frames)} frames, frame for frame the same: {a.frames == b.frames}"])


def _faults(seed, i, rates):
    plan = chaos.faults_for(seed, i, RATES[rates])
    return [*plan.crashes, *plan.calls, *plan.workers]


def chaos_lines(run) -> list[str]:
    out = chaos.table(run.board)
    t = chaos.tally(run)
    what = "a double charge" if t["double"] else "lost" if t["lost"] else "stuck" if t["stuck"] else "nothing wrong"
    faults = "; ".join(run.extra["order_faults"]) or "none"
    out.append(f"Replayed from its seed: {run.workflow_id} under '{run.controls['replay']}' (faults: {faults}): "
               f"{what}; {t['charges']} charge{'s' * (t['charges'] != 1)}, {t['effects']} effects, "
               f"{len(run.frames)} frames. The same seed gives the same frames, every time.")
    return out


# -- what every scene defines ----------------------------------------------------------------------------
def outcome_lines(run) -> list[str]:
    part = run.controls["part"]
    if part == "shards":
        return shards.outcome_lines(run.shards)
    if part == "chaos":
        return chaos_lines(run)
    return canvas_lines(run)


def so_far(run, frame) -> str:
    part = run.controls["part"]
    if part == "shards":
        c = frame.extra["snap"]["counts"]
        return (f"{c.get('writes_accepted', 0):,} writes accepted, {c.get('writes_refused', 0):,} refused, "
                f"{c.get('shard_moves', 0)} shard moves")
    if part == "chaos":
        w = run.world
        return f"{run.workflow_id}: {_money(w.statement_cents(frame.effects))} on the card, {frame.history} events"
    parts = []
    for m in canvas.MODELS:
        f = lane_frame(run, frame, m)
        w = run.lanes[m].sim.world
        parts.append(f"{canvas.NAMES[m].split(' (')[0]}: {_money(w.statement_cents(f.effects))}")
    return " · ".join(parts)
