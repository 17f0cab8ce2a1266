"""runs, timelines, kill switch and freezes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kill_switch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engaged", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=True),
        sa.Column("changed_at", bot.db.types.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kill_switch")),
    )
    op.create_table(
        "freezes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column("ends_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_freezes_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freezes")),
    )
    with op.batch_alter_table("freezes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_freezes_team_id"), ["team_id"], unique=False)

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("experiment", sa.String(length=63), nullable=False),
        sa.Column(
            "trigger",
            sa.Enum(
                "gameday",
                "blind",
                "adhoc",
                "ci",
                name="trigger",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled",
                "preflight",
                "injecting",
                "holding",
                "rolling_back",
                "completed",
                "deviated",
                "aborted",
                "failed",
                name="runstatus",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("parameters", bot.db.types.JSONDocument, nullable=False),
        sa.Column("document", bot.db.types.JSONDocument, nullable=False),
        sa.Column("rollback_plan", bot.db.types.JSONDocument, nullable=False),
        sa.Column("labels", bot.db.types.JSONDocument, nullable=False),
        sa.Column("creates", bot.db.types.JSONDocument, nullable=False),
        sa.Column("cluster_context", sa.String(length=253), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column("scheduled_for", bot.db.types.UTCDateTime(), nullable=True),
        sa.Column("started_at", bot.db.types.UTCDateTime(), nullable=True),
        sa.Column("finished_at", bot.db.types.UTCDateTime(), nullable=True),
        sa.Column("abort_requested_at", bot.db.types.UTCDateTime(), nullable=True),
        sa.Column("abort_requested_by", sa.String(length=64), nullable=True),
        sa.Column("worker_pid", sa.Integer(), nullable=True),
        sa.Column("worker_host", sa.String(length=253), nullable=True),
        sa.Column("heartbeat_at", bot.db.types.UTCDateTime(), nullable=True),
        sa.Column("journal", bot.db.types.JSONDocument, nullable=True),
        sa.Column("leftovers", bot.db.types.JSONDocument, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("slack_channel", sa.String(length=32), nullable=True),
        sa.Column("slack_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_runs_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("key", name=op.f("uq_runs_key")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runs_service_id"), ["service_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_runs_status"), ["status"], unique=False)

    op.create_table(
        "run_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled",
                "preflight",
                "injecting",
                "holding",
                "rolling_back",
                "completed",
                "deviated",
                "aborted",
                "failed",
                name="runstatus",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("detail", bot.db.types.JSONDocument, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_events_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_events")),
    )
    with op.batch_alter_table("run_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_events_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_events_run_id"))

    op.drop_table("run_events")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_status"))
        batch_op.drop_index(batch_op.f("ix_runs_service_id"))

    op.drop_table("runs")
    with op.batch_alter_table("freezes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_freezes_team_id"))

    op.drop_table("freezes")
    op.drop_table("kill_switch")
