from simcore import events as ev
from simcore import orders
from simcore.engine import Engine, Task
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
    assert any("lease on workflow task of order-1001 expired" in c for c in captions)
    assert any(f.replaying for f in sim.trace.frames)


def test_a_stale_completion_is_refused():
    sim, e = engine()
    task = e.queue.items[0]
    e.dispatch(task)   # the lease moves on to a new token, as when a lease expires
    assert e._settle(task) is False and e.rejected == 1
    newest = e.queue.items[-1]
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
