import random
from datetime import datetime, timedelta

import pytest

from simcore import events as ev
from simcore import orders
from simcore.replay import Machine, NonDeterminismError, replay
from simcore.workflow import Live, workflow


def test_the_saved_history_replays_cleanly(order_history):
    result = replay(orders.fulfill_order, order_history)
    assert result.ok and result.completed and result.replayed == 5
    assert result.result == "order 1001 fulfilled"


@workflow(name="fulfill_order")
def swapped(ctx, order_id, cents):
    yield ctx.activity(orders.reserve_inventory, order_id)    # was second
    yield ctx.activity(orders.charge_card, order_id, cents)


@workflow(name="fulfill_order")
def inserted(ctx, order_id, cents):
    yield ctx.activity(orders.charge_card, order_id, cents)
    yield ctx.activity(orders.reserve_inventory, order_id)
    yield ctx.activity(orders.charge_card, order_id, 100)     # a new step, without a patch
    yield ctx.activity(orders.ship_package, order_id)


def test_changed_code_is_stopped_with_a_precise_error(order_history):
    result = replay(swapped, order_history)
    assert not result.ok and result.error.index == 2
    assert str(result.error) == (
        "non-determinism in order-1001 at event 2: history recorded [ActivityTaskScheduled ChargeCard] "
        "but the code produced [ScheduleActivity ReserveInventory]")
    err = replay(inserted, order_history).error
    assert err.index == 8 and err.event.activity_type == "ShipPackage" and "ChargeCard" in err.produced


def test_code_that_stops_early_is_caught_too(order_history):
    @workflow(name="fulfill_order")
    def shorter(ctx, order_id, cents):
        yield ctx.activity(orders.charge_card, order_id, cents)
        return "done"
    err = replay(shorter, order_history).error
    assert err.index == 5 and "CompleteWorkflow" in err.produced


@workflow
def lottery(ctx):
    t = yield ctx.now()
    r = yield ctx.random()
    u = yield ctx.uuid4()
    return [t.isoformat(), r, u]


def _live(seed, start):
    clock = [start]
    return Live(time=lambda: 0.0, clock=lambda: clock[0], rng=random.Random(seed))


def test_markers_are_recorded_live_and_replayed_identically():
    first = Machine(lottery, "wf", live=_live(1, datetime(2026, 1, 1, 9)))
    first.feed([ev.WorkflowExecutionStarted(1, 0.0, "lottery", "wf", [])])
    history = first.events
    assert [e.type for e in history[1:]] == ["MarkerRecorded"] * 3 + ["WorkflowExecutionCompleted"]
    again = Machine(lottery, "wf", live=_live(2, datetime(2026, 1, 1, 15) + timedelta(days=3)))
    again.feed(history)
    assert again.closed and again.result == first.result and again.replayed == 4 and not again.new


def test_a_history_must_start_at_the_start(order_history):
    with pytest.raises(ev.HistoryError, match="must begin with WorkflowExecutionStarted"):
        replay(orders.fulfill_order, order_history[1:])


def test_replay_without_live_stops_where_history_ends(order_history):
    result = replay(orders.fulfill_order, order_history[:7])
    assert result.ok and not result.completed and result.replayed == 2


def test_workflow_errors_fail_the_workflow_not_the_engine():
    @workflow
    def broken(ctx):
        yield ctx.now()
        raise KeyError("missing")
    m = Machine(broken, "wf", live=_live(0, datetime(2026, 1, 1)))
    m.feed([ev.WorkflowExecutionStarted(1, 0.0, "broken", "wf", [])])
    assert m.closed and isinstance(m.events[-1], ev.WorkflowExecutionFailed)
    assert m.events[-1].error_type == "KeyError"


def test_nondeterminism_error_is_not_swallowed_by_workflow_code(order_history):
    @workflow(name="fulfill_order")
    def catches_everything(ctx, order_id, cents):
        try:
            yield ctx.activity(orders.ship_package, order_id)
        except Exception:
            yield ctx.activity(orders.charge_card, order_id, cents)
    with pytest.raises(NonDeterminismError):
        Machine(catches_everything, "order-1001").feed(order_history)


def test_a_machine_fed_in_parts_ends_as_one_fed_at_once(order_history):
    whole = Machine(orders.fulfill_order, "order-1001").feed(order_history)
    parts = Machine(orders.fulfill_order, "order-1001").feed(order_history[:6])
    assert not parts.closed and parts.waiting.event_id == 5    # ReserveInventory, started, no result yet
    parts.feed(order_history[6:])
    done = (True, "order 1001 fulfilled", 5, order_history)
    assert (parts.closed, parts.result, parts.replayed, parts.events) == done
    assert (whole.closed, whole.result, whole.replayed, whole.events) == done


def test_events_must_arrive_in_order(order_history):
    with pytest.raises(ev.HistoryError, match="order-1001: event 4 arrived after event 2"):
        Machine(orders.fulfill_order, "order-1001").feed(order_history[:2] + order_history[3:])
