"""The findings table: one thing learned, from a run, a drill or a person, until it is resolved."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.catalog.models import Service
from bot.db.base import Base
from bot.db.types import UTCDateTime, string_enum

__all__ = [
    "AUTOMATIC_KINDS",
    "ActionItem",
    "ActionItemStatus",
    "Finding",
    "FindingKind",
    "FindingSource",
    "FindingStatus",
    "Hypothesis",
    "Severity",
]


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Hypothesis(enum.StrEnum):
    """Whether the steady state the experiment assumed held, as the people who watched say."""

    HELD = "held"
    PARTLY = "partly"
    NOT_HELD = "not_held"


class FindingSource(enum.StrEnum):
    RUN = "run"  # recorded by chaosbot from a run's outcome
    DRILL = "drill"  # recorded by people after a blind drill
    PERSON = "person"


class FindingKind(enum.StrEnum):
    """What the finding is about; the automatic kinds are recorded at most once per run."""

    DEVIATED = "deviated"  # the steady state did not hold
    LEFTOVER = "leftover"  # something of the run was still in the cluster after its rollback
    ROLLBACK_FAILED = "rollback_failed"
    SLOW_RESPONSE = "slow_response"  # a blind drill acknowledged late, or never
    UNDETECTED = "undetected"  # no alert of the team's own fired during a blind drill
    DRILL_REVIEW = "drill_review"  # what people recorded after a drill
    MANUAL = "manual"
    REVIEW = "review"  # what people recorded after a game day or an ad hoc run


# Recorded by chaosbot from a run, at most once per run and kind; people's reviews are not.
AUTOMATIC_KINDS = (
    FindingKind.DEVIATED,
    FindingKind.LEFTOVER,
    FindingKind.ROLLBACK_FAILED,
    FindingKind.SLOW_RESPONSE,
    FindingKind.UNDETECTED,
)


class FindingStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Finding(Base):
    """One thing learned about a service, with the action items that act on it."""

    __tablename__ = "findings"
    __table_args__ = (
        Index(
            "uq_findings_run_id_automatic_kind",
            "run_id",
            "kind",
            unique=True,
            sqlite_where=text("kind != 'review'"),
            postgresql_where=text("kind != 'review'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)  # "fd-81c2e0"
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    source: Mapped[FindingSource] = mapped_column(string_enum(FindingSource))
    kind: Mapped[FindingKind] = mapped_column(string_enum(FindingKind))
    # Who is to act on it (the owner of its first action item, or of the service).
    owner: Mapped[str | None] = mapped_column(String(64))
    drill_id: Mapped[int | None] = mapped_column(ForeignKey("drills.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    gameday_id: Mapped[int | None] = mapped_column(ForeignKey("gamedays.id"), index=True)
    severity: Mapped[Severity] = mapped_column(string_enum(Severity))
    # People's reviews say whether the hypothesis held; chaosbot's own findings do not.
    hypothesis: Mapped[Hypothesis | None] = mapped_column(string_enum(Hypothesis))
    title: Mapped[str] = mapped_column(String(200))
    what_happened: Mapped[str] = mapped_column(Text, default="")
    went_well: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[FindingStatus] = mapped_column(
        string_enum(FindingStatus), default=FindingStatus.OPEN, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(64))

    service: Mapped[Service] = relationship()
    action_items: Mapped[list[ActionItem]] = relationship(
        back_populates="finding", order_by="ActionItem.id", cascade="all, delete-orphan"
    )


class ActionItemStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"


class ActionItem(Base):
    """One thing someone is to do about a finding, by a day; reminded while it is overdue."""

    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)  # "ai-3f9e1c", shown to people
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), index=True)
    text: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(64), index=True)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[ActionItemStatus] = mapped_column(
        string_enum(ActionItemStatus), default=ActionItemStatus.OPEN, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(String(64))
    # The last reminder queued for it; at most one a week.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    finding: Mapped[Finding] = relationship(back_populates="action_items")
