"""Scene 13's design canvas: ORDER #1001 with a 30-day review wait and a cancel signal, three ways,
each one run on simcore under the same fault.

- workflow:      `orders.fulfill_and_review` on the durable engine (scenes 01-09): the wait is a durable
                 timer, the cancel a signal the code waits for beside it;
- DAG:           the same steps as tasks on scene 12's scheduler (simcore/dag), one run triggered per
                 order; the wait is a sensor in reschedule mode, poking every 6 hours; the cancel is a row
                 in the shop's database that the sensor reads when it pokes, and two tasks skip or run
                 by what it says (Airflow has no signal into a running DAG run: a Human-in-the-loop
                 task takes a person's answer (3.1+), and the REST API can set a task's state);
- state machine: `asl.ORDER_1001` on the Amazon States Language interpreter (simcore/statemachine); the
                 wait is a Wait state (a timestamp on record); the cancel is StopExecution from outside,
                 which ends it with no return label (a callback task token, which could take a message,
                 is not modelled).
Each task and activity passes an idempotency key (run id and task, execution and state, workflow run
and activity), as each engine's guide says to, so a crash after an effect repeats it safely.

Each lane keeps its state in SQLite in memory (the engine's history, the DAG's metadata database and the
shop's, the state machine's executions): the crashes here are simulated processes dying inside this one,
so a file would change no number on the canvas, and only cost time (`order run` shows a history on
disk surviving a real `kill -9`; scenes 02 and 12 keep their files for the learner to open).
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from .. import statemachine
from ..dag.dag import DAG, Skip, Task
from ..dag.scheduler import Board, supervise, trigger
from ..dag.store import Metadata, iso
from ..engine import Engine
from ..events import EPOCH
from ..faults import Crash, FaultPlan, KillWorker
from ..orders import (CENTS, KEYED_ACTIVITIES, ORDER_ID, fulfill_and_review, send_return_label_keyed,
                      send_review_request_keyed)
from ..sim import Sim

DAY = 86400.0
WAIT, KILL_DAY, HORIZON = 30 * DAY, 8, 31 * DAY
CANCEL_AT = 10 * DAY + 13 * 3600   # day 10, 22:00 (t=0 is 09:00 on the order's day)
POKE = 6 * 3600.0   # the sensor's poke_interval (Airflow's default is 60 s; reschedule mode asks for more)
MODELS = ("workflow", "dag", "state_machine")
NAMES = {"workflow": "workflow code (durable engine)", "dag": "DAG (scheduler)", "state_machine": "state machine (ASL)"}
WORKER = {"workflow": "worker-1", "dag": "scheduler", "state_machine": statemachine.INTERPRETER}


def fault_plan(fault: str, model: str) -> FaultPlan:
    """The same fault, said in each model's terms."""
    if fault == "crash_after_charge":   # the card was charged, nothing recorded it yet
        return FaultPlan((Crash("ChargeCard", "after_effect"),))
    if fault == "kill_during_wait":      # kill -9 of whatever runs the order, on day 8 of the wait
        return FaultPlan(workers=(KillWorker(WORKER[model], KILL_DAY * DAY),))
    return FaultPlan()


@dataclass
class Lane:
    """One model's run: its frames and world, what it wrote, and its outcome."""
    model: str
    sim: Sim
    outcome: str
    records: int       # what it wrote to survive: history events, or task-state rows
    extra: dict


# -- 1. workflow code on the durable engine -----------------------------------------------------------
def run_workflow(fault: str, cancel: bool, seed: int) -> Lane:
    sim = Sim(seed=seed, faults=fault_plan(fault, "workflow"), watch="order-1001")
    engine = Engine(sim, [fulfill_and_review], [*KEYED_ACTIVITIES, send_review_request_keyed, send_return_label_keyed])
    engine.start(fulfill_and_review, "order-1001", ORDER_ID, CENTS, WAIT)
    if cancel:
        sim.env.timeout(CANCEL_AT).callbacks.append(
            lambda _: engine.signal("order-1001", "cancel", "customer cancelled"))
    sim.run(until=HORIZON)
    history = sim.history.read("order-1001")
    outcome = "completed" if "order-1001" in sim.done else "running"
    return Lane("workflow", sim, outcome, len(history), {"history": history})


# -- 2. a DAG on the scheduler -------------------------------------------------------------------------
def _key(ctx):
    return f"{ctx.run_id}/{ctx.task_id}"   # stable across tries: Airflow's advice for idempotent tasks


def _cancelled(ctx) -> bool:
    return ctx.data.db.execute("SELECT 1 FROM cancellation WHERE order_id=?", (ORDER_ID,)).fetchone() is not None


def charge_card(ctx):
    return ctx.data.world.charge(ORDER_ID, CENTS, key=_key(ctx))


