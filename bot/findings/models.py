"""The findings table: one thing learned, from a run, a drill or a person, until it is resolved."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.catalog.models import Service
from bot.db.base import Base
from bot.db.types import JSONDocument, UTCDateTime, string_enum

__all__ = ["Finding", "FindingKind", "FindingSource", "FindingStatus", "Severity"]


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


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


class FindingStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Finding(Base):
    """One thing learned about a service, with action items (text and owner) to act on it."""

    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("run_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)  # "fd-81c2e0"
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    source: Mapped[FindingSource] = mapped_column(string_enum(FindingSource))
    kind: Mapped[FindingKind] = mapped_column(string_enum(FindingKind))
    # Who is to act on it (the owner of its first action item, or of the service).
    owner: Mapped[str | None] = mapped_column(String(64))
    drill_id: Mapped[int | None] = mapped_column(ForeignKey("drills.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    severity: Mapped[Severity] = mapped_column(string_enum(Severity))
    title: Mapped[str] = mapped_column(String(200))
    what_happened: Mapped[str] = mapped_column(Text, default="")
    went_well: Mapped[str] = mapped_column(Text, default="")
    # [{"text": "...", "owner": "U0123"}]
    action_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    status: Mapped[FindingStatus] = mapped_column(
        string_enum(FindingStatus), default=FindingStatus.OPEN, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(64))

    service: Mapped[Service] = relationship()
