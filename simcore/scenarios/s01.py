"""Scene 01 · The crash that charges you twice.

A plain function keeps its progress in RAM. Crash it after a step: the RAM is gone, and a cron job
that re-runs unfinished orders from line one charges the card again. The durable engine, previewed
here, finishes the order with one charge.
"""
from __future__ import annotations

from .. import orders
from ..faults import FaultPlan
from ..sim import Sim
from ..strategies import run_workflow
from . import Control

NUMBER = 1
TITLE = "The crash that charges you twice"
CONTROLS = (
    Control("strategy", ("plain", "cron", "durable"), "plain",
            "plain function; plain + cron retry every minute; durable execution (preview)"),
    Control("crash_after", ("none",) + orders.STEPS, "none", "the process dies right after this step"),
)


def simulate(strategy: str = "plain", crash_after: str = "none", seed: int = 0):
    controls = {"strategy": strategy, "crash_after": crash_after}
    sim = Sim(seed=seed, faults=FaultPlan.crash_after(crash_after))
    return run_workflow(strategy, orders.fulfill_order, orders.ACTIVITIES, [orders.ORDER_ID, orders.CENTS],
                        wid=f"order-{orders.ORDER_ID}", sim=sim, scene="01", controls=controls)


def outcome_lines(run) -> list[str]:
    held = run.world.holds["mug"]
    return [statement_line(run), effects_line(run), f"warehouse: {held} unit{'s' * (held != 1)} held",
            ram_line(run), f"outcome: {run.outcome}"]


def statement_line(run, upto=None) -> str:
    lines = run.world.statement(upto)
    charges = sum(e.cents > 0 for e in lines)
    refunds = sum(e.cents < 0 for e in lines)
    text = f"statement: ${run.world.statement_cents(upto) / 100:.2f} ({charges} charge{'s' * (charges != 1)}"
    return text + (f", {refunds} refund{'s' * (refunds != 1)})" if refunds else ")")


def effects_line(run) -> str:
    done = run.world.effects()
    return "effects: " + ", ".join(f"{step} x{done.get(step, 0)}" for step in orders.STEPS)


def ram_line(run) -> str:
    ram = run.frames[-1].ram if run.frames else None
    if not ram:
        return "RAM: (blank: the process that held it is gone)"
    return "RAM: " + ", ".join(f"{k}={v}" for k, v in ram.items() if k in ("charged", "step"))