def reserve_inventory(ctx):
    return ctx.data.world.reserve(ORDER_ID, "mug", key=_key(ctx))


def ship_package(ctx):
    return {"tracking": ctx.data.world.ship(ORDER_ID, key=_key(ctx)), "shipped_at": iso(ctx.data.now())}


def send_confirmation_email(ctx):
    return ctx.data.world.email(ORDER_ID, "Confirmation", key=_key(ctx))


def wait_30_days(ctx):
    """A sensor's poke: done when 30 days have passed since shipping, or the customer has cancelled."""
    from ..dag.store import parse
    shipped = parse(ctx.xcom_pull("ship_package")["shipped_at"])
    return _cancelled(ctx) or ctx.data.now() >= shipped + timedelta(seconds=WAIT)


def send_review_request(ctx):
    if _cancelled(ctx):
        raise Skip("the order was cancelled")
    return ctx.data.world.email(ORDER_ID, "ReviewRequest", key=_key(ctx))


def send_return_label(ctx):
    if not _cancelled(ctx):
        raise Skip("not cancelled")
    return ctx.data.world.email(ORDER_ID, "ReturnLabel", key=_key(ctx))


def order_dag(sensor_timeout: float) -> DAG:
    dag = DAG("order_fulfilment", None, EPOCH)
    chain = [Task("charge_card", charge_card, 2, retries=3), Task("reserve_inventory", reserve_inventory, 1, retries=3),
             Task("ship_package", ship_package, 3, retries=3),
             Task("send_confirmation_email", send_confirmation_email, 1, retries=3),
             Task("wait_30_days", wait_30_days, 1, poke_interval=POKE, timeout=sensor_timeout)]
    for up, task in zip([None] + chain, chain):
        dag.add(task, upstream=[up.task_id] if up else [])
    dag.add(Task("send_review_request", send_review_request, 1, retries=3), upstream=["wait_30_days"])
    dag.add(Task("send_return_label", send_return_label, 1, retries=3), upstream=["wait_30_days"])
    return dag


def run_dag(fault: str, cancel: bool, seed: int, sensor_timeout: float) -> Lane:
    sim = Sim(seed=seed, faults=fault_plan(fault, "dag"))
    meta = Metadata(":memory:")
    shop = sqlite3.connect(":memory:", isolation_level=None)
    shop.execute("CREATE TABLE IF NOT EXISTS cancellation (order_id TEXT PRIMARY KEY, at TEXT)")
    dag, board = order_dag(sensor_timeout), Board(sim)
    run_id = trigger(dag, meta, sim.clock())
    board.frame(f"triggered: DAG run {run_id} for ORDER #1001 (schedule=None: one run per order)")
    if cancel:
        def cancel_row(_):
            shop.execute("INSERT INTO cancellation VALUES (?, ?)", (ORDER_ID, iso(sim.clock())))
            board.frame("the customer cancels: the shop writes a row; nothing tells the DAG run until its sensor pokes")
        sim.env.timeout(CANCEL_AT).callbacks.append(cancel_row)
    data = SimpleNamespace(world=sim.world, db=shop, now=sim.clock)
    sim.env.process(supervise(sim, dag, meta, board, data=data))
    sim.run(until=HORIZON)
    state = meta.db.execute("SELECT state FROM dag_run").fetchone()[0]
    pokes = meta.db.execute("SELECT COUNT(*) FROM task_reschedule").fetchone()[0]
    rows = sum(meta.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in
               ("dag_run", "task_instance", "task_try", "task_reschedule", "xcom"))
    tis = {r["task_id"]: r["state"] for r in meta.task_instances(run_id).values()}
    why = meta.db.execute("SELECT outcome FROM task_try WHERE outcome LIKE 'AirflowSensorTimeout%'").fetchone()
    meta.close()
    shop.close()
    return Lane("dag", sim, {"success": "completed"}.get(state, state), rows,
                {"pokes": pokes, "tasks": tis, "board": board, "timeout": why[0] if why else None})


# -- 3. a state machine ----------------------------------------------------------------------------------
def run_state_machine(fault: str, cancel: bool, seed: int) -> Lane:
    r = statemachine.run(faults=fault_plan(fault, "state_machine"), stop_at=CANCEL_AT if cancel else None,
                         seed=seed, horizon=HORIZON)
    outcome = {"succeeded": "completed"}.get(r.outcome, r.outcome)
    return Lane("state_machine", r.sim, outcome, len(r.history), {"history": r.history, "result": r})


def run_all(fault: str, cancel: bool, seed: int, sensor_timeout: float) -> dict[str, Lane]:
    return {"workflow": run_workflow(fault, cancel, seed), "dag": run_dag(fault, cancel, seed, sensor_timeout),
            "state_machine": run_state_machine(fault, cancel, seed)}
