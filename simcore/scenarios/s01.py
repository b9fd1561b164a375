"""Scene 01 · The crash that charges you twice.

A plain function keeps its progress in RAM. Crash it after a step: the RAM is gone, and a cron job
that re-runs unfinished orders from line one charges the card again. The durable engine, previewed
here, finishes the order with one charge.
"""
from __future__ import annotations

from .. import orders
from ..faults import FaultPlan
from ..sim import Sim
from ..strategies import call, run_workflow
from . import Control
from .lines import effects_line, held_line, ram_line, statement_line

NUMBER = 1
TITLE = "The crash that charges you twice"
CONTROLS = (
    Control("strategy", ("plain", "cron", "durable"), "plain",
            "plain function; plain + cron retry every minute; durable execution (preview)"),
    Control("crash_after", ("none",) + orders.STEPS, "none", "the process dies right after this step"),
)


# ORDER #1001 as a plain function, as scene 01 shows it and as plain and cron run it: each call blocks
# until the world answers (`strategies.call`), and the only record of its progress is its locals.
charge_card, reserve_inventory = call(orders.charge_card), call(orders.reserve_inventory)
ship_package, send_confirmation_email = call(orders.ship_package), call(orders.send_confirmation_email)


def fulfill_order(order_id, cents):
    charged = False
    step = 0
    charge_card(order_id, cents)
    charged, step = True, 1
    reserve_inventory(order_id)
    step = 2
    ship_package(order_id)
    step = 3
    send_confirmation_email(order_id)
    step = 4
    return f"order {order_id} fulfilled"


def simulate(strategy: str = "plain", crash_after: str = "none", seed: int = 0):
    controls = {"strategy": strategy, "crash_after": crash_after}
    sim = Sim(seed=seed, faults=FaultPlan.crash_after(crash_after))
    code = orders.fulfill_order if strategy == "durable" else fulfill_order   # the engine runs the workflow
    return run_workflow(strategy, code, orders.ACTIVITIES, [orders.ORDER_ID, orders.CENTS],
                        wid=f"order-{orders.ORDER_ID}", sim=sim, scene="01", controls=controls)


def outcome_lines(run) -> list[str]:
    return [statement_line(run), effects_line(run), held_line(run), ram_line(run), f"outcome: {run.outcome}"]
