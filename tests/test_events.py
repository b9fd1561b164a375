from simcore import events as ev


def test_repr_reads_well():
    assert repr(ev.ActivityTaskScheduled(2, 0.25, "1", "ChargeCard", ["1001"])) == \
        "<  2 ActivityTaskScheduled ChargeCard @0.25s>"


def test_command_events_are_marked():
    assert ev.ActivityTaskScheduled.command and ev.MarkerRecorded.command
    assert not ev.ActivityTaskCompleted.command and not ev.TimerFired.command


def test_frozen_makes_what_dataclass_makes():
    """`ev.frozen` is @dataclass(frozen=True) with a faster __init__: the same fields, defaults,
    factories (a fresh one each time), equality and immutability."""
    from dataclasses import FrozenInstanceError, dataclass, field

    import pytest

    @ev.frozen
    class Fast:
        a: int
        b: str = "b"
        c: list = field(default_factory=list)

    @dataclass(frozen=True)
    class Slow:
        a: int
        b: str = "b"
        c: list = field(default_factory=list)

    for args, kw in (((1,), {}), ((1, "x"), {}), ((1,), {"c": [2]}), ((), {"a": 3, "b": "y"})):
        fast, slow = Fast(*args, **kw), Slow(*args, **kw)
        assert vars(fast) == vars(slow) and fast == Fast(*args, **kw)
    assert Fast(1).c is not Fast(1).c
    with pytest.raises(FrozenInstanceError):
        Fast(1).a = 2
    with pytest.raises(TypeError):
        Fast()
    with pytest.raises(TypeError, match="__post_init__"):
        ev.frozen(type("Checked", (), {"__annotations__": {"a": "int"}, "__post_init__": lambda self: None}))
