"""An abort that chaostoolkit-lib raises inside a finalizer is noticed and sent again."""

from __future__ import annotations

import os
import signal
import sys
import threading
import weakref
from datetime import UTC, datetime

import pytest
from chaoslib.exit import exit_signals

from bot.clock import FrozenClock
from bot.db.engine import Database
from bot.runs.signals import catching_lost_exits
from bot.runs.worker import _AbortWatcher


class _Thing:
    pass


def _interrupted_finalizer(ref: object) -> None:
    os.kill(os.getpid(), signal.SIGUSR1)
    for _ in range(10_000):  # the handler runs here, inside the callback
        pass


def _finalize_one() -> None:
    thing = _Thing()
    ref = weakref.ref(thing, _interrupted_finalizer)
    del thing  # the callback runs now; the SystemExit it raises is unraisable
    for _ in range(100_000):
        pass
    assert ref() is None


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[BaseException | None]:
    """What reaches sys.unraisablehook (Python prints it as "Exception ignored in ...")."""
    seen: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))
    return seen


def test_a_finalizer_swallows_the_exit_chaostoolkit_raises_for_an_abort(
    unraisable: list[BaseException | None],
) -> None:
    """Why the hook exists: without it the abort is gone (and printed as 'Exception ignored')."""
    with exit_signals():
        _finalize_one()  # no SystemExit reaches this frame
    assert [type(e) for e in unraisable] == [SystemExit]


def test_the_swallowed_exit_is_recorded_not_printed(
    unraisable: list[BaseException | None],
) -> None:
    with exit_signals(), catching_lost_exits() as lost:
        _finalize_one()
    assert lost.is_set()
    assert unraisable == []


def test_other_unraisable_errors_still_reach_the_previous_hook(
    unraisable: list[BaseException | None],
) -> None:
    def broken(ref: object) -> None:
        raise ValueError("not an abort")

    with catching_lost_exits() as lost:
        thing = _Thing()
        ref = weakref.ref(thing, broken)
        del thing
    assert ref() is None
    assert not lost.is_set()
    assert [type(e) for e in unraisable] == [ValueError]


def test_the_watcher_sends_a_lost_abort_again(db: Database) -> None:
    """The watcher re-sends from its own thread, so the handler runs in the main thread's
    next instruction outside the finalizer and the experiment stops (no run row needed)."""
    lost = threading.Event()
    watcher = _AbortWatcher(db, 1, FrozenClock(datetime(2026, 1, 5, tzinfo=UTC)), lost=lost)
    with exit_signals(), pytest.raises(SystemExit) as exited:
        watcher.start()
        try:
            lost.set()
            threading.Event().wait(5)  # interrupted by the signal the watcher sends
        finally:
            watcher.stop()
    assert exited.value.code == 20
    assert not lost.is_set()
