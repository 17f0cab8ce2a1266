"""Writing the audit trail."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent

__all__ = ["Auditor", "Subject", "record"]

_T = TypeVar("_T")


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
    event = AuditEvent(
        at=at,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        detail=detail or {},
    )
    session.add(event)
    return event


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
