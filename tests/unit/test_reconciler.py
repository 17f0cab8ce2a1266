"""The reconciler stops cleanly whatever its tick is doing (a deadlock here hangs the bot's
shutdown and a leader's step-down, and the test process at exit)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime

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
