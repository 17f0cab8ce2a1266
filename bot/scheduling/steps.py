"""One step of a scheduler pass: its own transaction, and a failure that stays its own.

`RunPass` is what the passes that start runs (game days, drills) share: their steps guarded,
and the runs they record handed out to workers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import NotRequired, TypedDict, TypeVar, Unpack

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.db.engine import Database

__all__ = ["RunPass", "RunPassArgs", "guarded", "hand_out"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


def guarded(db: Database, what: str, work: Callable[[Session], _T]) -> _T | None:
    """`work` in a transaction of its own; a failure is logged and the pass goes on (None)."""
    try:
        with db.session() as session:
            return work(session)
    except Exception:
        log.exception("scheduler: %s failed", what)
        return None


def hand_out(start_run: Callable[[int], None], run_id: int) -> None:
    """Start a worker for a recorded run; if that fails, the reconciler hands it out again."""
    try:
        start_run(run_id)
    except Exception:
        log.exception("could not start a worker for run %s", run_id)


class RunPassArgs(TypedDict):
    """What every pass that starts runs is built with."""

    db: Database
    clock: Clock
    start_run: Callable[[int], None]  # hands a recorded run to a worker
    grace: timedelta  # how late a start may still be
    default_context: NotRequired[str | None]  # the Kubernetes context of a run that names none


class RunPass:
    """A reconciler pass that records runs and hands them out; each of its steps is guarded."""

    name: str  # the pass's name (bot/scheduling/reconciler.py), and its steps' in the logs
    every: float | None = None  # on the reconciler's tick, and when woken

    def __init__(self, **args: Unpack[RunPassArgs]) -> None:
        self._db, self._clock, self._start_run = args["db"], args["clock"], args["start_run"]
        self.grace, self._default_context = args["grace"], args.get("default_context")

    def _step(self, what: str, work: Callable[[Session], _T]) -> _T | None:
        return guarded(self._db, f"{self.name}: {what}", work)

    def _hand_out(self, run_id: int | None) -> None:
        if run_id is not None:
            hand_out(self._start_run, run_id)
