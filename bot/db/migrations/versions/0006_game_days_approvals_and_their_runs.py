"""game days, their approvals, and runs that belong to one

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 12:10:39.766752
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gamedays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "running",
                "completed",
                "halted",
                "rejected",
                "expired",
                "cancelled",
                "missed",
                name="gamedaystatus",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("experiments", bot.db.types.JSONDocument, nullable=False),
        sa.Column("starts_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("hold_seconds", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approvals_needed", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("expires_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reminded_24h_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_15m_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("current_run_id", sa.Integer(), nullable=True),
        sa.Column("dispatched_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("slack_channel", sa.String(length=32), nullable=False),
        sa.Column("preview", bot.db.types.JSONDocument, nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_gamedays_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gamedays")),
        sa.UniqueConstraint("key", name=op.f("uq_gamedays_key")),
    )
    with op.batch_alter_table("gamedays", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gamedays_service_id"), ["service_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_gamedays_starts_at"), ["starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_gamedays_status"), ["status"], unique=False)

    op.create_table(
        "gameday_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gameday_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("slack_user_id", sa.String(length=64), nullable=False),
        sa.Column("approved_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gameday_id"],
            ["gamedays.id"],
            name=op.f("fk_gameday_approvals_gameday_id_gamedays"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gameday_approvals")),
        sa.UniqueConstraint(
            "gameday_id", "round", "slack_user_id", name=op.f("uq_gameday_approvals_gameday_id")
        ),
    )
    with op.batch_alter_table("gameday_approvals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gameday_approvals_gameday_id"), ["gameday_id"], unique=False
        )

    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slack_thread_ts", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("gameday_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_runs_gameday_id"), ["gameday_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_runs_gameday_id_gamedays"), "gamedays", ["gameday_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_runs_gameday_id_gamedays"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_runs_gameday_id"))
        batch_op.drop_column("gameday_id")
        batch_op.drop_column("slack_thread_ts")

    with op.batch_alter_table("gameday_approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gameday_approvals_gameday_id"))

    op.drop_table("gameday_approvals")
    with op.batch_alter_table("gamedays", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gamedays_status"))
        batch_op.drop_index(batch_op.f("ix_gamedays_starts_at"))
        batch_op.drop_index(batch_op.f("ix_gamedays_service_id"))

    op.drop_table("gamedays")
