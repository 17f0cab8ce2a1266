"""Reading game days, and the one way to change one: lock its row, change it, say so.

Every change starts by locking the game day's row (an UPDATE, so PostgreSQL takes the row lock
and SQLite its write lock before anything is read), then checks, then writes, all in one
transaction: two clicks on two replicas are serialised and the second sees the first's result.
Every change bumps `version`, re-renders the approval message and leaves an audit event.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.audit.service import Auditor, Subject
from bot.catalog.models import Service
from bot.catalog.service import find_service
from bot.db.refs import find_by_key, lock_by_ref
from bot.gamedays.conversation import GameDayChange, conversation
from bot.gamedays.models import OPEN, GameDay
from bot.gamedays.rules import GameDayNotFound, deciders
from bot.runs.models import Run

__all__ = [
    "audit",
    "changed",
    "find_gameday",
    "locked",
    "minutes_text",
    "new_gameday_key",
    "runs_of",
    "still_needed",
    "upcoming",
]


def new_gameday_key() -> str:
    return f"gd-{secrets.token_hex(3)}"


def find_gameday(*, session: Session, ref: str) -> GameDay:
    return find_by_key(session, GameDay, ref, GameDayNotFound)


def upcoming(
    *, session: Session, service: str | None = None, team_id: int | None = None
) -> Sequence[GameDay]:
    """Open game days, soonest first; of one service or one team when asked (their services
    and approvals loaded with them: a listing shows both)."""
    query = (
        select(GameDay)
        .where(GameDay.status.in_(list(OPEN)))
        .options(selectinload(GameDay.service), selectinload(GameDay.approvals))
        .order_by(GameDay.starts_at)
    )
    if service is not None:
        query = query.where(GameDay.service_id == find_service(session=session, name=service).id)
    if team_id is not None:
        query = query.join(Service, Service.id == GameDay.service_id).where(
            Service.team_id == team_id
        )
    return session.scalars(query).all()


def runs_of(*, session: Session, gameday: GameDay) -> Sequence[Run]:
    """The game day's runs, in the order they run."""
    return session.scalars(select(Run).where(Run.gameday_id == gameday.id).order_by(Run.id)).all()


def still_needed(gameday: GameDay) -> str:
    missing = gameday.approvals_needed - len(gameday.current_approvals())
    if missing <= 0:
        return ""
    return f"{missing} more approval{'s' if missing > 1 else ''} needed."


def locked(session: Session, ref: str | int) -> GameDay:
    """The game day, with its row locked for the rest of the transaction."""
    return lock_by_ref(session, GameDay, ref, GameDayNotFound)


def changed(
    session: Session, gameday: GameDay, now: datetime, admins: frozenset[str], change: GameDayChange
) -> None:
    """Bump the game day's version and tell its conversation what changed."""
    gameday.version += 1
    session.flush()
    who = deciders(session=session, service=gameday.service, admins=admins)
    conversation.get().changed(
        session,
        gameday,
        change,
        deciders=who,
        runs=runs_of(session=session, gameday=gameday),
        now=now,
    )


def _subject(gameday: GameDay) -> Subject:
    return Subject(
        "gameday", gameday.key, {"service": gameday.service.name, "round": gameday.round}
    )


audit = Auditor(_subject)


def minutes_text(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"
