"""A team's members and their roles: who holds which, and the changes its admins make."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.catalog.access import check_may_manage_team
from bot.catalog.audit import record_change
from bot.catalog.models import Member, Role, Team
from bot.errors import ChaosbotError

__all__ = ["ROLE_NAMES", "Holder", "grant_role", "revoke_roles", "roster"]

# How people name roles: a team's plain members hold the `owner` role (the one a team's first
# service's owners get), so `member` names it.
ROLE_NAMES = {"admin": Role.ADMIN, "approver": Role.APPROVER, "member": Role.OWNER}


def role_name(role: Role) -> str:
    """The name people use for a role."""
    return next(name for name, r in ROLE_NAMES.items() if r is role)


@dataclass(frozen=True)
class Holder:
    """One person of a team and every role they hold in it."""

    user_id: str
    roles: tuple[str, ...]


def roster(*, session: Session, team: Team) -> Sequence[Holder]:
    """The team's people, admins first, each with their roles."""
    roles: dict[str, list[str]] = {}
    for member in session.scalars(
        select(Member).where(Member.team_id == team.id).order_by(Member.id)
    ):
        roles.setdefault(member.slack_user_id, []).append(role_name(member.role))
    order = list(ROLE_NAMES)
    holders = [Holder(user, tuple(sorted(r, key=order.index))) for user, r in roles.items()]
    return sorted(holders, key=lambda h: (order.index(h.roles[0]), h.user_id))


def grant_role(
    *,
    session: Session,
    team: Team,
    user_id: str,
    role: Role,
    actor: str,
    admins: frozenset[str],
    now: datetime,
) -> bool:
    """Give the person the role in the team (its admins or platform admins only); False when
    they already held it."""
    check_may_manage_team(session=session, team=team, user_id=actor, admins=admins)
    held = session.scalar(
        select(Member.id).where(
            Member.team_id == team.id, Member.slack_user_id == user_id, Member.role == role
        )
    )
    if held is not None:
        return False
    session.add(Member(team_id=team.id, slack_user_id=user_id, role=role))
    _audit(session, "team.role_granted", team, user_id, [role], actor, now)
    return True


def revoke_roles(
    *,
    session: Session,
    team: Team,
    user_id: str,
    role: Role | None,
    actor: str,
    admins: frozenset[str],
    now: datetime,
) -> list[Role]:
    """Take the role (or, None, every role) from the person in the team; a team keeps at least
    one admin unless a platform admin removes the last. Returns the roles taken."""
    check_may_manage_team(session=session, team=team, user_id=actor, admins=admins)
    query = select(Member).where(Member.team_id == team.id, Member.slack_user_id == user_id)
    if role is not None:
        query = query.where(Member.role == role)
    rows = list(session.scalars(query))
    taken = [r.role for r in rows]
    if Role.ADMIN in taken and actor not in admins:
        others = session.scalar(
            select(func.count()).where(
                Member.team_id == team.id,
                Member.role == Role.ADMIN,
                Member.slack_user_id != user_id,
            )
        )
        if not others:
            raise ChaosbotError(
                f"<@{user_id}> is team {team.name}'s last admin: add another admin first."
            )
    if rows:
        session.execute(delete(Member).where(Member.id.in_([r.id for r in rows])))
        _audit(session, "team.role_revoked", team, user_id, taken, actor, now)
    return taken


def _audit(
    session: Session,
    action: str,
    team: Team,
    user_id: str,
    roles: list[Role],
    actor: str,
    now: datetime,
) -> None:
    detail = {"team": team.name, "user": user_id, "roles": [role_name(r) for r in roles]}
    record_change(session, ("team", team.id), action, actor=actor, now=now, **detail)
