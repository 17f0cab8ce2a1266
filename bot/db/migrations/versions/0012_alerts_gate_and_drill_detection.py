"""the team's alerts: services name theirs, Alertmanager's deliveries are stored, drills say
whether monitoring detected them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_KINDS = ("deviated", "leftover", "rollback_failed", "slow_response", "drill_review", "manual")
_KINDS_AFTER = (*_KINDS[:4], "undetected", *_KINDS[4:])


def _kind(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(
        *values, name="findingkind", native_enum=False, create_constraint=True, length=16
    )


def upgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=_kind(_KINDS), type_=_kind(_KINDS_AFTER), existing_nullable=False
        )
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("alertname", sa.String(length=200), nullable=False),
        sa.Column("labels", bot.db.types.JSONDocument, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column("ends_at", bot.db.types.UTCDateTime(), nullable=True),
        sa.Column("received_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
        sa.UniqueConstraint("fingerprint", "starts_at", name=op.f("uq_alert_events_fingerprint")),
    )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_events_starts_at"), ["starts_at"], unique=False)
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alerting", bot.db.types.JSONDocument, nullable=True))
    with op.batch_alter_table("drills", schema=None) as batch_op:
        batch_op.add_column(sa.Column("announce_after_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "detection",
                sa.Enum(
                    "detected",
                    "missed",
                    name="detection",
                    native_enum=False,
                    create_constraint=True,
                    length=16,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("detected_alert", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("detected_at", bot.db.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drills", schema=None) as batch_op:
        batch_op.drop_column("detected_at")
        batch_op.drop_column("detected_alert")
        # SQLite keeps a CHECK that names a dropped column, and then fails on it.
        batch_op.drop_constraint(op.f("ck_drills_detection"), type_="check")
        batch_op.drop_column("detection")
        batch_op.drop_column("announce_after_minutes")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("alerting")
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_events_starts_at"))
    op.drop_table("alert_events")
    op.execute("DELETE FROM findings WHERE kind = 'undetected'")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=_kind(_KINDS_AFTER), type_=_kind(_KINDS), existing_nullable=False
        )
