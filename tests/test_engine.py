from simcore import events as ev
from simcore import orders
from simcore.engine import Engine
from simcore.taskqueue import Task
from simcore.faults import FaultPlan
from simcore.sim import Sim


def engine(plan=FaultPlan(), **kw):
    sim = Sim(faults=plan, watch="order-1001")
    e = Engine(sim, [orders.fulfill_order], orders.ACTIVITIES, **kw)
    e.start(orders.fulfill_order, "order-1001", orders.ORDER_ID, orders.CENTS)
    return sim, e


def test_a_dead_worker_is_replaced_by_its_lease_running_out():
    sim, e = engine(FaultPlan.crash_after("ChargeCard"), task_timeout=10)
    sim.run()
    assert "order-1001" in e.closed
    captions = [f.caption for f in sim.trace.frames]
    assert any("workflow task of order-1001: StartToCloseTimeout, the lease is taken back" in c for c in captions)
    assert e.replays == 1
    assert any(f.replaying for f in sim.trace.frames)


def test_a_stale_completion_is_refused():
    sim, e = engine()
    task = e.queue.pending[0]
    e.dispatch(task)   # the lease moves on to a new token, as when a lease expires
    assert e._settle(task) is False and e.rejected == 1
    newest = e.queue.pending[-1]
    assert e._settle(newest) is True


def test_sticky_cache_means_no_replay_without_a_crash():
    sim, e = engine()
    sim.run()
    assert not any(f.replaying for f in sim.trace.frames)
    assert [x.type for x in sim.history.read("order-1001")].count("ActivityTaskCompleted") == 4


def test_refuses_nonsense_settings():
    import pytest
    sim = Sim()
    with pytest.raises(ValueError, match="workers must be at least 1"):
        Engine(sim, [orders.fulfill_order], orders.ACTIVITIES, workers=0)
    with pytest.raises(ValueError, match="task_timeout must be positive"):
        Engine(sim, [orders.fulfill_order], orders.ACTIVITIES, task_timeout=0)


def test_task_keys_identify_the_work_not_the_lease():
    s = ev.ActivityTaskScheduled(2, 0.0, "1", "ChargeCard", [])
    assert Task("activity", "w", s, token=1).key == Task("activity", "w", s, attempt=2, token=9).key


def test_the_queue_lists_its_tasks_oldest_first_and_knows_the_longest_wait():
    import simpy
    from simcore.taskqueue import TaskQueue
    env = simpy.Environment()
    q = TaskQueue(env)
    a, b, c = (Task("workflow", w) for w in "abc")
    q.put(a)
    env.run(until=2)
    q.put(b)
    q.put(c)
    env.run(until=5)
    assert q.pending == [a, b, c] and q.oldest_wait() == 5.0
    q.remove(a)
    q.put(a)   # back in line, at the end; it still counts its wait from its first put
    assert q.pending == [b, c, a] and q.oldest_wait() == 5.0
    assert q.taken(q.poll("worker-1").value) == 3.0   # b, the oldest in line, waited 3 s
    q.remove(a)
    q.remove(c)
    assert q.pending == [] and q.oldest_wait() == 0.0


def test_a_snapshot_lists_as_many_queued_tasks_as_asked_and_counts_them_all():
    sim = Sim()
    e = Engine(sim, [orders.fulfill_order], orders.ACTIVITIES)
    for n in range(5):
        e.start(orders.fulfill_order, f"order-{n}", orders.ORDER_ID, orders.CENTS)
    snap = e.snapshot(rows=2)
    assert snap["queue"] == ["workflow task of order-0", "workflow task of order-1"] and snap["queued"] == 5
    assert len(e.snapshot()["queue"]) == 5


# -- retries, timeouts, heartbeats, workers coming and going ---------------------------------------
import pytest  # noqa: E402
from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from simcore.faults import CallFault, KillWorker, PauseWorker, Redeploy  # noqa: E402
from simcore.retry import RetryPolicy  # noqa: E402
from simcore.workflow import ActivityError, activity, workflow  # noqa: E402


@activity("Flaky", seconds=1)
def flaky(act):
    return act.world.ship("1", key=act.idempotency_key)


def flaky_run(plan, **options):
    @workflow(name="wf")
    def wf(ctx):
        try:
            return (yield ctx.activity(flaky, **options))
        except ActivityError as err:
            return f"handled {err.error_type}"
    sim = Sim(faults=plan)
    e = Engine(sim, [wf], [flaky])
    e.start(wf, "w")
    sim.run()
    return sim, e


def fails(*attempts, kind="fail", **kw):
    return FaultPlan(calls=(CallFault("Flaky", kind, attempts=attempts, **kw),))


