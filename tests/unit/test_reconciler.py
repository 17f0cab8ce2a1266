"""The reconciler stops cleanly whatever its tick is doing (a deadlock here hangs the bot's
shutdown and a leader's step-down, and the test process at exit)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from bot.clock import FrozenClock
from bot.scheduling.reconciler import Alarm, Reconciler


class _SlowAlarms:
    """A pass whose alarms are asked for while stop() is already under way."""

    name = "slow"
    every = None

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def run(self) -> object:
        return None

    def alarms(self) -> Mapping[str, Alarm]:
        self.entered.set()
        self.release.wait(10)
        return {}


def test_stop_while_a_tick_syncs_its_alarms_returns_after_the_tick() -> None:
    """APScheduler's shutdown(wait=True) holds its job-store lock while it waits for the tick,
    and the tick then asks that lock for the jobs: stop() used to wait forever."""
    slow = _SlowAlarms()
    clock = FrozenClock(datetime(2026, 1, 5, tzinfo=UTC))
    reconciler = Reconciler(clock=clock, passes=[slow], every=0.2)
    reconciler.start()
    assert slow.entered.wait(10), "the first tick never asked for alarms"
    stopping = threading.Thread(target=reconciler.stop)
    stopping.start()
    stopping.join(0.5)
    assert stopping.is_alive(), "stop() must wait for the tick under way"
    slow.release.set()
    stopping.join(10)
    assert not stopping.is_alive(), "stop() deadlocked with the tick"
    assert reconciler.jobs() == {}


class _Quick:
    """A pass that does nothing, on the tick or on a period of its own, with one alarm."""

    def __init__(self, name: str, every: float | None, alarm_at: datetime | None = None) -> None:
        self.name, self.every, self._alarm_at = name, every, alarm_at
        self.ran = threading.Event()

    def run(self) -> object:
        self.ran.set()
        return None

    def alarms(self) -> Mapping[str, Alarm]:
        return {f"{self.name}:alarm": (self._alarm_at, None)} if self._alarm_at else {}


def test_every_pass_reports_how_late_it_started() -> None:
    clock = FrozenClock(datetime(2026, 1, 5, tzinfo=UTC))
    heard: list[tuple[str, float]] = []
    alarmed = threading.Event()

    def lag(name: str, seconds: float) -> None:
        heard.append((name, seconds))
        if len([n for n, _ in heard if n == "on tick"]) >= 2:
            alarmed.set()

    # The alarm is due a moment after the start, on the bot's clock (which stands still): its
    # job fires at once on the wall clock and wakes the tick, so the tick pass hears twice.
    passes = [
        _Quick("on tick", None, alarm_at=clock.now() + timedelta(milliseconds=50)),
        _Quick("own period", 3600),
    ]
    reconciler = Reconciler(clock=clock, passes=passes, every=3600, lag=lag)
    reconciler.start()
    try:
        assert alarmed.wait(10), f"heard only {heard}"
    finally:
        reconciler.stop()
    assert {name for name, _ in heard} == {"on tick", "own period"}
    assert all(0 <= seconds < 10 for _, seconds in heard)
