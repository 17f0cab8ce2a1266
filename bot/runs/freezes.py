"""Freezes: windows in which no disruption starts, for one team or for everything.

A freeze pauses what has not started: runs are refused by preflight, game days cannot be booked
into it and do not start in it, and blind drills are not planned in it. What is already injected
is not touched; `/chaos abort` is for that.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.audit.service import Subject
from bot.catalog.models import Team
from bot.errors import ChaosbotError
from bot.runs.models import Freeze

__all__ = [
    "INCIDENT_FREEZE",
    "MAX_FREEZE",
    "active_freezes",
    "end_freezes",
    "freeze",
    "parse_duration",
]

MAX_FREEZE = timedelta(days=30)
_UNITS = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_DURATION = re.compile(r"(\d{1,4})([mhdw])")


# A declared real incident pauses its team this long (`/chaos unfreeze` ends it sooner).
INCIDENT_FREEZE = timedelta(hours=4)


def parse_duration(text: str) -> timedelta:
    """`30m`, `4h`, `2d`, `1w`: between a minute and 30 days."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ChaosbotError(f"`{text}` is not a duration: write it like `30m`, `4h`, `2d` or `1w`.")
    duration = int(match[1]) * _UNITS[match[2]]
    if not timedelta(minutes=1) <= duration <= MAX_FREEZE:
        raise ChaosbotError("A freeze lasts between a minute and 30 days.")
    return duration


def freeze(
    *,
    session: Session,
    team: Team | None,
    duration: timedelta,
    reason: str,
    by: str,
    now: datetime,
) -> Freeze:
    """Freeze one team (or everything, `team` None) from now for `duration`."""
    if not reason.strip():
        raise ChaosbotError("Say why: `/chaos freeze 4h release week`.")
    row = Freeze(
        team_id=team.id if team else None,
        starts_at=now,
        ends_at=now + duration,
        reason=reason.strip()[:500],
        created_by=by,
    )
    session.add(row)
    session.flush()
    _audit(
        session, "freeze.started", team, by, now, until=row.ends_at.isoformat(), reason=row.reason
    )
    return row


def end_freezes(*, session: Session, team: Team | None, by: str, now: datetime) -> int:
    """End the freezes in force now of the team (or the platform-wide ones); how many ended."""
    scope = Freeze.team_id == team.id if team else Freeze.team_id.is_(None)
    ended = session.execute(
        update(Freeze)
        .where(scope, Freeze.starts_at <= now, Freeze.ends_at > now)
        .values(ends_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if ended:
        _audit(session, "freeze.ended", team, by, now, freezes=ended)
    return int(ended)


def active_freezes(*, session: Session, now: datetime) -> Sequence[Freeze]:
    """Every freeze in force now, soonest to end first."""
    return session.scalars(
        select(Freeze).where(Freeze.starts_at <= now, Freeze.ends_at > now).order_by(Freeze.ends_at)
    ).all()


def _audit(
    session: Session, action: str, team: Team | None, by: str, now: datetime, **detail: Any
) -> None:
    """Record a freeze change of the team, or of the platform (`team` None)."""
    subject = Subject("team", team.name) if team else Subject("platform", "all")
    subject.record(session, by, now, action, detail)
