"""The history service's durable timers: a workflow asleep for a month lives in the history and in the
engine's timer queue, not in any worker; the timer fires once, at its time, whatever the workers do."""
import json
import subprocess
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simcore import events as ev
from simcore import temporal as T
from simcore.engine import Engine
from simcore.faults import FaultPlan, KillWorker, PauseWorker, Redeploy
from simcore.history import History
from simcore.sim import Sim
from simcore.strategies import run_workflow
from simcore.workflow import activity, workflow
from tests.conftest import ROOT

DAY = 24 * 3600.0
MONTH = 30 * DAY


@activity("ShipPackage", seconds=3)
def ship(act, order_id):
    return act.world.ship(order_id, key=act.idempotency_key)


@activity("SendReviewRequest")
def send_review(act, order_id):
    return act.world.email(order_id, "ReviewRequest", key=act.idempotency_key)


@workflow
def review_later(ctx, order_id):
    yield ctx.activity(ship, order_id)
    yield ctx.sleep(days=30)
    yield ctx.activity(send_review, order_id)
    return "review requested"


def run(plan=FaultPlan(), strategy="durable", **options):
    return run_workflow(strategy, review_later, [ship, send_review], ["1001"], wid="order-1001",
                        sim=Sim(faults=plan), **options)


def fired(run) -> ev.TimerFired:
    return next(e for e in run.history if isinstance(e, ev.TimerFired))


def test_the_timer_fires_once_at_its_time_and_the_workflow_resumes():
    r = run()
    started = next(e for e in r.history if isinstance(e, ev.TimerStarted))
    assert r.outcome == "completed" and r.world.effects()["SendReviewRequestEmail"] == 1
    assert (started.timer_id, started.seconds) == ("1", MONTH) and fired(r).time == started.time + MONTH
    types = [e.type for e in r.history]
    at = types.index("TimerFired")
    assert types[at - 1:at + 5] == ["TimerStarted", "TimerFired", "WorkflowTaskScheduled", "WorkflowTaskStarted",
                                    "WorkflowTaskCompleted", "ActivityTaskScheduled"]


def test_a_worker_paused_after_deciding_starts_the_timer_when_its_answer_is_recorded():
    """A server stamps the events of a task's answer when the answer arrives (a timer counts from then),
    not when the paused worker's code decided them."""
    r = run(FaultPlan(workers=(PauseWorker("worker-1", at=3.3, seconds=4),)), workers=1)   # in the second task
    at = next(i for i, e in enumerate(r.history) if isinstance(e, ev.TimerStarted))
    done, started = r.history[at - 1:at + 1]
    assert isinstance(done, ev.WorkflowTaskCompleted) and done.time == started.time == 7.3
    assert fired(r).time == 7.3 + MONTH and [e.time for e in r.history] == sorted(e.time for e in r.history)


def test_the_timer_fires_with_no_worker_alive_and_a_workflow_task_waits():
    r = run(FaultPlan(workers=(KillWorker("worker-1", at=DAY, restart=False),)))
    # the worker died days ago: nobody has polled its sticky queue for over 10 s, so the task goes straight
    # to the normal queue (Temporal's StickyWorkerUnavailable) and waits there, with nothing more on record
    assert r.outcome == "running" and [e.type for e in r.history[-2:]] == ["TimerFired", "WorkflowTaskScheduled"]
    assert r.world.effects()["SendReviewRequestEmail"] == 0


@pytest.mark.parametrize("died_before", [2.0, 9.0, 11.0, 3600.0])
def test_a_worker_that_died_just_now_costs_a_sticky_timeout_one_gone_for_10_s_does_not(died_before):
    """Temporal's matching service counts a sticky queue unpolled for 10 s as a worker gone (hard-coded
    stickyPollerUnavailableWindow): the task goes to the normal queue at once. Within 10 s it waits out
    the sticky timeout there (WorkflowTaskTimedOut SCHEDULE_TO_START). bridge/live.py shows both on a
    real server."""
    due = MONTH + 3.5   # ship (3 s) between two workflow tasks (0.25 s each), then TimerStarted
    r = run(FaultPlan(workers=(KillWorker("worker-1", at=due - died_before, restart=False),)))
    types = [x.type for x in r.history]
    at = types.index("TimerFired")
    timed_out = types[at + 2:at + 3] == ["WorkflowTaskTimedOut"]
    assert timed_out == (died_before < 10), types[at:at + 4]


def test_a_sleeping_workflow_holds_nothing_in_a_worker_and_the_store_can_rebuild_the_timer_queue():
    sim = Sim()
    engine = Engine(sim, [review_later], [ship, send_review])
    engine.start(review_later, "order-1001", "1001")
    sim.run(until=DAY)
    assert engine.timers == {("order-1001", "1"): fired_at(sim)} and engine.rearm() == 0
    after = Engine(sim, [review_later], [ship, send_review])   # a new engine on the same store
    assert after.rearm() == 1 and after.timers == engine.timers
    engine.start(review_later, "order-1002", "1002")
    sim.run(until=2 * DAY)
    one = Engine(sim, [review_later], [ship, send_review])   # a process that resumes one workflow of the store
    assert one.resume(["order-1002"]) == ["order-1002"] and list(one.timers) == [("order-1002", "1")]


