"""Scene 09: a cancel signal before shipping refunds and releases, after shipping sends a return label;
a signal sent while every worker is down is recorded and acted on later; a query writes nothing and
fails with no worker; a signal to a closed workflow is refused. Checked against the history and the world."""
import json

import pytest

from scenes import s09
from simcore import events as ev
from simcore.cli import main
from simcore.scenarios import s09 as model


def types(run):
    return [e.type for e in run.history]


@pytest.mark.parametrize("workers", ["up", "down"])
def test_cancel_before_shipping_refunds_releases_and_ships_nothing(workers):
    run = model.simulate(cancel="before_shipping", workers=workers)
    w = run.world
    assert [e.kind for e in w.log] == ["ChargeCard", "ReserveInventory", "RefundCard", "ReleaseInventory"]
    assert w.statement_cents() == 0 and w.stock["mug"] == 10
    assert "TimerCanceled" in types(run) and "TimerFired" not in types(run)
    lines = model.outcome_lines(run)
    assert "card: 1 charge, 1 refund, net $0.00" in lines
    assert "mug: released back to stock; packages shipped: 0; return-label emails: 0" in lines


@pytest.mark.parametrize("workers", ["up", "down"])
def test_cancel_after_shipping_keeps_the_charge_and_sends_a_return_label(workers):
    run = model.simulate(cancel="after_shipping", workers=workers)
    w = run.world
    assert [e.kind for e in w.log] == ["ChargeCard", "ReserveInventory", "ShipPackage", "SendReturnLabelEmail"]
    assert w.statement_cents() == model.CENTS
    assert run.history[-1].result == "cancelled after shipping (customer changed mind): return label sent"
    assert "card: 1 charge, no refund, net $42.00" in model.outcome_lines(run)


def test_a_signal_sent_while_every_worker_is_down_is_recorded_at_once_and_acted_on_later():
    run = model.simulate(cancel="before_shipping", workers="down")
    signaled = next(e for e in run.history if isinstance(e, ev.WorkflowExecutionSignaled))
    assert signaled.time == model.MOMENT["before_shipping"] and signaled.input == "customer changed mind"
    frame = next(f for f in reversed(run.frames) if f.t <= signaled.time)
    assert frame.extra["workers"] == [("worker-1", "dead")]
    reacted = next(e for e in run.history if isinstance(e, ev.WorkflowTaskStarted) and e.event_id > signaled.event_id)
    assert reacted.time == signaled.time - 300 + model.DOWN   # when the restarted worker polled
    assert "signal 'cancel' at day 0, 09:20: recorded as event 18 while every worker was down: not lost" \
        in model.outcome_lines(run)


def test_a_query_writes_nothing_and_with_no_worker_it_fails():
    run = model.simulate(cancel="never", workers="down")
    queries = [m for m in run.extra["messages"] if m["kind"] == "query"]
    answered, failed, closed = queries
    assert answered["answer"] == "packing: ships within 2 hours" and answered["before"] == answered["after"] == 17
    assert failed["answer"] is None and "no poller seen for task queue recently" in failed["error"]
    assert closed["closed"] and closed["answer"] == "delivered; the return window has closed"
    assert closed["before"] == closed["after"] == len(run.history)
    assert "replayed" in closed["how"]   # nobody holds a closed workflow: a worker replays it to answer
    lines = model.outcome_lines(run)
    assert ("query 'status' at day 0, 09:21: failed: query 'status' to order-1001: no poller seen for task queue "
            "recently, worker may be down") in lines


def test_a_signal_to_a_closed_workflow_is_refused_and_writes_nothing():
    run = model.simulate(cancel="never")
    late = next(m for m in run.extra["messages"] if m["kind"] == "late")
    assert "workflow execution already completed" in late["error"]
    assert types(run)[-1] == "WorkflowExecutionCompleted" and "WorkflowExecutionSignaled" not in types(run)


