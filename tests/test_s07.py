"""Scene 07: without a key a retried charge charges again, a key per attempt doesn't help, a stable key
does; and the worker cannot tell a lost request from a lost response. Counts are checked against the
world's log, the network's messages and the history, not against the outcome text."""
import json

import pytest

from scenes import s07
from scenes.kit.diagram import Diagram
from scenes.kit.sequence import SequencePanel
from simcore.cli import main
from simcore.scenarios import s07 as model
from simcore.trace import Frame

DOUBLES = {  # key -> the faults that charge twice with it
    "none": {"response_lost", "duplicate", "delay", "worker_dies_after_effect"},
    "random": {"response_lost", "delay", "worker_dies_after_effect"},   # a copy carries its original's key
    "stable": set(),
}


@pytest.mark.parametrize("key", model.KEYS)
@pytest.mark.parametrize("fault", list(model.FAULTS))
def test_who_charges_twice(fault, key):
    run = model.simulate(fault, key)
    charges = [e for e in run.world.log if e.kind == "ChargeCard"]
    twice = fault in DOUBLES[key]
    assert len(charges) == (2 if twice else 1) and run.world.statement_cents() == len(charges) * 4200
    assert run.outcome == "completed"
    assert {k: v for k, v in run.world.effects().items() if k != "ChargeCard"} == \
        {"ReserveInventory": 1, "ShipPackage": 1, "SendConfirmationEmail": 1}
    started, completed = model.recorded(run)   # one record, of the last attempt, whatever happened before
    tries = model.attempts(run)
    assert started.attempt == tries[-1]["n"] == (1 if fault in ("none", "duplicate") else 2)
    assert completed.result == run.history[-1].result.rsplit(" ", 1)[-1]   # the workflow got that result


def test_the_curriculum_outcomes():
    lines = model.outcome_lines(model.simulate("response_lost", "none"))
    assert lines[0] == "statement: $84.00 (2 charges)"
    assert "card network: 2 requests reached it, 2 charged, 0 answered from its key table (no key sent)" in lines
    assert model.outcome_lines(model.simulate("worker_dies_after_effect", "none"))[0] == "statement: $84.00 (2 charges)"
    assert model.outcome_lines(model.simulate("response_lost", "random"))[0] == "statement: $84.00 (2 charges)"
    run = model.simulate("response_lost", "stable")
    lines = model.outcome_lines(run)
    assert lines[0] == "statement: $42.00 (1 charge)"
    assert ("card network: 2 requests reached it, 1 charged, 1 answered from its key table "
            f"(key {run.history[0].run_id[:8]}\u2026/1 on every attempt, the run id and the activity id)") in lines
    assert "worker, ChargeCard attempt 2: returned 'char_1'" in lines   # the first charge's id, from the table


def test_the_table_is_computed_by_running_the_engine():
    lines = model.table_lines()
    assert lines[1].split() == list(model.KEYS)
    for fault, row in zip(model.FAULTS, lines[2:]):
        assert row.split() == [fault] + ["$84.00" if fault in DOUBLES[k] else "$42.00" for k in model.KEYS]


@pytest.mark.parametrize("key", model.KEYS)
def test_the_worker_sees_the_same_for_a_lost_request_and_a_lost_response(key):
    lost_request, lost_response = model.simulate("request_lost", key), model.simulate("response_lost", key)
    (heard_a, a), (heard_b, b) = model.caller_view(lost_request), model.caller_view(lost_response)
    answer = next(i for i, f in enumerate(a) if "ChargeCard returned" in f.caption)
    assert a[:answer] == b[:answer] and answer >= 7   # frame for frame: the call, the silence, the timeout, the retry
    assert any("StartToCloseTimeout" in f.caption for f in a[:answer])
    cut = next(i for i, m in enumerate(heard_a) if m[1] == "world")   # what reached the worker before the answer
    assert heard_a[:cut] == heard_b[:cut]
    assert [m[3] for m in heard_a[:cut]] == ["ChargeCard #1 request", "ChargeCard #2 request"]
    # ... while the world's side differs: what the network lost, and what the card network did at 1.25 s
    assert [m.lost for m in lost_request.sim.messages[:2]] == [True, False]
    assert [m.lost for m in lost_response.sim.messages[:2]] == [False, True]
    assert lost_request.world.log[0].t == 7.25 and lost_response.world.log[0].t == 1.25
    if key == "stable":   # the key hands back the same charge id, so the two runs stay equal to the end
        assert (heard_a, a) == (heard_b, b)
    else:                 # attempt 2's answer is the first thing that differs: a new charge id
        assert a[answer].caption == "ChargeCard returned 'char_1'"
        assert b[answer].caption == "ChargeCard returned 'char_2'"


