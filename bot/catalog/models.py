"""Tables of the service catalogue: teams, their members and roles, services and their owners."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base
from bot.db.types import JSONDocument, UTCDateTime, string_enum

__all__ = [
    "DEFAULT_TIMEZONE",
    "Environment",
    "Member",
    "NamespaceOwner",
    "Role",
    "Service",
    "ServiceOwner",
    "SuiteEntry",
    "Team",
]

# A team's timezone until someone declares it.
DEFAULT_TIMEZONE = "UTC"


class Role(enum.StrEnum):
    """What a person may do for a team."""

    OWNER = "owner"
    APPROVER = "approver"
    ADMIN = "admin"


class Environment(enum.StrEnum):
    """Where a service runs; production is refused unless the platform and the service allow it."""

    STAGING = "staging"
    PRODUCTION = "production"


class Team(Base):
    """A team that owns services and has a Slack channel for their news."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    slack_channel_id: Mapped[str] = mapped_column(String(32))
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    members: Mapped[list[Member]] = relationship(back_populates="team", cascade="all")
    services: Mapped[list[Service]] = relationship(back_populates="team")


class Member(Base):
    """One role one person holds in a team."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("team_id", "slack_user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    slack_user_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[Role] = mapped_column(string_enum(Role))

    team: Mapped[Team] = relationship(back_populates="members")


class NamespaceOwner(Base):
    """A Kubernetes namespace and the one team whose services may live (and be disrupted) in it."""

    __tablename__ = "namespace_owners"

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace: Mapped[str] = mapped_column(String(63), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())

    team: Mapped[Team] = relationship()


class Service(Base):
    """A workload registered for chaos experiments, with where it runs and how it is probed."""

    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("tier BETWEEN 1 AND 4", name="tier_range"),
        CheckConstraint(
            "blast_radius_percent BETWEEN 1 AND 100", name="blast_radius_percent_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    tier: Mapped[int] = mapped_column(Integer)
    environment: Mapped[Environment] = mapped_column(
        string_enum(Environment), default=Environment.STAGING
    )
    cluster_context: Mapped[str | None] = mapped_column(String(253))
    namespace: Mapped[str] = mapped_column(String(63))
    selector: Mapped[str] = mapped_column(String(1024))
    workload_kind: Mapped[str | None] = mapped_column(String(32))
    workload_name: Mapped[str | None] = mapped_column(String(253))
    probes: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    # How the probes are watched while a fault is in place ({intervalSeconds, failAfter});
    # None for a service stored before the watch existed (it gets the defaults).
    steady_state: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    # Which of the team's Alertmanager alerts are the service's ({matchers, announceAfterMinutes});
    # None when it names none.
    alerting: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    # Slack user ids of the people besides the owners who may approve its game days.
    approvers: Mapped[list[str]] = mapped_column(JSONDocument, default=list, server_default="[]")
    blast_radius_percent: Mapped[int] = mapped_column(Integer, default=50)
    production_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    blind_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    blind_window: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    offboarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    team: Mapped[Team] = relationship(back_populates="services")
    owners: Mapped[list[ServiceOwner]] = relationship(
        back_populates="service", cascade="all, delete-orphan", order_by="ServiceOwner.id"
    )
    suite: Mapped[list[SuiteEntry]] = relationship(
        back_populates="service", cascade="all, delete-orphan", order_by="SuiteEntry.position"
    )


class ServiceOwner(Base):
    """A person who owns a service: decides on its game days and answers its drills."""

    __tablename__ = "service_owners"
    __table_args__ = (UniqueConstraint("service_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    slack_user_id: Mapped[str] = mapped_column(String(32))

    service: Mapped[Service] = relationship(back_populates="owners")


class SuiteEntry(Base):
    """An experiment of the library chosen for a service, with the owners' parameters."""

    __tablename__ = "suite_entries"
    __table_args__ = (UniqueConstraint("service_id", "experiment"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    experiment: Mapped[str] = mapped_column(String(63))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # The load profile the experiment runs under, as chaos.yaml's `load` writes it
    # (bot.load.profile.LoadProfile); None: no load.
    load: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)

    service: Mapped[Service] = relationship(back_populates="suite")
