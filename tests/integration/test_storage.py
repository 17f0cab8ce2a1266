"""The schema and its conventions, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Boolean, Integer, String, column, insert, select, table, text
from sqlalchemy.exc import IntegrityError, StatementError

from bot.audit.models import AuditEvent
from bot.audit.service import record
from bot.catalog.models import Environment, Member, NamespaceOwner, Role, Service, Team
from bot.db.engine import Database
from bot.db.migrate import _config, current_revision, ensure_migrated, head_revision, upgrade
from bot.db.types import JSONDocument, UTCDateTime
from bot.errors import DatabaseNotMigrated
from bot.findings.models import ActionItem, ActionItemStatus, Finding
from bot.tables import Base

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def _team(session_name: str = "payments") -> Team:
    return Team(
        name=session_name, slack_channel_id="C0PAY", timezone="Europe/Berlin", created_at=NOW
    )


def _service(team: Team, name: str = "checkout", tier: int = 2) -> Service:
    return Service(
        team=team,
        name=name,
        tier=tier,
        namespace="payments",
        selector="app=checkout",
        probes=[{"type": "http", "url": "http://checkout.payments/healthz", "status": 200}],
        created_at=NOW,
        updated_at=NOW,
    )


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert current_revision(db) == head_revision()


def test_migrations_go_down_and_up_again(db: Database) -> None:
    command.downgrade(_config(db), "base")
    assert current_revision(db) is None
    with pytest.raises(DatabaseNotMigrated, match="run `chaosbot migrate`"):
        ensure_migrated(db)
    assert upgrade(db) == head_revision()
    ensure_migrated(db)


def test_services_stored_before_approvers_existed_have_none(db: Database) -> None:
    command.downgrade(_config(db), "0004")
    # The tables as revision 0004 has them, without the models' defaults.
    teams = table(
        "teams",
        column("name", String),
        column("slack_channel_id", String),
        column("timezone", String),
        column("created_at", UTCDateTime()),
    )
    services = table(
        "services",
        *(column(name, String) for name in ("name", "environment", "namespace", "selector")),
        *(column(name, Integer) for name in ("team_id", "tier", "blast_radius_percent")),
        *(column(name, Boolean) for name in ("production_allowed", "blind_enabled")),
        column("probes", JSONDocument),
        column("created_at", UTCDateTime()),
        column("updated_at", UTCDateTime()),
    )
    with db.engine.begin() as conn:
        conn.execute(
            insert(teams).values(
                name="payments", slack_channel_id="C0PAY", timezone="UTC", created_at=NOW
            )
        )
        team_id = conn.scalar(text("SELECT id FROM teams"))
        conn.execute(
            insert(services).values(
                team_id=team_id,
                name="checkout",
                tier=2,
                environment="staging",
                namespace="payments",
                selector="app=checkout",
                probes=[],
                blast_radius_percent=50,
                production_allowed=False,
                blind_enabled=False,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    upgrade(db)
    with db.session() as session:
        assert session.scalars(select(Service.approvers)).one() == []


def test_a_service_round_trips_with_its_team_owners_and_utc_times(db: Database) -> None:
    with db.session() as session:
        team = _team()
        team.members.append(Member(slack_user_id="U1", role=Role.OWNER))
        team.members.append(Member(slack_user_id="U1", role=Role.APPROVER))
        session.add(_service(team))
    with db.session() as session:
        service = session.scalars(select(Service)).one()
        assert service.team.name == "payments"
        assert service.environment is Environment.STAGING
        assert service.created_at == NOW
        assert service.created_at.tzinfo is not None
        assert service.probes[0]["status"] == 200
        assert {(m.slack_user_id, m.role) for m in service.team.members} == {
            ("U1", Role.OWNER),
            ("U1", Role.APPROVER),
        }


def test_times_in_other_zones_are_stored_as_the_same_instant(db: Database) -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    with db.session() as session:
        record(
            session=session,
            at=NOW.astimezone(ist),
            actor="U1",
            action="service.onboarded",
            subject_type="service",
            subject_id=1,
        )
    with db.session() as session:
        event = session.scalars(select(AuditEvent)).one()
        assert event.at == NOW
        assert event.subject_id == "1"


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"), db.session() as session:
        session.add(_team())
        session.flush()
        session.add(
            AuditEvent(
                at=datetime(2026, 1, 1),
                actor="x",
                action="y",
                subject_type="z",
                subject_id="1",
                detail={},
            )
        )


@pytest.mark.parametrize("tier", [0, 5])
def test_tier_outside_one_to_four_is_refused_by_the_database(db: Database, tier: int) -> None:
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(_service(_team(), tier=tier))


def test_service_names_are_unique(db: Database) -> None:
    with db.session() as session:
        team = _team()
        session.add(_service(team))
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(_service(session.scalars(select(Team)).one()))
    with db.session() as session:
        assert session.scalar(select(Service).where(Service.name == "checkout")) is not None


def test_a_failed_unit_of_work_writes_nothing(db: Database) -> None:
    with pytest.raises(IntegrityError), db.session() as session:
        team = _team()
        session.add(_service(team, name="a"))
        session.flush()
        session.add(_service(team, name="b", tier=9))
    with db.session() as session:
        assert session.scalars(select(Team)).all() == []
        assert session.scalars(select(Service)).all() == []


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(Member(team_id=4242, slack_user_id="U1", role=Role.OWNER))


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/wal.db")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
    db.dispose()


def test_migration_0010_gives_each_namespace_of_one_team_to_that_team(db: Database) -> None:
    command.downgrade(_config(db), "0009")  # teams and services are as 0009 left them
    with db.session() as session:
        payments, orders = _team(), _team("orders")
        search = _service(payments, "search")
        search.namespace = "search"
        intruder = _service(orders, "payments-api")  # orders' service in payments' namespace
        gone = _service(orders, "old-search")
        gone.namespace, gone.offboarded_at = "search", NOW  # offboarded: no claim
        session.add_all([_service(payments), search, intruder, gone])
    upgrade(db)
    with db.session() as session:
        owners = session.execute(
            select(NamespaceOwner.namespace, Team.name, NamespaceOwner.assigned_by).join(
                NamespaceOwner.team
            )
        ).all()
    # payments is shared by two teams: a platform admin decides whose it is.
    assert [tuple(o) for o in owners] == [("search", "payments", "migration 0010")]


def test_migration_0013_makes_each_findings_json_action_item_a_row(db: Database) -> None:
    command.downgrade(_config(db), "0012")  # findings keep their action items as JSON
    with db.session() as session:
        service = _service(_team())
        session.add(service)
        session.flush()
        service_id = service.id
    findings = table(
        "findings",
        *(column(name, String) for name in ("key", "source", "kind", "severity", "title")),
        *(column(name, String) for name in ("what_happened", "went_well", "status")),
        column("service_id", Integer),
        column("created_by", String),
        column("created_at", UTCDateTime()),
        column("action_items", JSONDocument),
    )
    items = [{"text": "Add a PDB", "owner": "U0BOB"}, {"text": "Page faster", "owner": "U0AL"}]
    with db.engine.begin() as conn:
        for key, action_items in (("fd-000001", items), ("fd-000002", [])):
            conn.execute(
                insert(findings).values(
                    key=key,
                    source="drill",
                    kind="drill_review",
                    severity="high",
                    title="Drill pod-kill",
                    what_happened="",
                    went_well="",
                    status="open",
                    service_id=service_id,
                    created_by="U0ALICE",
                    created_at=NOW,
                    action_items=action_items,
                )
            )
    upgrade(db)
    with db.session() as session:
        rows = session.scalars(select(ActionItem).order_by(ActionItem.id)).all()
        moved = [(r.finding.key, r.text, r.owner, r.due_on, r.status, r.created_by) for r in rows]
        hypotheses = session.scalars(select(Finding.hypothesis)).all()
    due = (NOW + timedelta(days=14)).date()
    assert moved == [
        ("fd-000001", "Add a PDB", "U0BOB", due, ActionItemStatus.OPEN, "U0ALICE"),
        ("fd-000001", "Page faster", "U0AL", due, ActionItemStatus.OPEN, "U0ALICE"),
    ]
    assert hypotheses == [None, None]  # chaosbot cannot say whether their hypotheses held
    command.downgrade(_config(db), "0012")  # and back into the JSON, text and owner
    with db.engine.connect() as conn:
        back = conn.execute(select(findings.c.key, findings.c.action_items).order_by("key")).all()
    assert [tuple(row) for row in back] == [("fd-000001", items), ("fd-000002", [])]
    upgrade(db)