def test_keys_stable_per_attempt_or_not_at_all():
    run = model.simulate("response_lost", "stable")   # the workflow run id and ChargeCard's activity id
    assert list(run.world._keys) == [f"{run.history[0].run_id}/1"]
    fresh = model.simulate("response_lost", "random").world._keys
    assert len(fresh) == 2 and all(len(k) == 36 for k in fresh)
    assert len(model.simulate("duplicate", "random").world._keys) == 1   # the copy: same request, same key
    assert model.simulate("response_lost", "none").world._keys == {}


def test_the_same_controls_give_the_same_run():
    a, b = model.simulate("delay", "random"), model.simulate("delay", "random")
    assert a.frames == b.frames and a.world.log == b.world.log and a.sim.messages == b.sim.messages


def test_sequence_data_follows_the_network_log():
    lost = s07.sequence(model.simulate("request_lost", "none"))
    first = lost["messages"][0]
    assert first["lost"] and first["src"] == 0 and first["dst"] == 1   # ends in the network, in a cross
    dup = s07.sequence(model.simulate("duplicate", "stable"))
    assert [m["src"] for m in dup["messages"]] == [0, 1, 2]             # request, the network's copy, one reply
    world = [k["text"] for k in dup["marks"] if k["lane"] == 2]
    assert world == ["+$42.00 charged (char_1)\nkey seen: answers char_1,\nno new charge"]
    worker = lambda d: [(k["t"], k["text"]) for k in d["marks"] if k["lane"] == 0]   # noqa: E731
    assert worker(lost) == worker(s07.sequence(model.simulate("response_lost", "none")))
    dies = s07.sequence(model.simulate("worker_dies_after_effect", "none"))
    assert any(k.get("symbol") == "\u2620" and k["t"] == 1.25 for k in dies["marks"])


class _Run:
    def __init__(self, frames):
        self.frames = frames


def test_the_sequence_panel_draws_what_has_happened_by_the_frame():
    data = {"until": 10, "messages": [dict(t0=1, t1=3, src=0, dst=2, text="req"),
                                      dict(t0=4, t1=5, src=2, dst=1, text="lost", lost=True)],
            "marks": [dict(t=3, lane=2, text="acted")]}

    class One(Diagram):
        def build(self, ax):
            self.seq = SequencePanel(ax, (1, 1, 60, 45), ("a", "b", "c"), lambda run: data)
            yield self.seq
    d = One()
    run = _Run([Frame(t=t) for t in (0, 2, 3, 6)])
    d.render(run, 0)
    assert not any(a.get_visible() for a in d.seq.arrows + d.seq.notes)
    d.render(run, 1)   # in flight: half way from lane a towards lane c
    (x0, y0), (x1, _) = d.seq.arrows[0]._posA_posB
    assert d.seq.arrows[0].get_visible() and x0 < x1 < d.seq.xs[2] and not d.seq.notes[0].get_visible()
    d.render(run, 3)
    assert d.seq.notes[0].get_visible() and d.seq.crosses[1].get_visible() and not d.seq.crosses[0].get_visible()
    assert d.seq.arrows[1]._posA_posB[1][0] == d.seq.xs[1]   # the lost one stops at the middle lane


