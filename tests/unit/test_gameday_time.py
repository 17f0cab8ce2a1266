"""Game-day times in a team's timezone: daylight-saving gaps refused, repeated hours explicit."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from bot.gamedays.timing import LocalTimeInvalid, local_label, to_instant
from bot.slack.gameday_view import block_errors, read_request, read_schedule
from bot.slack.ids import GameDayBlock as B


def test_a_winter_and_a_summer_time_in_berlin() -> None:
    assert to_instant(date(2026, 12, 1), time(10, 0), "Europe/Berlin") == datetime(
        2026, 12, 1, 9, 0, tzinfo=UTC
    )
    assert to_instant(date(2026, 7, 1), time(10, 0), "Europe/Berlin") == datetime(
        2026, 7, 1, 8, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("day", "at", "zone"),
    [
        (date(2026, 3, 29), time(2, 30), "Europe/Berlin"),  # 02:00 -> 03:00
        (date(2026, 3, 8), time(2, 0), "America/New_York"),  # 02:00 -> 03:00
        (date(2026, 10, 4), time(2, 15), "Australia/Sydney"),  # southern spring
    ],
)
def test_a_time_the_clocks_skip_is_refused(day: date, at: time, zone: str) -> None:
    with pytest.raises(LocalTimeInvalid, match="does not exist"):
        to_instant(day, at, zone)


def test_a_repeated_time_is_the_first_one_and_says_its_offset() -> None:
    instant = to_instant(date(2026, 10, 25), time(2, 30), "Europe/Berlin")
    assert instant == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # still summer time
    assert local_label(instant, "Europe/Berlin") == "Sun 25 Oct 2026, 02:30 CEST (UTC+02:00)"
    one_hour_later = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert local_label(one_hour_later, "Europe/Berlin") == "Sun 25 Oct 2026, 02:30 CET (UTC+01:00)"


def test_labels_across_the_date_line_and_half_hour_offsets() -> None:
    instant = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    assert local_label(instant, "Pacific/Auckland") == "Tue 01 Dec 2026, 09:00 NZDT (UTC+13:00)"
    assert local_label(instant, "Asia/Kolkata") == "Tue 01 Dec 2026, 01:30 IST (UTC+05:30)"
    assert local_label(instant, "America/St_Johns").endswith("(UTC-03:30)")


def _values(day: str | None, at: str | None, duration: str | None = "60") -> dict[str, Any]:
    return {
        B.DATE.value: {B.DATE.value: {"type": "datepicker", "selected_date": day}},
        B.TIME.value: {B.TIME.value: {"type": "timepicker", "selected_time": at}},
        B.DURATION.value: {
            B.DURATION.value: {
                "type": "static_select",
                "selected_option": {"value": duration} if duration else None,
            }
        },
    }


def test_the_modal_reads_a_time_in_the_team_zone() -> None:
    schedule, problems = read_schedule(_values("2026-12-01", "10:00"), "America/New_York")
    assert problems == {}
    assert schedule is not None
    assert schedule.starts_at == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    assert schedule.duration_minutes == 60


def test_the_modal_puts_a_skipped_time_on_the_time_block() -> None:
    schedule, problems = read_schedule(_values("2026-03-29", "02:30"), "Europe/Berlin")
    assert schedule is None
    assert "does not exist" in block_errors(problems)[B.TIME.value]


def test_the_modal_reports_every_missing_field_on_its_block() -> None:
    read, problems = read_request(_values(None, None, None), "UTC")
    assert read is None
    assert set(block_errors(problems)) == {
        B.DATE.value,
        B.TIME.value,
        B.DURATION.value,
        B.EXPERIMENTS.value,
        B.HOLD.value,
    }
