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
