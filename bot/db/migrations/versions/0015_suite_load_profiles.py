"""suite entries may name a load profile to run under

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-14 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("suite_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("load", bot.db.types.JSONDocument, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("suite_entries", schema=None) as batch_op:
        batch_op.drop_column("load")
