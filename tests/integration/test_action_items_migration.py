"""Migration 0013 on SQLite and PostgreSQL: the action items findings kept as JSON become rows,
due two weeks after their finding, and the way back keeps the findings and their items."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import column, select, table, update

from bot.db.engine import Database
from bot.db.migrate import _config, upgrade
from bot.db.types import JSONDocument
from bot.findings.models import ActionItem, ActionItemStatus, Finding
from tests.fixtures.gamedays import register_service
from tests.fixtures.runs import deviated_adhoc_run

pytestmark = pytest.mark.storage

ITEMS = [{"text": "Add a PDB", "owner": "U0BOB"}, {"text": "Alert on 5xx", "owner": "U0CAROL"}]


def _deviated_run(db: Database) -> None:
    register_service(db)
    deviated_adhoc_run(db)


def test_json_action_items_become_rows_due_two_weeks_after_their_finding(db: Database) -> None:
    _deviated_run(db)
    command.downgrade(_config(db), "0012")
    findings = table("findings", column("action_items", JSONDocument))
    with db.engine.begin() as conn:
        conn.execute(update(findings).values(action_items=ITEMS))
    upgrade(db)
    with db.session() as session:
        finding = session.scalars(select(Finding)).one()
        made = session.scalars(select(ActionItem).order_by(ActionItem.id)).all()
        rows = [(i.finding_id, i.text, i.owner, i.due_on, i.status) for i in made]
        keys = {i.key for i in made}
        created = finding.created_at
    due = (created + timedelta(days=14)).date()
    assert rows == [
        (finding.id, "Add a PDB", "U0BOB", due, ActionItemStatus.OPEN),
        (finding.id, "Alert on 5xx", "U0CAROL", due, ActionItemStatus.OPEN),
    ]
    assert len(keys) == 2 and all(k.startswith("ai-") for k in keys)


def test_the_way_back_keeps_the_findings_and_their_items(db: Database) -> None:
    _deviated_run(db)
    command.downgrade(_config(db), "0012")
    findings = table("findings", column("kind"), column("action_items", JSONDocument))
    with db.engine.begin() as conn:
        conn.execute(update(findings).values(action_items=ITEMS))
    upgrade(db)
    command.downgrade(_config(db), "0012")
    with db.engine.connect() as conn:
        kept = conn.execute(select(findings.c.kind, findings.c.action_items)).all()
    upgrade(db)
    assert [tuple(row) for row in kept] == [("deviated", ITEMS)]
