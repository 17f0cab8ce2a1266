"""Writing the audit trail, and reading it back: all of it, or one service's."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent

__all__ = ["Auditor", "Subject", "recent_events", "record", "service_named", "trail"]

_T = TypeVar("_T")


def service_named(subject_type: str, detail: Mapping[str, Any]) -> str | None:
    """The service an event is about, as its detail names it: a service's own events (its
    suite's too) under `name`, those of the things that belong to one (game days, drills,
    findings) under `service`."""
    name = detail.get("name" if subject_type == "service" else "service")
    return name if isinstance(name, str) else None


def record(
    *,
    session: Session,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str | int,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session's unit of work (it commits with the change it records)."""
    detail = detail or {}
    event = AuditEvent(
        at=at,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        detail=detail,
        service=service_named(subject_type, detail),
    )
    session.add(event)
    return event


def trail(
    *,
    session: Session,
    since: datetime | None = None,
    service: str | None = None,
    batch: int = 1000,
) -> Iterator[AuditEvent]:
    """The events at or after `since` (about `service` when given), oldest first, read from the
    database `batch` rows at a time while the session is open, so a long trail is never held
    in memory at once."""
    query = select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if service is not None:
        query = query.where(AuditEvent.service == service)
    yield from session.scalars(query.execution_options(yield_per=batch))


def recent_events(*, session: Session, service: str, limit: int) -> Sequence[AuditEvent]:
    """The service's last `limit` events, newest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.service == service)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return session.scalars(query).all()


@dataclass(frozen=True)
class Subject:
    """What an audit event is about, and the detail every event about it starts with."""

    type: str
    id: str | int
    detail: Mapping[str, Any] = field(default_factory=dict)

    def record(
        self,
        session: Session,
        actor: str,
        now: datetime,
        action: str,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Add an event about this subject (see `record`)."""
        return record(
            session=session,
            at=now,
            actor=actor,
            action=action,
            subject_type=self.type,
            subject_id=self.id,
            detail={**self.detail, **(detail or {})},
        )


@dataclass(frozen=True)
class Auditor(Generic[_T]):
    """Records the events of one kind of thing; `subject` says what each one is about."""

    subject: Callable[[_T], Subject]

    def __call__(
        self,
        session: Session,
        thing: _T,
        actor: str,
        now: datetime,
        action: str,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self.subject(thing).record(session, actor, now, action, detail)
