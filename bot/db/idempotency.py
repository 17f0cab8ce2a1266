"""Idempotency keys: the first request with a key does the work, retries and double clicks don't.

Slack retries a request it got no answer to within three seconds, and people double-click; a
key (for example "view:V123:submit") is claimed inside the same transaction as the work, so the
unique constraint lets exactly one of any number of concurrent attempts commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.db.base import Base
from bot.db.types import UTCDateTime

__all__ = ["IdempotencyKey", "claim", "was_claimed"]


class IdempotencyKey(Base):
    """A request that has been carried out."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


def was_claimed(*, session: Session, key: str) -> bool:
    """Whether a request with this key was already carried out (a cheap early check)."""
    return session.scalar(select(IdempotencyKey.key).where(IdempotencyKey.key == key)) is not None


def claim(*, session: Session, key: str, now: datetime) -> None:
    """Claim the key in this transaction; a concurrent duplicate fails its commit on the key."""
    session.add(IdempotencyKey(key=key, created_at=now))
    session.flush()
