"""Recording findings."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from bot.audit.service import Auditor, Subject
from bot.catalog.models import Service
from bot.catalog.service import can_manage
from bot.drills.models import Drill, DrillStatus
from bot.errors import ChaosbotError
from bot.findings.auto import new_finding_key
from bot.findings.models import (
    ActionItem,
    Finding,
    FindingKind,
    FindingSource,
    FindingStatus,
    Severity,
)

__all__ = [
    "DrillNotRevealed",
    "FindingNotFound",
    "NewActionItem",
    "NotAllowedToResolve",
    "may_resolve",
    "open_findings",
    "record_drill_findings",
    "resolve_finding",
]


class DrillNotRevealed(ChaosbotError):
    def __init__(self) -> None:
        super().__init__("Findings can be recorded once the drill is over and revealed.")


@dataclass(frozen=True)
class NewActionItem:
    text: str
    owner: str
    due_on: date


def _subject(finding: Finding) -> Subject:
    return Subject("finding", finding.key, {"service": finding.service.name})


_audit = Auditor(_subject)


def record_drill_findings(
    *,
    session: Session,
    drill: Drill,
    by: str,
    now: datetime,
    what_happened: str,
    went_well: str,
    severity: Severity,
    action_items: Sequence[NewActionItem],
) -> Finding:
    """What people learned from a drill, with action items each owned by someone."""
    if drill.status is not DrillStatus.REVEALED:
        raise DrillNotRevealed()
    first_line = what_happened.strip().splitlines()[0] if what_happened.strip() else ""
    finding = Finding(
        key=new_finding_key(),
        service_id=drill.service_id,
        source=FindingSource.DRILL,
        kind=FindingKind.DRILL_REVIEW,
        owner=action_items[0].owner if action_items else None,
        drill_id=drill.id,
        run_id=drill.run_id,
        severity=severity,
        title=f"Drill {drill.experiment}: {first_line}"[:200],
        what_happened=what_happened.strip(),
        went_well=went_well.strip(),
        action_items=[_action_item(a, by=by, now=now) for a in action_items],
        created_at=now,
        created_by=by,
    )
    session.add(finding)
    session.flush()
    _audit(
        session,
        finding,
        by,
        now,
        "finding.recorded",
        {"drill": drill.key, "severity": severity.value, "action_items": len(action_items)},
    )
    return finding


def _action_item(item: NewActionItem, *, by: str, now: datetime) -> ActionItem:
    return ActionItem(
        key=f"ai-{secrets.token_hex(3)}",
        text=item.text,
        owner=item.owner,
        due_on=item.due_on,
        created_at=now,
        created_by=by,
    )


class FindingNotFound(ChaosbotError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"There is no finding {ref}.")


class NotAllowedToResolve(ChaosbotError):
    def __init__(self) -> None:
        super().__init__(
            "Only the service's owners, its team's admins, the finding's owner, an action "
            "item's owner and platform admins can resolve a finding."
        )


def open_findings(
    *,
    session: Session,
    service_id: int | None = None,
    team_id: int | None = None,
    service_ids: Collection[int] | None = None,
    limit: int | None = None,
) -> Sequence[Finding]:
    """Open findings, the most severe and oldest first; of one service, some, or one team."""
    order = case(
        {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3},
        value=Finding.severity,
    )
    query = (
        select(Finding)
        .join(Service, Service.id == Finding.service_id)
        .where(Finding.status == FindingStatus.OPEN, Service.offboarded_at.is_(None))
        .order_by(order, Finding.created_at)
    )
    if service_id is not None:
        query = query.where(Finding.service_id == service_id)
    if team_id is not None:
        query = query.where(Service.team_id == team_id)
    if service_ids is not None:
        query = query.where(Finding.service_id.in_(list(service_ids)))
    return session.scalars(query.limit(limit)).all()


def may_resolve(
    *, session: Session, finding: Finding, user_id: str, admins: frozenset[str]
) -> bool:
    people = {finding.owner, *(item.owner for item in finding.action_items)}
    return (
        user_id in admins
        or user_id in people
        or can_manage(session=session, service=finding.service, user_id=user_id)
    )


def resolve_finding(
    *, session: Session, ref: str, user_id: str, now: datetime, admins: frozenset[str]
) -> Finding:
    """Close a finding; resolving one twice changes nothing."""
    finding = session.scalar(select(Finding).where(Finding.key == ref).with_for_update())
    if finding is None:
        raise FindingNotFound(ref)
    if not may_resolve(session=session, finding=finding, user_id=user_id, admins=admins):
        raise NotAllowedToResolve()
    if finding.status is FindingStatus.OPEN:
        finding.status, finding.resolved_at, finding.resolved_by = (
            FindingStatus.RESOLVED,
            now,
            user_id,
        )
        _audit(session, finding, user_id, now, "finding.resolved")
    return finding
