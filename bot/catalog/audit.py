"""The audit trail of catalog changes: one event per change to a service, team or namespace."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.audit.service import record

__all__ = ["record_change"]


def record_change(
    session: Session,
    subject: tuple[str, str | int],
    action: str,
    *,
    actor: str,
    now: datetime,
    **detail: Any,
) -> None:
    """Add the audit event of `action` on `subject` (its type and id), with `detail` as its detail."""
    subject_type, subject_id = subject
    record(
        session=session,
        at=now,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        detail=detail,
    )
