"""When blind drills happen: random moments inside a team's window, planned a day at a time.

Each eligible day (a window weekday, not a public holiday of the team's country) has a drill with
probability 1 / `mean_days`, at a minute drawn uniformly from the window on the team's clock. A
moment inside a freeze, or closer than `min_spacing` to the previous drill, is dropped rather
than moved: moving it would make the times near a freeze's end likelier than the rest, and a
team could learn that. Randomness comes from the caller (`random.Random`), so tests seed it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

import holidays

from bot.gamedays.timing import LocalTimeInvalid, to_instant

__all__ = ["DrillPolicy", "Window", "is_workday", "plan_day", "plan_days"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, kw_only=True)
class Window:
    """Weekdays and hours on a team's clock."""

    weekdays: frozenset[str]
    start: time
    end: time  # time.max for "24:00"
    timezone: str


@dataclass(frozen=True, kw_only=True)
class DrillPolicy:
    """How often and when a service may be drilled."""

    window: Window
    mean_days: float  # mean eligible days between drills (>= 1)
    min_spacing: timedelta = timedelta(0)
    holiday_country: str | None = None
    # The service's freeze windows: first and last day, inclusive, on the window's clock.
    freeze_windows: tuple[tuple[date, date], ...] = ()


@cache
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


def is_workday(policy: DrillPolicy, day: date) -> bool:
    """A window weekday, not a public holiday of the team's country, not in a freeze window."""
    if WEEKDAYS[day.weekday()] not in policy.window.weekdays:
        return False
    if any(first <= day <= last for first, last in policy.freeze_windows):
        return False
    return not (policy.holiday_country and day in _holidays(policy.holiday_country, day.year))


def plan_day(
    policy: DrillPolicy,
    day: date,
    *,
    rng: random.Random,
    previous: datetime | None = None,
    freezes: Sequence[tuple[datetime, datetime]] = (),
) -> datetime | None:
    """The drill of `day` (a UTC instant), or None when there is none that day."""
    if not is_workday(policy, day):
        return None
    if rng.random() >= 1 / policy.mean_days:
        return None
    window = policy.window
    start_minute = window.start.hour * 60 + window.start.minute
    end_minute = 24 * 60 if window.end == time.max else window.end.hour * 60 + window.end.minute
    minute = rng.randrange(start_minute, end_minute)
    try:
        moment = to_instant(day, time(minute // 60, minute % 60), window.timezone)
    except LocalTimeInvalid:
        return None  # the minute the clocks skip that night: no drill rather than a moved one
    if previous is not None and moment - previous < policy.min_spacing:
        return None
    if any(start <= moment < end for start, end in freezes):
        return None
    return moment


def plan_days(
    policy: DrillPolicy,
    first: date,
    days: int,
    *,
    rng: random.Random,
    previous: datetime | None = None,
    freezes: Sequence[tuple[datetime, datetime]] = (),
) -> list[datetime]:
    """Plan `days` days from `first`, each after the one before (spacing counts across days)."""
    planned: list[datetime] = []
    for offset in range(days):
        moment = plan_day(
            policy, first + timedelta(days=offset), rng=rng, previous=previous, freezes=freezes
        )
        if moment is not None:
            planned.append(moment)
            previous = moment
    return planned
