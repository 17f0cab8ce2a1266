"""Reading drills, and the one way to change one: lock its row, change it, re-render its alert."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.service import Auditor, Subject
from bot.catalog.models import Member, Role
from bot.db.refs import find_by_key, lock_by_ref
from bot.drills.models import Drill, DrillStatus
from bot.errors import ChaosbotError
from bot.runs.models import Run, RunEvent
from bot.runs.states import RunStatus

__all__ = [
    "DrillNotFound",
    "audit",
    "find_drill",
    "injected_at",
    "locked",
    "new_drill_key",
    "recent_drills",
    "responders",
    "upcoming_drills",
]


class DrillNotFound(ChaosbotError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"There is no drill {ref}.")


def new_drill_key() -> str:
    return f"inc-{secrets.token_hex(3)}"


def find_drill(*, session: Session, ref: str) -> Drill:
    return find_by_key(session, Drill, ref, DrillNotFound)


def locked(session: Session, ref: str | int) -> Drill:
    """The drill, with its row locked for the rest of the transaction."""
    return lock_by_ref(session, Drill, ref, DrillNotFound)


def upcoming_drills(*, session: Session, now: datetime, days: int = 7) -> Sequence[Drill]:
    """Planned drills of the next `days` days, soonest first."""
    return session.scalars(
        select(Drill)
        .where(
            Drill.status == DrillStatus.PLANNED,
            Drill.planned_at >= now - timedelta(hours=1),
            Drill.planned_at < now + timedelta(days=days),
        )
        .order_by(Drill.planned_at)
    ).all()


def recent_drills(*, session: Session, now: datetime, days: int = 14) -> Sequence[Drill]:
    """Drills that fired or were skipped in the last `days` days, latest first."""
    return session.scalars(
        select(Drill)
        .where(
            Drill.status.in_([DrillStatus.ACTIVE, DrillStatus.REVEALED, DrillStatus.SKIPPED]),
            Drill.planned_at >= now - timedelta(days=days),
        )
        .order_by(Drill.planned_at.desc())
    ).all()


def injected_at(session: Session, run: Run) -> datetime | None:
    """When the fault was in place: the run's move to holding (or, failing that, to injecting)."""
    events = session.scalars(
        select(RunEvent)
        .where(
            RunEvent.run_id == run.id,
            RunEvent.status.in_([RunStatus.HOLDING, RunStatus.INJECTING]),
        )
        .order_by(RunEvent.id)
    ).all()
    holding = [e.at for e in events if e.status is RunStatus.HOLDING]
    return holding[0] if holding else (events[0].at if events else None)


def responders(session: Session, drill: Drill) -> list[str]:
    """Who an escalation pages: the service's owners, then the team's admins."""
    people = [o.slack_user_id for o in drill.service.owners]
    admins = session.scalars(
        select(Member.slack_user_id).where(
            Member.team_id == drill.service.team_id, Member.role == Role.ADMIN
        )
    ).all()
    return people + [a for a in admins if a not in people]


def _subject(drill: Drill) -> Subject:
    return Subject("drill", drill.key, {"service": drill.service.name})


audit = Auditor(_subject)
