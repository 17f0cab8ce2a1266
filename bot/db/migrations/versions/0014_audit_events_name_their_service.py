"""audit events name their service, so a service's trail is one indexed read

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 09:00:00.000000

The events stored so far get it from their detail, by the rule `bot.audit.service.service_named`
had when this was written: a service's own events (its suite's too) name it `name`, those of
its game days, drills and findings name it `service`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service", sa.String(length=63), nullable=True))
        batch_op.create_index("ix_audit_events_service_at", ["service", "at"], unique=False)
    events = sa.table(
        "audit_events",
        sa.column("subject_type", sa.String()),
        sa.column("detail", bot.db.types.JSONDocument),
        sa.column("service", sa.String()),
    )
    named = sa.case(
        (events.c.subject_type == "service", events.c.detail["name"].as_string()),
        else_=events.c.detail["service"].as_string(),
    )
    op.execute(events.update().values(service=named))


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_service_at")
        batch_op.drop_column("service")
