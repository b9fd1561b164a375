"""Timetables: when a DAG run is due, and which slice of time its data covers.

Airflow's own interface, one method that matters: `next_dagrun_info(last_automated_data_interval,
restriction, now)` returns the next run (its data interval and the time it may start) or None. Two
kinds, as in Airflow (`airflow/timetables/interval.py`, `trigger.py`, read in apache-airflow-core
3.3.2, and checked against those classes by tests/test_dag_airflow.py):

- **data-interval** (`CronDataIntervalTimetable`, Airflow 2's default for a cron string): the run
  for [D, D+1) has logical date D and runs *after* D+1, when its data is complete.
- **trigger** (`CronTriggerTimetable`, Airflow 3's default, `create_cron_data_intervals=False`): the
  run happens *at* D, and its data interval [D, D) has zero width.

`catchup=False` skips to the latest slot; Airflow computes that from its clock (`utcnow()`), so here
`now` is passed in: the simulation's clock, never the machine's.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .cron import Cron


@dataclass(frozen=True)
class DataInterval:
    start: datetime
    end: datetime

    def __repr__(self):
        return f"[{_t(self.start)}, {_t(self.end)})"


@dataclass(frozen=True)
class DagRunInfo:
    """A run the timetable asks for: its data interval, and the earliest time it may be created."""
    data_interval: DataInterval
    run_after: datetime

    @property
    def logical_date(self) -> datetime:   # Airflow: data_interval.start
        return self.data_interval.start

    def __repr__(self):
        return f"run logical_date={_t(self.logical_date)} interval={self.data_interval!r} run_after={_t(self.run_after)}"


@dataclass(frozen=True)
class TimeRestriction:
    earliest: datetime | None   # the DAG's start_date
    latest: datetime | None     # its end_date
    catchup: bool


def _t(d: datetime) -> str:
    return d.strftime("%m-%d %H:%M")


# -- the schedule: cron or timedelta (Airflow's CronMixin / DeltaMixin) ---------------------------
class _CronSchedule:
    def __init__(self, expression: str):
        self.cron, self.summary = Cron(expression), expression

    def _get_next(self, t):
        return self.cron.next(t)

    def _get_prev(self, t):
        return self.cron.prev(t)

    def _align_to_next(self, t):
        """`t` itself if it is on the schedule, else the next slot."""
        n = self._get_next(t)
        return t if self._get_prev(n) == t else n

    def _align_to_prev(self, t):
        p = self._get_prev(t)
        return t if self._get_next(p) == t else p


class _DeltaSchedule:
    def __init__(self, delta: timedelta):
        if delta <= timedelta(0):
            raise ValueError(f"schedule interval must be positive, not {delta!r}")
        self.delta, self.summary = delta, str(delta)

    def _get_next(self, t):
        return t + self.delta

    def _get_prev(self, t):
        return t - self.delta

    def _align_to_next(self, t):   # a timedelta has no fixed slots: any time is on the schedule
        return t

    def _align_to_prev(self, t):
        return t


# -- the data-interval kind ----------------------------------------------------------------------
class _DataIntervalTimetable:
    kind = "data_interval"

    def next_dagrun_info(self, last_automated_data_interval, restriction, now) -> DagRunInfo | None:
        last = last_automated_data_interval
        earliest = restriction.earliest
        if not restriction.catchup:
            earliest = self._skip_to_latest(earliest, now)
        elif earliest is not None:
            earliest = self._align_to_next(earliest)
        if last is None:
            if earliest is None:
                return None
            start = earliest
        else:
            start = self._align_to_prev(last.end)
            if earliest is not None:
                start = max(start, earliest)
            if start <= last.start:   # a schedule change realigned onto the last run: one step past it
                start = self._get_next(start)
        if restriction.latest is not None and start > restriction.latest:
            return None
        end = self._get_next(start)
        return DagRunInfo(DataInterval(start, end), run_after=end)


class CronDataIntervalTimetable(_CronSchedule, _DataIntervalTimetable):
    def _skip_to_latest(self, earliest, now):
        """The start of the latest interval that has ended by `now` (or starts right now)."""
        last_start = self._get_prev(now)
        new_start = last_start if self._get_next(last_start) == now else self._get_prev(last_start)
        return new_start if earliest is None else max(new_start, self._align_to_next(earliest))


class DeltaDataIntervalTimetable(_DeltaSchedule, _DataIntervalTimetable):
    def _skip_to_latest(self, earliest, now):
        seconds = self.delta.total_seconds()   # Airflow floors `now` to the delta's grid from the epoch
        floored = datetime.fromtimestamp(now.timestamp() - now.timestamp() % seconds, tz=now.tzinfo)
        new_start = self._get_prev(floored)
        return new_start if earliest is None else max(new_start, earliest)


# -- the trigger kind (Airflow 3's default) ------------------------------------------------------
class _TriggerTimetable:
    kind = "trigger"
    interval = timedelta(0)   # the data interval's width: zero unless asked for

    def next_dagrun_info(self, last_automated_data_interval, restriction, now) -> DagRunInfo | None:
        last = last_automated_data_interval
        if restriction.catchup:
            if last is not None:
                at = self._get_next(last.end)
            elif restriction.earliest is None:
                at = self._calc_first_run(now)
            else:
                at = self._align_to_next(restriction.earliest)
        else:   # the most recent past slot, unless the next one after the last run is later
            candidates = [self._align_to_prev(now)]
            if last is not None:
                candidates.append(self._get_next(last.end))
            elif restriction.earliest is None:
                candidates.append(self._calc_first_run(now))
            if restriction.earliest is not None:
                candidates.append(self._align_to_next(restriction.earliest))
            at = max(candidates)
        if restriction.latest is not None and restriction.latest < at:
            return None
        return DagRunInfo(DataInterval(at - self.interval, at), run_after=at)


class CronTriggerTimetable(_CronSchedule, _TriggerTimetable):
    def _calc_first_run(self, now):   # run_immediately=False: within 10% (at least 5 min) of a slot
        past, nxt = self._align_to_prev(now), self._align_to_next(now)
        return past if now - past <= max((nxt - past) / 10, timedelta(minutes=5)) else nxt


class DeltaTriggerTimetable(_DeltaSchedule, _TriggerTimetable):
    def _calc_first_run(self, now):
        return self._align_to_prev(now)


KINDS = ("trigger", "data_interval")


class NullTimetable:
    """`schedule=None`: the scheduler creates no runs; each run is triggered (`airflow dags trigger`,
    the REST API), with a zero-width data interval at the moment it was asked for."""
    periodic = False   # the scheduler need not ask it for a next run

    def next_dagrun_info(self, last, restriction, now):
        return None


def timetable(schedule, kind: str = "trigger"):
    """What Airflow makes of `schedule=` (a cron string, a timedelta, or None). Airflow 3 makes a trigger
    timetable unless `[scheduler] create_cron_data_intervals` is True (Airflow 2's default)."""
    if kind not in KINDS:
        raise ValueError(f"timetable kind {kind!r}: choose one of {', '.join(KINDS)}")
    if schedule is None:
        return NullTimetable()
    if isinstance(schedule, timedelta):
        return DeltaTriggerTimetable(schedule) if kind == "trigger" else DeltaDataIntervalTimetable(schedule)
    return CronTriggerTimetable(schedule) if kind == "trigger" else CronDataIntervalTimetable(schedule)
