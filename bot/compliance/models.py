"""The compliance tables: which weekly digests were sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.types import UTCDateTime

__all__ = ["DigestDelivery"]


class DigestDelivery(Base):
    """A digest sent: one row per scope (`team:<id>` or `org`) and ISO week."""

    __tablename__ = "digest_deliveries"
    __table_args__ = (UniqueConstraint("scope", "week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(40))
    week: Mapped[str] = mapped_column(String(8))  # "2026-W49"
    channel: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
