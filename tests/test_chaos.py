"""The chaos scoreboard (simcore/chaos.py): counted, not asserted per order; every order a seed."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore import chaos
from simcore.faults import KillWorker, Redeploy
from simcore.orders import ACTIVITIES, fulfill_order
from simcore.faults import FaultPlan
from simcore.sim import Sim
from simcore.strategies import run_workflow

N = 300


@pytest.fixture(scope="module")
def board():
    return {r["row"]: r for r in chaos.scoreboard(N, seed=0)}


def test_what_the_scene_must_show(board):
    keyed = board["durable, stable keys"]
    assert (keyed["double_charges"], keyed["lost"], keyed["stuck"], keyed["completed"]) == (0, 0, 0, N)
    assert board["cron retry"]["double_charges"] > 0
    assert board["plain"]["lost"] > 0
    assert board["durable, no keys"]["lost_record_doubles"] > 0 and board["durable, no keys"]["lost"] == 0
    assert keyed["effects"] == 4 * N   # each step once, for every order


def test_running_every_order_counts_what_running_each_fault_plan_once_counts(board):
    every = {r["row"]: r for r in chaos.scoreboard(N, seed=0, every=True)}
    assert all(every[row]["runs"] == N and board[row]["runs"] < N / 3 for row in chaos.ROWS)
    assert {row: {**r, "runs": 0} for row, r in every.items()} == {row: {**r, "runs": 0} for row, r in board.items()}


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(list(chaos.ROWS)), st.integers(0, 999), st.integers(1, 10**6))
def test_an_orders_outcome_is_a_function_of_its_faults_not_its_seed(row, i, other):
    strategy, activities = chaos.ROWS[row]
    sim = Sim(seed=other, faults=chaos.faults_for(0, i))
    again = run_workflow(strategy, fulfill_order, activities, (f"{1001 + i}", 4200), wid=f"order-{1001 + i}", sim=sim,
                         horizon=chaos.HORIZON, **({"workers": chaos.WORKERS} if strategy == "durable" else {}))
    assert chaos.tally(again) == chaos.tally(chaos.run_order(row, 0, i))


def test_a_row_that_went_wrong_replays_from_its_seed_frame_for_frame(board):
    i = board["durable, no keys"]["first_double"]
    a = chaos.run_order("durable, no keys", 0, i, frames=True)
    b = chaos.run_order("durable, no keys", 0, i, frames=True)
    assert a.frames == b.frames and len(a.frames) > 5
    assert chaos.tally(a)["double"] and chaos.tally(a) == chaos.tally(chaos.run_order("durable, no keys", 0, i))


def test_every_strategy_meets_the_same_faults():
    plans = {chaos.faults_for(7, i) for i in range(50)}
    assert len(plans) > 5 and chaos.faults_for(7, 3) == chaos.faults_for(7, 3)
    assert chaos.faults_for(7, 3, chaos.Rates(*[0.0] * 6)) == FaultPlan()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_durable_with_stable_keys_ends_as_the_crash_free_run_for_any_faults(seed, i):
    harsh = chaos.Rates(crash=0.5, lost=0.5, duplicate=0.5, worker_kill=0.5, host_kill=0.5, redeploy=0.5)
    run = chaos.run_order("durable, stable keys", seed, i, harsh)
    clean = chaos.run_order("durable, stable keys", seed, i, chaos.Rates(*[0.0] * 6))
    assert chaos.tally(run) == chaos.tally(clean) == {"charges": 1, "double": False, "done": True, "stuck": False,
                                                      "lost": False, "effects": 4}
    assert dict(run.world.effects()) == dict(clean.world.effects())


@pytest.mark.parametrize("fault", [KillWorker("worker-1", 2.5), Redeploy(2.5, 30.0, rolling=False)])
def test_a_plain_process_killed_mid_order_is_lost_and_cron_runs_it_again(fault):
    plain = run_workflow("plain", fulfill_order, ACTIVITIES, ("1001", 4200), wid="order-1001",
                         sim=Sim(faults=FaultPlan(workers=(fault,))), horizon=3600)
    assert plain.outcome == "lost" and dict(plain.world.effects()) == {"ChargeCard": 1}
    assert any(f.skull for f in plain.frames)
    cron = run_workflow("cron", fulfill_order, ACTIVITIES, ("1001", 4200), wid="order-1001",
                        sim=Sim(faults=FaultPlan(workers=(fault,))), horizon=3600)
    assert cron.outcome == "completed" and cron.world.effects()["ChargeCard"] == 2


def test_bad_input_is_refused_with_what_to_do():
    with pytest.raises(ValueError, match="from 0 to 1"):
        chaos.Rates(crash=2)
    with pytest.raises(ValueError, match="whole number"):
        chaos.scoreboard(0)
    with pytest.raises(ValueError, match="rows: plain"):
        chaos.run_order("nope", 0, 0)
