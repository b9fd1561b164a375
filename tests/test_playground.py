"""The playground on a learner's own code: a small trip booking (a loop, a caught failure), crashed at
every point it reaches; bad code answered with a message at the learner's line; a changed workflow
replayed against the previous run's history."""
import re

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
    assert "problem: Lookup returned set" in out and "`return found`): the history records it as JSON" in out


def test_a_result_whose_keys_json_would_merge_is_refused_not_halved(capsys):
    """{1: ..., "1": ...} would come back from JSON with one value: the attempt fails for good, saying so,
    where a JSON round trip would lose one without a word. One int key alone becomes "1" (as in Temporal)."""
    @activity("Count")
    def count(act):
        counted = {1: "one", "1": "uno"}
        return counted

    @workflow
    def uses(ctx):
        return (yield ctx.activity(count))
    view.try_it(uses, [count], strategy="durable")
    out = capsys.readouterr().out
    assert ("problem: Count returned dict {1: 'one', '1': 'uno'} (line " in out and
            """`return counted`): the keys 1 and '1' are both "1" in JSON: one value would be lost""" in out)
    assert "ResultNotJSON" in out


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


# -- the playground's own arguments, and code that would run forever or end the worker ---------------
def test_arguments_of_the_wrong_kind_say_what_to_pass(capsys):
    for acts in (None, charge):
        with pytest.raises(PlaygroundError, match=r"^activities must be a list of @activity functions, e\.g\. \["
                                                  r"charge"):
            Playground(trip, acts, ["trip-9"])
    with pytest.raises(PlaygroundError, match=r"^None is not a workflow; the first argument is the @workflow$"):
        Playground(None, ACTS, ["trip-9"])
    with pytest.raises(PlaygroundError, match=r"^ChargeCard is an @activity; the first argument is the @workflow$"):
        Playground(charge, ACTS, ["trip-9"])
    with pytest.raises(PlaygroundError, match=r"^activities\[0\] is 'ChargeCard', not an @activity function$"):
        Playground(trip, ["ChargeCard"], ["trip-9"])
    with pytest.raises(PlaygroundError, match=r"^activities\[1\] is <class 'int'>, not an @activity function$"):
        Playground(trip, [charge, int], ["trip-9"])
    with pytest.raises(PlaygroundError, match=r"^activities\[0\] is the @workflow trip, not an @activity"):
        Playground(trip, [trip], ["trip-9"])
    view.try_it(trip, charge, ["trip-9"])   # printed, not raised
    assert capsys.readouterr().out == ("PlaygroundError: activities must be a list of @activity functions, "
                                       "e.g. [charge]\n")


def test_two_activities_with_one_name_are_refused():
    @activity("ChargeCard")
    def charge_again(act, trip, cents):
        return "charged"
    with pytest.raises(PlaygroundError, match=r"two activities are named 'ChargeCard' \(charge and charge_again\)"):
        Playground(trip, [*ACTS, charge_again], ["trip-9"])
    assert Playground(trip, [*ACTS, charge], ["trip-9"]).activities == ACTS   # the same one twice: no harm


def test_args_must_be_a_list_of_as_many_inputs_as_the_workflow_takes():
    with pytest.raises(PlaygroundError, match=r"args must be a list \(or tuple\) of the workflow's inputs, "
                                              r"e\.g\. \['trip-9'\]$"):
        Playground(trip, ACTS, "trip-9")

    @workflow
    def book_trip(ctx, trip, nights):
        yield ctx.activity(charge, trip, 100 * nights)
    with pytest.raises(PlaygroundError, match=r"^args: book_trip\(trip, nights\) cannot take \['t', 2, 3\] "
                                              r"\(too many positional arguments\)$"):
        Playground(book_trip, ACTS, ["t", 2, 3])
    assert Playground(book_trip, ACTS, ("t", 2)).args == ["t", 2]


def test_the_sweep_takes_only_the_documented_key_modes(p):
    with pytest.raises(PlaygroundError, match=r"key='no key' is not allowed; choose one of: as written, none"):
        p.sweep(("durable",), key="no key")
    with pytest.raises(PlaygroundError, match=r"strategy='yolo' is not allowed; choose one of: plain, cron, durable"):
        p.sweep(("yolo",))


def test_show_reports_a_bad_control_as_try_it_does(capsys):
    view.try_it(trip, ACTS, ["trip-9"], strategy="yolo")
    assert capsys.readouterr().out.startswith("ControlError: strategy='yolo' is not allowed")
    assert "strategy=&#x27;yolo&#x27; is not allowed" in view.show(trip, ACTS, ["trip-9"], strategy="yolo").value
    assert "has no control" in view.show(trip, ACTS, ["trip-9"], colour="red").value


