"""The chaos scoreboard: many orders through random faults, under each way of running them.

Each order is a simulation of its own, seeded: order `i` of a board with seed `s` draws its faults
from `Random(f"chaos/{s}/{i}")`, so every strategy meets the same faults, and any order, or any row,
runs again from its seed to the same outcome, frame for frame (deterministic simulation testing).

The faults, each with its own rate per order:
- crash:      the process dies at a step: before the world acts, after it acted but before anything
              recorded it, or after the step's result is in the code's hands;
- lost:       a step's response is lost on the network (the caller times out; did it happen?);
- duplicate:  a step's request is delivered twice (a retrying layer below resent it);
- worker_kill, host_kill: kill -9 of the worker, or the machine it runs on (both workers) at a moment
              while the order runs; in plain code the process that is running then dies;
- redeploy:   the workers are replaced (the one in hand finishes first); a plain process is stopped.
What is counted for each order: charges (more than one is a double charge), whether it completed,
lost (not completed, and nothing on record will run it again) or stuck (its history is open: the
engine has it, and a person must look), and its effects.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from .faults import WHEN, CallFault, Crash, FaultPlan, KillWorker, Redeploy
from .orders import ACTIVITIES, CENTS, KEYED_ACTIVITIES, STEPS, fulfill_order
from .sim import Sim
from .strategies import run_workflow

# the rows: a name, the strategy that runs the order, and its activities (with keys or without)
ROWS = {"plain": ("plain", ACTIVITIES), "cron retry": ("cron", ACTIVITIES), "checkpoint (02)": ("checkpoint", ACTIVITIES),
        "durable, no keys": ("durable", ACTIVITIES), "durable, stable keys": ("durable", KEYED_ACTIVITIES)}
HORIZON = 3600.0   # an hour of simulated time per order: ORDER #1001 takes 7 s when nothing goes wrong
WORKERS = 2
SPAN = 8.0         # a kill or a deploy lands in the first SPAN seconds, while the order runs
CHARGE = STEPS[0]


@dataclass(frozen=True)
class Rates:
    """The chance that an order meets each kind of fault (0 to 1)."""
    crash: float = 0.10
    lost: float = 0.10
    duplicate: float = 0.05
    worker_kill: float = 0.05
    host_kill: float = 0.02
    redeploy: float = 0.05

    def scaled(self, k: float) -> Rates:
        """Every rate times `k` (at most 1)."""
        return Rates(**{name: min(1.0, round(p * k, 6)) for name, p in asdict(self).items()})

    def __post_init__(self):
        for name, p in asdict(self).items():
            if not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise ValueError(f"rate {name}={p!r}: a rate is a chance per order, from 0 to 1")


def faults_for(seed: int, i: int, rates: Rates = Rates()) -> FaultPlan:
    """The faults order `i` meets on a board with this seed: the same for every strategy."""
    rng = random.Random(f"chaos/{seed}/{i}")
    crashes, calls, workers = [], [], []
    if rng.random() < rates.crash:
        crashes.append(Crash(rng.choice(STEPS), rng.choice(WHEN)))
    for kind in ("lost", "duplicate"):
        if rng.random() < getattr(rates, kind):
            calls.append(CallFault(rng.choice(STEPS), "response_lost" if kind == "lost" else "duplicate"))
    if rng.random() < rates.worker_kill:
        workers.append(KillWorker("worker-1", round(rng.uniform(0, SPAN), 2)))
    if rng.random() < rates.host_kill:
        at = round(rng.uniform(0, SPAN), 2)
        workers += [KillWorker(f"worker-{n + 1}", at) for n in range(WORKERS)]
    if rng.random() < rates.redeploy:
        workers.append(Redeploy(round(rng.uniform(0, SPAN), 2), 30.0, rolling=False))
    return FaultPlan(tuple(crashes), tuple(sorted(workers, key=lambda f: f.at)), tuple(calls))


def describe(fault) -> str:
    """A fault in a few words: "ChargeCard: request delivered twice", "worker-1 killed at 3.2 s"."""
    if isinstance(fault, Crash):
        return f"{fault.step}: the process crashes {fault.when.replace('_', ' ')}"
    if isinstance(fault, CallFault):
        return f"{fault.step}: " + ("response lost" if fault.kind == "response_lost" else "request delivered twice")
    if isinstance(fault, KillWorker):
        return f"{fault.worker} killed at {fault.at:g} s"
    return f"a redeploy at {fault.at:g} s"


def run_order(row: str, seed: int, i: int, rates: Rates = Rates(), frames: bool = False):
    """Order `i` of the board under one row's strategy: a `Run`, with every frame if `frames`."""
    if row not in ROWS:
        raise ValueError(f"no row {row!r}; rows: {', '.join(ROWS)}")
    strategy, activities = ROWS[row]
    sim = Sim(seed=seed * 100_003 + i, faults=faults_for(seed, i, rates))
    sim.trace.detail = frames
    options = {"workers": WORKERS} if strategy == "durable" else {}
    return run_workflow(strategy, fulfill_order, activities, (f"{1001 + i}", CENTS), wid=f"order-{1001 + i}",
                        sim=sim, scene="13", horizon=HORIZON, **options)