def test_controls_re_run_the_engine_and_every_frame_draws():
    view = s07.Scene()
    assert "statement: $84.00 (2 charges)" in view.outcome.value
    view.controls["key"].value = "stable"   # as a click would
    assert "statement: $42.00 (1 charge)" in view.outcome.value
    view.set_controls(fault="worker_dies_after_effect", key="none")
    assert "statement: $84.00 (2 charges)" in view.outcome.value
    for i in range(len(view.run.frames)):
        view.goto(i)
        assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_code_panels_light_the_charge_of_the_registered_body_while_an_attempt_runs():
    view = s07.Scene(fault="response_lost", key="random")
    sends = [i for i, f in enumerate(view.run.frames) if "sends ChargeCard" in f.caption]
    view.goto(sends[1])
    lit = [row for row in view.code.value.split('<div class="ds-line') if row.startswith(" ds-lit")]
    assert len(lit) == 2 and "ctx.activity(CHARGE_CARD[key]" in lit[0] and "act.world.charge(" in lit[1]
    assert view.code.value.index("key=random") < view.code.value.index("key=none")   # the registered one first
    view.goto(len(view.run.frames) - 1)
    assert "act.world.charge(" not in "".join(r for r in view.code.value.split('<div class="ds-line')
                                              if r.startswith(" ds-lit"))


def test_the_staff_engineer_answers():
    chat = s07.Scene().chat
    buttons, log = chat.buttons, chat.answers
    assert 3 <= len(buttons) == len(s07.QUESTIONS) <= 5
    next(b for b in buttons if "How long" in b.description).click()
    assert "at least 24 hours old" in log.value


def test_command_line(capsys):
    assert main(["run", "07", "--set", "fault=worker_dies_after_effect", "--set", "key=stable", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["statement_cents"] == 4200 and out["charges"] == 1 and out["crashes"] == 1


def test_a_copy_that_arrives_while_the_first_is_in_flight_is_refused_with_409():
    """Stripe answers a same-key request that arrives while the first is still processed with 409, not
    the first result: the copy charges nothing, and the worker hears the original's answer."""
    for key in ("random", "stable"):   # a copy carries its original's key, random or not
        run = model.simulate("duplicate", key)
        copy = model.attempts(run)[0]["copy"]
        assert "IdempotencyKeyInUse" in copy.text and run.world.statement_cents() == 4200
        assert "1 refused with 409 (same key, first request still in flight)" in model.outcome_lines(run)[2]
    assert model.simulate("duplicate", "none").world.statement_cents() == 8400


def test_the_note_of_a_death_on_the_sequence_clears_its_skull():
    from matplotlib.transforms import Bbox
    view = s07.Scene(fault="worker_dies_after_effect", key="stable")
    view.goto(next(i for i, f in enumerate(view.run.frames) if f.skull))
    seq = next(p for p in view.diagram.panels if isinstance(p, SequencePanel))
    renderer = seq.ax.figure.canvas.get_renderer()
    skull = Bbox.union([part.get_window_extent(renderer) for part in (seq.skull.cranium, seq.skull.jaw)])
    notes = [n for n in seq.notes if n.get_visible() and "dies" in n.get_text()]
    assert seq.skull.cranium.get_visible() and notes
    assert not any(n.get_window_extent(renderer).overlaps(skull) for n in notes)


@pytest.mark.parametrize("fault", list(model.FAULTS))
def test_no_lane_runs_through_a_message_label(fault):
    """A request crossing the network's lane was labelled at its middle, on that lane, and a copy's arc
    crossed its label. A label sits between the sender's lane and the next one, at every fault and key."""
    view = s07.Scene()
    for key in model.KEYS:
        view.set_controls(fault=fault, key=key)
        view.goto(len(view.run.frames) - 1)
        seq = next(p for p in view.diagram.panels if isinstance(p, SequencePanel))
        renderer = view.diagram.figure.canvas.get_renderer()
        lanes = [view.diagram.ax.transData.transform((x, 0))[0] for x in seq.xs]
        for label in seq.labels:
            if label.get_visible() and label.get_text():
                box = label.get_window_extent(renderer)
                assert not any(box.x0 < x < box.x1 for x in lanes), (key, label.get_text())
