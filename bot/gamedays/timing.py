"""Wall-clock times in a team's timezone, turned into instants without guessing.

A local time that does not exist (the hour skipped when clocks go forward) is refused; one that
happens twice (the hour repeated when clocks go back) is the first of the two, and the UTC
offset is always shown with it, so nobody has to wonder which one was meant.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ChaosbotError

__all__ = ["LocalTimeInvalid", "local_label", "to_instant", "zone"]


class LocalTimeInvalid(ChaosbotError):
    """The date and time cannot be a moment in that timezone."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise LocalTimeInvalid(f"{name!r} is not an IANA timezone such as Europe/Berlin") from None


def to_instant(day: date, at: time, timezone: str) -> datetime:
    """The UTC instant of `day` at `at` on the clocks of `timezone`."""
    tz = zone(timezone)
    first = datetime.combine(day, at, tzinfo=tz)  # fold=0: the earlier of a repeated time
    instant = first.astimezone(UTC)
    # A time in the gap does not survive the round trip: 02:30 comes back as 03:30.
    if instant.astimezone(tz).replace(tzinfo=None) != first.replace(tzinfo=None):
        raise LocalTimeInvalid(
            f"{at:%H:%M} does not exist on {day:%Y-%m-%d} in {timezone}: the clocks go forward "
            "then. Pick a time outside the skipped hour."
        )
    return instant


def local_label(instant: datetime, timezone: str) -> str:
    """`Mon 30 Nov 2026, 10:00 CET (UTC+01:00)`: the day, the time, and which offset."""
    local = instant.astimezone(zone(timezone))
    offset = local.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    hours, rest = divmod(abs(int(offset.total_seconds())), 3600)
    return f"{local:%a %d %b %Y, %H:%M} {local.tzname()} (UTC{sign}{hours:02d}:{rest // 60:02d})"