@workflow
def nap(ctx, seconds):
    yield ctx.sleep(seconds)
    return seconds


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 400)), min_size=1, max_size=12))
def test_timers_armed_in_any_order_each_fire_once_at_their_time_in_the_order_they_fall_due(naps):
    """The timer queue wakes the engine at the first timer due only; timers that fall due earlier than
    the one it waits for, or at the same time, still fire once each, at their time, in due order (ties
    in the order they were armed)."""
    sim = Sim()
    engine = Engine(sim, [nap], [], workers=3)
    armed, arm = [], engine._arm
    engine._arm = lambda wid, started: (armed.append(int(wid.split("-")[1])), arm(wid, started))
    for i, (start, seconds) in enumerate(naps):
        engine.later(start, engine.start, nap, f"nap-{i}", seconds)
    sim.run()
    timers = {}
    for i in range(len(naps)):
        h = sim.history.read(f"nap-{i}")
        started, = [e for e in h if isinstance(e, ev.TimerStarted)]
        fired, = [e for e in h if isinstance(e, ev.TimerFired)]
        assert fired.time == started.time + started.seconds and h[-1].result == naps[i][1]
        timers[i] = fired.time
    fired_in = [int(text.split(" of nap-")[1].split(" ")[0]) for _, kind, text, _ in engine.incidents if kind == "timer"]
    assert fired_in == sorted(armed, key=lambda i: (timers[i], armed.index(i)))   # each once; ties as armed
    assert not engine.timers and not engine.timer_queue


def fired_at(sim):
    started = next(e for e in sim.history.read("order-1001") if isinstance(e, ev.TimerStarted))
    return started.time + started.seconds


def test_plain_and_checkpoint_sleep_in_the_process():
    for strategy in ("plain", "checkpoint"):
        r = run(strategy=strategy)
        assert r.outcome == "completed" and r.world.effects()["SendReviewRequestEmail"] == 1, strategy
        assert any("time.sleep(2.592e+06)" in f.caption for f in r.frames)


moments = st.floats(min_value=0, max_value=35 * DAY)
faults = st.one_of(
    st.builds(KillWorker, st.sampled_from(["worker-1", "worker-2"]), moments),
    st.builds(PauseWorker, st.sampled_from(["worker-1", "worker-2"]), moments, st.floats(1, 3 * DAY)),
    st.builds(Redeploy, moments, st.floats(1, DAY), st.booleans()))


@settings(max_examples=40, deadline=None)
@given(st.lists(faults, max_size=5))
def test_for_any_kills_pauses_and_redeploys_the_timer_fires_exactly_once_at_its_time(plan):
    r = run(FaultPlan(workers=tuple(plan)), workers=2)
    timer_fired = [e for e in r.history if isinstance(e, ev.TimerFired)]
    started = next(e for e in r.history if isinstance(e, ev.TimerStarted))
    assert len(timer_fired) == 1 and timer_fired[0].time == started.time + MONTH
    assert r.outcome == "completed" and r.world.effects()["SendReviewRequestEmail"] == 1


