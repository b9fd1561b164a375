"""The course's central claims, as properties: whatever crashes hit, the durable engine's outcome
equals the crash-free outcome; cron retry's double charge is reproduced, not assumed."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore import orders
from simcore.faults import Crash, FaultPlan
from simcore.history import History
from simcore.sim import Sim
from simcore.strategies import run_workflow

ARGS = [orders.ORDER_ID, orders.CENTS]


def run(strategy, plan=FaultPlan(), seed=0, **options):
    sim = Sim(seed=seed, faults=plan)
    return run_workflow(strategy, orders.fulfill_order, orders.ACTIVITIES, ARGS, wid="order-1001", sim=sim,
                        **options)


ONCE_EACH = {step: 1 for step in orders.STEPS}
crash_lists = st.lists(st.tuples(st.sampled_from(orders.STEPS), st.integers(1, 3)), max_size=6)


@settings(max_examples=60, deadline=None)
@given(crashes=crash_lists, seed=st.integers(0, 2**16))
def test_durable_recovers_to_the_crash_free_outcome(crashes, seed):
    plan = FaultPlan(tuple(Crash(step, "after_step", nth) for step, nth in set(crashes)))
    r = run("durable", plan, seed)
    assert r.outcome == "completed"
    assert r.world.statement_cents() == 4200 and dict(r.world.effects()) == ONCE_EACH
    assert r.history[-1].type == "WorkflowExecutionCompleted"


@settings(max_examples=30, deadline=None)
@given(crashes=crash_lists)
def test_checkpoint_recovers_when_crashes_land_after_the_record(crashes):
    plan = FaultPlan(tuple(Crash(step, "after_step", nth) for step, nth in set(crashes)))
    r = run("checkpoint", plan)
    assert r.outcome == "completed" and dict(r.world.effects()) == ONCE_EACH


@pytest.mark.parametrize("step", orders.STEPS)
def test_cron_retry_repeats_every_step_up_to_the_crash(step):
    r = run("cron", FaultPlan.crash_after(step))
    upto = orders.STEPS.index(step)
    assert r.outcome == "completed"
    assert r.world.statement_cents() == 8400
    assert all(r.world.effects()[s] == (2 if i <= upto else 1) for i, s in enumerate(orders.STEPS))


def test_plain_loses_the_order_after_taking_the_money():
    r = run("plain", FaultPlan.crash_after("ChargeCard"))
    assert r.outcome == "lost" and r.world.statement_cents() == 4200
    assert dict(r.world.effects()) == {"ChargeCard": 1}
    assert r.frames[-1].ram is None and r.frames[-1].skull


def test_the_gap_between_effect_and_record_charges_twice_even_when_durable():
    for strategy in ("checkpoint", "durable"):
        r = run(strategy, FaultPlan.crash_after("ChargeCard", when="after_effect"))
        assert r.outcome == "completed" and r.world.statement_cents() == 8400, strategy


def test_recording_before_the_effect_skips_a_charge_that_never_happened():
    r = run("checkpoint", FaultPlan.crash_after("ChargeCard", when="before_effect"), record_first=True)
    assert r.outcome == "completed" and r.world.statement_cents() == 0
    assert r.world.effects()["ShipPackage"] == 1   # shipped for free


def test_same_controls_and_seed_give_the_same_trace():
    plan = FaultPlan.crash_after("ReserveInventory")
    assert run("durable", plan, seed=7).frames == run("durable", plan, seed=7).frames


def test_durable_on_a_real_file(tmp_path):
    sim = Sim(faults=FaultPlan.crash_after("ShipPackage"), history=History(tmp_path / "order.sqlite"))
    r = run_workflow("durable", orders.fulfill_order, orders.ACTIVITIES, ARGS, wid="order-1001", sim=sim)
    types = [e.type for e in History(tmp_path / "order.sqlite").read("order-1001")]
    assert r.outcome == "completed" and len(types) == 29 + 3 and types.count("WorkflowTaskTimedOut") == 1


def test_unknown_strategy_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="choose one of plain, cron, checkpoint, durable"):
        run("yolo")


# -- plain Python in a process: the calls a plain function makes run in simulated time ---------------
from simcore.strategies import call  # noqa: E402
from simcore.workflow import ActivityError, activity  # noqa: E402


@activity("Flaky", seconds=4)
def flaky(act, n):
    if n == 2:
        raise ValueError("no seats")
    return act.world.effect("booking", act.workflow_id, note=f"seat {n}")


book = call(flaky)


def book_seats(count):
    booked = []
    for n in range(1, count + 1):
        try:
            booked.append(book(n))
        except ActivityError as err:
            booked.append(err.error_type)
    return booked


def test_a_plain_function_runs_its_calls_in_simulated_time_with_its_ram_and_lines():
    sim = Sim()
    r = run_workflow("plain", book_seats, [flaky], [3], wid="trip", sim=sim)
    assert r.outcome == "completed" and r.world.statement_cents() == 0
    called = [f for f in r.frames if f.caption == "Flaky: called"]
    assert [f.t for f in called] == [0, 4, 8] and {f.line for f in called} == {5}
    assert called[1].ram["booked"] != called[0].ram["booked"] and called[1].ram["n"] == "2"
    returned = next(f for f in r.frames if f.caption.startswith("the workflow returns"))
    assert returned.line == 8 and returned.ram["booked"].startswith("[") and returned.t == 12
    assert r.frames[-1].caption.startswith("order marked done: [")


def test_a_plain_call_outside_a_process_says_where_it_belongs():
    with pytest.raises(RuntimeError, match="inside a process"):
        book(1)


def test_a_plain_function_still_waiting_at_the_horizon_is_lost_and_draws_nothing_after_it():
    r = run_workflow("plain", book_seats, [flaky], [3], wid="trip", sim=Sim(), horizon=6)
    assert r.outcome == "lost" and max(f.t for f in r.frames) <= 6
    r = run_workflow("cron", book_seats, [flaky], [3], wid="trip", sim=Sim(), horizon=6)
    assert r.outcome == "lost" and max(f.t for f in r.frames) <= 6
