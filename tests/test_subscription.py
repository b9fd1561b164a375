"""Scene 08's subscription (simcore/scenarios/subscription.py): 36 months billed across continue-as-new."""
import pytest

from simcore import events as ev
from simcore.scenarios import subscription as billing


@pytest.fixture(scope="module")
def billed():
    return billing.simulate_subscription(months=36, every=12, kills=6)


def test_36_months_are_36_charges_none_missed_or_doubled_across_continue_as_new(billed):
    months = sorted(int(e.order.rsplit(" ", 1)[1]) for e in billed.world.statement())
    assert months == list(range(1, 37)) and billed.world.statement_cents() == 36 * billing.MONTHLY
    assert billed.extra["at_boundaries"] == 2   # the worker was killed inside both continue-as-new tasks
    assert billed.engine.runs(billing.SUB_WID) == ["1", "2", "3"] and billed.outcome == "completed"


def test_each_run_starts_fresh_with_the_carried_input_and_stays_under_its_bound(billed):
    runs = [h for _, h in billed.extra["runs"]]
    assert [h[0].input[1] for h in runs] == [1, 13, 25]
    assert [type(h[-1]).__name__ for h in runs] == ["WorkflowExecutionContinuedAsNew"] * 2 + [
        "WorkflowExecutionCompleted"]
    assert [h[-1].input for h in runs[:2]] == [h[0].input for h in runs[1:]]
    for h in runs:
        lost = sum(isinstance(e, ev.WorkflowTaskTimedOut) for e in h)
        assert 5 + 11 * 12 <= len(h) <= 5 + 11 * 12 + 3 * lost   # 137 clean; a lost workflow task adds 2 or 3
        assert [e.timer_id for e in h if isinstance(e, ev.TimerStarted)][:2] == ["1", "2"]   # ids restart
    lines = billing.subscription_lines(billed)
    assert "charges: 36, one for each month 1-36: none missed, none doubled; $359.64" in lines
    assert "one billing month: 11 events (activity 3, workflow task 3, timer 2, workflow task 3)" in lines
    assert "without continue-as-new: one run of 401 events" in lines


def test_a_clean_run_of_12_months_is_137_events_and_36_months_without_it_401():
    clean = billing.simulate_subscription(months=36, every=12, kills=0)
    one = billing.simulate_subscription(months=36, every="off", kills=0)
    assert len(one.extra["runs"]) == 1 and len(one.extra["runs"][0][1]) == 401
    assert len(clean.extra["runs"][2][1]) == 137   # the last run saw no kill
