"""Scene 06: the engine retries on the policy's schedule; immediate retries keep a sick service down,
backoff lets it recover; a non-retryable error fails at once; spent attempts reach the workflow as an
error it handles; a hung attempt is abandoned and its late result refused. Every number is checked
against the engine's attempt log, the downstream's arrivals, the world's log or the history."""
import json

import pytest

from scenes import s06
from simcore import events as ev
from simcore.cli import main
from simcore.retry import RetryPolicy
from simcore.scenarios import s06 as model


@pytest.fixture(scope="module")
def storm():
    return {retry: model.simulate(orders=100, retry=retry, incident=30) for retry in ("immediate", "backoff")}


def reserve_starts_and_ends(run, wid="order-1001"):
    """Straight from the engine's log: each ReserveInventory attempt takes 1 s, so it started 1 s
    before the time the engine logged its end."""
    ends = [t for t, step, w, _, _ in run.engine.attempts if step == "ReserveInventory" and w == wid]
    return [t - 1 for t in ends], ends


def test_the_engine_waits_exactly_the_policys_schedule_capped_at_the_maximum_interval():
    run = model.simulate(orders=1, retry="backoff", incident=60)
    starts, ends = reserve_starts_and_ends(run)
    gaps = [b - a for a, b in zip(ends, starts[1:])]
    assert gaps == [1, 2, 4, 8, 16, 20] == model.retry_policy("backoff", "unlimited").schedule(7)
    assert model.waits(run) == gaps
    started = [e for e in run.history if isinstance(e, ev.ActivityTaskStarted)]
    assert started[1].attempt == 7   # only the last attempt is written to the history
    assert "order 1001 waited between ReserveInventory attempts: 1s, 2s, 4s, 8s, 16s, 20s" in model.outcome_lines(run)


def test_immediate_retries_keep_the_service_saturated_after_the_incident(storm):
    run = storm["immediate"]
    down = run.downstream
    per_second = down.load(model.HORIZON)[:-1]   # the last bin holds only t == 120
    assert all(n > down.capacity for n in per_second[31:])   # every second after the incident is over capacity
    assert down.recovered_at is None and len(down.failures) == len(down.arrivals) > 5000
    assert run.extra["running"] == 100 and run.world.effects()["ReserveInventory"] == 0
    assert min(model.waits(run)) == 0.1   # never sooner than the policy; later only when no worker was free


def test_backoff_lets_the_service_recover_and_every_order_completes(storm):
    run, immediate = storm["backoff"], storm["immediate"]
    down = run.downstream
    assert 30 <= down.recovered_at < 31
    assert max(down.load(model.HORIZON)[31:]) <= down.capacity
    assert len(down.arrivals) * 5 < len(immediate.downstream.arrivals)
    assert run.extra["fulfilled"] == 100 and len(run.engine.closed) == 100
    assert run.world.statement_cents() == 100 * 4200 and run.world.effects()["ReserveInventory"] == 100
    lines = model.outcome_lines(run)
    assert "inventory service: recovered at 30.05s, 0.05s after the incident ended" in lines
    assert "never recovered: 50 requests/s after the incident" in model.outcome_lines(immediate)[2]


def test_capped_immediate_retries_end_the_storm_only_by_giving_up():
    run = model.simulate(orders=100, retry="immediate", max_attempts=5, incident=30)
    assert run.extra["refunded"] == 100 and len(run.downstream.arrivals) == 500
    assert run.world.statement_cents() == 0 and run.downstream.recovered_at is None


@pytest.mark.parametrize("retry", ["immediate", "backoff"])
def test_a_declined_card_fails_at_once_and_the_workflow_handles_it(retry):
    run = model.simulate(orders=1, retry=retry, fault="CardDeclined")
    assert [(step, n, out) for _, step, _, n, out in run.engine.attempts] == [("ChargeCard", 1, "CardDeclined")]
    failed = [e for e in run.history if isinstance(e, ev.ActivityTaskFailed)]
    assert [e.error_type for e in failed] == ["CardDeclined"]
    assert run.history[-1].result == "order 1001 declined: CardDeclined" and run.world.log == []


def test_spent_attempts_reach_the_workflow_as_an_error_it_handles():
    run = model.simulate(orders=1, retry="backoff", max_attempts=5, incident="forever")
    assert [n for _, step, _, n, _ in run.engine.attempts if step == "ReserveInventory"] == [1, 2, 3, 4, 5]
    types = [e.type for e in run.history]
    task = ["WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted"]
    assert types[types.index("ActivityTaskFailed") - 1:] == [
        "ActivityTaskStarted", "ActivityTaskFailed", *task, "ActivityTaskScheduled", "ActivityTaskStarted",
        "ActivityTaskCompleted", *task, "WorkflowExecutionCompleted"]
    assert run.history[-1].result == "order 1001 cancelled and refunded: ServiceUnavailable"
    assert [e.kind for e in run.world.log] == ["ChargeCard", "RefundCard"] and run.world.statement_cents() == 0


def test_a_hung_attempt_is_abandoned_at_start_to_close_and_its_late_result_refused():
    run = model.simulate(orders=1, retry="backoff", incident=0, fault="ShipPackage hangs")
    ship = [(t, n, out) for t, step, _, n, out in run.engine.attempts if step == "ShipPackage"]
    assert [n for _, n, _ in ship] == [2, 1] and ship[1][0] > ship[0][0] + 40   # attempt 1 reports long after 2
    timeout = next(f for f in run.frames if "StartToCloseTimeout" in f.caption)
    hung = next(a for a in model.attempts(run) if a["late"])
    assert timeout.t == hung["start"] + model.START_TO_CLOSE == hung["failed_at"]
    assert run.engine.rejected == 1
    assert [e.attempt for e in run.history if isinstance(e, ev.ActivityTaskStarted)][2] == 2
    assert run.world.effects()["ShipPackage"] == 2   # refused by the engine, but the carrier did ship it
    assert run.outcome == "completed"