def test_temporals_replayer_accepts_the_month_long_sleep(tmp_path):
    doc = T.export(run(FaultPlan(workers=(KillWorker("worker-1", at=DAY),))).history)
    timer = next(e for e in doc["events"] if "timerStartedEventAttributes" in e)
    assert timer["timerStartedEventAttributes"]["startToFireTimeout"] == "2592000s"
    path = tmp_path / "review.json"
    path.write_text(json.dumps(doc))
    p = subprocess.run([sys.executable, "-m", "bridge.replay", str(path), "review"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and json.loads(p.stdout.strip().splitlines()[-1]) == {"ok": True}, p.stdout + p.stderr


# -- messages: signals, cancellation, queries -----------------------------------------------------------

from simcore.service import QueryFailed, UpdateRejected, WorkflowClosed  # noqa: E402
from simcore.workflow import CancelledError  # noqa: E402
from simcore.replay import Machine  # noqa: E402


@activity("ChargeCard", seconds=2)
def charge(act, order_id, cents):
    return act.world.charge(order_id, cents, key=act.idempotency_key)


@activity("RefundCard")
def refund(act, order_id, cents):
    return act.world.refund(order_id, cents, key=act.idempotency_key)


@activity("ReserveInventory")
def reserve(act, order_id):
    return act.world.reserve(order_id, key=act.idempotency_key)


@activity("ReleaseInventory")
def release(act, order_id):
    return act.world.release(order_id, key=act.idempotency_key)


@workflow
def cancellable_order(ctx, order_id, cents):
    state = "received"
    ctx.set_query_handler("state", lambda: state)
    yield ctx.activity(charge, order_id, cents)
    yield ctx.activity(reserve, order_id)
    state = "waiting a day for a change of mind"
    which, why = yield ctx.first(ctx.sleep(days=1), ctx.signal("cancel"))
    if which == 1:
        yield ctx.activity(refund, order_id, cents)
        yield ctx.activity(release, order_id)
        state = "cancelled"
        return f"cancelled: {why}"
    yield ctx.activity(ship, order_id)
    state = "shipped"
    return "shipped"


ORDER = [charge, refund, reserve, release, ship]


def engine(plan=FaultPlan(), workers=1, workflow=cancellable_order, **sim):
    s = Sim(faults=plan, **sim)
    e = Engine(s, [workflow], ORDER + [send_review], workers=workers)
    e.start(workflow, "order-1001", "1001", 4200)
    return s, e


def test_a_cancel_signal_before_shipping_refunds_releases_and_ships_nothing():
    sim, e = engine()
    e.later(60, e.signal, "order-1001", "cancel", "customer changed mind")
    sim.run()
    history = sim.history.read("order-1001")
    assert history[-1].result == "cancelled: customer changed mind" and sim.world.statement_cents() == 0
    assert sim.world.effects()["ShipPackage"] == 0 and sim.world.stock["mug"] == 10
    types = [x.type for x in history]
    assert "TimerCanceled" in types and "TimerFired" not in types and not e.timers   # the day's timer is gone
    assert types.index("WorkflowExecutionSignaled") < types.index("TimerCanceled")


def test_without_a_signal_the_day_passes_and_it_ships():
    sim, e = engine()
    sim.run()
    assert sim.history.read("order-1001")[-1].result == "shipped" and sim.world.statement_cents() == 4200


def test_a_signal_sent_while_every_worker_is_down_is_recorded_and_not_lost():
    sim, e = engine(FaultPlan(workers=(KillWorker("worker-1", at=20),)), restart_delay=3600)
    e.later(60, e.signal, "order-1001", "cancel", "changed mind")
    sim.run(until=120)
    signaled = [x for x in sim.history.read("order-1001") if isinstance(x, ev.WorkflowExecutionSignaled)]
    assert len(signaled) == 1 and signaled[0].time == 60 and e.workers["worker-1"].status == "dead"
    sim.run()
    assert sim.history.read("order-1001")[-1].result == "cancelled: changed mind"


def test_a_query_reads_the_state_and_writes_nothing_and_needs_a_worker():
    sim, e = engine(FaultPlan(workers=(KillWorker("worker-1", at=100, restart=False),)))
    sim.run(until=50)
    before = sim.history.length("order-1001")
    assert e.query("order-1001", "state") == "waiting a day for a change of mind"
    assert sim.history.length("order-1001") == before and e.query_replays == 0   # the cached worker answered
    e.workers["worker-1"].cache.clear()
    assert e.query("order-1001", "state") == "waiting a day for a change of mind" and e.query_replays == 1
    sim.run(until=150)
    with pytest.raises(QueryFailed, match="no poller seen for task queue recently, worker may be down"):
        e.query("order-1001", "state")
    with pytest.raises(QueryFailed, match="no query handler 'price'"):
        Engine(sim, [cancellable_order], ORDER).query("order-1001", "price")


def test_two_sends_are_two_signals_a_retried_send_is_one_and_a_closed_workflow_refuses():
    @workflow
    def collect(ctx, order_id, cents):
        got = []
        for _ in range(3):
            got.append((yield ctx.signal("add")))
        return got
    sim, e = engine(workflow=collect)
    e.later(1, e.signal, "order-1001", "add", "a")
    e.later(2, e.signal, "order-1001", "add", "b", "req-1")
    e.later(3, e.signal, "order-1001", "add", "b", "req-1")   # the client retried the same call
    e.later(4, e.signal, "order-1001", "add", "c")
    sim.run()
    assert sim.history.read("order-1001")[-1].result == ["a", "b", "c"]
    with pytest.raises(WorkflowClosed, match="order-1001: workflow execution already completed; the signal 'add'"):
        e.signal("order-1001", "add", "d")


def test_a_workflow_cannot_close_over_a_signal_that_arrived_meanwhile():
    """A signal arrives while the last workflow task runs: that task may not complete the workflow
    (Temporal fails it, UNHANDLED_COMMAND) and a new one hands the signal over."""
    clean, _ = engine(workflow=review_later_with_args())
    clean.run()
    last_started = [x for x in clean.history.read("order-1001") if isinstance(x, ev.WorkflowTaskStarted)][-1]
    sim, e = engine(workflow=review_later_with_args())
    e.later(last_started.time + 0.1, e.signal, "order-1001", "note", "late")
    sim.run()
    types = [x.type for x in sim.history.read("order-1001")]
    failed = [x for x in sim.history.read("order-1001") if isinstance(x, ev.WorkflowTaskFailed)]
    assert [f.cause for f in failed] == ["UNHANDLED_COMMAND"] and types[-1] == "WorkflowExecutionCompleted"
    assert types.index("WorkflowExecutionSignaled") < len(types) - 1


def review_later_with_args():
    @workflow(name="review_later")
    def flow(ctx, order_id, cents):
        yield ctx.activity(ship, order_id)
        return "shipped"
    return flow


def test_a_cancellation_is_raised_in_the_code_which_cleans_up_and_ends_canceled():
    @workflow
    def order(ctx, order_id, cents):
        yield ctx.activity(charge, order_id, cents)
        try:
            yield ctx.sleep(days=30)
        except CancelledError:
            yield ctx.activity(refund, order_id, cents)
            raise
        yield ctx.activity(ship, order_id)
    sim, e = engine(workflow=order)
    e.later(DAY, e.cancel, "order-1001", "customer")
    sim.run()
    types = [x.type for x in sim.history.read("order-1001")]
    assert types[-1] == "WorkflowExecutionCanceled" and "TimerCanceled" in types and not e.timers
    assert sim.world.statement_cents() == 0 and sim.world.effects()["ShipPackage"] == 0
    assert types.index("WorkflowExecutionCancelRequested") < types.index("TimerCanceled")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=600), min_size=1, max_size=6),
       st.lists(faults, max_size=4))
