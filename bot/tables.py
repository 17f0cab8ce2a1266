"""Every table, imported in one place so metadata (and Alembic) sees them all.

It sits above the domain (it imports every domain's models) and outside bot.db, so that bot.db
stays a leaf the domain builds on; bot/db/migrations/env.py is the one place below that imports
it, because Alembic has to see every table."""

from __future__ import annotations

from bot.alerts.models import AlertEvent
from bot.audit.models import AuditEvent
from bot.catalog.models import Member, NamespaceOwner, Service, ServiceOwner, SuiteEntry, Team
from bot.compliance.models import DigestDelivery
from bot.db.base import Base
from bot.db.idempotency import IdempotencyKey
from bot.drills.models import Drill
from bot.findings.models import ActionItem, Finding
from bot.gamedays.models import GameDay, GameDayApproval
from bot.outbox.models import OutboxMessage
from bot.runs.models import Freeze, KillSwitch, Run, RunEvent, RunMeasurement

__all__ = [
    "ActionItem",
    "AlertEvent",
    "AuditEvent",
    "Base",
    "DigestDelivery",
    "Drill",
    "Finding",
    "Freeze",
    "GameDay",
    "GameDayApproval",
    "IdempotencyKey",
    "KillSwitch",
    "Member",
    "NamespaceOwner",
    "OutboxMessage",
    "Run",
    "RunEvent",
    "RunMeasurement",
    "Service",
    "ServiceOwner",
    "SuiteEntry",
    "Team",
]
