"""Recording findings."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, case, select
from sqlalchemy.orm import Session

from bot.audit.service import Auditor, Subject
from bot.catalog.access import is_team_admin, is_team_member
from bot.catalog.models import Service, Team
from bot.catalog.service import can_manage
from bot.drills.models import Drill, DrillStatus
from bot.errors import ChaosbotError
from bot.findings.auto import new_finding_key
from bot.findings.models import (
    ActionItem,
    ActionItemStatus,
    Finding,
    FindingKind,
    FindingSource,
    FindingStatus,
    Hypothesis,
    Severity,
)
from bot.gamedays.models import GameDay, GameDayStatus
from bot.gamedays.timing import zone
from bot.runs.models import Run
from bot.runs.states import TERMINAL

__all__ = [
    "ActionItemNotFound",
    "NewActionItem",
    "NotAllowedToRecord",
    "NotAllowedToResolve",
    "NotAllowedToTouchItem",
    "NotEndedYet",
    "Reviewed",
    "complete_action_item",
    "find_action_item",
    "local_today",
    "may_record",
    "may_resolve",
    "may_touch_item",
    "open_action_items",
    "open_findings",
    "open_items_query",
    "overdue_days",
    "reassign_action_item",
    "record_findings",
    "resolve_finding",
]

# What people review: a drill once revealed, a game day once settled, a run once ended.
Reviewed = Drill | GameDay | Run
_ENDED_GAMEDAY = frozenset({GameDayStatus.COMPLETED, GameDayStatus.HALTED})


class NotEndedYet(ChaosbotError):
    def __init__(self, what: str) -> None:
        super().__init__(f"Findings can be recorded once the {what} is over.")


class NotAllowedToRecord(ChaosbotError):
    def __init__(self, service: str) -> None:
        super().__init__(
            f"Only the owners of {service}, the members of its team and platform admins can "
            "record its findings."
        )


@dataclass(frozen=True)
class NewActionItem:
    text: str
    owner: str
    due_on: date


def _subject(finding: Finding) -> Subject:
    return Subject("finding", finding.key, {"service": finding.service.name})


_audit = Auditor(_subject)


def local_today(now: datetime, timezone: str) -> date:
    """The day it is on the team's clock: what due days are judged by."""
    return now.astimezone(zone(timezone)).date()


def may_record(
    *, session: Session, subject: Reviewed, user_id: str, admins: frozenset[str]
) -> bool:
    """Who may record findings: after a drill, anyone who answered the incident (whoever is in
    the channel); after a game day or a run, the service's owners, its team's members and
    platform admins."""
    if isinstance(subject, Drill) or user_id in admins:
        return True
    service = subject.service
    return any(o.slack_user_id == user_id for o in service.owners) or is_team_member(
        session=session, team=service.team, user_id=user_id
    )


def _check_ended(subject: Reviewed) -> None:
    if isinstance(subject, Drill):
        if subject.status is not DrillStatus.REVEALED:
            raise NotEndedYet("drill")
    elif isinstance(subject, GameDay):
        if subject.status not in _ENDED_GAMEDAY:
            raise NotEndedYet("game day")
    elif subject.status not in TERMINAL:
        raise NotEndedYet("run")


def _title(subject: Reviewed, what_happened: str) -> str:
    first_line = what_happened.strip().splitlines()[0] if what_happened.strip() else ""
    if isinstance(subject, Drill):
        about = f"Drill {subject.experiment}"
    elif isinstance(subject, GameDay):
        about = f"Game day {subject.key}"
    else:
        about = f"Run {subject.key} ({subject.experiment})"
    return f"{about}: {first_line}"[:200]