def test_the_engine_retries_on_the_policy_schedule():
    sim, e = flaky_run(fails(1, 2, 3, 4, 5), retry=RetryPolicy(initial_interval=1, maximum_interval=5))
    starts = [t - 1 for t, *_ in e.attempts]   # each attempt takes 1 s
    assert [b - a for a, b in zip(starts, starts[1:])] == [1 + 1, 2 + 1, 4 + 1, 5 + 1, 5 + 1]
    started = [x for x in sim.history.read("w") if x.type == "ActivityTaskStarted"]
    assert len(started) == 1 and started[0].attempt == 6   # only the last attempt is recorded


def test_non_retryable_fails_at_once_and_the_workflow_can_handle_it():
    sim, e = flaky_run(fails(1, error_type="CardDeclined"),
                       retry=RetryPolicy(non_retryable_error_types=("CardDeclined",)))
    assert len(e.attempts) == 1 and sim.history.read("w")[-1].result == "handled CardDeclined"


def test_exhausted_attempts_reach_the_workflow_as_a_failure():
    sim, e = flaky_run(fails(1, 2, 3), retry=RetryPolicy(maximum_attempts=3))
    events = sim.history.read("w")
    assert [x.type for x in events][-6:] == ["ActivityTaskStarted", "ActivityTaskFailed", "WorkflowTaskScheduled",
                                              "WorkflowTaskStarted", "WorkflowTaskCompleted",
                                              "WorkflowExecutionCompleted"]
    assert events[-6].last_failure == {"error_type": "ServiceUnavailable", "message": "Flaky attempt 2"}
    assert events[-1].result == "handled ServiceUnavailable"


def test_a_hung_attempt_is_abandoned_and_its_late_completion_refused():
    sim, e = flaky_run(fails(1, kind="hang", seconds=100), start_to_close=5)
    assert e.rejected == 1 and [a[3] for a in e.attempts] == [1, 2]   # one worker: 2 waits for 1
    started = [x for x in sim.history.read("w") if x.type == "ActivityTaskStarted"]
    assert [x.attempt for x in started] == [2] and sim.history.read("w")[-1].result.startswith("ship_")


def test_heartbeats_notice_a_dead_worker_before_start_to_close():
    @activity("Long", seconds=60)
    def long(act):
        return "done"

    @workflow(name="wf")
    def wf(ctx):
        return (yield ctx.activity(long, start_to_close=120, heartbeat=5))
    sim = Sim(faults=FaultPlan(workers=(KillWorker("worker-1", at=10),)), restart_delay=1)
    e = Engine(sim, [wf], [long])
    e.start(wf, "w")
    sim.run()
    assert "w" in e.closed
    assert any("HeartbeatTimeout" in f.caption and f.t < 20 for f in sim.trace.frames)


@activity("ChargeCard", seconds=2)
def keyed_charge(act, oid):
    return act.world.charge(oid, 4200, key=act.idempotency_key)


@activity("ShipPackage", seconds=3)
def keyed_ship(act, oid):
    return act.world.ship(oid, key=act.idempotency_key)


@workflow(name="order")
def keyed_order(ctx, oid):
    yield ctx.activity(keyed_charge, oid, start_to_close=10)
    yield ctx.activity(keyed_ship, oid, start_to_close=10)


def many_orders(plan, n=30, workers=3, seed=0):
    sim = Sim(faults=plan, seed=seed)
    e = Engine(sim, [keyed_order], [keyed_charge, keyed_ship], workers=workers)

    def arrivals():
        for i in range(n):
            e.start(keyed_order, f"order-{i}", str(i))
            yield sim.env.timeout(1)
    sim.env.process(arrivals())
    sim.run(until=10_000)
    return sim, e


def test_kills_pauses_and_a_rolling_deploy_lose_nothing():
    plan = FaultPlan(workers=(KillWorker("worker-2", at=12), PauseWorker("worker-3", at=20, seconds=30),
                              Redeploy(at=40, down_for=8, rolling=True)))
    sim, e = many_orders(plan, n=100)
    assert len(e.closed) == 100 and sim.world.statement_cents() == 100 * 4200
    assert len(sim.world.statement()) == 100 and e.rejected >= 1 and e.replays >= 1


def test_a_deploy_with_no_worker_makes_tasks_wait():
    _, calm = many_orders(FaultPlan())
    _, gap = many_orders(FaultPlan(workers=(Redeploy(at=5, down_for=30, rolling=False),)))
    assert len(gap.closed) == 30
    assert max(w for *_, w in gap.waits) >= 25 > max(w for *_, w in calm.waits)


