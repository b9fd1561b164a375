from datetime import timedelta

import pytest

from simcore import events as ev
from simcore import orders
from simcore.engine import Engine
from simcore.replay import Machine, NonDeterminismError
from simcore.replayer import replay
from simcore.sim import Sim
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
    assert not result.ok and result.error.index == 5
    assert str(result.error) == (
        "non-determinism in order-1001 at event 5: history recorded [ActivityTaskScheduled ChargeCard] "
        "but the code produced [ScheduleActivity ReserveInventory]")
    err = replay(inserted, order_history).error
    assert err.index == 17 and err.event.activity_type == "ShipPackage" and "ChargeCard" in err.produced


def test_code_that_stops_early_is_caught_too(order_history):
    @workflow(name="fulfill_order")
    def shorter(ctx, order_id, cents):
        yield ctx.activity(orders.charge_card, order_id, cents)
        return "done"
    err = replay(shorter, order_history).error
    assert err.index == 11 and "CompleteWorkflow" in err.produced


@workflow
def lottery(ctx):
    t, r, u = ctx.now(), ctx.random(), ctx.uuid4()
    once = yield ctx.side_effect(lambda: f"computed at {t.isoformat()}")
    return [t.isoformat(), r, u, once]


def first_task(run_id="run-1", at=5.0):
    return [ev.WorkflowExecutionStarted(1, 0.0, "lottery", "wf", [], run_id),
            ev.WorkflowTaskScheduled(2, 0.0, "q", 10.0), ev.WorkflowTaskStarted(3, at, 2, "worker-1")]


def test_the_clock_and_randomness_come_from_the_history_and_only_side_effects_are_markers():
    first = Machine(lottery, "wf", live=Live(time=lambda: 6.0)).feed(first_task())
    history = first.events
    assert [e.type for e in history[3:]] == ["WorkflowTaskCompleted", "MarkerRecorded", "WorkflowExecutionCompleted"]
    assert first.result[0] == (ev.EPOCH + timedelta(seconds=5)).isoformat()   # the task's start, not 6.0
    again = Machine(lottery, "wf", live=Live(time=lambda: 99.0))   # later, elsewhere: the same answers
    again.feed(history)
    assert again.closed and again.result == first.result and again.replayed == 2 and not again.new
    other = Machine(lottery, "wf", live=Live(time=lambda: 6.0)).feed(first_task("run-2"))
    assert other.result[1:3] != first.result[1:3]   # another run draws other numbers


def test_yielding_a_plain_call_says_how_to_write_it():
    @workflow
    def habit(ctx):
        yield ctx.now()
    with pytest.raises(TypeError, match=r"plain calls: write `t = ctx.now\(\)`, without yield"):
        Machine(habit, "wf", live=Live(time=lambda: 6.0)).feed(first_task())


def test_a_task_that_timed_out_did_not_run_the_code():
    timed_out = first_task() + [ev.WorkflowTaskTimedOut(4, 15.0, 2, 3, "START_TO_CLOSE"),
                                ev.WorkflowTaskScheduled(5, 15.0, "q", 10.0, 2),
                                ev.WorkflowTaskStarted(6, 16.0, 5, "worker-2")]
    m = Machine(lottery, "wf", live=Live(time=lambda: 17.0), identity="worker-2").feed(timed_out)
    assert m.result[0] == (ev.EPOCH + timedelta(seconds=16)).isoformat()
    assert m.events[6] == ev.WorkflowTaskCompleted(7, 17.0, 5, 6, "worker-2")


def test_a_history_must_start_at_the_start(order_history):
    with pytest.raises(ev.HistoryError, match="must begin with WorkflowExecutionStarted"):
        replay(orders.fulfill_order, order_history[1:])


def test_replay_without_live_stops_where_history_ends(order_history):
    result = replay(orders.fulfill_order, order_history[:13])
    assert result.ok and not result.completed and result.replayed == 2


def test_workflow_errors_fail_the_workflow_not_the_engine():
    @workflow
    def broken(ctx):
        yield ctx.side_effect(lambda: 1)
        raise KeyError("missing")
    m = Machine(broken, "wf", live=Live(time=lambda: 0.0))
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
    parts = Machine(orders.fulfill_order, "order-1001").feed(order_history[:12])
    assert not parts.closed and parts.waiting.event_id == 11    # ReserveInventory, started, no result yet
    parts.feed(order_history[12:])
    done = (True, "order 1001 fulfilled", 5, order_history)
    assert (parts.closed, parts.result, parts.replayed, parts.events) == done
    assert (whole.closed, whole.result, whole.replayed, whole.events) == done


def test_events_must_arrive_in_order(order_history):
    with pytest.raises(ev.HistoryError, match="order-1001: event 4 arrived after event 2"):
        Machine(orders.fulfill_order, "order-1001").feed(order_history[:2] + order_history[3:])


def test_an_input_that_does_not_fit_the_code_fails_the_workflow_instead_of_stopping_the_engine():
    sim = Sim()
    engine = Engine(sim, [orders.fulfill_order], orders.ACTIVITIES)
    engine.start(orders.fulfill_order, "order-1001")   # fulfill_order(ctx, order_id, cents), given nothing
    sim.run()
    end = sim.history.read("order-1001")[-1]
    assert isinstance(end, ev.WorkflowExecutionFailed) and end.error_type == "TypeError"
    assert "missing 2 required positional arguments" in end.message and "order-1001" in engine.closed


@workflow(name="fulfill_order")
def catches_everything(ctx, order_id, cents):
    try:
        yield ctx.activity(orders.charge_card, order_id, cents)
        yield ctx.activity(orders.reserve_inventory, order_id)
    except:  # noqa: E722  (a learner's bare except: it catches GeneratorExit too)
        CLOSED.append(ctx.is_replaying)
        yield ctx.activity(orders.ship_package, order_id)


CLOSED: list = []


def test_a_dropped_machine_closes_its_code_then_quietly(order_history, monkeypatch):
    """A machine dropped mid-run (evicted, its worker crashed) closes its code's generator at once, as
    replaying; code that yields again while it closes is not an error printed at some later collection."""
    unraised = []
    monkeypatch.setattr("sys.unraisablehook", unraised.append)
    m = Machine(catches_everything, "order-1001").feed(order_history[:6])   # waiting on ChargeCard
    assert m.waiting and not CLOSED
    del m
    assert CLOSED == [True] and unraised == []