def record_findings(
    *,
    session: Session,
    subject: Reviewed,
    by: str,
    now: datetime,
    admins: frozenset[str],
    hypothesis: Hypothesis,
    what_happened: str,
    went_well: str,
    severity: Severity,
    action_items: Sequence[NewActionItem],
) -> Finding:
    """What people learned from a drill, a game day or a run, with action items each owned by
    someone by a day; linked to what it reviews."""
    _check_ended(subject)
    if not may_record(session=session, subject=subject, user_id=by, admins=admins):
        raise NotAllowedToRecord(subject.service.name)
    drill = subject if isinstance(subject, Drill) else None
    gameday = subject if isinstance(subject, GameDay) else None
    run_id = subject.id if isinstance(subject, Run) else drill.run_id if drill else None
    finding = Finding(
        key=new_finding_key(),
        service_id=subject.service_id,
        source=FindingSource.DRILL if drill else FindingSource.PERSON,
        kind=FindingKind.DRILL_REVIEW if drill else FindingKind.REVIEW,
        owner=action_items[0].owner if action_items else None,
        drill_id=drill.id if drill else None,
        gameday_id=gameday.id if gameday else None,
        run_id=run_id,
        severity=severity,
        hypothesis=hypothesis,
        title=_title(subject, what_happened),
        what_happened=what_happened.strip(),
        went_well=went_well.strip(),
        action_items=[_action_item(a, by=by, now=now) for a in action_items],
        created_at=now,
        created_by=by,
    )
    session.add(finding)
    session.flush()
    kind = "drill" if drill else "gameday" if gameday else "run"
    _audit(
        session,
        finding,
        by,
        now,
        "finding.recorded",
        {
            kind: subject.key,
            "severity": severity.value,
            "hypothesis": hypothesis.value,
            "action_items": len(action_items),
        },
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


# --- action items -------------------------------------------------------------------------------


class ActionItemNotFound(ChaosbotError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"There is no action item {ref}.")


class NotAllowedToTouchItem(ChaosbotError):
    def __init__(self, action: str) -> None:
        super().__init__(
            f"Only the action item's owner, the admins of its service's team and platform "
            f"admins can {action} it."
        )


def open_items_query() -> Select[ActionItem]:
    """Open action items of open findings of live services: what is listed, reminded and
    counted (resolving a finding settles its action items)."""
    return (
        select(ActionItem)
        .join(Finding, Finding.id == ActionItem.finding_id)
        .join(Service, Service.id == Finding.service_id)
        .where(
            ActionItem.status == ActionItemStatus.OPEN,
            Finding.status == FindingStatus.OPEN,
            Service.offboarded_at.is_(None),
        )
    )


def open_action_items(
    *,
    session: Session,
    owner: str | None = None,
    team_id: int | None = None,
    limit: int | None = None,
) -> Sequence[ActionItem]:
    """Open action items, the earliest due first (so the overdue lead); of one person or one
    team's services, or all."""
    query = open_items_query().order_by(ActionItem.due_on, ActionItem.id)
    if owner is not None:
        query = query.where(ActionItem.owner == owner)
    if team_id is not None:
        query = query.where(Service.team_id == team_id)
    return session.scalars(query.limit(limit)).all()


def overdue_days(item: ActionItem, *, now: datetime) -> int:
    """How many days past its due day the item is, on its team's clock (0: not overdue)."""
    today = local_today(now, item.finding.service.team.timezone)
    return max(0, (today - item.due_on).days)


def find_action_item(*, session: Session, ref: str, lock: bool = False) -> ActionItem:
    query = select(ActionItem).where(ActionItem.key == ref)
    item = session.scalar(query.with_for_update() if lock else query)
    if item is None:
        raise ActionItemNotFound(ref)
    return item


def may_touch_item(
    *, session: Session, item: ActionItem, user_id: str, admins: frozenset[str]
) -> bool:
    """Done and Reassign are for the item's owner, its service's team admins and platform
    admins."""
    team: Team = item.finding.service.team
    return (
        user_id == item.owner
        or user_id in admins
        or is_team_admin(session=session, team=team, user_id=user_id)
    )


def _item_audit(
    session: Session, item: ActionItem, by: str, now: datetime, action: str, detail: dict[str, str]
) -> None:
    Subject("action_item", item.key, {"finding": item.finding.key, **detail}).record(
        session, by, now, action
    )


def complete_action_item(
    *, session: Session, ref: str, user_id: str, now: datetime, admins: frozenset[str]
) -> tuple[ActionItem, bool]:
    """Mark an item done; the item, and whether this changed it (done twice changes nothing)."""
    item = find_action_item(session=session, ref=ref, lock=True)
    if not may_touch_item(session=session, item=item, user_id=user_id, admins=admins):
        raise NotAllowedToTouchItem("close")
    if item.status is ActionItemStatus.DONE:
        return item, False
    item.status, item.done_at, item.done_by = ActionItemStatus.DONE, now, user_id
    _item_audit(session, item, user_id, now, "action_item.done", {"owner": item.owner})
    return item, True


def reassign_action_item(
    *,
    session: Session,
    ref: str,
    to: str,
    user_id: str,
    now: datetime,
    admins: frozenset[str],
) -> tuple[ActionItem, bool]:
    """Give an open item to someone else; the item, and whether this changed it."""
    item = find_action_item(session=session, ref=ref, lock=True)
    if not may_touch_item(session=session, item=item, user_id=user_id, admins=admins):
        raise NotAllowedToTouchItem("reassign")
    if item.status is ActionItemStatus.DONE or item.owner == to:
        return item, False
    before, item.owner = item.owner, to
    _item_audit(session, item, user_id, now, "action_item.reassigned", {"from": before, "to": to})
    return item, True
