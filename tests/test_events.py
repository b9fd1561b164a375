from simcore import events as ev


def test_repr_reads_well():
    assert repr(ev.ActivityTaskScheduled(2, 0.25, "1", "ChargeCard", ["1001"])) == \
        "<  2 ActivityTaskScheduled ChargeCard @0.25s>"


def test_command_events_are_marked():
    assert ev.ActivityTaskScheduled.command and ev.MarkerRecorded.command
    assert not ev.ActivityTaskCompleted.command and not ev.TimerFired.command