def tally(run) -> dict:
    """What one order came to: its charges, and completed, lost or stuck."""
    charges = sum(e.cents > 0 for e in run.world.statement())
    done = run.workflow_id in run.sim.done
    stuck = not done and run.outcome in ("running", "nondeterminism", "failed")
    return {"charges": charges, "double": charges > 1, "done": done, "stuck": stuck, "lost": not done and not stuck,
            "effects": sum(run.world.effects().values())}


def score_row(row: str, seed: int, orders: int, rates: Rates = Rates(), every: bool = False) -> dict:
    """One row of the board, counted over orders 0 .. orders - 1. An order's outcome is a function of
    the faults it meets (its seed names ids, not outcomes: tests/test_chaos.py checks it), so each
    distinct fault plan runs once, as the first order that met it; `every=True` runs every order."""
    out = {"row": row, "orders": 0, "double_charges": 0, "lost_record_doubles": 0, "lost": 0, "stuck": 0,
           "completed": 0, "effects": 0, "runs": 0, "first_double": None, "first_lost_record": None,
           "first_lost": None, "first_stuck": None}
    ran: dict = {}
    for i in range(orders):
        plan = faults_for(seed, i, rates)
        if every or plan not in ran:
            ran[plan] = tally(run_order(row, seed, i, rates))
            out["runs"] += 1
        t = ran[plan]
        lost_record = t["double"] and not any(f.kind == "duplicate" for f in plan.calls)
        out["orders"] += 1
        out["effects"] += t["effects"]
        out["completed"] += t["done"]
        out["lost_record_doubles"] += lost_record
        for key, what, hit in (("double_charges", "double", t["double"]), ("lost", "lost", t["lost"]),
                               ("stuck", "stuck", t["stuck"]), (None, "lost_record", lost_record)):
            if hit:
                if key:
                    out[key] += 1
                if out["first_" + what] is None:
                    out["first_" + what] = i
    return out


def scoreboard(orders: int = 1000, seed: int = 0, rates: Rates = Rates(), progress=None,
               every: bool = False) -> list[dict]:
    """Every row over the same `orders` orders; `progress(done, total)` after each row."""
    if not isinstance(orders, int) or isinstance(orders, bool) or orders < 1:
        raise ValueError(f"orders={orders!r}: give a whole number of orders, at least 1")
    board = []
    for n, row in enumerate(ROWS, 1):
        board.append(score_row(row, seed, orders, rates, every))
        progress and progress(n, len(ROWS))
    return board


def table(board: list[dict]) -> list[str]:
    """The board as text lines, one row a strategy."""
    lines = [f"{'strategy':<22}{'double charges':>15}{'(record lost)':>15}{'lost':>6}{'stuck':>6}{'completed':>10}"
             f"{'effects/order':>14}"]
    for r in board:
        lines.append(f"{r['row']:<22}{r['double_charges']:>15,}{r['lost_record_doubles']:>15,}{r['lost']:>6,}"
                     f"{r['stuck']:>6,}{r['completed']:>10,}{r['effects'] / r['orders']:>14.2f}")
    return lines