def test_signals_are_never_lost_or_reordered_across_crashes_and_downtime(sends, plan):
    n = len(sends)

    @workflow(name="collect")
    def collect(ctx, order_id, cents):
        got = []
        for _ in range(n):
            got.append((yield ctx.signal("add")))
        return got
    sim, e = engine(FaultPlan(workers=tuple(plan)), workers=2, workflow=collect)
    for i, t in enumerate(sorted(sends)):
        e.later(t, e.signal, "order-1001", "add", i)
    sim.run(until=60 * DAY)
    assert sim.history.read("order-1001")[-1].result == list(range(n))


def test_a_signal_already_waiting_when_the_code_reaches_first_starts_no_timer_and_cancels_none():
    """The cancel arrives while ChargeCard runs: when the code reaches `ctx.first(sleep, signal)` the
    signal is there, so no timer starts and none is cancelled (found by the query property below)."""
    sim, e = engine()
    e.later(1.0, e.signal, "order-1001", "cancel", "changed mind")
    sim.run()
    types = [x.type for x in sim.history.read("order-1001")]
    assert "TimerStarted" not in types and "TimerCanceled" not in types
    assert sim.history.read("order-1001")[-1].result == "cancelled: changed mind"


early = st.floats(min_value=0, max_value=900)
early_faults = st.one_of(
    st.builds(KillWorker, st.sampled_from(["worker-1", "worker-2"]), early),
    st.builds(PauseWorker, st.sampled_from(["worker-1", "worker-2"]), early, st.floats(1, 120)),
    st.builds(Redeploy, early, st.floats(1, 60), st.booleans()))


@workflow(name="collect_in_runs")
def collect_in_runs(ctx, got, n, per_run):
    """Take signals one at a time, `per_run` to a run; before continuing as new, take what else has
    arrived (a signal a run never took does not pass to the next run), and carry the list."""
    for _ in range(per_run):
        if len(got) >= n:
            return got
        got = got + [(yield ctx.signal("add"))]
    got = got + (yield ctx.signals("add"))
    if len(got) >= n:
        return got
    yield ctx.continue_as_new(got, n, per_run)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=600), min_size=1, max_size=8), st.integers(1, 3),
       st.lists(early_faults, max_size=4))
@example([0.0, 12.0, 13.0, 14.0], 2, [Redeploy(0.0, 1.0, False), Redeploy(0.0, 1.0, False)])   # found by Hypothesis:
def test_signals_are_never_lost_or_reordered_across_continue_as_new_crashes_and_downtime(sends, per_run, plan):
    """(The example: worker-2 continued run 1 as new while worker-1 still cached run 1; worker-1 then took run 2's
    first task with that stale state and answered nothing. A cached run is used only for the run it is.)"""
    n = len(sends)
    sim = Sim(faults=FaultPlan(workers=tuple(plan)))
    e = Engine(sim, [collect_in_runs], [], workers=2)
    e.start(collect_in_runs, "inbox", [], n, per_run)
    for i, t in enumerate(sorted(sends)):
        e.later(t, e.signal, "inbox", "add", i)
    sim.run(until=30 * DAY)
    runs = e.runs("inbox")
    last = sim.history.read("inbox", runs[-1])
    assert isinstance(last[-1], ev.WorkflowExecutionCompleted) and last[-1].result == list(range(n))
    signaled = [x.input for run in runs for x in sim.history.read("inbox", run)
                if isinstance(x, ev.WorkflowExecutionSignaled)]
    assert signaled == list(range(n))   # each recorded once, in the run current when it was sent, in order


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=2 * DAY), max_size=6), st.lists(faults, max_size=3),
       st.sampled_from([None, 3600.0, 0.75 * DAY]))
def test_a_query_never_changes_a_history(queries, plan, cancel_at):
    """The same run with queries sent at any moments (answered, or failed for want of a worker) and
    without them: the same history, event for event, and the same world."""
    def run(asked):
        sim, e = engine(FaultPlan(workers=tuple(plan)), workers=2)
        if cancel_at is not None:
            e.later(cancel_at, e.signal, "order-1001", "cancel", "changed mind")
        answers = []

        def ask():
            try:
                answers.append(e.query("order-1001", "state"))
            except (QueryFailed, WorkflowClosed) as err:
                answers.append(type(err).__name__)
        for t in asked:
            e.later(t, ask)
        sim.run(until=3 * DAY)
        return sim.history.read("order-1001"), sim.world.log, answers
    quiet, asked = run([]), run(queries)
    assert asked[0] == quiet[0] and asked[1] == quiet[1]
    assert len(asked[2]) == len(queries)


