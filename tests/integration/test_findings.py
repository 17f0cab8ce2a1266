"""Findings chaosbot records by itself when a run ends or a drill is revealed, and `/chaos
findings` with its Resolve buttons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.audit.models import AuditEvent
from bot.db.engine import Database
from bot.findings.auto import record_run_findings
from bot.findings.models import Finding, FindingKind, FindingStatus, Severity
from bot.findings.service import NotAllowedToResolve, open_findings, resolve_finding
from bot.runs.models import Run
from bot.runs.states import RunStatus
from bot.slack.ids import ActionId
from tests.fixtures.bot import ADMIN, ALICE, BOB, START, TEAM_CHANNEL, RunningBot
from tests.fixtures.gamedays import ADMINS, MALLORY, register_service
from tests.fixtures.runs import plan_adhoc, transition


def _run(db: Database, *, dry_run: bool = False) -> int:
    return plan_adhoc(db, dry_run=dry_run).run_id


def _end(db: Database, run_id: int, status: RunStatus, **values: object) -> None:
    with db.session() as session:
        for step in (RunStatus.PREFLIGHT, RunStatus.INJECTING, RunStatus.ROLLING_BACK):
            transition(session=session, run_id=run_id, to=step, now=START, message=step)
        transition(
            session=session, run_id=run_id, to=status, now=START, message=status, values=values
        )


def _findings(db: Database) -> list[Finding]:
    with db.session() as session:
        return list(session.scalars(select(Finding).order_by(Finding.id)))


@pytest.fixture
def checkout(db: Database) -> Database:
    register_service(db, tier=1)
    return db


def test_a_deviated_run_is_a_finding_of_its_service_owned_by_its_first_owner(
    checkout: Database,
) -> None:
    _end(
        checkout,
        _run(checkout),
        RunStatus.DEVIATED,
        reason="deviated: the steady state did not hold",
    )
    (finding,) = _findings(checkout)
    assert finding.kind is FindingKind.DEVIATED and finding.severity is Severity.HIGH  # tier 1
    assert finding.title == "pod-kill: the steady state did not hold"
    assert finding.owner == ALICE and finding.status is FindingStatus.OPEN
    assert finding.created_by == "chaosbot"


def test_leftovers_and_a_failed_rollback_are_critical_and_recorded_once(checkout: Database) -> None:
    run_id = _run(checkout)
    _end(
        checkout,
        run_id,
        RunStatus.FAILED,
        leftovers=["networkchaos/chaosbot-delay-r-1"],
        reason="failed; rollbacks that failed: remove-delay",
    )
    kinds = {(f.kind, f.severity) for f in _findings(checkout)}
    assert kinds == {
        (FindingKind.LEFTOVER, Severity.CRITICAL),
        (FindingKind.ROLLBACK_FAILED, Severity.CRITICAL),
    }
    with checkout.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        assert record_run_findings(session, run, now=START) == []  # once per run and kind
    assert len(_findings(checkout)) == 2


def test_passed_aborted_and_dry_runs_are_no_findings(checkout: Database) -> None:
    _end(checkout, _run(checkout), RunStatus.COMPLETED)
    _end(checkout, _run(checkout), RunStatus.ABORTED)
    _end(checkout, _run(checkout, dry_run=True), RunStatus.DEVIATED)
    assert _findings(checkout) == []


def test_only_owners_team_admins_action_owners_and_platform_admins_resolve(
    checkout: Database,
) -> None:
    _end(checkout, _run(checkout), RunStatus.DEVIATED)
    (finding,) = _findings(checkout)
    with checkout.session() as session, pytest.raises(NotAllowedToResolve):
        resolve_finding(session=session, ref=finding.key, user_id=MALLORY, now=START, admins=ADMINS)
    with checkout.session() as session:
        resolve_finding(session=session, ref=finding.key, user_id=BOB, now=START, admins=ADMINS)
    with checkout.session() as session:
        assert open_findings(session=session) == []
        again = resolve_finding(
            session=session, ref=finding.key, user_id=ADMIN, now=START + timedelta(1), admins=ADMINS
        )
        assert again.resolved_by == BOB  # resolving twice changes nothing
        events = session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_id == finding.key)
        ).all()
    assert sorted(events) == ["finding.recorded", "finding.resolved"]


def test_chaos_findings_lists_the_teams_findings_with_resolve(running_bot: RunningBot) -> None:
    register_service(running_bot.db, tier=2)
    _end(running_bot.db, _run(running_bot.db), RunStatus.DEVIATED)
    (finding,) = _findings(running_bot.db)
    before = len(running_bot.slack.responses)
    running_bot.command("findings", user=MALLORY)
    shown = running_bot.reply(before + 1)
    assert "Open findings of team payments" in str(shown["blocks"])
    assert finding.key in str(shown["blocks"]) and "medium" in str(shown["blocks"])
    assert ActionId.RESOLVE_FINDING.value not in str(shown["blocks"])  # not hers to resolve
    running_bot.command("findings checkout", user=ALICE)
    listed = running_bot.reply(before + 2)
    assert ActionId.RESOLVE_FINDING.value in str(listed["blocks"])
    running_bot.simulator.block_action(
        ActionId.RESOLVE_FINDING.value,
        user_id=ALICE,
        channel_id=TEAM_CHANNEL,
        value=finding.key,
        message={"ts": "1"},
    )
    refreshed = running_bot.reply(before + 3)
    assert "No open finding" in str(refreshed["blocks"])
    assert _findings(running_bot.db)[0].status is FindingStatus.RESOLVED
