"""steady-state watch: runs may end halted, their checks are stored, services say how to watch

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 11:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BEFORE = (
    "scheduled",
    "preflight",
    "injecting",
    "holding",
    "rolling_back",
    "completed",
    "deviated",
    "aborted",
    "failed",
)
_AFTER = (*_BEFORE[:7], "halted", *_BEFORE[7:])


def _status(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="runstatus", native_enum=False, create_constraint=True, length=16)


def _statuses(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    for table in ("runs", "run_events"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "status", existing_type=_status(old), type_=_status(new), existing_nullable=False
            )


def upgrade() -> None:
    _statuses(_BEFORE, _AFTER)
    op.create_table(
        "run_measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column("probe", sa.String(length=128), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_run_measurements_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_measurements")),
    )
    with op.batch_alter_table("run_measurements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_measurements_run_id"), ["run_id"], unique=False)
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("steady_state", bot.db.types.JSONDocument, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("steady_state")
    with op.batch_alter_table("run_measurements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_measurements_run_id"))
    op.drop_table("run_measurements")
    op.execute("UPDATE runs SET status = 'failed' WHERE status = 'halted'")
    op.execute("UPDATE run_events SET status = 'failed' WHERE status = 'halted'")
    _statuses(_AFTER, _BEFORE)