def test_without_a_cancel_it_ships_and_the_return_window_closes():
    run = model.simulate(cancel="never")
    assert run.history[-1].result == "delivered; the return window has closed"
    assert [e.timer_id for e in run.history if isinstance(e, ev.TimerFired)] == ["1", "2"]


def test_the_same_controls_give_the_same_frames():
    for cancel in ("before_shipping", "after_shipping"):
        a, b = model.simulate(cancel=cancel, workers="down"), model.simulate(cancel=cancel, workers="down")
        assert a.frames == b.frames and a.world.log == b.world.log and a.extra == b.extra


def test_controls_re_run_the_engine_and_every_frame_draws():
    view = s09.Scene(cancel="before_shipping")
    assert "card: 1 charge, 1 refund, net $0.00" in view.outcome.value
    view.controls["cancel"].value = "after_shipping"   # as a click would
    assert "return-label emails: 1" in view.outcome.value
    for cancel in ("never", "before_shipping", "after_shipping"):
        view.set_controls(cancel=cancel, workers="down")
        for i in range(len(view.run.frames)):
            view.goto(i)
            assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_messages_panel_shows_each_message_once_it_has_happened():
    view = s09.Scene(cancel="before_shipping", workers="down")
    panel = next(p for p in view.diagram.panels if isinstance(p, s09.MessagesPanel))
    view.goto(next(i for i, f in enumerate(view.run.frames) if "FAILED" in f.caption))
    texts = [r.get_text() for r in panel.rows if r.get_text()]
    assert texts[-4:] == ["day 0 09:20 signal cancel", "  recorded: event 18 (no worker)", "day 0 09:21 query status",
                          "  failed: no poller seen"]
    assert panel.worker.get_text() == "worker-1: dead"
    view.goto(0)
    assert not any(r.get_text() for r in panel.rows)


def test_the_staff_engineer_answers_in_at_most_120_words():
    chat = s09.Scene().chat
    assert 3 <= len(chat.buttons) == len(s09.QUESTIONS) <= 5
    assert all(len(a.split()) <= 120 for a in s09.QUESTIONS.values())
    next(b for b in chat.buttons if "query change" in b.description).click()
    assert "no poller seen" in chat.answers.value


def test_command_line(capsys):
    assert main(["run", "09", "--set", "cancel=after_shipping", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["charges"] == 1 and out["refunds"] == 0 and out["effects"]["SendReturnLabelEmail"] == 1


def test_an_accepted_update_is_recorded_and_a_rejected_one_writes_nothing():
    accepted = model.simulate(cancel="never", update="while_packing")
    m = next(x for x in accepted.extra["messages"] if x["kind"] == "update")
    assert m["result"] == "1 Old Street -> 2 New Street" and not m["error"]
    assert [t for t in m["new"] if t.startswith("WorkflowExecutionUpdate")] == [
        "WorkflowExecutionUpdateAccepted", "WorkflowExecutionUpdateCompleted"]
    rejected = model.simulate(cancel="never", update="after_shipping")
    m = next(x for x in rejected.extra["messages"] if x["kind"] == "update")
    assert "too late, the order is shipped to 1 Old Street" in m["error"]
    assert m["before"] == m["after"] and m["new"] == []   # not even a workflow task
    assert ("update 'change_address' at day 1, 09:00: rejected (too late, the order is shipped to 1 Old Street); "
            "history 28 -> 28 events: nothing written, not even a workflow task") in model.outcome_lines(rejected)


def test_next_incident_stops_where_a_message_is_refused_and_not_where_one_is_recorded():
    view = s09.Scene(cancel="never", workers="down")
    stops = [view.run.frames[i] for i in view.incidents]
    assert any(f.caption.startswith("query 'status' FAILED") for f in stops)           # no worker: the query fails
    assert any("refused" in f.caption for f in stops)                                 # a signal to a closed workflow
    assert not any(f.caption.startswith("signal 'cancel' recorded") for f in stops)   # the machinery working
