"""Scene 10: ShipPackage fails for good and the saga undoes the rest in reverse; a crash anywhere while
compensating still ends at net $0.00 with the mug back and each compensation's effect once; a compensation
that fails (for an hour, for good) and the saga's choice; the refund registered before or after a charge
whose answer was lost. Checked against the history and the world."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenes import s10
from simcore import events as ev
from simcore.cli import main
from simcore.faults import WHEN, CallFault, Crash, FaultPlan
from simcore.scenarios import s10 as model


def activities(run):
    """The activity types in the order the history scheduled them."""
    return [e.activity_type for e in run.history if isinstance(e, ev.ActivityTaskScheduled)]


def kinds(run):
    return [e.kind for e in run.world.log]


def test_the_saga_undoes_in_reverse_and_the_workflow_fails_as_temporals_does():
    run = model.simulate()
    w = run.world
    assert kinds(run) == ["ChargeCard", "ReserveInventory", "SendConfirmationEmail", "ReleaseInventory", "RefundCard",
                          "SendCancellationEmail"]
    assert [e.cents for e in w.statement()] == [4200, -4200] and w.statement_cents() == 0
    assert w.stock["mug"] == model.STOCK == 10
    ship = model.activity_record(run, "ShipPackage")
    assert ship["attempt"] == 1 and ship["end"].error_type == "InvalidAddress"   # not retryable: one attempt
    end = run.history[-1]
    assert isinstance(end, ev.WorkflowExecutionFailed) and run.outcome == "failed"
    assert end.message == "order failed, compensated: InvalidAddress: invalid address"
    # the real run (no emails) is 35 events; our two emails add two activities of 6 events each
    assert len(run.history) == 35 + 12
    lines = model.outcome_lines(run)
    assert "card statement: +$42.00 ChargeCard, -$42.00 RefundCard; net $0.00" in lines
    assert "saga: registered RefundCard, ReleaseInventory; compensated in reverse: ReleaseInventory x1, RefundCard x1" \
        in lines
    assert "emails: confirmation x1 (nothing unsends it), cancellation x1 (a new email, not an undo)" in lines


def test_the_email_is_never_compensated_only_followed_by_another():
    run = model.simulate()
    assert model.registered(run) == ["RefundCard", "ReleaseInventory"]   # nothing registered for the email
    assert activities(run)[-1] == "SendCancellationEmail" and run.world.effects()["SendConfirmationEmail"] == 1


@pytest.mark.parametrize("crash", [c for c in model.CRASHES if c != "none"])
def test_a_crash_anywhere_while_compensating_ends_net_zero_stock_back_each_undo_once(crash):
    run = model.simulate(crash=crash)
    w, point = run.world, model.CRASHES[crash]
    assert [c for _, c in run.sim.faults.fired] == [point]
    assert w.statement_cents() == 0 and w.stock["mug"] == 10
    assert w.effects()["ReleaseInventory"] == w.effects()["RefundCard"] == 1
    assert run.history[-1].message == "order failed, compensated: InvalidAddress: invalid address"
    record = model.activity_record(run, point.step)
    # after the effect or before it, the attempt died and the next one did (or repeated) it: attempt 2 recorded;
    # after the step, the result was recorded and the replay answered it from the history: one request
    assert (record["attempt"], record["sent"]) == ((1, 1) if point.when == "after_step" else (2, 2))
    assert any(isinstance(e, ev.WorkflowTaskCompleted) for e in run.history)
    assert run.engine.replays >= 1   # the restarted worker replayed the history to resume


def test_the_crash_table_prints_one_row_per_crash_point():
    lines = model.crash_table()
    assert len(lines) == 1 + len(model.CRASHES)
    assert all("$0.00" in line and "     10" in line and line.count("x1") == 2 for line in lines[1:])


def test_a_release_repeated_under_its_key_acts_once():
    run = model.simulate(crash="release_unrecorded")
    releases = [e for e in run.world.log if e.kind == "ReleaseInventory"]
    assert len(releases) == 1
    completed = model.activity_record(run, "ReleaseInventory")["end"]
    assert completed.result == releases[0].ref   # the second attempt got the first attempt's result back
    assert any("from its key (nothing done again)" in f.caption for f in run.frames)


def test_the_saga_list_lives_in_ram_the_crash_wipes_it_and_replay_rebuilds_it():
    run = model.simulate(crash="after_release")
    at = next(i for i, f in enumerate(run.frames) if f.skull)
    assert run.frames[at - 1].extra["saga"] == ["RefundCard", "ReleaseInventory"]
    assert run.frames[at].extra["saga"] is None
    assert any(f.replaying and f.extra["saga"] == ["RefundCard", "ReleaseInventory"] for f in run.frames[at:])


def test_a_warehouse_down_for_an_hour_is_retried_until_it_is_back():
    run = model.simulate(release="down_for_an_hour")
    record = model.activity_record(run, "ReleaseInventory")
    assert record["ok"] and record["at"] >= model.HOUR and record["attempt"] > 30   # the default policy: forever
    started = [e for e in run.history if isinstance(e, ev.ActivityTaskStarted)
               and run.history[e.scheduled_event_id - 1].activity_type == "ReleaseInventory"]
    assert len(started) == 1   # retries add no events: one ActivityTaskStarted with the final attempt
    assert run.world.statement_cents() == 0 and run.world.stock["mug"] == 10 and len(run.history) == 47


def test_a_warehouse_that_never_comes_back_is_retried_forever_and_the_refund_waits():
    run = model.simulate(release="down_forever")
    assert run.outcome == "running" and run.workflow_id not in run.engine.closed
    assert model.activity_record(run, "ReleaseInventory")["end"] is None   # no result recorded: still retrying
    assert "RefundCard" not in activities(run) and run.world.statement_cents() == 4200
    assert sum(1 for a in run.engine.attempts if a[1] == "ReleaseInventory") > 100
    assert "workflow: still compensating at 12:00:00, 3 hours in" in model.outcome_lines(run)


@pytest.mark.parametrize("release", ["down_an_hour_max_5_attempts", "fails_for_good"])
def test_a_compensation_that_fails_for_good_stops_the_saga_unless_it_continues(release):
    stop = model.simulate(release=release, on_failure="stop")
    attempts = 5 if release.startswith("down") else 1
    assert model.activity_record(stop, "ReleaseInventory")["attempt"] == attempts
    assert "RefundCard" not in activities(stop)              # Java's default: the first failure stops the rest
    assert stop.world.statement_cents() == 4200 and stop.world.stock["mug"] == 9
    go_on = model.simulate(release=release, on_failure="continue")
    assert activities(go_on)[-1] == "RefundCard" and go_on.world.statement_cents() == 0   # refunded all the same
    assert go_on.world.stock["mug"] == 9
    for run in (stop, go_on):
        assert run.outcome == "failed" and "SendCancellationEmail" not in activities(run)
        assert run.history[-1].message.startswith("order failed, not fully compensated: ReleaseInventory failed: ")
    assert "left for a person: the mug is still held and the card keeps $42.00" in model.outcome_lines(stop)
    assert "left for a person: the mug is still held" in model.outcome_lines(go_on)


def test_registered_after_success_a_charge_whose_answer_was_lost_is_never_refunded():
    run = model.simulate(charge="response_lost", register="after")
    charge = model.activity_record(run, "ChargeCard")
    assert isinstance(charge["end"], ev.ActivityTaskTimedOut) and charge["attempt"] == 3 and charge["sent"] == 3
    assert kinds(run) == ["ChargeCard", "SendCancellationEmail"]   # charged once (the key), never refunded
    assert run.world.statement_cents() == 4200 and model.registered(run) == []
    assert run.history[-1].message.startswith("order failed, compensated: StartToCloseTimeout")   # it believes so


@pytest.mark.parametrize("charge, net", [("response_lost", 0), ("request_lost", 0)])
def test_registered_before_the_refund_of_what_was_charged_is_safe_either_way(charge, net):
    run = model.simulate(charge=charge, register="before")
    assert run.world.statement_cents() == net
    assert run.world.effects()["RefundCard"] == run.world.effects()["ChargeCard"] == (charge == "response_lost")
    refund = model.activity_record(run, "RefundCard")["end"]
    assert refund.result == ("nothing to refund" if charge == "request_lost" else "refu_2")


def test_a_blind_refund_registered_before_credits_money_never_taken():
    run = model.simulate(charge="request_lost", register="before_blind")
    assert kinds(run) == ["RefundCard", "SendCancellationEmail"] and run.world.statement_cents() == -4200
    assert "a blind refund credited $42.00 that was never charged" in model.outcome_lines(run)
    assert model.simulate(charge="response_lost", register="before_blind").world.statement_cents() == 0


def test_the_world_refunds_what_the_network_holds_and_a_repeat_under_its_key_the_first_amount():
    from simcore.world import World
    w = World()
    assert w.refund("1001", key="k") == "nothing to refund" and not w.log
    w.charge("1001", 4200, key="c")
    assert w.charged("1001") == 4200
    ref = w.refund("1001", key="r")
    assert w.charged("1001") == 0 and w.refund("1001", key="r") == ref and len(w.log) == 2


def test_the_same_controls_give_the_same_frames():
    for controls in (dict(crash="refund_unrecorded"), dict(release="down_for_an_hour"),
                     dict(charge="response_lost", register="before")):
        a, b = model.simulate(**controls), model.simulate(**controls)
        assert a.frames == b.frames and a.world.log == b.world.log and a.history == b.history


def test_command_line(capsys):
    assert main(["run", "10", "--set", "crash=release_unrecorded", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["statement_cents"] == 0 and out["charges"] == out["refunds"] == 1 and out["crashes"] == 1
    assert out["effects"]["ReleaseInventory"] == 1 and out["outcome"] == "failed"
    assert main(["run", "10", "--set", "release=sometimes"]) == 2
    assert "release='sometimes' is not allowed; choose one of: works" in capsys.readouterr().err


def test_controls_re_run_the_engine_and_every_frame_draws():
    view = s10.Scene()
    assert "net $0.00" in view.outcome.value
    view.controls["charge"].value = "response_lost"   # as a click would
    assert "the card keeps $42.00 for a charge that did happen" in view.outcome.value
    for controls in (dict(crash="after_refund", charge="ok"), dict(release="fails_for_good"),
                     dict(charge="request_lost", register="before_blind", release="works")):
        view.set_controls(**controls)
        for i in range(len(view.run.frames)):
            view.goto(i)
            assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_saga_panel_shows_the_run_order_and_the_wipe():
    view = s10.Scene(crash="before_refund")
    panel = next(p for p in view.diagram.panels if isinstance(p, s10.SagaPanel))
    view.goto(next(i for i, f in enumerate(view.run.frames) if f.skull))
    assert [r.get_text() for r in panel.rows] == ["wiped by the crash:", "replay registers them again"]
    view.goto(len(view.run.frames) - 1)
    assert [r.get_text() for r in panel.rows] == ["1. ReleaseInventory \u2713 done", "2. RefundCard       \u2713 done"]


def test_the_staff_engineer_answers_in_at_most_120_words():
    chat = s10.Scene().chat
    assert 3 <= len(chat.buttons) == len(s10.QUESTIONS) <= 5
    assert all(len(a.split()) <= 120 for a in s10.QUESTIONS.values())
    assert "continueWithError" in chat.ask("What if a compensation fails?")


# -- the property: any crash plan, over the forward steps and the compensations ------------------------------
crash_plans = st.lists(st.builds(Crash, st.sampled_from(model.STEPS), st.sampled_from(WHEN), st.integers(1, 3)),
                       max_size=4, unique=True)


@settings(max_examples=30, deadline=None)
@given(crash_plans)
def test_any_crash_plan_ends_net_zero_stock_back_and_each_undo_once(crashes):
    """With the refund registered before the charge (so a charge whose attempts the crashes used up is
    refunded all the same), the saga ends the same way whatever crashes where: net $0.00, the mug back,
    each effect at most once and each undone once."""
    run = model.run_saga(FaultPlan(crashes=tuple(crashes)), register="before")
    e = run.world.effects()
    assert run.outcome == "failed" and run.history[-1].message.startswith("order failed, compensated: ")
    assert run.world.statement_cents() == 0 and run.world.stock["mug"] == 10
    assert all(n <= 1 for n in e.values()), e
    assert e["RefundCard"] == e["ChargeCard"] and e["ReleaseInventory"] == e["ReserveInventory"]
    assert e["SendCancellationEmail"] == 1


def test_registered_after_a_charge_whose_attempts_crashes_used_up_is_not_refunded():
    """The same hole as the lost answer: three crashes in ChargeCard's three attempts, the first after the
    card network charged, and ChargeCard fails having charged; registered after, nothing refunds it."""
    plan = FaultPlan(crashes=(Crash("ChargeCard", "after_effect"), Crash("ChargeCard", "before_effect", 2),
                              Crash("ChargeCard", "before_effect", 3)))
    after, before = model.run_saga(plan, register="after"), model.run_saga(plan, register="before")
    assert after.world.statement_cents() == 4200 and before.world.statement_cents() == 0
    assert isinstance(model.activity_record(after, "ChargeCard")["end"], ev.ActivityTaskTimedOut)


def test_a_lost_charge_answer_with_crashes_while_compensating_still_refunds_once():
    plan = FaultPlan(crashes=(Crash("RefundCard", "after_effect"),),
                     calls=(CallFault("ChargeCard", "response_lost", attempts=(1, 2, 3)),))
    run = model.run_saga(plan, register="before")
    assert kinds(run) == ["ChargeCard", "RefundCard", "SendCancellationEmail"] and run.world.statement_cents() == 0
