"""Scene 04 · Activities: quarantine for side effects.

Replay runs the workflow code again from line one. Whatever that code does directly to the world
(an "order received" email, a charge) is done again on every replay; the same effect moved into an
activity is recorded once and handed back from history. The same goes for ids: `uuid4()` called in
workflow code is a new value on every run of the code; `ctx.uuid4()` draws from the run's seed (its
run id, on record in WorkflowExecutionStarted), so every replay draws the same one.

The two workflows below differ only in that. Crashes land right after ReserveInventory's result
reaches the code; the crash count includes replays, so N crashes mean N + 1 runs of the code.
"""
from __future__ import annotations


from .. import orders
from ..faults import Crash, FaultPlan
from ..orders import charge_card, reserve_inventory, send_confirmation_email, ship_package
from ..sim import Sim
from ..strategies import run_workflow
from ..workflow import activity, workflow
from ..world import current_world, uuid4
from . import Control
from .lines import effects_line, statement_line

NUMBER = 4
TITLE = "Activities: quarantine for side effects"
STEPS = ("SendReceivedEmail",) + orders.STEPS
INLINE = ("SendReceivedEmail", "ChargeCard")   # the steps the inline workflow does itself
CRASH_AT = "ReserveInventory"
CONTROLS = (
    Control("side_effects", ("inline", "activity"), "inline",
            "the email and the charge written inline in workflow code, or as activities"),
    Control("crashes", (0, 1, 2, 3), 0, f"crashes right after {CRASH_AT}, each on the replay of the last"),
)


@activity("SendReceivedEmail", seconds=1)
def send_received_email(act, order_id):
    return act.world.email(order_id, "Received")


@workflow
def fulfill_order_inline(ctx, order_id, cents):
    fresh_id = uuid4()                  # a new value every time this code runs
    stable_id = ctx.uuid4()             # from the run's seed: the same on every replay
    current_world().email(order_id, "Received")          # the mail server, from workflow code
    charge_id = current_world().charge(order_id, cents)  # the card network, from workflow code
    yield ctx.activity(reserve_inventory, order_id)
    yield ctx.activity(ship_package, order_id)
    yield ctx.activity(send_confirmation_email, order_id)
    return f"order {order_id} fulfilled"


@workflow
def fulfill_order_activities(ctx, order_id, cents):
    fresh_id = uuid4()                  # a new value every time this code runs
    stable_id = ctx.uuid4()             # from the run's seed: the same on every replay
    yield ctx.activity(send_received_email, order_id)
    charge_id = yield ctx.activity(charge_card, order_id, cents)
    yield ctx.activity(reserve_inventory, order_id)
    yield ctx.activity(ship_package, order_id)
    yield ctx.activity(send_confirmation_email, order_id)
    return f"order {order_id} fulfilled"


WORKFLOWS = {"inline": fulfill_order_inline, "activity": fulfill_order_activities}
ACTIVITIES = (send_received_email,) + orders.ACTIVITIES


def simulate(side_effects: str = "inline", crashes: int = 0, seed: int = 0):
    controls = {"side_effects": side_effects, "crashes": crashes}
    flow = WORKFLOWS[side_effects]
    plan = FaultPlan(tuple(Crash(CRASH_AT, "after_step", n) for n in range(1, crashes + 1)))
    sim = Sim(seed=seed, faults=plan)
    return run_workflow("durable", flow, ACTIVITIES, [orders.ORDER_ID, orders.CENTS],
                        wid=f"order-{orders.ORDER_ID}", sim=sim, scene="04", controls=controls)


# -- what the run shows -----------------------------------------------------------------------------
def code_runs(run, upto: int | None = None) -> list[dict]:
    """Each run of the workflow code from line one (in frames[:upto]), with the ids it saw: RAM
    values, as the frames recorded them. `fresh_id` is the code's first local, so a run begins where
    it appears in RAM after being absent (a crash wipes RAM; a replay starts from an empty one)."""
    runs: list[dict] = []
    before: dict = {}
    for f in run.frames[:upto]:
        ram = f.ram or {}
        if "fresh_id" in ram and "fresh_id" not in before:
            runs.append({"replay": f.replaying, "fresh_id": None, "stable_id": None})
        for name in ("fresh_id", "stable_id"):
            if runs and ram.get(name) and runs[-1][name] is None:
                runs[-1][name] = short_id(ram[name])
        before = ram
    return runs


def short_id(text: str) -> str:
    """The first 8 hex digits of a uuid shown as a RAM value ("'1f0b2c3d-...")."""
    return text.strip("'\"")[:8]


def ids_line(name: str, how: str, runs: list[dict]) -> str:
    seen = list(dict.fromkeys(r[name] for r in runs if r[name]))
    return f"{name} = {how}: {len(seen)} distinct value{'s' * (len(seen) != 1)} ({', '.join(seen)})"


def outcome_lines(run) -> list[str]:
    runs = code_runs(run)
    crashes = len(run.sim.faults.fired)
    emails = run.world.effects()["SendReceivedEmail"]
    return [statement_line(run),
            f"order-received email: sent {emails} time{'s' * (emails != 1)}",
            effects_line(run, STEPS),
            f"workflow code ran from line one {len(runs)} time{'s' * (len(runs) != 1)} "
            f"({crashes} crash{'es' * (crashes != 1)}, {len(runs) - 1} replay{'s' * (len(runs) != 2)})",
            ids_line("fresh_id", "uuid4()", runs),
            ids_line("stable_id", "ctx.uuid4()", runs),
            f"outcome: {run.outcome}"]
