"""rollback retries: attempts, the next try, and when people were alerted

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 04:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("rollback_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("rollback_retry_at", bot.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("cleanup_alerted_at", bot.db.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("cleanup_alerted_at")
        batch.drop_column("rollback_retry_at")
        batch.drop_column("rollback_attempts")
