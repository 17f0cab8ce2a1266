"""The audit trail read back, on SQLite and PostgreSQL: by service (every kind of thing a service
has), since a time, exported by `chaosbot audit` and shown by `/chaos audit SERVICE`."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import String, column, insert, select, table

from bot.audit.models import AuditEvent
from bot.audit.service import record, trail
from bot.catalog.service import find_service, offboard_service
from bot.catalog.suite import add_to_suite
from bot.cli import main
from bot.db.engine import Database
from bot.db.migrate import _config, upgrade
from bot.db.types import JSONDocument, UTCDateTime
from bot.drills import service as drills
from bot.drills.models import Drill, DrillStatus
from bot.library.catalogue import load_catalogue
from bot.runs.supervisor import abort_run
from tests.fixtures.bot import ADMIN, ALICE, START, RunningBot
from tests.fixtures.gamedays import MALLORY, ask, register_service
from tests.fixtures.runs import deviated_adhoc_run, plan_adhoc

pytestmark = pytest.mark.storage

HOUR = timedelta(hours=1)


def _skipped_drill(db: Database) -> None:
    with db.session() as session:
        drill = Drill(
            key="inc-000001",
            service=find_service(session=session, name="checkout"),
            day=date(2026, 11, 30),
            status=DrillStatus.SKIPPED,
            planned_when=START,
            policy="test",
        )
        session.add(drill)
        drills.audit(session, drill, "chaosbot", START, "drill.skipped", {"reason": "freeze"})


def _two_services(db: Database) -> None:
    """checkout with an event of every kind of thing it has, and ledger with one of its own."""
    register_service(db)
    register_service(db, name="ledger", selector="app=ledger")
    with db.session() as session:
        add_to_suite(
            session=session,
            catalogue=load_catalogue(),
            service="checkout",
            experiment="cpu-pressure",
            actor=ALICE,
            now=START,
        )
    ask(db)
    deviated_adhoc_run(db)
    _skipped_drill(db)


def test_a_services_trail_has_its_suite_game_days_drills_and_findings_and_nobody_elses(
    db: Database,
) -> None:
    _two_services(db)
    with db.session() as session:
        checkout = [(e.subject_type, e.action) for e in trail(session=session, service="checkout")]
        ledger = [(e.subject_type, e.action) for e in trail(session=session, service="ledger")]
        everything = [e.action for e in trail(session=session)]
    assert checkout == [
        ("service", "service.onboarded"),
        ("service", "suite.added"),
        ("gameday", "gameday.requested"),
        ("run", "run.requested"),
        ("run", "run.deviated"),
        ("finding", "finding.recorded"),
        ("drill", "drill.skipped"),
    ]
    assert ledger == [("service", "service.onboarded")]
    assert everything.count("namespace.claimed") == 1  # in the whole trail, no service's
    assert len(everything) == len(checkout) + len(ledger) + 1


def test_who_asked_for_a_run_who_aborted_it_and_how_it_ended_are_in_the_trail(
    db: Database,
) -> None:
    register_service(db)
    planned = plan_adhoc(db)
    abort_run(db=db, ref=planned.run_id, by=MALLORY, now=START + HOUR)
    abort_run(db=db, ref=planned.run_id, by=ALICE, now=START + 2 * HOUR)  # asked once only
    with db.session() as session:
        runs = [
            (e.actor, e.action, e.subject_id, e.detail.get("experiment"))
            for e in trail(session=session, service="checkout")
            if e.subject_type == "run"
        ]
    key = planned.key
    assert runs == [
        (ALICE, "run.requested", key, "pod-kill"),
        (MALLORY, "run.abort_requested", key, "pod-kill"),
        ("chaosbot", "run.aborted", key, "pod-kill"),
    ]


def test_the_trail_is_oldest_first_since_a_time_in_batches(db: Database) -> None:
    # Stored out of order, more than a batch.
    for hours in (3, 0, 4, 1, 2):
        with db.session() as session:
            record(
                session=session,
                at=START + hours * HOUR,
                actor="chaosbot",
                action=f"step.{hours}",
                subject_type="platform",
                subject_id="all",
            )
    with db.session() as session:
        every = [e.action for e in trail(session=session, batch=2)]
        later = [e.action for e in trail(session=session, since=START + 2 * HOUR, batch=2)]
    assert every == ["step.0", "step.1", "step.2", "step.3", "step.4"]
    assert later == ["step.2", "step.3", "step.4"]


def test_events_stored_before_the_service_column_get_it_from_their_detail(db: Database) -> None:
    command.downgrade(_config(db), "0013")
    events = table(
        "audit_events",
        column("at", UTCDateTime()),
        *(column(name, String) for name in ("actor", "action", "subject_type", "subject_id")),
        column("detail", JSONDocument),
    )
    stored = [
        ("service", "1", {"name": "checkout", "changes": []}),
        ("finding", "f-1", {"service": "checkout", "run": "r-1"}),
        ("gameday", "gd-1", {"service": "ledger", "round": 1}),
        ("team", "1", {"team": "payments"}),
    ]
    with db.engine.begin() as conn:
        for kind, ref, detail in stored:
            conn.execute(
                insert(events).values(
                    at=START,
                    actor="x",
                    action=f"{kind}.x",
                    subject_type=kind,
                    subject_id=ref,
                    detail=detail,
                )
            )
    upgrade(db)
    with db.session() as session:
        named = dict(session.execute(select(AuditEvent.subject_type, AuditEvent.service)).all())
    assert named == {
        "service": "checkout",
        "finding": "checkout",
        "gameday": "ledger",
        "team": None,
    }


@pytest.fixture
def cli(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    """`chaosbot` pointed at the test's database, whose trail has two services' events."""
    _two_services(db)
    monkeypatch.setenv("CHAOSBOT_DATABASE_URL", database_url)
    return db


def test_chaosbot_audit_writes_json_lines_oldest_first(
    cli: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--service", "checkout"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["subject_kind"], r["action"]) for r in rows][:3] == [
        ("service", "service.onboarded"),
        ("service", "suite.added"),
        ("gameday", "gameday.requested"),
    ]
    assert len(rows) == 7
    assert rows[1] == {
        "at": "2026-11-30T09:00:00+00:00",
        "actor": ALICE,
        "action": "suite.added",
        "subject_kind": "service",
        "subject_ref": rows[0]["subject_ref"],
        "detail": {"name": "checkout", "experiment": "cpu-pressure"},
    }
    assert rows[6]["subject_ref"] == "inc-000001"


def test_chaosbot_audit_writes_csv_with_a_header_and_the_detail_as_json(
    cli: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "audit.csv"
    assert main(["audit", "--format", "csv", "--output", str(output)]) == 0
    assert capsys.readouterr().out == f"wrote 9 audit events to {output}\n"
    with output.open(newline="", encoding="utf-8") as file:
        header, *rows = list(csv.reader(file))
    assert header == ["at", "actor", "action", "subject_kind", "subject_ref", "detail"]
    assert len(rows) == 9
    drill = rows[-1]
    assert drill[1:5] == ["chaosbot", "drill.skipped", "drill", "inc-000001"]
    assert json.loads(drill[5]) == {"service": "checkout", "reason": "freeze"}


@pytest.mark.parametrize(
    ("since", "shown"),
    [
        ("2026-12-01", ["later.today", "later.tomorrow"]),  # midnight UTC
        ("2026-12-01T10:00:00", ["later.tomorrow"]),  # UTC: after 09:00
        ("2026-12-01T10:00:00+02:00", ["later.today", "later.tomorrow"]),  # 08:00 UTC
    ],
)
def test_chaosbot_audit_since_a_date_or_a_time(
    cli: Database, capsys: pytest.CaptureFixture[str], since: str, shown: list[str]
) -> None:
    with cli.session() as session:
        for action, at in (
            ("later.today", START + 24 * HOUR),
            ("later.tomorrow", START + 48 * HOUR),
        ):
            record(
                session=session,
                at=at,
                actor=ADMIN,
                action=action,
                subject_type="service",
                subject_id=1,
                detail={"name": "checkout"},
            )
    assert main(["audit", "--since", since, "--service", "checkout"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["action"] for r in rows] == shown


def test_chaosbot_audit_keeps_an_offboarded_services_trail(
    cli: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    with cli.session() as session:
        ledger = find_service(session=session, name="ledger")
        offboard_service(session=session, service=ledger, actor=ALICE, now=START + HOUR)
    assert main(["audit", "--service", "ledger"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["action"] for r in rows] == ["service.onboarded", "service.offboarded"]


def test_chaosbot_audit_refuses_a_bad_date_and_an_unknown_service(
    cli: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["audit", "--since", "30/11/2026"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "argument --since: not a date (YYYY-MM-DD) or an ISO 8601 time: '30/11/2026'" in error
    assert "Traceback" not in error

    output = tmp_path / "audit.jsonl"
    assert main(["audit", "--service", "nope", "--output", str(output)]) == 1
    assert "There is no service called `nope`" in capsys.readouterr().err
    assert not output.exists()


def test_chaos_audit_shows_owners_the_latest_events_and_refuses_strangers(
    running_bot: RunningBot,
) -> None:
    register_service(running_bot.db)
    with running_bot.db.session() as session:
        for n in range(25):
            record(
                session=session,
                at=START + n * HOUR,
                actor=ALICE if n % 2 == 0 else "cli:alice",
                action=f"step.{n}",
                subject_type="service",
                subject_id=1,
                detail={"name": "checkout", "note": "<!channel> & `co`"},
            )

    running_bot.command("audit checkout", user=ALICE)
    shown = running_bot.reply(1)
    blocks = shown["blocks"]
    assert len(blocks) == 21  # the heading and the last 20
    assert "*Audit trail of checkout*: the last 20 events, newest first" in str(blocks[0])
    texts = [b["text"]["text"] for b in blocks[1:]]
    assert [t.split("*")[1] for t in texts] == [f"step.{n}" for n in range(24, 4, -1)]
    newest = texts[0]
    assert newest.startswith(f"<!date^{int((START + 24 * HOUR).timestamp())}^")
    assert f"· <@{ALICE}> ·" in newest and "· cli:alice ·" in texts[1]
    assert "&lt;!channel&gt; &amp; 'co'" in newest and "<!channel>" not in newest

    running_bot.command("audit checkout", user=ADMIN)  # a platform admin
    assert "step.24" in str(running_bot.reply(2)["blocks"])

    running_bot.command("audit checkout", user=MALLORY)
    refused = running_bot.reply(3)
    assert refused["text"] == ":warning: " + (
        "Only the owners of checkout, the admins of team payments and platform admins can "
        "read the audit trail of checkout."
    )
    assert "step." not in str(refused)

    assert "/chaos audit SERVICE" in running_bot.command("help", user=MALLORY).json()["text"]
