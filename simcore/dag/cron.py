"""Cron expressions in UTC, just enough for Airflow's schedules: five fields and the presets.

Airflow uses croniter; the course keeps its dependencies small and needs only what croniter's
`get_next` / `get_prev` answer: the first matching minute strictly after (or before) a time. The
search walks days, not minutes, so a daily schedule costs a few steps however far it looks.
"""
from __future__ import annotations

from datetime import datetime, timedelta

PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
           "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}
SEARCH_DAYS = 366 * 5


class CronError(ValueError):
    """An expression this module cannot read; the message says which part."""


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            a, b = low, high
        elif "-" in base:
            a, b = map(int, base.split("-"))
        else:
            a = b = int(base)
            if step:
                b = high
        if not (low <= a <= b <= high):
            raise CronError(f"{part!r} is outside {low}-{high}")
        values.update(range(a, b + 1, int(step) if step else 1))
    return frozenset(values)


class Cron:
    def __init__(self, expression: str):
        self.expression = expression
        fields = PRESETS.get(expression, expression).split()
        if len(fields) != 5:
            raise CronError(f"{expression!r}: a cron expression has 5 fields (minute hour day month weekday)")
        try:
            self.minute, self.hour, self.dom, self.month, self.dow = (
                _field(f, *r) for f, r in zip(fields, ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))))
        except ValueError as e:
            raise CronError(f"{expression!r}: {e}") from None
        self.dow = frozenset(v % 7 for v in self.dow)   # 7 is Sunday too
        self.any_dom, self.any_dow = fields[2] == "*", fields[4] == "*"
        self.times = sorted((h, m) for h in self.hour for m in self.minute)   # within one day

    def _day_matches(self, d: datetime) -> bool:
        if d.month not in self.month:
            return False
        dom, dow = d.day in self.dom, (d.weekday() + 1) % 7 in self.dow   # cron: Sunday is 0
        if self.any_dom or self.any_dow:   # cron's rule: both restricted means either may match
            return dom and dow
        return dom or dow

    def next(self, t: datetime) -> datetime:
        """The first matching minute strictly after `t` (croniter's get_next)."""
        return self._search(t, +1)

    def prev(self, t: datetime) -> datetime:
        """The last matching minute strictly before `t` (croniter's get_prev)."""
        return self._search(t, -1)

    def _search(self, t: datetime, direction: int) -> datetime:
        day = t.replace(hour=0, minute=0, second=0, microsecond=0)
        times = self.times if direction > 0 else self.times[::-1]
        for _ in range(SEARCH_DAYS):
            if self._day_matches(day):
                for h, m in times:
                    at = day.replace(hour=h, minute=m)
                    if at > t if direction > 0 else at < t:
                        return at
            day += timedelta(days=direction)
        raise CronError(f"{self.expression!r} never matches")
