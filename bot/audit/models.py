"""The audit trail: who did what to which thing, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.types import JSONDocument, UTCDateTime

__all__ = ["AuditEvent"]


class AuditEvent(Base):
    """One recorded decision or change; never updated, never deleted."""

    __tablename__ = "audit_events"
    # A service's trail, newest first, without reading anyone else's.
    __table_args__ = (Index("ix_audit_events_service_at", "service", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    # The service the event is about, when it is about one or one of its things (its suite,
    # game days, drills, findings): `service_named` reads it from the detail.
    service: Mapped[str | None] = mapped_column(String(63))
