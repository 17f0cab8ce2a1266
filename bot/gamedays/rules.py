"""The rules of game days: who may ask and decide, and what a plan must satisfy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from bot.catalog.models import Member, Role, Service, ServiceOwner
from bot.errors import ChaosbotError
from bot.gamedays.models import OPEN, GameDay, GameDayApproval, GameDayStatus
from bot.gamedays.timing import local_label
from bot.runs.service import freezes_covering

__all__ = [
    "MAX_HOLD_SECONDS",
    "REMINDERS",
    "Decision",
    "GameDayNotFound",
    "GameDayPlan",
    "NotAllowedToDecide",
    "RequestInvalid",
    "awaiting_decision",
    "check_decider",
    "check_may_change",
    "check_may_request",
    "check_plan",
    "deciders",
    "decides_on",
    "may_request",
]

MIN_LEAD = timedelta(minutes=15)
MAX_HORIZON = timedelta(days=180)
MAX_DURATION_MINUTES = 8 * 60
MAX_HOLD_SECONDS = 3600
MAX_REASON = 500
MAX_NOTES = 2000
REMINDERS = (("24h", timedelta(hours=24)), ("15m", timedelta(minutes=15)))


class GameDayNotFound(ChaosbotError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"There is no game day `{ref}`.")


class NotAllowedToDecide(ChaosbotError):
    """The person may not approve, reject, cancel or reschedule this game day."""


class RequestInvalid(ChaosbotError):
    """The request breaks a rule; `problems` maps the field (experiments, date, time, duration,
    hold, notes) to what is wrong, so a modal can show each on its block."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


@dataclass(frozen=True, kw_only=True)
class GameDayPlan:
    """What a person asks for: the experiments, when, for how long, and why."""

    experiments: tuple[str, ...]
    starts_at: datetime
    duration_minutes: int
    hold_seconds: int
    notes: str = ""


@dataclass(frozen=True)
class Decision:
    """What a click did, in words for the person who clicked."""

    changed: bool
    message: str


def deciders(*, session: Session, service: Service, admins: frozenset[str]) -> list[str]:
    """Everyone who may approve or reject: the service's owners and approvers, the people the
    team made approvers or admins for all its services, and the platform admins; in that order,
    once each. (A team's owners own *their* services: they decide on those, not on every one.)"""
    people = [o.slack_user_id for o in service.owners]
    people += list(service.approvers or [])
    people += session.scalars(
        select(Member.slack_user_id)
        .where(
            Member.team_id == service.team_id,
            Member.role.in_([Role.APPROVER, Role.ADMIN]),
        )
        .order_by(Member.id)
    ).all()
    people += sorted(admins)
    return list(dict.fromkeys(people))


def decides_on(
    *, session: Session, user_id: str, gamedays: Sequence[GameDay], admins: frozenset[str]
) -> set[int]:
    """The ids of those of `gamedays` that `user_id` may approve or reject (is among the
    `deciders` of its service), in two queries however many there are."""
    if user_id in admins:
        return {g.id for g in gamedays}
    owned = set(
        session.scalars(
            select(ServiceOwner.service_id).where(ServiceOwner.slack_user_id == user_id)
        )
    )
    teams = set(
        session.scalars(
            select(Member.team_id).where(
                Member.slack_user_id == user_id, Member.role.in_([Role.APPROVER, Role.ADMIN])
            )
        )
    )
    return {
        g.id
        for g in gamedays
        if g.service_id in owned
        or user_id in (g.service.approvers or [])
        or g.service.team_id in teams
    }


def awaiting_decision(*, session: Session, user_id: str, admins: frozenset[str]) -> list[GameDay]:
    """The pending game days waiting for `user_id`'s decision, soonest first: they may decide,
    did not ask for it and have not approved its current round (services loaded)."""
    pending = (
        session.scalars(
            select(GameDay)
            .where(GameDay.status == GameDayStatus.PENDING, GameDay.requested_by != user_id)
            .options(joinedload(GameDay.service))
            .order_by(GameDay.starts_at)
        )
        .unique()
        .all()
    )
    approved = set(
        session.scalars(
            select(GameDayApproval.gameday_id)
            .join(GameDay, GameDay.id == GameDayApproval.gameday_id)
            .where(
                GameDay.status == GameDayStatus.PENDING,
                GameDayApproval.round == GameDay.round,
                GameDayApproval.slack_user_id == user_id,
            )
        )
    )
    waiting = [g for g in pending if g.id not in approved]
    mine = decides_on(session=session, user_id=user_id, gamedays=waiting, admins=admins)
    return [g for g in waiting if g.id in mine]