def test_sys_exit_in_the_learners_code_is_the_codes_error(capsys):
    import sys

    @workflow
    def exits(ctx, t):
        yield ctx.activity(charge, t, 100)
        sys.exit(3)
    view.try_it(exits, ACTS, ["t"])
    out = capsys.readouterr().out
    assert re.match(r"PlaygroundError: WorkflowCodeError: workflow exits raised SystemExit\(3\): sys.exit\(\) would "
                    r"stop the worker itself.* \(line \d+ of test_playground.py: `sys.exit\(3\)`\)", out), out

    @activity("Quit")
    def quit_(act):
        raise SystemExit("bye")

    @workflow
    def quits(ctx):
        yield ctx.activity(quit_)
    with pytest.raises(PlaygroundError, match=r"^Quit raised SystemExit: bye \(line \d+ of test_playground.py: "
                                              r"`raise SystemExit\(\"bye\"\)`\): sys.exit\(\) would stop"):
        Playground(quits, [quit_])


def test_a_loop_that_never_ends_stops_at_the_cap_and_says_so():
    import time

    @workflow
    def forever(ctx, t):
        while True:
            yield ctx.activity(book_flight, t, "LHR-JFK")
    started = time.perf_counter()
    p = Playground(forever, [book_flight], ["t"])
    for strategy in ("durable", "plain", "cron"):
        run = p.simulate(strategy)
        lines = p.outcome_lines(run)
        assert lines[0] == "effects: BookFlight x1000"
        assert lines[-1] == ("problem: forever is still running after 1,000 activity calls, the playground's cap "
                             f"(line {forever.fn.__code__.co_firstlineno + 3} of test_playground.py: "
                             '`yield ctx.activity(book_flight, t, "LHR-JFK")`): a loop that never ends?')
    assert time.perf_counter() - started < 10   # (it ran a simulated day, 69,120 calls, in ~10 s a run)


@activity("Spin")
def spin(act, trip):
    while True:   # never hands control back
        pass


def test_code_that_never_hands_control_back_is_stopped_at_its_line(monkeypatch):
    """A loop with no yield in it (in the workflow, or in an activity) would hang the notebook: the
    playground stops it after WALL_SECONDS of real time and names the line that was running."""
    import simcore.playground as model
    monkeypatch.setattr(model, "WALL_SECONDS", 0.3)

    @workflow
    def spins(ctx, t):
        n = 0
        while n >= 0:
            n += 1
        yield ctx.activity(charge, t, 100)

    @workflow
    def calls_spin(ctx, t):
        try:
            yield ctx.activity(spin, t)
        except:  # noqa: E722  (catches everything the activity raises; the limit is not the activity's error)
            pass
    for fn, acts, line in ((spins, ACTS, "`while n >= 0:`"), (calls_spin, [spin], "`while True:   # never")):
        with pytest.raises(PlaygroundError, match=r"^your code ran for 0.3 s of real time without handing control "
                                                  rf"back to the engine \(line \d+ of test_playground.py: {re.escape(line)}"):
            Playground(fn, acts, ["t"])
    SAVED.clear()
    assert Playground(trip, ACTS, ["trip-9"]).reference.outcome == "completed"
    import time
    time.sleep(0.8)   # the timer is disarmed once a run ends: nothing is raised here


def test_a_run_still_open_after_the_simulated_day_says_so():
    @workflow
    def waits(ctx, t):
        yield ctx.activity(charge, t, 100)
        yield ctx.sleep(days=2)
    p = Playground(waits, ACTS, ["t"])
    lines = p.outcome_lines(p.simulate("durable"))
    assert lines[-2:] == ["outcome: running",
                          "problem: waits is still running after a simulated day, where the playground stops "
                          f"(1 activity call; line {waits.fn.__code__.co_firstlineno + 3} of test_playground.py: "
                          "`yield ctx.sleep(days=2)`): a loop that never ends, or a wait longer than that?"]


def test_yielding_the_activity_itself_names_it_shortly():
    @workflow
    def yields_it(ctx, t):
        yield charge
    with pytest.raises(PlaygroundError) as err:
        Playground(yields_it, ACTS, ["t"])
    assert str(err.value).startswith("yields_it yields the activity ChargeCard itself (line ")
    assert str(err.value).endswith("`yield charge`); write `yield ctx.activity(charge, ...)`")
    assert len(str(err.value)) < 160


