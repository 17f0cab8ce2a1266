"""Writing the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent

__all__ = ["record"]


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
