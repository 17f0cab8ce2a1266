"""Tables of the run engine: runs, their timelines and measurements, the kill switch and freeze
windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.catalog.models import Service
from bot.db.base import Base
from bot.db.types import JSONDocument, UTCDateTime, string_enum
from bot.runs.states import RunStatus, Trigger

__all__ = ["Freeze", "KillSwitch", "Run", "RunEvent", "RunMeasurement"]


class Run(Base):
    """One experiment executed (or to be executed) against one service.

    The rollback plan and the label of everything the run creates are written when the run is
    created, before anything touches the cluster.
    """

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)  # the chaosbot.io/run-id label value
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    experiment: Mapped[str] = mapped_column(String(63))
    trigger: Mapped[Trigger] = mapped_column(string_enum(Trigger))
    status: Mapped[RunStatus] = mapped_column(string_enum(RunStatus), index=True)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    document: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    rollback_plan: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    labels: Mapped[dict[str, str]] = mapped_column(JSONDocument)
    creates: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    cluster_context: Mapped[str | None] = mapped_column(String(253))
    requested_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    abort_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    abort_requested_by: Mapped[str | None] = mapped_column(String(64))
    # Set, in the same transaction as the request, when the bot signals the worker itself; the
    # worker's own watcher then stays quiet (a second SIGUSR1 would cut its rollbacks short).
    abort_signalled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    worker_host: Mapped[str | None] = mapped_column(String(253))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    journal: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    # Objects still carrying the run's label after its rollbacks (None: not checked yet). While
    # any are left, the janitor plays the rollbacks again at rollback_retry_at, with backoff,
    # and alerts people once (cleanup_alerted_at) when they outlive the alert delay.
    leftovers: Mapped[list[str] | None] = mapped_column(JSONDocument)
    rollback_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rollback_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cleanup_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    # A game day's runs post their message in the game day's thread.
    slack_thread_ts: Mapped[str | None] = mapped_column(String(32))
    gameday_id: Mapped[int | None] = mapped_column(ForeignKey("gamedays.id"), index=True)

    service: Mapped[Service] = relationship()
    events: Mapped[list[RunEvent]] = relationship(
        back_populates="run", order_by="RunEvent.id", cascade="all"
    )


class RunEvent(Base):
    """One line of a run's timeline."""

    __tablename__ = "run_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[RunStatus] = mapped_column(string_enum(RunStatus))
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    run: Mapped[Run] = relationship(back_populates="events")


class RunMeasurement(Base):
    """One steady-state check while the fault was in place: a point of the run's time series."""

    __tablename__ = "run_measurements"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    probe: Mapped[str] = mapped_column(String(128))
    ok: Mapped[bool] = mapped_column(Boolean)
    # The number measured (an HTTP probe's latency in ms, a query's value); None on an error.
    value: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(String(200))


class KillSwitch(Base):
    """The platform-wide halt: while engaged, nothing is injected anywhere."""

    __tablename__ = "kill_switch"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    engaged: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)


class Freeze(Base):
    """A window in which no disruption may start: for one team, or everything (team NULL)."""

    __tablename__ = "freezes"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
