"""Who may do what to teams, their services, namespaces and freezes: the rules, in one place.

Every surface (Slack, the CLI) asks these functions; none decides on its own.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.catalog.models import Member, Role, Service, Team
from bot.errors import ChaosbotError

__all__ = [
    "NotPermitted",
    "can_manage",
    "check_may_assign_namespaces",
    "check_may_freeze",
    "check_may_manage_team",
    "check_may_read_audit",
    "is_team_admin",
    "is_team_member",
    "may_join_team",
    "may_manage_team",
]


class NotPermitted(ChaosbotError):
    """The person may not do this; the message says who may."""

    def __init__(self, action: str, who: str) -> None:
        self.action = action
        super().__init__(f"Only {who} can {action}.")


def is_team_admin(*, session: Session, team: Team, user_id: str) -> bool:
    """Whether the person holds the admin role in the team."""
    found = session.scalar(
        select(Member.id).where(
            Member.team_id == team.id, Member.slack_user_id == user_id, Member.role == Role.ADMIN
        )
    )
    return found is not None


def is_team_member(*, session: Session, team: Team, user_id: str) -> bool:
    """Whether the person holds any role in the team."""
    found = session.scalar(
        select(Member.id).where(Member.team_id == team.id, Member.slack_user_id == user_id).limit(1)
    )
    return found is not None


def can_manage(*, session: Session, service: Service, user_id: str) -> bool:
    """Owners of the service and admins of its team may edit or offboard it."""
    if any(o.slack_user_id == user_id for o in service.owners):
        return True
    admin = session.scalar(
        select(Member.id).where(
            Member.team_id == service.team_id,
            Member.slack_user_id == user_id,
            Member.role == Role.ADMIN,
        )
    )
    return admin is not None


def check_may_read_audit(
    *, session: Session, service: Service, user_id: str, admins: frozenset[str]
) -> None:
    """A service's audit trail is read by those who may change the service (can_manage) and
    platform admins; NotPermitted for anyone else."""
    if user_id in admins or can_manage(session=session, service=service, user_id=user_id):
        return
    raise NotPermitted(
        f"read the audit trail of {service.name}",
        f"the owners of {service.name}, the admins of team {service.team.name} and platform admins",
    )


def check_may_assign_namespaces(*, user_id: str, admins: frozenset[str]) -> None:
    """Namespaces are handed to teams by platform admins only."""
    if user_id not in admins:
        raise NotPermitted("assign namespaces to teams", "platform admins")


def may_manage_team(*, session: Session, team: Team, user_id: str, admins: frozenset[str]) -> bool:
    """A team's channel, members and roles are changed by its admins or platform admins."""
    return user_id in admins or is_team_admin(session=session, team=team, user_id=user_id)


def check_may_manage_team(
    *, session: Session, team: Team, user_id: str, admins: frozenset[str]
) -> None:
    """NotPermitted unless the person may change the team (may_manage_team)."""
    if may_manage_team(session=session, team=team, user_id=user_id, admins=admins):
        return
    raise NotPermitted(
        f"change team {team.name}", f"the admins of team {team.name} (or platform admins)"
    )


def may_join_team(*, session: Session, team: Team, user_id: str, admins: frozenset[str]) -> bool:
    """A new service joins an existing team only by the hand of its members or platform admins
    (otherwise anyone could put a service in a team's namespace by naming the team)."""
    return user_id in admins or is_team_member(session=session, team=team, user_id=user_id)


def check_may_freeze(
    *, session: Session, team: Team | None, user_id: str, admins: frozenset[str]
) -> None:
    """A team's freeze is set or lifted by its members or platform admins; everything's, by
    platform admins only."""
    if user_id in admins:
        return
    if team is None:
        raise NotPermitted("freeze (or unfreeze) everything", "platform admins")
    if not is_team_member(session=session, team=team, user_id=user_id):
        raise NotPermitted(
            f"freeze (or unfreeze) team {team.name}",
            f"members of team {team.name} (or platform admins)",
        )
