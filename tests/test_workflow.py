import pytest

from simcore.workflow import ActivityDef, WorkflowContext, activity, workflow


def test_decorators_refuse_the_wrong_kind_of_function():
    with pytest.raises(TypeError, match="must be a generator function"):
        @workflow
        def not_a_generator(ctx):
            return 1
    with pytest.raises(TypeError, match="must be a plain function"):
        @activity("X")
        def a_generator(act):
            yield 1
    with pytest.raises(TypeError, match="first parameter receives the ActivityContext"):
        @activity
        def no_params():
            return 1


def test_activity_stays_callable_and_named():
    @activity("Charge", seconds=2)
    def charge(act, cents):
        return cents * 2
    assert isinstance(charge, ActivityDef) and charge.name == "Charge" and charge(None, 21) == 42


def test_context_refuses_plain_functions():
    with pytest.raises(TypeError, match="takes an @activity function"):
        WorkflowContext("wf").activity(print)


def test_what_a_learner_may_get_wrong_is_refused_where_it_is_written():
    from simcore.retry import PolicyError
    for seconds in (float("nan"), float("inf"), -1):
        with pytest.raises(ValueError, match="seconds must be a finite number >= 0"):
            activity("Slow", seconds=seconds)(lambda act: 1)
    with pytest.raises(TypeError, match=r"ctx.sleep takes a number of seconds \(or days=...\), got '5'"):
        WorkflowContext("wf").sleep("5")
    with pytest.raises(TypeError, match="ctx.first needs at least one of"):
        WorkflowContext("wf").first()
    step = activity("Step")(lambda act: 1)
    with pytest.raises(PolicyError, match=r"retry= takes a RetryPolicy\(...\), got dict"):
        WorkflowContext("wf").activity(step, retry={"maximum_attempts": 2})   # as other SDKs write it


def _run(wf, *activities):
    from simcore.sim import Sim
    from simcore.strategies import run_workflow
    return run_workflow("durable", wf, list(activities), [], wid="w", sim=Sim())


def test_code_the_engine_cannot_carry_on_with_stops_it_with_the_reason():
    from simcore.replay import HISTORY_LIMIT, WorkflowCodeError

    @workflow(name="looping")
    def looping(ctx):
        while True:   # no activity, no clock: only the history grows
            yield ctx.side_effect(lambda: 1)
    with pytest.raises(WorkflowCodeError, match=f"history has reached {HISTORY_LIMIT:,} events"):
        _run(looping)

    @workflow(name="polling")
    def polling(ctx):
        while not (yield ctx.signals("done")):   # records nothing: only the count of commands stops it
            pass
    with pytest.raises(WorkflowCodeError, match=f"made {HISTORY_LIMIT:,} commands in one workflow task"):
        _run(polling)

    def fails():
        return 1 / 0

    @workflow(name="fetching")
    def fetching(ctx):
        yield ctx.side_effect(fails)
    with pytest.raises(WorkflowCodeError, match="ctx.side_effect: fails raised ZeroDivisionError: division by zero"):
        _run(fetching)

    class Seats(BaseException):
        pass

    @activity("Book", seconds=0)
    def book(act):
        raise Seats("full")

    @workflow(name="booking")
    def booking(ctx):
        yield ctx.activity(book)
    with pytest.raises(WorkflowCodeError, match=r"activity Book raised Seats\(full\)") as got:
        _run(booking, book)
    assert "test_workflow.py, line " in got.value.where


def test_an_error_whose_str_fails_still_fails_the_workflow_on_record():
    class Odd(Exception):
        def __str__(self):
            raise RuntimeError("str exploded")

    @workflow(name="odd")
    def odd(ctx):
        yield ctx.sleep(1)
        raise Odd()
    end = _run(odd).history[-1]
    assert end.type == "WorkflowExecutionFailed" and end.error_type == "Odd" and "str() raised" in end.message
