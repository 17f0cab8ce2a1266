"""One step of a scheduler pass: its own transaction, and a failure that stays its own."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from bot.db.engine import Database

__all__ = ["guarded", "hand_out"]

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
