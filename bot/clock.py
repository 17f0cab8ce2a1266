"""Time as a dependency, so tests never sleep and never read the wall clock."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = [
    "CLOCK_OFFSET_ENV",
    "Clock",
    "FrozenClock",
    "ShiftedClock",
    "SystemClock",
    "clock_from_env",
    "offset_env",
    "on_wall_clock",
]

# How far a worker's clock is ahead of the wall clock: a bot on a moved clock (the demo, the
# tests) starts its workers on the same time, so a run's timeline and a drill's agree.
CLOCK_OFFSET_ENV = "CHAOSBOT_CLOCK_OFFSET_SECONDS"


class Clock(Protocol):
    """Something that tells the current time, always timezone-aware UTC."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that moves only when told to (tests, demo)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware time")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta


class ShiftedClock:
    """The wall clock moved forward by a chosen amount: time passes as usual, and can be made to
    jump (the demo skips to the morning of a game day without waiting for it)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def jump(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self._offset += delta


def on_wall_clock(at: datetime, *, now: datetime) -> datetime:
    """The wall-clock moment at which a clock that reads `now` at this instant will read `at`.

    Timers that run on the wall clock (APScheduler's date triggers) are set with this, so a
    bot on a moved clock (the demo, the tests) fires them when its own clock reaches `at`,
    whatever today's date is. `now` must have just been read from that clock, and be the one
    the caller compared `at` with: a clock that jumps in between would put `at` in the past.
    """
    return datetime.now(UTC) + (at - now)


def offset_env(clock: Clock) -> dict[str, str]:
    """The environment that starts a worker on `clock`'s time (nothing for the wall clock)."""
    offset = (clock.now() - datetime.now(UTC)).total_seconds()
    return {CLOCK_OFFSET_ENV: f"{offset:.3f}"} if abs(offset) >= 1 else {}


def clock_from_env(environ: Mapping[str, str] | None = None) -> Clock:
    """A worker's clock: the wall clock, moved by its bot's offset when it has one."""
    value = (os.environ if environ is None else environ).get(CLOCK_OFFSET_ENV, "")
    try:
        offset = float(value) if value else 0.0
    except ValueError:
        offset = 0.0
    return ShiftedClock(timedelta(seconds=offset)) if offset else SystemClock()
