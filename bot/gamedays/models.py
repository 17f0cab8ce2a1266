"""Tables of game days: the request, its approvals round by round, and its lifecycle."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.catalog.models import Service
from bot.db.base import Base
from bot.db.types import JSONDocument, UTCDateTime, string_enum

__all__ = ["OPEN", "SETTLED", "GameDay", "GameDayApproval", "GameDayStatus"]


class GameDayStatus(enum.StrEnum):
    """Where a game day is. Settled states never change again."""

    PENDING = "pending"  # waiting for its approvals
    APPROVED = "approved"  # scheduled: the scheduler starts it at starts_at
    RUNNING = "running"  # its experiments run one after another
    COMPLETED = "completed"  # every experiment ran (their own outcomes are on the runs)
    HALTED = "halted"  # a run was aborted or failed: the rest did not run
    REJECTED = "rejected"
    EXPIRED = "expired"  # not approved in time
    CANCELLED = "cancelled"
    MISSED = "missed"  # the bot was down at the start and the grace window passed


# A game day that may still happen; it occupies its slot.
OPEN = frozenset({GameDayStatus.PENDING, GameDayStatus.APPROVED, GameDayStatus.RUNNING})
SETTLED = frozenset(GameDayStatus) - OPEN


class GameDay(Base):
    """One requested game day of one service.

    `round` counts the schedules it has had: rescheduling starts a new round, and only the
    approvals of the current round count.
    """

    __tablename__ = "gamedays"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)  # "gd-5f2c9a", shown to people
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    status: Mapped[GameDayStatus] = mapped_column(string_enum(GameDayStatus), index=True)
    experiments: Mapped[list[str]] = mapped_column(JSONDocument)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    hold_seconds: Mapped[int] = mapped_column(Integer)  # how long each experiment's fault stays
    timezone: Mapped[str] = mapped_column(String(64))  # the team's, when it was requested
    notes: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approvals_needed: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer, default=1)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Bumped by every change, under the row lock that serialises decisions.
    version: Mapped[int] = mapped_column(Integer, default=1)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    reminded_24h_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_15m_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The run handed to a worker last, and when: the next one starts when it has ended.
    current_run_id: Mapped[int | None] = mapped_column(Integer)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    slack_channel: Mapped[str] = mapped_column(String(32))
    # What the experiments would hit, read from the cluster when it was requested (or moved).
    preview: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    service: Mapped[Service] = relationship()
    approvals: Mapped[list[GameDayApproval]] = relationship(
        back_populates="gameday", cascade="all", order_by="GameDayApproval.id"
    )

    def current_approvals(self) -> list[GameDayApproval]:
        return [a for a in self.approvals if a.round == self.round]


class GameDayApproval(Base):
    """One person's approval of one round of a game day."""

    __tablename__ = "gameday_approvals"
    __table_args__ = (UniqueConstraint("gameday_id", "round", "slack_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gameday_id: Mapped[int] = mapped_column(
        ForeignKey("gamedays.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[int] = mapped_column(Integer)
    slack_user_id: Mapped[str] = mapped_column(String(64))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime())

    gameday: Mapped[GameDay] = relationship(back_populates="approvals")
