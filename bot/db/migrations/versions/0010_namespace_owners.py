"""namespace owners: the one team each namespace belongs to

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 05:30:00.000000

A namespace whose active services all belong to one team is assigned to that team; one shared
by several teams stays unassigned until a platform admin assigns it (preflight refuses runs in
it meanwhile only if it is assigned to another team, so nothing changes for them until then).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    owners = op.create_table(
        "namespace_owners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_namespace_owners_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_namespace_owners")),
        sa.UniqueConstraint("namespace", name=op.f("uq_namespace_owners_namespace")),
    )
    with op.batch_alter_table("namespace_owners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_namespace_owners_team_id"), ["team_id"], unique=False)
    services = sa.table(
        "services",
        sa.column("namespace", sa.String()),
        sa.column("team_id", sa.Integer()),
        sa.column("offboarded_at", bot.db.types.UTCDateTime()),
    )
    single_team = (
        sa.select(services.c.namespace, sa.func.min(services.c.team_id))
        .where(services.c.offboarded_at.is_(None))
        .group_by(services.c.namespace)
        .having(sa.func.count(sa.distinct(services.c.team_id)) == 1)
    )
    now = datetime.now(UTC)
    rows = [
        {"namespace": ns, "team_id": team, "assigned_by": "migration 0010", "assigned_at": now}
        for ns, team in op.get_bind().execute(single_team)
    ]
    if rows:
        op.bulk_insert(owners, rows)


def downgrade() -> None:
    with op.batch_alter_table("namespace_owners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_namespace_owners_team_id"))
    op.drop_table("namespace_owners")
