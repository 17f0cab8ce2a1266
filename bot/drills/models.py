"""Tables of blind drills: one row per service and planned day, and what happened when it fired."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.catalog.models import Service
from bot.db.base import Base
from bot.db.types import UTCDateTime, string_enum
from bot.runs.models import Run

__all__ = ["Detection", "Drill", "DrillStatus"]


class DrillStatus(enum.StrEnum):
    """Where a drill is."""

    NONE = "none"  # the planner drew no drill that day (kept so the day is drawn only once)
    PLANNED = "planned"  # fires at planned_at, if still eligible then
    SKIPPED = "skipped"  # not eligible when it came due (skip_reason says why)
    ACTIVE = "active"  # the alert is out and the run is under way
    REVEALED = "revealed"  # the run ended; the alert now says it was a drill


class Detection(enum.StrEnum):
    """Whether the team's own monitoring noticed the drill (measured for services that name
    their alerts, spec.alerting)."""

    DETECTED = "detected"  # an alert of the service started firing after the fault
    MISSED = "missed"  # none did while the drill lasted


class Drill(Base):
    """One service's planned day, and when a drill fired that day, its incident timeline.

    Times to acknowledge, detect and resolve are read from the timestamps: acknowledge from the
    alert (`fired_at`), detect and resolve from the fault's injection (`injected_at`).
    """

    __tablename__ = "drills"
    __table_args__ = (UniqueConstraint("service_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)  # "inc-3fa9c1", shown in the alert
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    day: Mapped[date] = mapped_column(Date)  # on the team's clock
    status: Mapped[DrillStatus] = mapped_column(string_enum(DrillStatus), index=True)
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    experiment: Mapped[str | None] = mapped_column(String(63))
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    planned_when: Mapped[datetime] = mapped_column(UTCDateTime())  # when the planner drew it
    # The opt-in it was drawn under: a changed opt-in has its days still ahead drawn again.
    policy: Mapped[str] = mapped_column(String(16))
    skip_reason: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    severity: Mapped[str | None] = mapped_column(String(8))
    symptom: Mapped[str | None] = mapped_column(Text)
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    injected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    rolled_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # alerting.announceAfterMinutes when it fired: chaosbot's own alert waits that long after
    # the fault, and is never raised when the team's monitoring fires first (fired_at stays
    # None until the alert is out).
    announce_after_minutes: Mapped[int | None] = mapped_column(Integer)
    detection: Mapped[Detection | None] = mapped_column(string_enum(Detection))
    detected_alert: Mapped[str | None] = mapped_column(String(200))  # its alertname
    detected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # its startsAt
    # Bumped by every change of the alert, so each re-render is its own outbox message.
    version: Mapped[int] = mapped_column(Integer, default=0)

    service: Mapped[Service] = relationship()
    run: Mapped[Run | None] = relationship()
