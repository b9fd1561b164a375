"""Scene 08's second half: a subscription billed monthly for 36 months, continuing as new every 12,
with the worker killed at seeded moments and inside each workflow task that continues as new.

Each run starts a fresh history from its input (customer, next month, months, every); none misses or
doubles a month (each charge carries its run's idempotency key). What a month costs in history events
and where Temporal's limits fall are read from the runs, not written down.
"""
from __future__ import annotations

import random

from .. import events as ev
from ..engine import Engine
from ..faults import FaultPlan, KillWorker
from ..sim import Run, Sim
from ..workflow import activity, workflow
from .s08 import DAY, MONTH

SUB_WID, CUSTOMER, MONTHLY = "sub-c-42", "c-42", 999
EVENTS_PER_MONTH = 11   # activity 3 + workflow task 3 + timer 2 + workflow task 3, as a Temporal server writes them
TEMPORAL = {"suggest continue-as-new": 4096, "warn": 10240, "terminate": 51200}   # history events per run


@activity("ChargeSubscription", seconds=1)
def charge_month(act, customer, month):
    return act.world.charge(f"{customer} month {month}", MONTHLY, key=act.idempotency_key)


@workflow
def subscription(ctx, customer, month, months, every):
    for _ in range(every):
        yield ctx.activity(charge_month, customer, month)
        month += 1
        yield ctx.sleep(days=30)
        if month > months:
            return f"{customer}: {months} months billed"
    yield ctx.continue_as_new(customer, month, months, every)   # a fresh run; its input is all it keeps


def simulate_subscription(months: int = 36, every=12, kills: int = 6, seed: int = 0) -> Run:
    """Bill `months` months, continuing as new every `every` months ("off": never), with `kills` worker
    kills at seeded times, plus one inside each workflow task that continues as new (0.1 s into it)."""
    per_run = months if every == "off" else every
    rng = random.Random(f"s08/subscription/{seed}")
    at = sorted(round(rng.uniform(DAY, months * MONTH), 1) for _ in range(kills))
    boundaries: list[float] = []
    for run in range(1, -(-months // per_run)):   # one at a time: each kill moves the later boundaries by seconds
        engine = _billed(months, per_run, FaultPlan(workers=tuple(KillWorker("worker-1", at=t) for t in at)), seed)
        task = _continued_task(engine, str(run))
        if task:
            boundaries.append(task[0].time + 0.1)
            at = sorted(at + boundaries[-1:])
    engine = _billed(months, per_run, FaultPlan(workers=tuple(KillWorker("worker-1", at=t) for t in at)), seed)
    sim = engine.sim
    runs = [(run, sim.history.read(SUB_WID, run)) for run in engine.runs(SUB_WID)]
    controls = dict(months=months, every=every, kills=kills)
    last = runs[-1][1]
    run = Run("08", controls, seed, sim, subscription, SUB_WID, "completed" if SUB_WID in engine.closed else "running",
              last, extra=dict(runs=runs, kills=at, at_boundaries=_killed_at_boundaries(runs), per_run=per_run))
    run.engine = engine
    return run


def _billed(months, per_run, faults, seed) -> Engine:
    sim = Sim(seed=seed, faults=faults)
    sim.trace.detail = False
    engine = Engine(sim, [subscription], [charge_month], workers=1)
    engine.start(subscription, SUB_WID, CUSTOMER, 1, months, per_run)
    sim.run(until=(months + 2) * MONTH)
    return engine


def _killed_at_boundaries(runs) -> int:
    """Runs whose continue-as-new task was lost with a killed worker (START_TO_CLOSE) and done again."""
    return sum(isinstance(h[-1], ev.WorkflowExecutionContinuedAsNew) and any(
        isinstance(e, ev.WorkflowTaskTimedOut) and e.timeout_type == "START_TO_CLOSE"
        for e in h[max(i for i, e in enumerate(h) if isinstance(e, ev.TimerFired)):]) for _, h in runs)


def _continued_task(engine, run) -> list:
    """The WorkflowTaskStarted of the task that continued this run as new (none for the last run)."""
    h = engine.sim.history.read(SUB_WID, run)
    if not isinstance(h[-1], ev.WorkflowExecutionContinuedAsNew):
        return []
    return [next(e for e in reversed(h) if isinstance(e, ev.WorkflowTaskStarted))]


def subscription_lines(run) -> list[str]:
    c, x, w = run.controls, run.extra, run.world
    months, per_run = c["months"], x["per_run"]
    charged = [e.order for e in w.statement()]
    billed = sorted(int(o.rsplit(" ", 1)[1]) for o in charged)
    once = billed == list(range(1, months + 1))
    can = "off" if c["every"] == "off" else f"every {c['every']} months"
    bound = 5 + EVENTS_PER_MONTH * per_run
    lines = [f"subscription: {months} months, continue-as-new {can}; {len(x['kills'])} worker kills"
             + (f", {x['at_boundaries']} of them inside the workflow task that continues as new"
                if c["every"] != "off" else ""),
             f"charges: {len(charged)}, " + ("one for each month 1-36: none missed, none doubled" if once else
                                             f"months billed: {billed}") + f"; ${w.statement_cents() / 100:.2f}",
             f"runs: {len(x['runs'])}, one workflow id ({run.workflow_id}), run ids {', '.join(r for r, _ in x['runs'])}"]
    for r, h in x["runs"]:
        first = h[0]
        month = first.input[1]
        end = h[-1]
        ends = (f"continued as new with input {end.input}" if isinstance(end, ev.WorkflowExecutionContinuedAsNew)
                else end.type)
        retried = sum(isinstance(e, ev.WorkflowTaskTimedOut) for e in h)
        crashes = (f" + {len(h) - bound} ({retried} workflow task{'s' * (retried != 1)} lost with a killed worker, "
                   "then scheduled again)") if retried else ""
        lines.append(f"run {r}: months {month}-{min(month + per_run - 1, months)}, {len(h)} events = {bound} "
                     f"(5 + 11 x {per_run}){crashes}; {ends}")
    month_cost = _month_cost(x["runs"][0][1])
    lines.append(f"one billing month: {month_cost} events (activity 3, workflow task 3, timer 2, workflow task 3)")
    if c["every"] != "off":
        lines.append(f"without continue-as-new: one run of {5 + EVENTS_PER_MONTH * months} events")
    years = (TEMPORAL["suggest continue-as-new"] - 5) / EVENTS_PER_MONTH / 12
    lines.append(f"Temporal suggests continue-as-new at {TEMPORAL['suggest continue-as-new']:,} events, warns at "
                 f"{TEMPORAL['warn']:,}, terminates at {TEMPORAL['terminate']:,}: at 11 a month the suggestion "
                 f"comes after {years:.0f} years")
    return lines


def _month_cost(history) -> int:
    """Events between two consecutive ActivityTaskScheduled of the charge: one month, as recorded."""
    at = [i for i, e in enumerate(history) if isinstance(e, ev.ActivityTaskScheduled)]
    return at[1] - at[0] if len(at) > 1 else 0
