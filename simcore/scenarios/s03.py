"""Scene 03 · Replay: re-run the code against the history.

After a crash the durable engine does not jump to "step 3": a fresh worker runs the workflow from
line one and answers each step from the history, until the history runs out and the code goes live.
That only works if the code decides the same things on every run. Here the order ships express when
it is handled before noon: read from the machine's clock (`wall_clock`), a crash at 11:59:57 and a
replay at 12:00:07 make the code ask for a different step than the one on record, and the engine
stops with a non-determinism error; read through `ctx.now()` (the time of the current workflow task,
which its WorkflowTaskStarted event records), it replays cleanly.

The clock starts at 11:59:50 so that the first pass is in the morning and every recovery is in the
afternoon. The scoreboard runs the engine once per crash point and strategy; nothing is tabulated.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from .. import events as ev
from .. import orders
from ..faults import FaultPlan
from ..sim import Sim
from ..strategies import run_workflow
from ..workflow import activity, workflow
from ..world import wall_clock
from . import Control
from .lines import statement_line

NUMBER = 3
TITLE = "Replay: re-run the code against the history"
EPOCH = datetime(2026, 11, 24, 11, 59, 50)   # ten seconds before noon
WID = f"order-{orders.ORDER_ID}"


@activity("ShipExpress", seconds=3)
def ship_express(act, order_id):
    return act.world.ship(order_id, "express")


@activity("ShipStandard", seconds=3)
def ship_standard(act, order_id):
    return act.world.ship(order_id, "standard")


@workflow(name="fulfill_order")
def fulfill_wall_clock(ctx, order_id, cents):
    charge = yield ctx.activity(orders.charge_card, order_id, cents)
    hold = yield ctx.activity(orders.reserve_inventory, order_id)
    express = wall_clock().hour < 12           # the machine's clock: a replay reads it again
    if express:
        tracking = yield ctx.activity(ship_express, order_id)
    else:
        tracking = yield ctx.activity(ship_standard, order_id)
    yield ctx.activity(orders.send_confirmation_email, order_id)
    return f"order {order_id} shipped {'express' if express else 'standard'}"


@workflow(name="fulfill_order")
def fulfill_ctx_now(ctx, order_id, cents):
    charge = yield ctx.activity(orders.charge_card, order_id, cents)
    hold = yield ctx.activity(orders.reserve_inventory, order_id)
    now = ctx.now()                            # this workflow task's time: the same on replay
    express = now.hour < 12
    if express:
        tracking = yield ctx.activity(ship_express, order_id)
    else:
        tracking = yield ctx.activity(ship_standard, order_id)
    yield ctx.activity(orders.send_confirmation_email, order_id)
    return f"order {order_id} shipped {'express' if express else 'standard'}"


CODE = {"wall_clock": fulfill_wall_clock, "ctx_now": fulfill_ctx_now}
STEPS = ("ChargeCard", "ReserveInventory", "ShipExpress", "ShipStandard", "SendConfirmationEmail")
ACTIVITIES = (orders.charge_card, orders.reserve_inventory, ship_express, ship_standard,
              orders.send_confirmation_email)
# The first pass is always before noon, so the shipping step a crash can follow is ShipExpress.
CRASH_POINTS = ("ChargeCard", "ReserveInventory", "ShipExpress", "SendConfirmationEmail")

CONTROLS = (
    Control("strategy", ("cron", "durable"), "durable",
            "cron retry: re-run unfinished orders from line one every minute; durable execution: replay the history"),
    Control("crash_after", ("none",) + CRASH_POINTS, "ShipExpress", "the process dies right after this step"),
    Control("code", tuple(CODE), "wall_clock",
            "how the workflow reads the time: the machine's clock, or the replay-safe ctx.now()"),
)


def simulate(strategy: str = "durable", crash_after: str = "ShipExpress", code: str = "wall_clock",
             seed: int = 0):
    controls = {"strategy": strategy, "crash_after": crash_after, "code": code}
    sim = Sim(seed=seed, faults=FaultPlan.crash_after(crash_after), epoch=EPOCH)
    return run_workflow(strategy, CODE[code], ACTIVITIES, [orders.ORDER_ID, orders.CENTS], wid=WID, sim=sim,
                        scene="03", controls=controls)


def clock_read(history: list) -> ev.WorkflowTaskStarted | None:
    """The workflow task in which the code read the clock and chose its shipping step (the task
    whose completion scheduled it): its start is what `ctx.now()` returned, then and on every replay."""
    ship = next((e for e in history if isinstance(e, ev.ActivityTaskScheduled) and e.activity_type.startswith("Ship")),
                None)
    done = ship and next((e for e in reversed(history[:ship.event_id - 1]) if isinstance(e, ev.WorkflowTaskCompleted)),
                         None)
    return history[done.started_event_id - 1] if done else None


def steps(run) -> tuple[int, int]:
    """(answered from history, run against the world). Each activity here makes exactly one effect,
    so for cron, which has no engine counts, the world's log counts the steps that ran."""
    return run.extra.get("steps_replayed", 0), run.extra.get("steps_executed", len(run.world.log))