faults = st.one_of(
    st.builds(KillWorker, st.sampled_from(["worker-1", "worker-2"]), st.floats(0, 60)),
    st.builds(PauseWorker, st.sampled_from(["worker-1", "worker-2"]), st.floats(0, 60), st.floats(1, 40)),
    st.builds(Redeploy, st.floats(0, 60), st.floats(1, 20), st.booleans()),
)
calls = st.builds(CallFault, st.sampled_from(["ChargeCard", "ShipPackage"]),
                  st.sampled_from(["request_lost", "response_lost", "duplicate", "delay"]),
                  st.sets(st.integers(1, 3), min_size=1).map(tuple), st.none(), st.floats(0, 30))


@settings(max_examples=40, deadline=None)
@given(workers=st.lists(faults, max_size=4), call_faults=st.lists(calls, max_size=3), seed=st.integers(0, 99))
@example(  # found by Hypothesis: overlapping deploys left a dead poller holding a task
    workers=[KillWorker("worker-2", 43.0), PauseWorker("worker-1", 10.0, 25.0), Redeploy(13.0, 20.0, True),
             Redeploy(42.0, 3.0, False)],
    call_faults=[CallFault("ChargeCard", "request_lost", (1,)), CallFault("ShipPackage", "request_lost", (1,))],
    seed=0)
def test_with_stable_keys_every_order_completes_and_every_effect_happens_once(workers, call_faults, seed):
    sim, e = many_orders(FaultPlan(workers=tuple(workers), calls=tuple(call_faults)), n=8, workers=2, seed=seed)
    assert len(e.closed) == 8, [f.caption for f in sim.trace.frames[-5:]]
    assert dict(sim.world.effects()) == {"ChargeCard": 8, "ShipPackage": 8}


def test_lost_request_and_lost_response_look_the_same_to_the_caller():
    def caller_view(kind):
        sim, _ = flaky_run(fails(1, kind=kind), start_to_close=5)
        return [(m.t, m.src, m.dst, m.text) for m in sim.messages
                if (m.src == "worker-1") or (m.dst == "worker-1" and not m.lost)]
    assert caller_view("request_lost") == caller_view("response_lost")


@pytest.mark.parametrize("n", [1, 2])
def test_stale_completions_are_always_refused(n):
    sim, e = flaky_run(fails(*range(1, n + 1), kind="hang", seconds=50), start_to_close=5)
    assert e.rejected == n


def test_schedule_to_close_bounds_all_attempts_together():
    sim, e = flaky_run(fails(*range(1, 50)), retry=RetryPolicy(initial_interval=1), schedule_to_close=10)
    assert sim.history.read("w")[-1].result == "handled ScheduleToCloseTimeout"
    assert e.attempts[-1][0] < 10 + 1   # no attempt starts after the deadline


def test_schedule_to_start_fails_a_task_that_waits_too_long_in_the_queue():
    @activity("Long", seconds=60)
    def long(act):
        return "done"

    @workflow(name="busy")
    def busy(ctx):
        return (yield ctx.activity(long, start_to_close=120))

    @workflow(name="wf")
    def wf(ctx):
        try:
            return (yield ctx.activity(flaky, schedule_to_start=5))
        except ActivityError as err:
            return f"handled {err.error_type}"
    sim = Sim()
    e = Engine(sim, [busy, wf], [long, flaky])   # one worker, busy for a minute with the first order
    e.start(busy, "a")
    e.start(wf, "w")
    sim.run()
    assert sim.history.read("w")[-1].result == "handled ScheduleToStartTimeout"
    assert [a[1] for a in e.attempts] == ["Long"]   # Flaky never ran


def test_a_simulation_runs_with_the_collector_paused_and_leaves_it_on():
    import gc
    seen = []
    sim = Sim()
    sim.env.process(_note_collector(sim, seen))
    sim.run()
    assert seen == [False] and gc.isenabled()


def _note_collector(sim, seen):
    import gc
    yield sim.env.timeout(1)
    seen.append(gc.isenabled())


def test_a_closed_workflow_leaves_nothing_behind_in_the_engine_but_its_closing():
    sim, e = engine(FaultPlan.crash_after("ChargeCard"), task_timeout=10)
    sim.run()
    assert "order-1001" in e.closed
    # what only an open workflow needs: its leases, heartbeats, sticky queue, pending task, recent events
    assert (e.leases, e.heartbeats, e.sticky, e.workflow_task, e.recent) == ({}, {}, {}, {}, {})


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf"), 315_576_000_001])
def test_a_timer_no_clock_can_keep_fails_the_workflow_and_says_why(seconds):
    @workflow
    def sleeps(ctx):
        yield ctx.sleep(seconds)
    sim = Sim()
    engine = Engine(sim, [sleeps], [])
    engine.start(sleeps, "w")
    sim.run()
    end = sim.history.read("w")[-1]
    assert end.type == "WorkflowExecutionFailed" and "a timer takes 0 or more seconds, at most 10,000 years" in end.message
    assert not any(e.type == "TimerStarted" for e in sim.history.read("w"))