@pytest.mark.parametrize("fields, says", [
    ({"backoff_coefficient": 0.5}, "refused: backoff_coefficient must be >= 1"),
    ({"initial_interval": 10, "maximum_interval": 5}, "refused: maximum_interval (5) must be >= initial_interval (10)"),
    ({"start_to_close": -1}, "refused: start_to_close must be a positive number of seconds"),
])
def test_a_policy_that_makes_no_sense_is_refused_naming_the_field(fields, says, capsys):
    s06.policy(**fields)
    assert capsys.readouterr().out.startswith(says)


def test_a_sensible_policy_prints_its_schedule(capsys):
    s06.policy(initial_interval=1, backoff_coefficient=2, maximum_interval=20, maximum_attempts=10)
    assert capsys.readouterr().out.splitlines() == ["waits between attempts: 1s, 2s, 4s, 8s, 16s, 20s, 20s, 20s, 20s",
                                                    "gives up after: 10 attempts, 111s of waiting"]


def test_the_workflow_input_carries_the_policy_the_control_chose():
    run = model.simulate(orders=1, retry="immediate", max_attempts=10, incident=0)
    retry = run.history[0].input[2]
    assert RetryPolicy(**retry) == RetryPolicy(initial_interval=0.1, backoff_coefficient=1, maximum_attempts=10,
                                               non_retryable_error_types=("CardDeclined",))
    scheduled = next(e for e in run.history if isinstance(e, ev.ActivityTaskScheduled))
    assert scheduled.options["retry"]["initial_interval"] == 0.1 and scheduled.options["start_to_close"] == 10


def test_the_same_controls_give_the_same_frames():
    for controls in (dict(orders=1, retry="backoff", fault="ShipPackage hangs"), dict(orders=100, retry="backoff")):
        a, b = model.simulate(**controls), model.simulate(**controls)
        assert a.frames == b.frames and a.world.log == b.world.log and a.engine.attempts == b.engine.attempts


def test_controls_re_run_the_engine_and_every_frame_draws():
    view = s06.Scene(orders=1, retry="backoff", incident=10)
    assert "orders: 1 fulfilled, 0 cancelled and refunded, 0 declined, 0 still retrying at 120s" in view.outcome.value
    view.controls["fault"].value = "CardDeclined"    # as a click would
    assert "order 1001 declined: CardDeclined" in view.outcome.value
    view.set_controls(fault="none", orders=100)
    assert "orders: 100 fulfilled" in view.outcome.value
    for i in range(len(view.run.frames)):
        view.goto(i)
        assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_diagram_shows_the_policy_and_what_order_1001_saw():
    view = s06.Scene(orders=1, retry="backoff", incident=60)
    policy = next(p for p in view.diagram.panels if isinstance(p, s06.PolicyPanel))
    view.goto(len(view.run.frames) - 1)
    assert policy.fixed[6].get_text() == "promised: 1 2 4 8 16 20 20 20 20 20 ..."
    assert policy.seen.get_text() == "seen by #1001: 1 2 4 8 16 20"
    view.goto(0)
    assert policy.seen.get_text() == "seen by #1001: -"
    timeline = s06.timeline_data(view.run)
    assert [text for row, _, text in timeline["marks"] if row == 1] == ["4s", "8s", "16s", "20s"]


def lit_lines(html):
    return [row for row in html.split('<div class="ds-line') if row.startswith(" ds-lit")]


def test_code_panels_light_the_running_line_and_the_policy_in_force():
    view = s06.Scene(orders=1, retry="backoff", fault="CardDeclined")
    view.goto(next(i for i, f in enumerate(view.run.frames) if f.caption.startswith("the workflow returns")))
    lit = lit_lines(view.code.value)
    assert 'return f"order {order_id} declined: {err.error_type}"' in lit[0].replace("&quot;", '"')
    assert "initial_interval=1," in lit[1]
    view.set_controls(retry="immediate")
    assert "initial_interval=0.1" in lit_lines(view.code.value)[-1]


def test_the_staff_engineer_answers():
    chat = s06.Scene(orders=1).chat
    buttons, log = chat.buttons, chat.answers
    assert 3 <= len(buttons) == len(s06.QUESTIONS) <= 5
    next(b for b in buttons if "jitter" in b.description).click()
    assert "no jitter field" in log.value


def test_command_line(capsys):
    assert main(["run", "06", "--set", "orders=1", "--set", "fault=CardDeclined", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["declined"] == 1 and out["charges"] == 0 and out["attempts_sent"] == 0


def test_next_incident_stops_once_at_an_outage_not_at_every_second_of_it():
    view = s06.Scene(orders=100, retry="immediate", incident=30)
    outage = [i for i, f in enumerate(view.run.frames) if f.kind == "outage"]
    assert [view.run.frames[i].t for i in outage] == list(range(1, 30))   # a frame a second while it is down
    assert outage == list(range(outage[0], outage[-1] + 1))
    assert [i for i in view.incidents if i in outage] == [outage[0]]


def test_the_frames_count_of_requests_is_the_plots_bar_for_that_second():
    """The caption counted (t-1, t], the plot bins [t-1, t): 48 beside a bar of 50."""
    run = model.simulate()
    load = run.downstream.load(run.frames[-1].t)
    sampled = [f for f in run.frames if "requests in the last second" in f.caption and f.t >= 1]
    assert sampled and all(f"{load[int(f.t) - 1]} requests in the last second" in f.caption for f in sampled)