def dollars(cents: int) -> str:
    return f"${cents / 100:.2f}"


def wall_at(run, t: float) -> datetime:
    """Simulated seconds as the simulated machine's wall clock reads them."""
    return run.sim.epoch + timedelta(seconds=t)


def clock_at(run, t: float) -> str:
    return wall_at(run, t).strftime("%H:%M:%S")


def outcome_lines(run) -> list[str]:
    replayed, executed = steps(run)
    shipped = [e.ref.split()[-1] for e in run.world.log if e.kind == "ShipPackage"]
    emailed = run.world.effects().get("SendConfirmationEmail", 0)
    lines = [statement_line(run),
             f"shipped: {', '.join(shipped) or 'nothing'}; confirmation emails: {emailed}",
             f"steps: {replayed} replayed from history, {executed} executed"]
    if run.sim.faults.fired:
        crashed = run.sim.faults.fired[0][0]
        skull = next(i for i, f in enumerate(run.frames) if f.skull)
        # the order is back in a process at the first frame after the skull that has RAM again
        back = next((f.t for f in run.frames[skull + 1:] if f.ram is not None), None)
        how = "replay" if run.controls.get("strategy") == "durable" else "cron re-run"
        lines.append(f"clock: crash at {clock_at(run, crashed)}, {how} at "
                     f"{clock_at(run, back) if back is not None else 'never'}")
    if run.outcome == "nondeterminism":
        lines += ["outcome: nondeterminism (stuck, not silently wrong)", f"error: {run.error}"]
    else:
        lines.append(f"outcome: {run.outcome}")
    return lines


@lru_cache(maxsize=8)
def scoreboard(code: str = "ctx_now", seed: int = 0) -> tuple[dict, ...]:
    """Cron retry vs replay, for every crash point, each cell from its own run of the engine."""
    rows = []
    for crash in ("none",) + CRASH_POINTS:
        row = {"crash_after": crash}
        for strategy in ("cron", "durable"):
            run = simulate(strategy=strategy, crash_after=crash, code=code, seed=seed)
            replayed, executed = steps(run)
            row[strategy] = {"cents": run.world.statement_cents(), "replayed": replayed,
                             "executed": executed, "outcome": run.outcome}
        rows.append(row)
    return tuple(rows)


def scoreboard_lines(code: str = "ctx_now", seed: int = 0) -> list[str]:
    """The scoreboard as plain text: what the notebook prints and nbval checks."""
    out = [f"scoreboard, code={code}: cron retry | replay (durable)",
           f"{'crash after':<22} {'$':>7} {'steps':>5} {'outcome':<10} | {'$':>7} {'replayed':>8} "
           f"{'executed':>8} outcome"]
    for row in scoreboard(code, seed):
        c, d = row["cron"], row["durable"]
        out.append(f"{row['crash_after']:<22} {dollars(c['cents']):>7} {c['executed']:>5} {c['outcome']:<10} | "
                   f"{dollars(d['cents']):>7} {d['replayed']:>8} {d['executed']:>8} {d['outcome']}")
    return out