def test_temporals_replayer_accepts_the_signal_and_the_cancelled_timer(tmp_path):
    sim, e = engine(FaultPlan(workers=(KillWorker("worker-1", at=20),)))
    e.later(60, e.signal, "order-1001", "cancel", "customer changed mind")
    sim.run()
    doc = T.export(sim.history.read("order-1001"))
    path = tmp_path / "cancel.json"
    path.write_text(json.dumps(doc))
    p = subprocess.run([sys.executable, "-m", "bridge.replay", str(path), "cancel"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and json.loads(p.stdout.strip().splitlines()[-1]) == {"ok": True}, p.stdout + p.stderr


# -- continue-as-new ------------------------------------------------------------------------------------
@activity("ChargeCard")
def bill(act, customer, month):
    return act.world.charge(customer, 999, key=act.idempotency_key)


@workflow
def subscription(ctx, customer, month, months):
    for _ in range(12):
        if month > months:
            return f"{months} months billed"
        yield ctx.activity(bill, customer, month)
        month += 1
        yield ctx.sleep(days=30)
    yield ctx.continue_as_new(customer, month, months)


def billed(plan=FaultPlan(), workers=1):
    sim = Sim(faults=plan)
    e = Engine(sim, [subscription], [bill], workers=workers)
    e.start(subscription, "sub-42", "c-42", 1, 36)
    sim.run()
    return sim, e


def test_continue_as_new_starts_a_fresh_run_of_the_same_workflow_and_carries_the_state():
    sim, e = billed()
    assert e.runs("sub-42") == ["1", "2", "3", "4"] and sim.world.effects()["ChargeCard"] == 36
    histories = [sim.history.read("sub-42", run) for run in e.runs("sub-42")]
    assert [len(h) for h in histories] == [5 + 11 * 12] * 3 + [5]   # a billing month costs 11 events
    ends = [h[-1] for h in histories[:3]]
    starts = [h[0] for h in histories[1:]]
    assert [s.input for s in starts] == [["c-42", 13, 36], ["c-42", 25, 36], ["c-42", 37, 36]]
    assert [s.run_id for s in starts] == [x.new_run_id for x in ends]           # each names the next
    assert [s.continued_from for s in starts] == [h[0].run_id for h in histories[:3]]
    assert {s.first_run_id for s in starts} == {histories[0][0].run_id}           # and the chain's first
    timers = [x.timer_id for x in histories[1] if isinstance(x, ev.TimerStarted)]
    assert timers[:2] == ["1", "2"] and histories[-1][-1].result == "36 months billed"   # ids restart


@settings(max_examples=15, deadline=None)
@given(st.lists(st.builds(KillWorker, st.sampled_from(["worker-1", "worker-2"]),
                          st.floats(min_value=0, max_value=3 * 365 * DAY)), max_size=4))
def test_no_month_is_missed_or_billed_twice_across_the_boundaries(kills):
    sim, e = billed(FaultPlan(workers=tuple(kills)), workers=2)
    assert [x.ref for x in sim.world.log].__len__() == 36 and sim.world.statement_cents() == 36 * 999


def test_temporals_replayer_accepts_each_run_of_the_chain(tmp_path):
    sim, e = billed()
    for run in ("1", "4"):
        path = tmp_path / f"run-{run}.json"
        path.write_text(json.dumps(T.export(sim.history.read("sub-42", run))))
        p = subprocess.run([sys.executable, "-m", "bridge.replay", str(path), "subscription"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, (run, p.stdout, p.stderr)


# -- updates ------------------------------------------------------------------------------------------
@workflow
def addressed_order(ctx, order_id, cents):
    address = "old street"

    def change(new):
        nonlocal address
        before, address = address, new
        return f"{before} -> {new}"

    def check(new):
        if not new.strip():
            raise ValueError("an address cannot be empty")
    ctx.set_update_handler("change_address", change, validator=check)
    ctx.set_query_handler("address", lambda: address)
    yield ctx.sleep(days=1)
    yield ctx.activity(ship, order_id)
    return f"shipped to {address}"


def test_an_update_is_validated_then_recorded_accepted_and_completed_and_a_rejected_one_writes_nothing():
    sim, e = engine(workflow=addressed_order)
    sim.run(until=60)
    before = sim.history.length("order-1001")
    with pytest.raises(UpdateRejected, match="rejected by its validator: an address cannot be empty"):
        e.update("order-1001", "change_address", "  ")
    assert sim.history.length("order-1001") == before   # not even a workflow task
    update = e.update("order-1001", "change_address", "new street")
    sim.run(until=120)
    assert e.update_result(update) == "old street -> new street" and e.query("order-1001", "address") == "new street"
    types = [x.type for x in sim.history.read("order-1001")]
    assert types[before:before + 5] == ["WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
                                        "WorkflowExecutionUpdateAccepted", "WorkflowExecutionUpdateCompleted"]
    sim.run()
    history = sim.history.read("order-1001")
    assert history[-1].result == "shipped to new street"
    from simcore.replayer import replay
    assert replay(addressed_order, history).result == "shipped to new street"   # the handler runs again
    assert [type(x) for x in T.load(T.export(history)).events] == [type(x) for x in history]


# -- versioning: a deploy of new code while orders are in flight ------------------------------------------
from simcore.scenarios import versions  # noqa: E402
from simcore.workflow import ActivityError, Saga  # noqa: E402


# Scene 11's order, v1 to v3 (simcore/scenarios/versions.py): 7 days in the kiln, FraudCheck (v2) before
# ShipPackage, then 30 days until the review request. The bridge's ports are the same code for Temporal.
V1, NAIVE, PATCHED, DEPRECATED = (versions.order_v1, versions.order_v2_naive, versions.order_v2_patched,
                                  versions.order_v3_deprecated)
VERSIONED = list(versions.ACTIVITIES)


def deployed(v2):
    """C started first and is past the change point (shipped, asleep on its review timer) at the deploy;
    A is in the kiln, before it; N starts after the deploy."""
    sim = Sim()
    e = Engine(sim, [V1], VERSIONED)
    e.start(V1, "C", "C", 4200)
    e.later(7.5 * DAY, e.start, V1, "A", "A", 4200)
    e.deploy([v2], at=8 * DAY)
    e.later(8.5 * DAY, e.start, v2, "N", "N", 4200)
    sim.run()
    return sim, e


def fraud_checked(sim, wid):
    return any(getattr(x, "activity_type", "") == "FraudCheck" for x in sim.history.read(wid))


def test_a_naive_deploy_breaks_only_the_orders_past_the_change_point():
    sim, e = deployed(NAIVE)
    assert set(e.stuck) == {"C"} and "at event" in str(e.stuck["C"])
    failed = [x for x in sim.history.read("C") if isinstance(x, ev.WorkflowTaskFailed)]
    assert [f.cause for f in failed] == ["NON_DETERMINISTIC_ERROR"]   # stuck, and still running
    assert "A" in e.closed and fraud_checked(sim, "A") and fraud_checked(sim, "N")   # silently the new path


def test_a_patch_takes_the_new_path_live_and_the_old_one_on_replay_and_nothing_is_stuck():
    sim, e = deployed(PATCHED)
    assert not e.stuck and {"A", "C", "N"} <= e.closed
    assert fraud_checked(sim, "A") and fraud_checked(sim, "N") and not fraud_checked(sim, "C")
    markers = {wid: [x.value for x in sim.history.read(wid) if isinstance(x, ev.MarkerRecorded)] for wid in "ACN"}
    assert markers == {"A": [{"id": "fraud-check", "deprecated": False}], "C": [],
                       "N": [{"id": "fraud-check", "deprecated": False}]}


def test_the_replay_test_catches_the_naive_change_before_it_is_deployed_and_temporal_agrees(tmp_path):
    from simcore.replayer import replay
    sim, e = deployed(V1)   # histories written by v1
    histories = {wid: sim.history.read(wid) for wid in "AC"}
    assert not replay(NAIVE, histories["C"]).ok and replay(PATCHED, histories["C"]).ok
    for wid, history in histories.items():
        path = tmp_path / f"{wid}.json"
        path.write_text(json.dumps(T.export(history)))
        verdicts = {}
        for port in ("v1", "v2-naive", "v2-patched"):
            p = subprocess.run([sys.executable, "-m", "bridge.replay", str(path), port], cwd=ROOT,
                               capture_output=True, text=True, timeout=120)
            verdicts[port] = p.returncode
        assert verdicts == {"v1": 0, "v2-naive": 1, "v2-patched": 0}, (wid, verdicts)
    patched, _ = deployed(PATCHED)   # and a patched history replays in Temporal with its patch marker
    path = tmp_path / "patched-A.json"
    path.write_text(json.dumps(T.export(patched.history.read("A"))))
    p = subprocess.run([sys.executable, "-m", "bridge.replay", str(path), "v2-patched"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_a_deprecated_patch_replays_with_or_without_the_call():
    from simcore.replayer import replay
    sim = Sim()
    e = Engine(sim, [DEPRECATED], VERSIONED)
    e.start(DEPRECATED, "D", "D", 4200)
    sim.run()
    history = sim.history.read("D")
    assert {"id": "fraud-check", "deprecated": True} in [x.value for x in history if isinstance(x, ev.MarkerRecorded)]
    assert replay(NAIVE, history).ok and replay(PATCHED, history).ok   # the call removed: the marker is passed over
    assert not replay(V1, history).ok


# -- sagas ----------------------------------------------------------------------------------------------
class InvalidAddress(Exception):
    non_retryable = True


@activity("ShipPackage")
def ship_nowhere(act, order_id):
    raise InvalidAddress("invalid address")


@workflow
def saga_order(ctx, order_id, cents):
    saga = Saga(ctx)
    try:
        yield ctx.activity(charge, order_id, cents)
        saga.add(refund, order_id, cents)
        yield ctx.activity(reserve, order_id)
        saga.add(release, order_id)
        yield ctx.activity(ship_nowhere, order_id)
    except ActivityError as err:
        yield from saga.compensate()
        return f"compensated: {err.error_type}"


@pytest.mark.parametrize("crash", [None] + [(s, w) for s in ("RefundCard", "ReleaseInventory")
                                           for w in ("after_step", "after_effect", "before_effect")])
def test_a_saga_undoes_in_reverse_once_even_when_it_crashes_while_compensating(crash):
    from simcore.faults import Crash
    plan = FaultPlan(crashes=(Crash(*crash),) if crash else ())
    run_ = run_workflow("durable", saga_order, [charge, refund, reserve, release, ship_nowhere], ["1001", 4200],
                        wid="order-1001", sim=Sim(faults=plan))
    w = run_.world
    assert run_.history[-1].result == "compensated: InvalidAddress" and w.statement_cents() == 0
    assert [e.kind for e in w.log] == ["ChargeCard", "ReserveInventory", "ReleaseInventory", "RefundCard"]
    assert w.stock["mug"] == 10


def test_pinned_workflows_finish_on_the_build_that_started_them_and_the_old_workers_drain():
    sim = Sim()
    e = Engine(sim, [V1], VERSIONED, pinned=True)
    e.start(V1, "C", "C", 4200)
    e.later(7.5 * DAY, e.start, V1, "A", "A", 4200)
    e.deploy([NAIVE], at=8 * DAY, build="v2")   # no patch needed: nobody in flight replays v2
    e.later(8.5 * DAY, e.start, NAIVE, "N", "N", 4200)
    sim.run()
    assert not e.stuck and {"A", "C", "N"} <= e.closed
    assert not fraud_checked(sim, "A") and not fraud_checked(sim, "C") and fraud_checked(sim, "N")
    assert e.pinned == {"C": "v1", "A": "v1", "N": "v2"}
    drained = [t for t, kind, text, _ in e.incidents if kind == "drained"]
    last_v1 = max(x.time for wid in "AC" for x in sim.history.read(wid))
    assert drained and min(drained) >= last_v1 and e.workers["worker-1"].status == "deploying"   # kept until then


# -- the events cache: a worker that holds the workflow gets what is new from the engine -----------------
def test_a_worker_holding_the_workflow_reads_nothing_from_the_store_one_without_it_replays_from_it(tmp_path):
    sim = Sim(history=History(tmp_path / "history.sqlite"))
    engine = Engine(sim, [review_later], [ship, send_review])
    reads = []
    sim.history._db.set_trace_callback(lambda sql: sql.startswith("SELECT event_id") and reads.append(sql))
    engine.start(review_later, "order-1001", "1001")
    sim.run(until=DAY)   # shipped; asleep
    assert reads == []   # every task so far went to the worker that ran the one before
    for w in engine.workers.values():
        w.cache.clear()   # evicted: the next task replays
    sim.run()
    assert len(reads) == 1 and "order-1001" in engine.closed and engine.replays == 1
    assert [e.type for e in sim.history.read("order-1001")] == [e.type for e in run().history]


def test_every_commit_of_an_order_waits_for_the_disk_but_a_workflow_tasks_start(tmp_path):
    """The engine does not wait for the disk on WorkflowTaskStarted: nothing acts on it before the
    task's answer, whose synced commit covers it (simcore.history). Every other append is synced."""
    sim = Sim(history=History(tmp_path / "history.sqlite"))
    engine = Engine(sim, [review_later], [ship, send_review])
    appends, append = [], sim.history.append
    sim.history.append = lambda wid, events, run_id="1", sync=True: (
        appends.append(([e.type for e in events], sync)), append(wid, events, run_id, sync=sync))
    engine.start(review_later, "order-1001", "1001")
    sim.run()
    assert "order-1001" in engine.closed
    lazy = [types for types, sync in appends if not sync]
    assert lazy and all(types == ["WorkflowTaskStarted"] for types in lazy)
    assert len(lazy) == sum(types == ["WorkflowTaskStarted"] for types, _ in appends)
    assert appends[-1][1]   # the close is synced


# -- found by a fuzzing hunt (2026-12-03): each failed before its fix ------------------------------------
def test_a_cancelled_timer_of_one_run_never_fires_in_the_next():
    """Timer ids start from "1" in every run: run 1's cancelled timer must not cut run 2's sleep short."""
    @workflow(name="twice")
    def twice(ctx, run):
        if run == 1:
            yield ctx.first(ctx.sleep(seconds=30), ctx.signal("go"))   # the signal wins: timer 1 cancelled
            yield ctx.continue_as_new(2)
        yield ctx.sleep(seconds=100)
        return "done"
    sim = Sim()
    e = Engine(sim, [twice], [])
    e.start(twice, "w", 1)
    e.later(5, e.signal, "w", "go")
    sim.run(until=1000)
    started, fired = [x for x in sim.history.read("w", "2") if x.type in ("TimerStarted", "TimerFired")]
    assert fired.time == started.time + 100


def test_a_timer_due_while_the_task_that_cancels_it_runs_is_cancelled_not_fired():
    from simcore import check

    @workflow(name="race")
    def race(ctx):
        which, _ = yield ctx.first(ctx.sleep(seconds=10), ctx.signal("go"))
        yield ctx.sleep(seconds=1)
        return which
    sim = Sim()
    e = Engine(sim, [race], [])
    e.start(race, "w")
    e.later(10.1, e.signal, "w", "go")   # its task runs 10.1-10.35; the timer is due at 10.25
    sim.run(until=100)
    h = sim.history.read("w")
    assert [x.timer_id for x in h if x.type == "TimerFired"] == ["2"] and h[-1].result == 1
    assert check.check_events(h, "w", "h", {"race": race}) == []


def test_a_kill_between_a_run_that_continued_as_new_and_its_next_run_resumes_the_chain(tmp_path):
    class Killed(BaseException):
        pass

    class DiesBeforeRun2(History):   # the process dies right after run 1's ContinuedAsNew commit
        def append(self, wid, events, run_id="1", **kw):
            if run_id == "2":
                raise Killed()
            return super().append(wid, events, run_id, **kw)

    @workflow(name="loop")
    def loop(ctx, n):
        yield ctx.sleep(seconds=1)
        if n < 3:
            yield ctx.continue_as_new(n + 1)
        return f"done after {n} runs"
    path = tmp_path / "h.sqlite"
    sim = Sim(history=DiesBeforeRun2(path))
    Engine(sim, [loop], []).start(loop, "w", 1)
    with pytest.raises(Killed):
        sim.run()
    sim = Sim(history=History(path))
    e = Engine(sim, [loop], [])
    assert e.resume() == ["w"]
    sim.run()
    assert sim.history.read("w", "3")[-1].result == "done after 3 runs"


def test_a_query_is_not_answered_from_a_cache_behind_the_last_task():
    @activity("Step", seconds=1)
    def step(act, i):
        return i

    @activity("Long", seconds=30, start_to_close=100)
    def long(act):
        return 1

    @workflow(name="counter")
    def counter(ctx, n):
        x = {"v": 0}
        ctx.set_query_handler("v", lambda: x["v"])
        for i in range(n):
            yield ctx.activity(step, i)
            x["v"] += 1
        yield ctx.sleep(seconds=5)

    @workflow(name="hog")
    def hog(ctx):
        yield ctx.activity(long)
    sim = Sim()
    e = Engine(sim, [counter, hog], [step, long], workers=3)
    e.start(counter, "c", 6)
    e.start(hog, "h")
    said = []
    replayed = lambda: Machine(counter, "c").feed(sim.history.read("c")).ctx.queries["v"]()   # noqa: E731
    e.later(7.0, lambda: said.append((e.query("c", "v"), replayed())))
    sim.run(until=7.1)
    assert said and said[0][0] == said[0][1]


def test_an_update_accepted_while_a_task_runs_gets_a_task_or_fails_if_the_workflow_closes():
    @activity("A", seconds=1)
    def a(act):
        return 1

    @workflow(name="upd")
    def upd(ctx, wait):
        state = {"n": 0}

        def bump(k):
            state["n"] += k
            return state["n"]
        ctx.set_update_handler("bump", bump)
        yield ctx.activity(a)
        if wait:
            yield ctx.sleep(seconds=1000)
        return state["n"]
    for wait, at in ((True, 1.3), (False, 1.3)):
        sim = Sim(faults=FaultPlan(workers=(PauseWorker("worker-1", at=at, seconds=2),)))
        e = Engine(sim, [upd], [a])
        e.start(upd, "w", wait)
        ids = []
        e.later(2.0, lambda: ids.append(e.update("w", "bump", 5)))   # during the paused task
        sim.run(until=100)
        if wait:   # run at once, not when the 1000 s timer fires
            assert e.update_result(ids[0]) == 5
        else:      # the task closed the workflow first: the update says so
            with pytest.raises(UpdateRejected, match="the workflow closed before update 'bump' ran"):
                e.update_result(ids[0])


@pytest.mark.parametrize("store", ["memory", "file"])
def test_code_that_changes_what_it_was_given_does_not_change_the_history(tmp_path, store):
    @activity("Step", seconds=1)
    def step(act, got):
        got.append("activity")
        return act.world.effect("Step", act.workflow_id, key=act.idempotency_key)

    @workflow(name="acc")
    def acc(ctx, items):
        items.append("x")
        yield ctx.activity(step, items)
        return items
    for plan in (FaultPlan(), FaultPlan.crash_after("Step")):
        sim = Sim(faults=plan, history=History.memory() if store == "memory" else History(tmp_path / f"{plan}.sqlite"))
        Engine(sim, [acc], [step]).start(acc, "w", [])
        sim.run()
        h = sim.history.read("w")
        assert h[0].input == [[]] and h[4].input == [["x"]] and h[-1].result == ["x"], (plan, h[-1].result)


def test_a_signals_request_id_is_its_runs_own_with_or_without_a_restart(tmp_path):
    """Temporal de-duplicates a retried signal within a run, not across continue-as-new; a process that
    restarted must decide as one that did not."""
    @workflow(name="inbox")
    def inbox(ctx, seen):
        v = yield ctx.signal("add")
        yield ctx.continue_as_new(seen + [v])
    sim = Sim(history=History(tmp_path / "h.sqlite"))
    e = Engine(sim, [inbox], [])
    e.start(inbox, "w", [])
    e.later(1, e.signal, "w", "add", "a", "req-1")
    sim.run(until=10)
    assert e.signal("w", "add", "a", request_id="req-1") is True        # run 2: a new run, a new signal
    assert e.signal("w", "add", "a", request_id="req-1") is False       # the same run: a retry, dropped
    again = Engine(Sim(history=History(tmp_path / "h.sqlite")), [inbox], [])
    again.resume()
    assert again.signal("w", "add", "a", request_id="req-1") is False   # restarted: still run 2's retry
