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
from .lines import effects_line, held_line, ram_line, statement_line

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
    return [statement_line(run), effects_line(run), held_line(run), ram_line(run), f"outcome: {run.outcome}"]
