"""ORDER #1001 as a Step Functions state machine (simcore/statemachine.py): clean run, crashes at every
point, the saga through Catch, Retry timing, StopExecution in the 30-day Wait, validation."""
import copy
import json
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore import statemachine as sm
from simcore.faults import WHEN, CallFault, Crash, FaultPlan, KillWorker

DAY = sm.DAY
TASKS = ("ChargeCard", "ReserveInventory", "ShipPackage", "SendReviewRequest")
CLEAN_TYPES = ["ExecutionStarted"] + ["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
                                      "TaskStateExited"] * 3 + [
    "ChoiceStateEntered", "ChoiceStateExited", "WaitStateEntered", "WaitStateExited", "TaskStateEntered",
    "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]
SHIP_FAILS = CallFault("ShipPackage", "fail", attempts=(1, 2, 3, 4), error_type="AddressRejected")


def types(r):
    return [e["type"] for e in r.history]


def named(r, typ, name):
    """The events of type `typ` within the visits to state `name`."""
    out, current = [], None
    for e in r.history:
        if e["type"].endswith("StateEntered"):
            current = e["stateEnteredEventDetails"]["name"]
        if e["type"] == typ and current == name:
            out.append(e)
    return out


def final(r):
    return r.history[-1]["type"], r.history[-1].get("executionSucceededEventDetails")


@pytest.fixture(scope="module")
def clean():
    return sm.run()


def test_clean_order_charges_once_waits_thirty_days_then_asks_for_a_review(clean):
    assert clean.outcome == "succeeded" and types(clean) == CLEAN_TYPES
    assert clean.effects == {"ChargeCard": 1, "ReserveInventory": 1, "ShipPackage": 1, "SendReviewRequestEmail": 1}
    assert clean.world.statement_cents() == 4200
    entered, exited = named(clean, "WaitStateEntered", "WaitThirtyDays")[0], named(clean, "WaitStateExited",
                                                                                    "WaitThirtyDays")[0]
    assert exited["t"] - entered["t"] == 30 * DAY
    assert named(clean, "TaskScheduled", "SendReviewRequest")[0]["t"] == exited["t"]
    out = json.loads(clean.history[-1]["executionSucceededEventDetails"]["output"])
    assert out["charge"] == "char_1" and out["review_email"].startswith("send_")
    sched = json.loads(clean.history[2]["taskScheduledEventDetails"]["parameters"])
    assert sched == {"FunctionName": "ChargeCard", "Payload": {"order_id": "1001", "cents": 4200}}
    lines = sm.outcome_lines(clean)
    assert lines[0].startswith("ExecutionSucceeded at day 30") and "charged $42.00; net $42.00" in lines[1]
    assert "exited day 30" in lines[3]


def test_the_history_is_a_sqlite_table_of_json_in_wal_mode(tmp_path):
    db = tmp_path / "sfn.db"
    r = sm.run(path=db)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = con.execute("SELECT id, type, details FROM history ORDER BY id").fetchall()
    assert [t for _, t, _ in rows] == types(r) and all(isinstance(json.loads(d), dict) for _, _, d in rows)
    assert json.loads(con.execute("SELECT definition FROM executions").fetchone()[0]) == sm.ORDER_1001
    assert sm.Store(db).read(r.execution.arn) == r.history   # another connection reads the same history


def test_a_stale_writer_cannot_fork_the_history():
    store = sm.Store()
    store.append("x", 0, [("ExecutionStarted", {"input": "{}"})], 0.0, "t")
    with pytest.raises(sm.Conflict):
        store.append("x", 0, [("ExecutionStarted", {"input": "{}"})], 0.0, "t")
    assert len(store.read("x")) == 1


def test_same_seed_same_history():
    plan = FaultPlan((Crash("ShipPackage", "after_effect"),))
    assert sm.run(faults=plan, seed=3).history == sm.run(faults=plan, seed=3).history


EFFECT = {"SendReviewRequest": "SendReviewRequestEmail"}   # after_effect is named by the world's effect
POINTS = [FaultPlan((Crash(EFFECT.get(s, s) if w == "after_effect" else s, w),)) for s in TASKS for w in WHEN] + [
    FaultPlan((Crash("WaitThirtyDays", "after_step"),)),
    FaultPlan(workers=(KillWorker(sm.INTERPRETER, at=10 * DAY),)),   # the interpreter dies during the Wait
    FaultPlan(workers=(KillWorker(sm.INTERPRETER, at=1.5),)),        # mid-ChargeCard, after the charge
]


@pytest.mark.parametrize("plan", POINTS, ids=lambda p: str((p.crashes or p.workers)[0]))
def test_a_crash_at_any_point_recovers_to_the_crash_free_outcome(plan, clean):
    r = sm.run(faults=plan)
    assert r.execution.crashes and all("resumed" in c for c in r.execution.crashes)
    assert (r.outcome, r.effects, r.world.statement_cents(), final(r)) == (
        clean.outcome, clean.effects, clean.world.statement_cents(), final(clean))
    assert r.world.effects() == clean.world.effects()   # each effect once
    kind = r.execution.crashes[0]["resumed"][0]
    crash = (plan.crashes or [None])[0]
    if crash and crash.when in ("before_effect", "after_effect"):   # scheduled, no result: run again, same key
        step = {v: k for k, v in EFFECT.items()}.get(crash.step, crash.step)
        assert kind == "attempt" and len(named(r, "TaskScheduled", step)) == 1
        assert "ran it again, same idempotency key" in "\n".join(sm.outcome_lines(r))
    waits = named(r, "WaitStateEntered", "WaitThirtyDays")[0], named(r, "WaitStateExited", "WaitThirtyDays")[0]
    assert waits[1]["t"] - waits[0]["t"] == 30 * DAY   # the Wait is a timestamp on record: a crash does not restart it


def test_a_crash_during_the_wait_goes_back_to_the_same_wake_up_time():
    r = sm.run(faults=FaultPlan(workers=(KillWorker(sm.INTERPRETER, at=10 * DAY),)))
    (crash,) = r.execution.crashes
    entered = named(r, "WaitStateEntered", "WaitThirtyDays")[0]
    assert crash["resumed"] == ("wait", "WaitThirtyDays", entered["t"] + 30 * DAY)
    assert "went back to waiting in WaitThirtyDays until day 30" in "\n".join(sm.outcome_lines(r))


def test_ship_failing_for_good_goes_through_catch_to_the_compensations_and_fails():
    r = sm.run(faults=FaultPlan(calls=(SHIP_FAILS,)))
    assert r.outcome == "failed" and r.world.statement_cents() == 0
    assert r.effects == {"ChargeCard": 1, "ReserveInventory": 1, "ReleaseInventory": 1, "RefundCard": 1}
    assert len(named(r, "TaskFailed", "ShipPackage")) == 4   # the first attempt and its 3 retries
    entered = [e["stateEnteredEventDetails"]["name"] for e in r.history if e["type"].endswith("StateEntered")]
    assert entered[-3:] == ["ReleaseInventory", "RefundCard", "OrderFailed"]
    exited = named(r, "TaskStateExited", "ShipPackage")[0]   # caught: the error output, at ResultPath $.error
    assert json.loads(exited["stateExitedEventDetails"]["output"])["error"]["Error"] == "AddressRejected"
    assert r.history[-1]["executionFailedEventDetails"]["error"] == "OrderFailed"
    assert "net $0.00" in sm.outcome_lines(r)[1] and "refunded $42.00" in sm.outcome_lines(r)[1]


def test_a_crash_inside_the_compensation_still_refunds_once():
    r = sm.run(faults=FaultPlan((Crash("RefundCard", "after_effect"),), calls=(SHIP_FAILS,)))
    assert r.outcome == "failed" and r.world.statement_cents() == 0 and r.effects["RefundCard"] == 1


def test_retry_waits_interval_times_backoff_between_attempts():
    r = sm.run(faults=FaultPlan(calls=(CallFault("ShipPackage", "fail", attempts=(1, 2)),)))
    # ShipPackage is entered at 3 s and takes 3 s an attempt; IntervalSeconds 2, BackoffRate 2
    assert [e["t"] for e in named(r, "TaskScheduled", "ShipPackage")] == [3, 3 + 3 + 2, 3 + 3 + 2 + 3 + 4]
    assert r.outcome == "succeeded" and r.effects["ShipPackage"] == 1


def test_retry_follows_the_docs_worked_example():
    """AWS's 'Complex retry scenarios': errors A, B, C, B, B wait 1, 2, 5 and 4 s, then the fifth is caught."""
    defn = {"StartAt": "X", "States": {
        "X": {**sm._task("ShipPackage", "$.x", Next="Y"), "Retry": [
            {"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2},
            {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}]},
        "Y": {"Type": "Succeed"}, "Z": {"Type": "Fail", "Error": "Caught"}}}
    calls = tuple(CallFault("ShipPackage", "fail", attempts=(n,), error_type=f"Error{e}")
                  for n, e in enumerate("ABCBB", 1))
    r = sm.run(defn, faults=FaultPlan(calls=calls))
    assert [e["t"] for e in named(r, "TaskScheduled", "X")] == [0, 3 + 1, 7 + 2, 12 + 5, 20 + 4]
    assert r.history[-1]["executionFailedEventDetails"]["error"] == "Caught" and r.history[-1]["t"] == 27


def test_a_lost_response_is_a_timeout_retried_and_the_key_charges_once():
    r = sm.run(faults=FaultPlan(calls=(CallFault("ChargeCard", "response_lost"),)))
    assert named(r, "TaskFailed", "ChargeCard")[0]["taskFailedEventDetails"]["error"] == "States.Timeout"
    assert r.outcome == "succeeded" and r.world.statement_cents() == 4200 and r.effects["ChargeCard"] == 1


def test_stop_during_the_wait_aborts_and_runs_no_compensation():
    r = sm.run(stop_at=10 * DAY)
    assert r.outcome == "aborted" and types(r)[-3:] == ["WaitStateEntered", "WaitStateAborted", "ExecutionAborted"]
    assert r.history[-1]["t"] == 10 * DAY
    assert r.world.statement_cents() == 4200 and "RefundCard" not in r.effects and "ReleaseInventory" not in r.effects
    lines = sm.outcome_lines(r)
    assert lines[0].startswith("ExecutionAborted at day 10") and lines[-1].startswith("StopExecution at day 10")
    assert "no compensation ran: the card keeps $42.00" in lines[-1]


def test_stop_while_the_interpreter_is_down_is_seen_when_it_comes_back():
    r = sm.run(faults=FaultPlan(workers=(KillWorker(sm.INTERPRETER, at=10 * DAY),)), stop_at=10 * DAY + 1)
    assert r.outcome == "aborted" and r.execution.crashes[0]["resumed"] == ("closed", "aborted", None)


def test_stop_during_a_task_lets_the_attempt_finish_unrecorded():
    r = sm.run(stop_at=0.5)   # ChargeCard is in flight (it acts at 1 s): Step Functions does not call it back
    assert r.outcome == "aborted" and types(r)[-2:] == ["TaskStateAborted", "ExecutionAborted"]
    assert r.effects == {"ChargeCard": 1} and r.world.statement_cents() == 4200


def test_choice_default_skips_the_wait():
    r = sm.run(input={**sm.INPUT, "review": False})
    assert r.outcome == "succeeded" and types(r)[-4:] == ["ChoiceStateExited", "SucceedStateEntered",
                                                          "SucceedStateExited", "ExecutionSucceeded"]
    assert "SendReviewRequestEmail" not in r.effects and r.history[-1]["t"] < DAY


def test_a_missing_path_fails_the_execution_with_states_runtime():
    r = sm.run(input={"order_id": "1001", "review": True})   # no cents
    assert r.outcome == "failed" and r.history[-1]["executionFailedEventDetails"]["error"] == "States.Runtime"


def broken(edit):
    d = copy.deepcopy(sm.ORDER_1001)
    edit(d["States"])
    return d


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["ChargeCard"].update(Next="Reserve"),
     "state 'ChargeCard', field Next: no state named 'Reserve'"),
    (lambda s: s["ChargeCard"].pop("Resource"), "state 'ChargeCard', field Resource: a Task needs Resource"),
    (lambda s: s["ChargeCard"].pop("Next"), "state 'ChargeCard', field Next/End: needs Next"),
    (lambda s: s["SendReviewRequest"].update(Next="Done"), "field Next/End: only one of Next or End"),
    (lambda s: s["ShipPackage"]["Catch"].insert(0, {"ErrorEquals": ["States.ALL"], "Next": "RefundCard"}),
     "field Catch\\[0\\]: States.ALL must be alone in ErrorEquals, in the last entry"),
    (lambda s: s["ShipPackage"].update(TimeoutSeconds=30), "field TimeoutSeconds: not a field this interpreter"),
    (lambda s: s["WaitThirtyDays"].update(Seconds="30 days"), "field Seconds: a Wait needs Seconds"),
    (lambda s: s["Done"].update(Type="Pass"), "state 'Done', field Type: 'Pass' is not in this interpreter's subset"),
    (lambda s: s["ChargeCard"]["Parameters"]["Payload"].pop("cents.$"),
     "field Parameters.Payload: ChargeCard takes order_id, cents"),
    (lambda s: s["ChargeCard"]["Parameters"].update(FunctionName="Charge"), "field Parameters.FunctionName"),
    (lambda s: s["ChargeCard"]["Retry"][0].update(IntervalSeconds=0), "field Retry\\[0\\].IntervalSeconds: must be"),
    (lambda s: s["WantsReview"]["Choices"][0].update(BooleanEquals="yes"), "field Choices\\[0\\]: BooleanEquals"),
    (lambda s: s["OrderFailed"].update(Next="Done"), "state 'OrderFailed', field Next: not a field"),
])
def test_a_bad_definition_is_refused_naming_the_state_and_field(edit, message):
    with pytest.raises(sm.DefinitionError, match=message):
        sm.validate(broken(edit))


def test_validate_reads_json_text_and_checks_start_at():
    assert sm.validate(json.dumps(sm.ORDER_1001)) == json.loads(json.dumps(sm.ORDER_1001))
    with pytest.raises(sm.DefinitionError, match="StartAt: no state named 'Charge'"):
        sm.validate({**sm.ORDER_1001, "StartAt": "Charge"})


crashes = st.builds(Crash, st.sampled_from(TASKS + ("WaitThirtyDays", "SendReviewRequestEmail")), st.sampled_from(WHEN),
                    st.integers(1, 2))
kills = st.builds(lambda t: KillWorker(sm.INTERPRETER, at=t), st.floats(0, 31 * DAY))


@settings(max_examples=30, deadline=None)
@given(st.lists(crashes, max_size=4), st.lists(kills, max_size=2))
def test_any_crash_plan_recovers_to_the_crash_free_effects(cs, ks):
    clean = sm.run()
    r = sm.run(faults=FaultPlan(tuple(cs), workers=tuple(ks)))
    assert (r.outcome, r.effects, r.world.statement_cents(), final(r)) == (
        clean.outcome, clean.effects, clean.world.statement_cents(), final(clean))
