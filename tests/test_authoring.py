"""The authoring API on a workflow that is not ORDER #1001: a trip booking with six steps, one activity
called three times in a loop, a branch on a result, and a non-retryable failure the workflow catches.
Crashed at every point the crash-free run reaches, each effect happens as often as without the crash,
and the saved history file replays to the same result."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore import events as ev
from simcore.faults import Crash, FaultPlan
from simcore.history import History
from simcore.replayer import replay
from simcore.retry import RetryPolicy
from simcore.sim import Sim
from simcore.strategies import run_workflow
from simcore.workflow import ActivityError, activity, workflow
from simcore.world import IdempotencyKeyMismatch, World

TRIP = "trip-7"


@activity("QuoteTrip")
def quote_trip(act, trip):
    return {"legs": ["LHR-JFK", "JFK-SFO", "SFO-LHR"], "nights": 2, "cents": 120_000}


@activity("ChargeCard", seconds=2)
def charge_card(act, trip, cents):
    return act.world.charge(trip, cents, key=act.idempotency_key)


@activity("BookFlight", seconds=2)
def book_flight(act, trip, leg):
    return act.world.effect("BookFlight", trip, key=act.idempotency_key, note=leg)


@activity("BookHotel")
def book_hotel(act, trip, nights):
    return act.world.effect("BookHotel", trip, key=act.idempotency_key, note=f"{nights} nights")


class CarUnavailable(Exception):
    non_retryable = True   # no car today: another attempt would not find one either


@activity("RentCar")
def rent_car(act, trip):
    raise CarUnavailable(f"no car for {trip}")


@activity("SendItinerary")
def send_itinerary(act, trip, booked):
    return act.world.effect("SendItinerary", trip, key=act.idempotency_key, note=f"{len(booked)} bookings")


@workflow
def book_trip(ctx, trip):
    quote = yield ctx.activity(quote_trip, trip)
    yield ctx.activity(charge_card, trip, quote["cents"])
    booked = []
    for leg in quote["legs"]:
        booked.append((yield ctx.activity(book_flight, trip, leg)))
    if quote["nights"]:
        booked.append((yield ctx.activity(book_hotel, trip, quote["nights"])))
    try:
        booked.append((yield ctx.activity(rent_car, trip)))
    except ActivityError as err:
        car = f"no car ({err.error_type})"
    yield ctx.activity(send_itinerary, trip, booked)
    return f"{trip}: {len(booked)} booked, {car}"


ACTIVITIES = (quote_trip, charge_card, book_flight, book_hotel, rent_car, send_itinerary)
EFFECTS = {"ChargeCard": 1, "BookFlight": 3, "BookHotel": 1, "SendItinerary": 1}


def trip(plan=FaultPlan(), **sim):
    run = run_workflow("durable", book_trip, ACTIVITIES, [TRIP], wid=TRIP, sim=Sim(faults=plan, **sim))
    return run


def test_the_crash_free_trip():
    run = trip()
    assert run.outcome == "completed" and run.history[-1].result == "trip-7: 4 booked, no car (CarUnavailable)"
    assert dict(run.world.effects()) == EFFECTS and run.world.statement_cents() == 120_000
    rent = [e for e in run.history if getattr(e, "error_type", "") == "CarUnavailable"]
    assert len(rent) == 1 and run.history[rent[0].event_id - 2].attempt == 1   # non-retryable: one attempt


def test_three_calls_of_one_activity_are_three_effects_with_three_keys():
    run = trip()
    flights = [e for e in run.world.log if e.kind == "BookFlight"]
    assert [e.ref.split()[-1] for e in flights] == ["LHR-JFK", "JFK-SFO", "SFO-LHR"]
    keys = [k for k, ref in run.world.keys().items() if ref in {e.ref for e in flights}]
    run_id = run.history[0].run_id
    assert keys == [f"{run_id}/3", f"{run_id}/4", f"{run_id}/5"]   # the run id and each call's activity id


def test_a_key_per_activity_type_would_book_one_flight_and_the_network_refuses_the_second():
    w = World()
    w.effect("BookFlight", TRIP, key=f"{TRIP}/BookFlight", note="LHR-JFK")
    with pytest.raises(IdempotencyKeyMismatch, match="first used for BookFlight trip-7 LHR-JFK, now for "
                                                     "BookFlight trip-7 JFK-SFO: one key, one request"):
        w.effect("BookFlight", TRIP, key=f"{TRIP}/BookFlight", note="JFK-SFO")


def points() -> list[Crash]:
    """Every point the crash-free run reaches: after each step's result, after each effect (before its
    record), before each effect; a step called three times, at each of its calls."""
    run = trip()
    out = []
    for when, step in run.sim.faults.reached_count:
        out += [Crash(step, when, n) for n in range(1, run.sim.faults.reached_count[when, step] + 1)]
    return out


POINTS = points()


def test_the_points_cover_every_step_and_every_kind():
    assert {(c.step, c.when) for c in POINTS} >= {(s, w) for s in EFFECTS for w in ("after_step", "after_effect",
                                                                                     "before_effect")}
    assert sum(c.step == "BookFlight" and c.when == "after_effect" for c in POINTS) == 3


@pytest.mark.parametrize("crash", POINTS, ids=str)
def test_a_crash_anywhere_changes_no_effect_and_the_saved_file_replays(crash, tmp_path):
    path = tmp_path / "trip.sqlite"
    run = trip(FaultPlan((crash,)), history=History(path))
    assert run.sim.faults.fired and run.outcome == "completed", (crash, run.error)
    assert dict(run.world.effects()) == EFFECTS, crash
    saved = History(path).read(TRIP)
    result = replay(book_trip, saved)
    assert result.ok and result.completed and result.result == trip().history[-1].result


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(POINTS), min_size=1, max_size=4, unique=True))
def test_any_number_of_crashes_changes_no_effect(crashes):
    run = trip(FaultPlan(tuple(crashes)))
    assert run.outcome == "completed" and dict(run.world.effects()) == EFFECTS


def test_a_result_that_is_not_json_fails_that_activity_with_a_clear_error():
    @activity("Lookup")
    def lookup(act):
        return {"a", "set"}

    @workflow
    def uses_it(ctx):
        try:
            yield ctx.activity(lookup, retry=RetryPolicy(maximum_attempts=5))
        except ActivityError as err:
            return err.message
    run = run_workflow("durable", uses_it, [lookup], [], wid="w", sim=Sim())
    assert run.outcome == "completed" and run.history[-1].result.startswith(
        "Lookup returned set")
    assert "is recorded in the history as JSON; return a dict, list, str, number, bool or None" in \
        run.history[-1].result
    assert [e.attempt for e in run.history if isinstance(e, ev.ActivityTaskStarted)] == [1]   # not retried


def test_the_code_gets_a_result_as_the_history_keeps_it():
    @activity("Pair")
    def pair(act):
        return (1, 2)   # a tuple: JSON keeps it as a list, live and on replay alike

    @workflow
    def wants(ctx):
        got = yield ctx.activity(pair)
        return type(got).__name__
    run = run_workflow("durable", wants, [pair], [], wid="w", sim=Sim())
    assert run.history[-1].result == "list" and replay(wants, run.history).result == "list"