def may_request(
    *, session: Session, service: Service, user_id: str, admins: frozenset[str]
) -> bool:
    """Deciders, and any member of the team, may ask for a game day."""
    if user_id in deciders(session=session, service=service, admins=admins):
        return True
    member = session.scalar(
        select(Member.id).where(Member.team_id == service.team_id, Member.slack_user_id == user_id)
    )
    return member is not None


def check_may_request(
    *, session: Session, service: Service, user_id: str, admins: frozenset[str]
) -> None:
    if not may_request(session=session, service=service, user_id=user_id, admins=admins):
        raise NotAllowedToDecide(
            f"Only members of team {service.team.name}, the owners and approvers of "
            f"{service.name} and platform admins can ask for its game days."
        )


def check_decider(session: Session, gameday: GameDay, user_id: str, admins: frozenset[str]) -> None:
    if user_id not in deciders(session=session, service=gameday.service, admins=admins):
        raise NotAllowedToDecide(
            f"Only the owners and approvers of {gameday.service.name} (or platform admins) "
            "can decide on its game days."
        )


def check_may_change(
    session: Session, gameday: GameDay, user_id: str, admins: frozenset[str], action: str
) -> None:
    if user_id == gameday.requested_by:
        return
    if user_id not in deciders(session=session, service=gameday.service, admins=admins):
        raise NotAllowedToDecide(
            f"Only whoever requested game day {gameday.key}, the owners and approvers of "
            f"{gameday.service.name}, or platform admins can {action} it."
        )


def check_plan(
    *,
    session: Session,
    service: Service,
    plan: GameDayPlan,
    now: datetime,
    exclude: int | None = None,
) -> None:
    """Raise RequestInvalid with every rule the plan breaks."""
    problems: dict[str, str] = {}
    suite = [e.experiment for e in service.suite]
    if not plan.experiments:
        problems["experiments"] = "Pick at least one experiment."
    elif unknown := [e for e in plan.experiments if e not in suite]:
        problems["experiments"] = (
            f"Not in {service.name}'s suite: {', '.join(unknown)}. Add them with `/chaos suite`."
        )
    elif len(set(plan.experiments)) != len(plan.experiments):
        problems["experiments"] = "Each experiment may be picked once."
    if not 1 <= plan.duration_minutes <= MAX_DURATION_MINUTES:
        problems["duration"] = f"The duration is 1 to {MAX_DURATION_MINUTES} minutes."
    if not 1 <= plan.hold_seconds <= MAX_HOLD_SECONDS:
        problems["hold"] = f"Each fault is held 1 to {MAX_HOLD_SECONDS} seconds."
    elif (
        plan.experiments and plan.hold_seconds * len(plan.experiments) > plan.duration_minutes * 60
    ):
        problems["hold"] = (
            f"{len(plan.experiments)} experiments held {plan.hold_seconds} s each do not fit in "
            f"{plan.duration_minutes} minutes: hold them shorter or book longer."
        )
    if len(plan.notes) > MAX_NOTES:
        problems["notes"] = f"Notes are at most {MAX_NOTES} characters."
    if plan.starts_at < now + MIN_LEAD:
        problems["time"] = (
            f"Start at least {int(MIN_LEAD.total_seconds() // 60)} minutes from now, so there "
            "is time to approve it."
        )
    elif plan.starts_at > now + MAX_HORIZON:
        problems["date"] = f"Start within {MAX_HORIZON.days} days."
    else:
        ends = plan.starts_at + timedelta(minutes=plan.duration_minutes)
        for freeze in freezes_covering(session=session, team_id=service.team_id, at=plan.starts_at):
            problems["date"] = (
                f"A freeze covers that time (until {freeze.ends_at:%Y-%m-%d %H:%M} UTC): "
                f"{freeze.reason}"
            )
        clash = session.scalar(
            select(GameDay)
            .where(
                GameDay.service_id == service.id,
                GameDay.status.in_(list(OPEN)),
                GameDay.id != (exclude or 0),
                GameDay.starts_at < ends,
            )
            .order_by(GameDay.starts_at.desc())
            .limit(1)
        )
        if (
            clash is not None
            and clash.starts_at + timedelta(minutes=clash.duration_minutes) > plan.starts_at
        ):
            problems["time"] = (
                f"Game day {clash.key} of {service.name} is booked then "
                f"({local_label(clash.starts_at, clash.timezone)}, {clash.duration_minutes} min)."
            )
    if problems:
        raise RequestInvalid(problems)
