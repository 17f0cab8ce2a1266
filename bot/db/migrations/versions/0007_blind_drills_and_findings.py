"""blind drills and findings

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 15:38:18.592640
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "none",
                "planned",
                "skipped",
                "active",
                "revealed",
                name="drillstatus",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("planned_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("experiment", sa.String(length=63), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("planned_when", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("severity", sa.String(length=8), nullable=True),
        sa.Column("symptom", sa.Text(), nullable=True),
        sa.Column("slack_channel", sa.String(length=32), nullable=True),
        sa.Column("fired_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("injected_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("escalated_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("escalated_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("rolled_back_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revealed_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_drills_run_id_runs")),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_drills_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drills")),
        sa.UniqueConstraint("key", name=op.f("uq_drills_key")),
        sa.UniqueConstraint("service_id", "day", name=op.f("uq_drills_service_id")),
    )
    with op.batch_alter_table("drills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drills_planned_at"), ["planned_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_drills_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_drills_service_id"), ["service_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_drills_status"), ["status"], unique=False)

    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "run",
                "drill",
                "person",
                name="findingsource",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "deviated",
                "leftover",
                "rollback_failed",
                "slow_response",
                "drill_review",
                "manual",
                name="findingkind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("drill_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column(
            "severity",
            sa.Enum(
                "low",
                "medium",
                "high",
                "critical",
                name="severity",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("what_happened", sa.Text(), nullable=False),
        sa.Column("went_well", sa.Text(), nullable=False),
        sa.Column("action_items", bot.db.types.JSONDocument, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "resolved",
                name="findingstatus",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("resolved_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["drill_id"], ["drills.id"], name=op.f("fk_findings_drill_id_drills")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_findings_run_id_runs")),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_findings_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
        sa.UniqueConstraint("key", name=op.f("uq_findings_key")),
        sa.UniqueConstraint("run_id", "kind", name=op.f("uq_findings_run_id")),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_findings_drill_id"), ["drill_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_service_id"), ["service_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_findings_status"))
        batch_op.drop_index(batch_op.f("ix_findings_service_id"))
        batch_op.drop_index(batch_op.f("ix_findings_run_id"))
        batch_op.drop_index(batch_op.f("ix_findings_drill_id"))

    op.drop_table("findings")
    with op.batch_alter_table("drills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drills_status"))
        batch_op.drop_index(batch_op.f("ix_drills_service_id"))
        batch_op.drop_index(batch_op.f("ix_drills_run_id"))
        batch_op.drop_index(batch_op.f("ix_drills_planned_at"))

    op.drop_table("drills")
