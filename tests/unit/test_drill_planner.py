"""The blind-drill planner, with seeded randomness: inside the window, never on holidays or in
freezes, spaced, and as frequent as asked over many simulated weeks."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.drills.planner import DrillPolicy, Window, is_workday, plan_day, plan_days

BERLIN = "Europe/Berlin"
WEEKDAYS = frozenset({"mon", "tue", "wed", "thu", "fri"})
YEAR_START = date(2026, 1, 1)


def _policy(**changes: object) -> DrillPolicy:
    values: dict[str, object] = {
        "window": Window(weekdays=WEEKDAYS, start=time(10), end=time(16), timezone=BERLIN),
        "mean_days": 5.0,
        "min_spacing": timedelta(0),
        "holiday_country": "DE",
    }
    values.update(changes)
    return DrillPolicy(**values)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    start_hour=st.integers(0, 22),
    length=st.integers(1, 10),
    zone=st.sampled_from([BERLIN, "America/New_York", "Asia/Kolkata", "UTC", "Australia/Sydney"]),
)
def test_every_planned_drill_is_inside_the_window_on_a_workday(
    seed: int, start_hour: int, length: int, zone: str
) -> None:
    end = time(start_hour + length) if start_hour + length < 24 else time.max
    policy = _policy(
        window=Window(
            weekdays=frozenset({"tue", "thu", "sat"}),
            start=time(start_hour),
            end=end,
            timezone=zone,
        ),
        mean_days=1.5,
        holiday_country="US",
    )
    planned = plan_days(policy, YEAR_START, 400, rng=random.Random(seed))
    assert planned
    for moment in planned:
        local = moment.astimezone(ZoneInfo(zone))
        assert local.strftime("%a").lower() in policy.window.weekdays
        assert time(start_hour) <= local.time() and (end == time.max or local.time() < end)
        assert is_workday(policy, local.date())


def test_never_on_a_public_holiday() -> None:
    policy = _policy(mean_days=1.0)  # a drill every workday
    planned = {
        m.astimezone(ZoneInfo(BERLIN)).date()
        for m in plan_days(policy, YEAR_START, 365, rng=random.Random(1))
    }
    for holiday in (
        date(2026, 1, 1),
        date(2026, 4, 3),
        date(2026, 4, 6),
        date(2026, 5, 1),
        date(2026, 12, 25),
    ):
        assert holiday not in planned
    assert date(2026, 1, 2) in planned  # a Friday that is no holiday
    # 261 weekdays in 2026, less the 7 nationwide holidays on one (1 Jan, Good Friday, Easter
    # Monday, 1 May, Ascension, Whit Monday, Christmas Day).
    assert len(planned) == 254


def test_never_inside_a_freeze() -> None:
    freeze = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC))
    planned = plan_days(
        _policy(mean_days=1.0), date(2026, 2, 1), 60, rng=random.Random(2), freezes=[freeze]
    )
    assert not [m for m in planned if freeze[0] <= m < freeze[1]]
    assert [m for m in planned if m < freeze[0]] and [m for m in planned if m >= freeze[1]]


def test_never_in_the_services_freeze_windows() -> None:
    windows = ((date(2026, 12, 21), date(2027, 1, 3)), (date(2027, 1, 15), date(2027, 1, 15)))
    policy = _policy(mean_days=1.0, freeze_windows=windows)
    planned = plan_days(policy, date(2026, 12, 1), 60, rng=random.Random(4))
    days = {m.astimezone(ZoneInfo(BERLIN)).date() for m in planned}
    assert not [d for d in days if any(a <= d <= b for a, b in windows)]
    assert date(2026, 12, 18) in days and date(2027, 1, 4) in days  # the days around them
    assert not is_workday(policy, date(2027, 1, 15)) and is_workday(policy, date(2027, 1, 14))


@pytest.mark.parametrize("spacing_days", [2, 3, 7])
def test_drills_keep_their_minimum_spacing(spacing_days: int) -> None:
    spacing = timedelta(days=spacing_days)
    planned = plan_days(
        _policy(mean_days=1.0, min_spacing=spacing), YEAR_START, 365, rng=random.Random(3)
    )
    assert len(planned) > 20
    assert all(b - a >= spacing for a, b in itertools.pairwise(planned))


@pytest.mark.parametrize("mean_days", [1.0, 2.0, 5.0, 10.0])
def test_over_many_weeks_the_mean_is_the_one_asked_for(mean_days: float) -> None:
    """1,000 simulated weeks with no holidays: drills per workday within 5% of 1 / mean."""
    policy = _policy(mean_days=mean_days, holiday_country=None)
    days = 7 * 1000
    planned = plan_days(policy, YEAR_START, days, rng=random.Random(4))
    workdays = sum(
        1 for offset in range(days) if is_workday(policy, YEAR_START + timedelta(days=offset))
    )
    rate = len(planned) / workdays
    assert rate == pytest.approx(1 / mean_days, rel=0.05)


def test_the_same_seed_plans_the_same_drills() -> None:
    first = plan_days(_policy(), YEAR_START, 90, rng=random.Random(7))
    assert first == plan_days(_policy(), YEAR_START, 90, rng=random.Random(7))
    assert first != plan_days(_policy(), YEAR_START, 90, rng=random.Random(8))


def test_the_minute_the_clocks_skip_is_never_planned() -> None:
    night = Window(weekdays=frozenset({"sun"}), start=time(2), end=time(3), timezone=BERLIN)
    policy = _policy(window=night, mean_days=1.0, holiday_country=None)
    spring_forward = date(2026, 3, 29)
    assert all(plan_day(policy, spring_forward, rng=random.Random(s)) is None for s in range(50))