def test_a_return_value_or_side_effect_that_is_not_json_is_named():
    @workflow
    def returns(ctx, t):
        yield ctx.activity(charge, t, 100)
        return object()
    with pytest.raises(PlaygroundError, match=r"^returns returned object <object object at .*> \(line \d+ of "
                                              r"test_playground.py: `return object\(\)`\): the history records it "
                                              r"as JSON; return a dict"):
        Playground(returns, ACTS, ["t"])

    @workflow
    def picks(ctx, t):
        when = yield ctx.side_effect(lambda: {1, 2})
        yield ctx.activity(charge, t, 100)
    with pytest.raises(PlaygroundError, match=r"^ctx.side_effect in picks returned set \{1, 2\} \(line \d+ of "
                                              r"test_playground.py: `when = yield ctx.side_effect"):
        Playground(picks, ACTS, ["t"])


def test_sweep_and_crash_points_print_a_mistake_instead_of_raising(capsys):
    view.sweep(trip, ACTS, ["trip-9"], key="no key")
    assert capsys.readouterr().out == "PlaygroundError: key='no key' is not allowed; choose one of: as written, none\n"
    view.crash_points(trip, None)
    assert capsys.readouterr().out.startswith("PlaygroundError: activities must be a list of @activity functions")


def test_nan_is_no_input_a_history_can_record():
    with pytest.raises(PlaygroundError, match=r"the workflow's inputs \[nan\] must be JSON"):
        Playground(trip, ACTS, [float("nan")])


def test_a_workflow_that_waits_for_a_signal_opens_on_durable_and_a_strategy_that_cannot_run_it_is_refused():
    """Plain and cron cannot take a signal: choosing one says so above the diagram and leaves the controls
    on the run the screen shows (the error went to JupyterLab's log, the toggle said cron, the diagram
    was the durable run); the durable run says what it waits for."""
    @workflow
    def approve(ctx, t):
        yield ctx.activity(charge, t, 100)
        return (yield ctx.signal("approve"))
    opened = view.show(approve, ACTS, ["t"])
    assert "Opened on strategy 'durable'" in html_text(opened)
    scene = view.Scene(Playground(approve, ACTS, ["t"]), strategy="durable")
    shown = scene.run
    scene.controls["strategy"].value = "cron"   # as a click would
    assert scene.controls["strategy"].value == scene.values["strategy"] == "durable" and scene.run is shown
    assert re.search(r"Not run: strategy=cron.*run it with strategy .durable.", html_text(scene.refused))
    assert "waits for the signal 'approve'" in scene.end_lines and "nothing sends in the playground" in scene.end_lines
    assert scene.break_it().startswith("PlaygroundError: ")


def html_text(widget) -> str:
    import html as html_
    parts = [widget] + list(getattr(widget, "children", ()))
    return " ".join(html_.unescape(re.sub("<[^>]+>", " ", getattr(w, "value", ""))) for w in parts
                    if isinstance(getattr(w, "value", None), str))


def test_a_failed_attempt_is_outlined_red_on_its_frame():
    from matplotlib.colors import to_hex

    from scenes.kit.panels import DANGER
    from scenes.playground import CallBox
    scene = view.Scene(Playground(trip, ACTS, ["t"]))
    scene.goto(next(i for i, f in enumerate(scene.run.frames) if f.kind == "failed"))
    box = next(p for p in scene.diagram.panels if isinstance(p, CallBox))
    assert [to_hex(b.get_edgecolor()) for b in box.boxes].count(to_hex(DANGER)) == 1


def test_an_activity_called_with_arguments_that_do_not_fit_is_named_at_its_def(capsys):
    """The call itself failed: there is no line of the activity's body to name, and the playground named
    a line of its own wrapper, labelled with the learner's file."""
    @workflow
    def extra(ctx, t):
        yield ctx.activity(charge, t, 100, "one too many")
    view.try_it(extra, ACTS, ["t"], strategy="durable")
    out = capsys.readouterr().out
    assert "takes 3 positional arguments but 4 were given" in out and "`def charge(act, trip, cents):`" in out, out


def test_continue_as_new_under_a_plain_process_is_refused_not_completed(capsys):
    @workflow
    def renewing(ctx, n):
        yield ctx.activity(charge, "t", 100)
        if n < 2:
            yield ctx.continue_as_new(n + 1)
        return f"renewed {n + 1} times"
    for strategy in ("plain", "cron"):
        view.try_it(renewing, ACTS, [0], strategy=strategy)
        out = capsys.readouterr().out
        assert "continues as new: a plain process has no next run" in out and "outcome: completed" not in out, out
    view.try_it(renewing, ACTS, [0], strategy="durable")
    assert "renewed 3 times" in capsys.readouterr().out
