"""The history service's durable timers: a workflow asleep for a month lives in the history and in the
engine's timer queue, not in any worker; the timer fires once, at its time, whatever the workers do."""
import json
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from simcore import events as ev
from simcore import temporal as T
from simcore.engine import Engine
from simcore.faults import FaultPlan, KillWorker, PauseWorker, Redeploy
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


def test_the_timer_fires_with_no_worker_alive_and_a_workflow_task_waits():
    r = run(FaultPlan(workers=(KillWorker("worker-1", at=DAY, restart=False),)))
    # the task first goes to the dead worker's sticky queue, then, timed out, to the normal queue
    assert r.outcome == "running" and [e.type for e in r.history[-4:]] == [
        "TimerFired", "WorkflowTaskScheduled", "WorkflowTaskTimedOut", "WorkflowTaskScheduled"]
    assert r.world.effects()["SendReviewRequestEmail"] == 0


def test_a_sleeping_workflow_holds_nothing_in_a_worker_and_the_store_can_rebuild_the_timer_queue():
    sim = Sim()
    engine = Engine(sim, [review_later], [ship, send_review])
    engine.start(review_later, "order-1001", "1001")
    sim.run(until=DAY)
    assert engine.timers == {("order-1001", "1"): fired_at(sim)} and engine.rearm() == 0
    after = Engine(sim, [review_later], [ship, send_review])   # a new engine on the same store
    assert after.rearm() == 1 and after.timers == engine.timers


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
