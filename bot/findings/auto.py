"""Findings chaosbot records by itself: from a run's end (deviated, leftovers, a failed
rollback) and from a drill's reveal (acknowledged late, or never). Each at most once per run.

A run's end reaches them as a run observer (`AutomaticFindings`), in the transaction that ended
the run, whoever ended it (the worker, the rollback replay, the janitor)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.service import record
from bot.findings.models import Finding, FindingKind, FindingSource, Severity
from bot.runs.events import RunObserver
from bot.runs.models import Run
from bot.runs.states import TERMINAL, RunStatus

__all__ = [
    "SLOW_ACKNOWLEDGE",
    "AutomaticFindings",
    "new_finding_key",
    "record_run_findings",
    "record_slow_response",
    "record_undetected",
]

# A blind drill acknowledged later than this is a finding (of medium severity; never: high).
SLOW_ACKNOWLEDGE = timedelta(minutes=15)


def new_finding_key() -> str:
    return f"fd-{secrets.token_hex(3)}"


class AutomaticFindings(RunObserver):
    """Records what a run's end teaches, in the transaction that ended it."""

    def run_changed(self, *, session: Session, run: Run, message: str, now: datetime) -> None:
        if run.status in TERMINAL:
            record_run_findings(session, run, now=now)


def record_run_findings(session: Session, run: Run, *, now: datetime) -> list[Finding]:
    """The findings a run that just ended amounts to (none for a pass, an abort or a dry run)."""
    if run.dry_run:
        return []
    found: list[tuple[FindingKind, Severity, str, str]] = []
    if run.status in (RunStatus.DEVIATED, RunStatus.HALTED):
        broke = "broke while the fault held" if run.status is RunStatus.HALTED else "did not hold"
        found.append(
            (
                FindingKind.DEVIATED,
                Severity.HIGH if run.service.tier == 1 else Severity.MEDIUM,
                f"{run.experiment}: the steady state {broke}",
                run.reason or "",
            )
        )
    if run.leftovers:
        found.append(
            (
                FindingKind.LEFTOVER,
                Severity.CRITICAL,
                f"{run.experiment} left {len(run.leftovers)} object(s) behind after its rollback",
                ", ".join(run.leftovers),
            )
        )
    if run.status is RunStatus.FAILED and "rollbacks that failed" in (run.reason or ""):
        found.append(
            (
                FindingKind.ROLLBACK_FAILED,
                Severity.CRITICAL,
                f"{run.experiment}: a rollback failed",
                run.reason or "",
            )
        )
    return [
        finding
        for kind, severity, title, detail in found
        if (finding := _once(session, run, kind, severity, title, detail, now)) is not None
    ]


def record_slow_response(
    session: Session,
    run: Run,
    *,
    acknowledged_after: timedelta | None,
    drill_key: str,
    drill_id: int,
    now: datetime,
) -> Finding | None:
    """A blind drill acknowledged late, or never."""
    if acknowledged_after is not None and acknowledged_after <= SLOW_ACKNOWLEDGE:
        return None
    if acknowledged_after is None:
        severity, title = Severity.HIGH, "A blind drill was never acknowledged"
    else:
        minutes = int(acknowledged_after.total_seconds() // 60)
        severity, title = Severity.MEDIUM, f"A blind drill was acknowledged after {minutes} min"
    finding = _once(
        session,
        run,
        FindingKind.SLOW_RESPONSE,
        severity,
        title,
        f"incident {drill_key.upper()} ({run.experiment}): check that the alert reaches whoever "
        "is on call",
        now,
    )
    if finding is not None:
        finding.source, finding.drill_id = FindingSource.DRILL, drill_id
    return finding


def record_undetected(
    session: Session, run: Run, *, drill_key: str, drill_id: int, now: datetime
) -> Finding | None:
    """No alert of the team's own fired while a blind drill's fault was in place."""
    service = run.service
    finding = _once(
        session,
        run,
        FindingKind.UNDETECTED,
        Severity.HIGH if service.tier == 1 else Severity.MEDIUM,
        f"No alert fired during a blind drill ({run.experiment})",
        f"incident {drill_key.upper()} ({run.experiment}): none of the service's alerts "
        "(spec.alerting.matchers) fired while the fault was in place; check that monitoring "
        "covers this failure",
        now,
    )
    if finding is not None:
        finding.source, finding.drill_id = FindingSource.DRILL, drill_id
    return finding


def _once(
    session: Session,
    run: Run,
    kind: FindingKind,
    severity: Severity,
    title: str,
    detail: str,
    now: datetime,
) -> Finding | None:
    exists = session.scalar(
        select(Finding.id).where(Finding.run_id == run.id, Finding.kind == kind)
    )
    if exists is not None:
        return None
    owners = [o.slack_user_id for o in run.service.owners]
    finding = Finding(
        key=new_finding_key(),
        service_id=run.service_id,
        source=FindingSource.RUN,
        kind=kind,
        owner=owners[0] if owners else None,
        run_id=run.id,
        severity=severity,
        title=title[:200],
        what_happened=detail,
        created_at=now,
        created_by="chaosbot",
    )
    session.add(finding)
    session.flush()
    record(
        session=session,
        at=now,
        actor="chaosbot",
        action="finding.recorded",
        subject_type="finding",
        subject_id=finding.key,
        detail={"service": run.service.name, "run": run.key, "kind": kind.value},
    )
    return finding
