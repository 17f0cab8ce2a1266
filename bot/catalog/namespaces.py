"""Which team each namespace belongs to: assignments by platform admins, claims by onboarding.

A namespace belongs to one team. Platform admins assign it (`/chaos namespace assign`, or a
namespaces file applied with `chaosbot namespaces apply`); an unassigned one is claimed by the
first team that onboards a service into it. Services of other teams are refused there, at
onboarding and at preflight.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.audit.service import Subject
from bot.catalog.models import NamespaceOwner, Team
from bot.errors import ChaosbotError

__all__ = [
    "NamespacesFileInvalid",
    "TeamNotFound",
    "apply_assignments",
    "assign_namespace",
    "claim_namespace",
    "find_team",
    "foreign_namespace_problem",
    "list_namespace_owners",
    "namespace_owner",
    "parse_namespaces_file",
]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class TeamNotFound(ChaosbotError):
    """No team has that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"There is no team called `{name}`. `/chaos team` lists them.")


class NamespacesFileInvalid(ChaosbotError):
    """A namespaces file that is not `namespaces:` mapping namespace names to team names."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def find_team(*, session: Session, name: str) -> Team:
    """The team called `name`, or TeamNotFound."""
    team = session.scalar(select(Team).where(Team.name == name))
    if team is None:
        raise TeamNotFound(name)
    return team


def namespace_owner(*, session: Session, namespace: str) -> NamespaceOwner | None:
    """The namespace's assignment, or None while no team has it."""
    return session.scalar(
        select(NamespaceOwner)
        .where(NamespaceOwner.namespace == namespace)
        .options(selectinload(NamespaceOwner.team))
    )


def list_namespace_owners(*, session: Session) -> Sequence[NamespaceOwner]:
    """Every assigned namespace, by name."""
    return session.scalars(
        select(NamespaceOwner)
        .options(selectinload(NamespaceOwner.team))
        .order_by(NamespaceOwner.namespace)
    ).all()


def foreign_namespace_problem(
    *, session: Session, namespace: str, team_id: int | None
) -> str | None:
    """Why a service of this team (None: a team not created yet) may not live in the namespace,
    or None when the namespace is the team's or no team's."""
    owner = namespace_owner(session=session, namespace=namespace)
    if owner is None or owner.team_id == team_id:
        return None
    return (
        f"namespace {namespace} belongs to team {owner.team.name}: only its services may run there "
        "(platform admins assign namespaces with `/chaos namespace assign`)"
    )


def claim_namespace(
    *, session: Session, namespace: str, team: Team, actor: str, now: datetime
) -> bool:
    """Give an unassigned namespace to the team onboarding into it; True when it was claimed."""
    if namespace_owner(session=session, namespace=namespace) is not None:
        return False
    session.add(NamespaceOwner(namespace=namespace, team=team, assigned_by=actor, assigned_at=now))
    session.flush()
    Subject("namespace", namespace).record(
        session, actor, now, "namespace.claimed", {"team": team.name}
    )
    return True


def assign_namespace(
    *, session: Session, namespace: str, team_name: str, actor: str, now: datetime
) -> str:
    """Assign the namespace to the team (a platform admin's decision, checked by the caller);
    returns what changed, in a sentence."""
    if not _DNS_LABEL.fullmatch(namespace):
        raise ChaosbotError(f"`{namespace}` is not a namespace name.")
    team = find_team(session=session, name=team_name)
    owner = namespace_owner(session=session, namespace=namespace)
    if owner is not None and owner.team_id == team.id:
        return f"{namespace} already belongs to team {team.name}"
    previous = owner.team.name if owner is not None else None
    if owner is None:
        owner = NamespaceOwner(namespace=namespace, team=team, assigned_by=actor, assigned_at=now)
        session.add(owner)
    else:
        owner.team = team
        owner.assigned_by = actor
        owner.assigned_at = now
    session.flush()
    detail = {"team": team.name, "previous_team": previous}
    Subject("namespace", namespace).record(session, actor, now, "namespace.assigned", detail)
    if previous is None:
        return f"{namespace} now belongs to team {team.name}"
    return f"{namespace} moved from team {previous} to team {team.name}"


def apply_assignments(
    *, session: Session, assignments: Mapping[str, str], actor: str, now: datetime
) -> list[str]:
    """Assign every namespace of a namespaces file; namespaces it does not list keep theirs."""
    return [
        assign_namespace(session=session, namespace=ns, team_name=team, actor=actor, now=now)
        for ns, team in sorted(assignments.items())
    ]


def parse_namespaces_file(text: str) -> dict[str, str]:
    """`namespaces: {NAMESPACE: TEAM, ...}` as a mapping; NamespacesFileInvalid says what is
    wrong."""
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise NamespacesFileInvalid([f"not YAML: {exc}"]) from None
    if not isinstance(document, Mapping) or not isinstance(document.get("namespaces"), Mapping):
        raise NamespacesFileInvalid(["expected `namespaces:`, a mapping of namespace to team"])
    problems: list[str] = []
    assignments: dict[str, str] = {}
    for namespace, team in document["namespaces"].items():
        if not isinstance(namespace, str) or not _DNS_LABEL.fullmatch(namespace):
            problems.append(f"namespaces.{namespace}: not a namespace name")
        elif not isinstance(team, str) or not _DNS_LABEL.fullmatch(team):
            problems.append(f"namespaces.{namespace}: {team!r} is not a team name")
        else:
            assignments[namespace] = team
    if problems:
        raise NamespacesFileInvalid(problems)
    return assignments
