"""What happens to a run, for whoever listens: the one observer interface of the runs domain.

Modelled on chaostoolkit-lib's `RunEventHandler`: the runs domain (the worker, the rollback
replay, the janitor, the launcher) tells a `RunObserver` what happened and never learns who
listens. The entry layer (bot/wiring.py `run_observers`) subscribes the automatic findings, the
run's Slack message and the game-day and drill follow-ups, and hands the result in at
construction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from bot.runs.models import Run
from bot.runs.states import RunStatus

__all__ = ["NOBODY", "RunObserver", "RunObservers"]

log = logging.getLogger(__name__)


class RunObserver:
    """Hears a run's changes; a subscriber overrides what it needs (each does nothing here)."""

    def run_changed(self, *, session: Session, run: Run, message: str, now: datetime) -> None:
        """`run` has just moved to `run.status`, inside the transaction that moved it.

        What is written here commits or rolls back with the change, so it happens exactly once
        per change whoever made it; an exception undoes the change.
        """

    def run_updated(self, run_id: int, status: RunStatus, message: str) -> None:
        """A change of the run (or a line on its timeline) has been committed."""

    def run_ended(self, run_id: int) -> None:
        """A process that worked on the run (its worker, a rollback replay) has exited: what
        follows a run may go on (it reads the tables, so hearing this twice is harmless)."""


NOBODY = RunObserver()


class RunObservers(RunObserver):
    """Tells each subscriber in turn. In the transaction a failure is the change's own (it
    rolls back); after the commit a failure is logged and the others still hear."""

    def __init__(self, observers: Iterable[RunObserver] = ()) -> None:
        self._observers = tuple(observers)

    def run_changed(self, *, session: Session, run: Run, message: str, now: datetime) -> None:
        for observer in self._observers:
            observer.run_changed(session=session, run=run, message=message, now=now)

    def run_updated(self, run_id: int, status: RunStatus, message: str) -> None:
        for observer in self._observers:
            try:
                observer.run_updated(run_id, status, message)
            except Exception:
                log.exception("%r after a change of run %s", observer, run_id)

    def run_ended(self, run_id: int) -> None:
        for observer in self._observers:
            try:
                observer.run_ended(run_id)
            except Exception:
                log.exception("%r after the process of run %s exited", observer, run_id)
