"""The alerts table: every alert the team's Alertmanager delivered to chaosbot's webhook."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.types import JSONDocument, UTCDateTime

__all__ = ["AlertEvent"]


class AlertEvent(Base):
    """One alert as Alertmanager last delivered it: firing, then perhaps resolved.

    An alert is one (fingerprint, startsAt): Alertmanager sends the same alert again at every
    group interval and once more when it resolves, and a new startsAt is a new firing.
    """

    __tablename__ = "alert_events"
    __table_args__ = (UniqueConstraint("fingerprint", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    alertname: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, str]] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(String(16))  # "firing" or "resolved"
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def as_fact(self) -> dict[str, Any]:
        """What an audit entry or a drill keeps of it."""
        return {"alertname": self.alertname, "starts_at": self.starts_at.isoformat()}
