"""action items as rows (owner, due day, done, last reminder); findings of game days and runs,
and whether their hypothesis held

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 09:00:00.000000
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_KINDS = (
    "deviated",
    "leftover",
    "rollback_failed",
    "slow_response",
    "undetected",
    "drill_review",
    "manual",
)
_KINDS_AFTER = (*_KINDS, "review")
# What the items recorded before due days existed are given: two weeks from their finding.
_DUE_AFTER = timedelta(days=14)


def _kind(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(
        *values, name="findingkind", native_enum=False, create_constraint=True, length=16
    )


def _hypothesis() -> sa.Enum:
    return sa.Enum(
        "held",
        "partly",
        "not_held",
        name="hypothesis",
        native_enum=False,
        create_constraint=True,
        length=16,
    )


def upgrade() -> None:
    # The items are read first and written last: SQLite copies `findings` to alter it, which
    # rows of action_items pointing at it would forbid.
    findings = sa.table(
        "findings",
        sa.column("id", sa.Integer()),
        sa.column("action_items", bot.db.types.JSONDocument),
        sa.column("created_at", bot.db.types.UTCDateTime()),
        sa.column("created_by", sa.String()),
    )
    items = sa.table(
        "action_items",
        sa.column("key", sa.String()),
        sa.column("finding_id", sa.Integer()),
        sa.column("text", sa.String()),
        sa.column("owner", sa.String()),
        sa.column("due_on", sa.Date()),
        sa.column("status", sa.String()),
        sa.column("created_at", bot.db.types.UTCDateTime()),
        sa.column("created_by", sa.String()),
    )
    connection = op.get_bind()
    rows = [
        {
            "key": f"ai-{secrets.token_hex(3)}",
            "finding_id": finding.id,
            "text": str(item.get("text", ""))[:200],
            "owner": str(item.get("owner", ""))[:64],
            "due_on": (finding.created_at + _DUE_AFTER).date(),
            "status": "open",
            "created_at": finding.created_at,
            "created_by": finding.created_by,
        }
        for finding in connection.execute(sa.select(findings))
        for item in finding.action_items or []
    ]
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_constraint("uq_findings_run_id", type_="unique")
        batch_op.alter_column(
            "kind", existing_type=_kind(_KINDS), type_=_kind(_KINDS_AFTER), existing_nullable=False
        )
        batch_op.drop_column("action_items")
        batch_op.add_column(sa.Column("gameday_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("hypothesis", _hypothesis(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_findings_gameday_id_gamedays"), "gamedays", ["gameday_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_findings_gameday_id"), ["gameday_id"], unique=False)
    op.create_index(
        "uq_findings_run_id_automatic_kind",
        "findings",
        ["run_id", "kind"],
        unique=True,
        sqlite_where=sa.text("kind != 'review'"),
        postgresql_where=sa.text("kind != 'review'"),
    )

    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "done",
                name="actionitemstatus",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("done_at", bot.db.types.UTCDateTime(), nullable=True),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        sa.Column("reminded_at", bot.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.id"], name=op.f("fk_action_items_finding_id_findings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_items")),
        sa.UniqueConstraint("key", name=op.f("uq_action_items_key")),
    )
    with op.batch_alter_table("action_items", schema=None) as batch_op:
        for column in ("finding_id", "owner", "due_on", "status"):
            batch_op.create_index(batch_op.f(f"ix_action_items_{column}"), [column], unique=False)

    if rows:
        connection.execute(sa.insert(items), rows)


def downgrade() -> None:
    # Each finding's items go back into its JSON (text and owner), once findings has it again.
    connection = op.get_bind()
    kept: dict[int, list[dict[str, str]]] = {}
    for finding_id, text, owner in connection.execute(
        sa.text("SELECT finding_id, text, owner FROM action_items ORDER BY id")
    ):
        kept.setdefault(finding_id, []).append({"text": text, "owner": owner})
    op.drop_table("action_items")
    op.drop_index("uq_findings_run_id_automatic_kind", table_name="findings")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        # Its CHECK goes first: SQLite's copy of the table would keep it without the column.
        batch_op.alter_column(
            "hypothesis", existing_type=_hypothesis(), type_=sa.String(16), existing_nullable=True
        )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_findings_gameday_id"))
        batch_op.drop_constraint(batch_op.f("fk_findings_gameday_id_gamedays"), type_="foreignkey")
        batch_op.drop_column("gameday_id")
        batch_op.drop_column("hypothesis")
        batch_op.add_column(
            sa.Column(
                "action_items", bot.db.types.JSONDocument, nullable=False, server_default="[]"
            )
        )
    findings = sa.table(
        "findings",
        sa.column("id", sa.Integer()),
        sa.column("action_items", bot.db.types.JSONDocument),
    )
    for finding_id, items in kept.items():
        connection.execute(
            sa.update(findings).where(findings.c.id == finding_id).values(action_items=items)
        )
    op.execute("DELETE FROM findings WHERE kind = 'review'")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=_kind(_KINDS_AFTER), type_=_kind(_KINDS), existing_nullable=False
        )
        batch_op.create_unique_constraint("uq_findings_run_id", ["run_id", "kind"])
