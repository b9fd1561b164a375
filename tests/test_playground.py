"""The playground on a learner's own code: a small trip booking (a loop, a caught failure), crashed at
every point it reaches; bad code answered with a message at the learner's line; a changed workflow
replayed against the previous run's history."""
import pytest

from scenes import playground as view
from simcore.playground import SAVED, Playground, PlaygroundError, activity, workflow
from simcore.workflow import ActivityError
from simcore.world import current_world

EFFECTS = {"ChargeCard": 1, "BookFlight": 2, "SendItinerary": 1}


@activity("ChargeCard")
def charge(act, trip, cents):
    return act.world.charge(trip, cents, key=act.idempotency_key)


@activity("BookFlight")
def book_flight(act, trip, leg):
    return act.world.effect("BookFlight", trip, key=act.idempotency_key, note=leg)


class NoCar(Exception):
    non_retryable = True


@activity("RentCar")
def rent_car(act, trip):
    raise NoCar("none left")


@activity("SendItinerary")
def send(act, trip, booked):
    return act.world.effect("SendItinerary", trip, note=f"{len(booked)} bookings")   # no key: not idempotent


@workflow
def trip(ctx, trip_id):
    yield ctx.activity(charge, trip_id, 50_000)
    booked = []
    for leg in ["LHR-JFK", "JFK-LHR"]:
        booked.append((yield ctx.activity(book_flight, trip_id, leg)))
    try:
        yield ctx.activity(rent_car, trip_id)
    except ActivityError:
        pass
    yield ctx.activity(send, trip_id, booked)
    return len(booked)


ACTS = [charge, book_flight, rent_car, send]


@pytest.fixture
def p():
    SAVED.clear()
    return Playground(trip, ACTS, ["trip-9"])


def test_the_crash_points_are_every_point_the_run_reached_in_time_order(p):
    assert list(p.points)[:3] == ["ChargeCard: before effect", "ChargeCard: after effect, before record",
                                  "ChargeCard: after result"]
    assert "BookFlight #2: after effect, before record" in p.points
    assert "RentCar: before effect" in p.points and "RentCar: after result" not in p.points   # it failed
    assert [c.name for c in p.CONTROLS] == ["strategy", "crash", "key"]
    assert p.CONTROLS[1].choices == ("none", *p.points)


def test_the_process_box_has_a_row_per_call(p):
    box = view.Scene(p).diagram.panels[0]
    assert box.steps == ["ChargeCard('trip-9', 50000)", "BookFlight('trip-9', 'LHR-JFK')",
                         "BookFlight('trip-9', 'JFK-LHR')", "RentCar('trip-9')",
                         "SendItinerary('trip-9', ['book_2 LHR-JFK', \u2026"]   # clipped to fit the row


def test_cron_repeats_what_came_before_the_crash_and_durable_does_not(p):
    cron = p.simulate("cron", "BookFlight #2: after result")
    assert dict(cron.world.effects()) == {"ChargeCard": 2, "BookFlight": 4, "SendItinerary": 1}
    assert "against the crash-free run: ChargeCard +1, BookFlight +2" in p.outcome_lines(cron)
    durable = p.simulate("durable", "BookFlight #2: after effect, before record")
    assert dict(durable.world.effects()) == EFFECTS and durable.outcome == "completed"


def test_dropping_the_keys_repeats_an_effect_crashed_before_its_record(p):
    run = p.simulate("durable", "BookFlight #2: after effect, before record", key="none")
    assert run.world.effects()["BookFlight"] == 3


def test_the_sweep_names_the_step_without_a_key(p):
    rows = p.sweep(("durable",))
    repeated = {r.point for r in rows if r.effects != EFFECTS}
    assert repeated == {"SendItinerary: after effect, before record"}
    assert all(r.outcome == "completed" for r in rows)
    table = p.sweep_table(rows)
    assert table.splitlines()[-1] == "repeated (!): SendItinerary at 1 point"
    dropped = p.sweep_table(p.sweep(("durable",), key="none"))
    assert "repeated (!): ChargeCard at 1 point, BookFlight at 2 points, SendItinerary at 1 point" in dropped


def test_the_same_code_gives_the_same_run(p):
    a, b = (p.simulate("durable", "ChargeCard: after result") for _ in range(2))
    assert a.frames == b.frames and p.outcome_lines(a) == p.outcome_lines(b)


def test_the_scene_draws_the_crash_with_the_line_lit(p):
    scene = view.Scene(p, strategy="cron", crash="BookFlight #1: after effect, before record")
    scene._to_crash()
    frame = scene.run.frames[scene.index]
    assert frame.skull and "ds-lit" in scene.now.value and bytes(scene.image.value)[:4] == b"\x89PNG"
    assert "against the crash-free run: ChargeCard +1, BookFlight +1" in scene.outcome.value
    assert "activity BookFlight" in scene.code.value
    assert "repeated (!)" in scene.break_it()


