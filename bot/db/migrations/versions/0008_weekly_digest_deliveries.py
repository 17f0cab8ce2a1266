"""weekly digest deliveries

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 15:47:06.957309
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("sent_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_deliveries")),
        sa.UniqueConstraint("scope", "week", name=op.f("uq_digest_deliveries_scope")),
    )


def downgrade() -> None:
    op.drop_table("digest_deliveries")