# -- bad code: a message at the learner's line, never the engine's traceback ---------------------
def test_a_workflow_that_is_not_a_generator():
    def not_a_generator(ctx):
        return 1
    with pytest.raises(PlaygroundError, match=r"must be a generator function.*test_playground.py: `def not_a_gen"):
        workflow(not_a_generator)
    assert "cannot run this code" in view.show(not_a_generator, []).value
    assert PlaygroundError("x")._render_traceback_() == ["PlaygroundError: x"]


def test_an_activity_that_yields():
    with pytest.raises(PlaygroundError, match=r"must be a plain function.*`def yields\(act\):`"):
        @activity("Yields")
        def yields(act):
            yield 1


def test_a_result_that_is_not_json(capsys):
    @activity("Lookup")
    def lookup(act):
        found = {"a", "set"}
        return found

    @workflow
    def uses(ctx):
        return (yield ctx.activity(lookup))
    view.try_it(uses, [lookup], strategy="durable")
    out = capsys.readouterr().out
    assert "problem: Lookup returned set" in out and "`return found`): the history records a result as JSON" in out


def test_a_call_to_the_world_outside_an_activity():
    @workflow
    def inline(ctx, t):
        yield ctx.activity(book_flight, t, "LHR-JFK")
        current_world().effect("BookFlight", t, note="inline")
    p = Playground(inline, [book_flight], ["t"])
    lines = p.outcome_lines(p.simulate("durable"))
    assert any("inline did BookFlight itself, outside an activity" in line
               and '`current_world().effect("BookFlight", t, note="inline")`' in line for line in lines)

    @workflow
    def direct(ctx, t):
        book_flight(ctx, t, "LHR-JFK")
        yield ctx.activity(book_flight, t, "LHR-JFK")
    p = Playground(direct, [book_flight], ["t"])
    assert "problem: direct raised AttributeError: 'WorkflowContext' object has no attribute 'world'" in \
        "\n".join(p.outcome_lines(p.simulate()))


def test_a_bad_yield_and_a_missing_activity_name_the_line():
    @workflow
    def bad(ctx):
        t = yield ctx.now()
        return t
    with pytest.raises(PlaygroundError, match=r"without yield\. \(line \d+ of test_playground.py: `t = yield ctx.now"):
        Playground(bad, [])

    @workflow
    def missing(ctx):
        yield ctx.activity(rent_car, "t")
    with pytest.raises(PlaygroundError, match="calls RentCar .* not in the list of activities"):
        Playground(missing, [])


def test_a_changed_workflow_replays_the_previous_history_and_names_the_line(p):
    @workflow
    def trip(ctx, trip_id):   # noqa: F811 (the learner's edited cell: same name, new code)
        booked = []
        for leg in ["LHR-JFK", "JFK-LHR"]:
            booked.append((yield ctx.activity(book_flight, trip_id, leg)))
        yield ctx.activity(charge, trip_id, 50_000)
    changed = Playground(trip, ACTS, ["trip-9"])
    assert changed.replayed.startswith("replay of the previous run's history: NonDeterminismError")
    assert "[ActivityTaskScheduled ChargeCard] but the code produced [ScheduleActivity BookFlight]" in changed.replayed
    assert "`booked.append((yield ctx.activity(book_flight, trip_id, leg)))`" in changed.replayed
    assert changed.outcome_lines(changed.simulate())[0] == changed.replayed
    assert Playground(trip, ACTS, ["trip-9"]).replayed == ""   # its own history now: nothing changed


@activity("QuoteTrip")
def quote(act, trip):
    return {"legs": 2}   # a read: no effect on the world


def test_a_call_that_makes_no_effect_is_ticked_once_it_has_run():
    """The rows are ticked by the effects a call made; a read made none, and its row stayed grey as if
    it had never run while the run went past it."""
    @workflow
    def quoted(ctx, trip_id):
        q = yield ctx.activity(quote, trip_id)
        yield ctx.activity(charge, trip_id, 100 * q["legs"])

    scene = view.Scene(Playground(quoted, [quote, charge], ["trip-3"]), strategy="durable")
    box = scene.diagram.panels[0]
    ticks = []
    for i in range(len(scene.run.frames)):
        scene.goto(i)
        ticks.append(tuple(c.get_text() for c in box.counts[:2]))
    assert ticks[0] == ("", "")
    assert ("\u2713", "") in ticks and ticks[-1] == ("\u2713", "\u2713")
    assert ticks.index(("\u2713", "")) < ticks.index(("\u2713", "\u2713"))   # the read before the charge
