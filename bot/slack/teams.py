"""Slack surface of ownership: which team each namespace belongs to (`/chaos namespace`), and
a team's members and roles (`/chaos team`)."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from bot.catalog.access import check_may_assign_namespaces
from bot.catalog.models import Team
from bot.catalog.namespaces import assign_namespace, find_team, list_namespace_owners
from bot.catalog.service import list_teams, team_of_channel
from bot.catalog.teams import ROLE_NAMES, RoleChange, grant_role, revoke_roles, roster
from bot.errors import ChaosbotError
from bot.slack.commands import CommandRequest
from bot.slack.mrkdwn import escape
from bot.slack.replies import Reply
from bot.slack.surface import Surface

__all__ = ["register"]

_TEAM_USAGE = (
    "Usage: `/chaos team [NAME]` (members and roles), `/chaos team NAME add @person "
    "admin|approver|member` or `/chaos team NAME remove @person [ROLE]`."
)
# A mention as Slack escapes it (<@U0123|name> or <@U0123>), or a bare user id.
_MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,31})(?:\|[^>]*)?>$|^([UW][A-Z0-9]{2,31})$")
_NAMESPACE_USAGE = "Usage: `/chaos namespace` (list) or `/chaos namespace assign NAMESPACE TEAM`."


def register(surface: Surface) -> None:
    """Add `/chaos namespace` and `/chaos team`."""
    context = surface.context

    def namespace_command(request: CommandRequest) -> Reply:
        if not request.args:
            return _namespaces()
        if len(request.args) != 3 or request.args[0].lower() != "assign":
            raise ChaosbotError(_NAMESPACE_USAGE)
        namespace, team = request.args[1], request.args[2]
        check_may_assign_namespaces(
            user_id=request.user_id, admins=context.settings.platform_admins
        )
        with context.db.session() as session:
            outcome = assign_namespace(
                session=session,
                namespace=namespace,
                team_name=team,
                actor=request.user_id,
                now=context.clock.now(),
            )
        return Reply.markdown(f":label: <@{request.user_id}>: {escape(outcome)}.", in_channel=True)

    def _namespaces() -> Reply:
        allowed = context.settings.allowed_namespaces
        with context.db.session() as session:
            owners = {o.namespace: o.team.name for o in list_namespace_owners(session=session)}
        names = sorted(set(owners) | set(allowed))
        if not names:
            return Reply.markdown("No namespace is allowed or assigned yet.")
        lines = []
        for name in names:
            team = owners.get(name)
            who = (
                f"team *{escape(team)}*" if team else "no team yet (the first to onboard claims it)"
            )
            note = "" if name in allowed else " (not in CHAOSBOT_ALLOWED_NAMESPACES)"
            lines.append(f"• `{escape(name)}`: {who}{note}")
        return Reply.markdown("*Namespaces*\n" + "\n".join(lines))

    surface.subcommand(
        "namespace",
        "/chaos namespace [assign NAMESPACE TEAM]",
        "which team each namespace belongs to; platform admins assign them",
        namespace_command,
    )

    def team_command(request: CommandRequest) -> Reply:
        args = request.args
        if not args:
            return _channel_team_or_list(request.channel_id)
        if len(args) == 1:
            with context.db.session() as session:
                return _roster(session, find_team(session=session, name=args[0]))
        if len(args) not in (3, 4) or args[1].lower() not in ("add", "remove"):
            raise ChaosbotError(_TEAM_USAGE)
        name, verb, person = args[0], args[1].lower(), _user(args[2])
        role_word = args[3].lower() if len(args) == 4 else None
        if (verb == "add" and role_word is None) or (
            role_word is not None and role_word not in ROLE_NAMES
        ):
            raise ChaosbotError(_TEAM_USAGE)
        role = ROLE_NAMES[role_word] if role_word else None
        admins, now = context.settings.platform_admins, context.clock.now()
        with context.db.session() as session:
            team = find_team(session=session, name=name)
            change = RoleChange(
                team=team, user_id=person, actor=request.user_id, admins=admins, now=now
            )
            if role is not None and verb == "add":
                done = grant_role(session=session, change=change, role=role)
                what = (
                    f"<@{person}> is now {role_word} of team *{escape(team.name)}*"
                    if done
                    else f"<@{person}> already was {role_word} of team *{escape(team.name)}*"
                )
            else:
                taken = revoke_roles(session=session, change=change, role=role)
                what = (
                    f"<@{person}> is no longer in team *{escape(team.name)}*"
                    if taken and role is None
                    else f"<@{person}> is no longer {role_word} of team *{escape(team.name)}*"
                    if taken
                    else f"<@{person}> held no such role in team *{escape(team.name)}*"
                )
        return Reply.markdown(
            f":busts_in_silhouette: <@{request.user_id}>: {what}.", in_channel=True
        )

    def _channel_team_or_list(channel_id: str) -> Reply:
        with context.db.session() as session:
            team = team_of_channel(session=session, channel_id=channel_id)
            if team is not None:
                return _roster(session, team)
            names = [t.name for t in list_teams(session=session)]
        if not names:
            return Reply.markdown("No team yet: `/chaos onboard` creates one.")
        listed = ", ".join(f"`{escape(n)}`" for n in names)
        return Reply.markdown(f"*Teams*: {listed}. `/chaos team NAME` shows one.")

    def _roster(session: Session, team: Team) -> Reply:
        people = roster(session=session, team=team)
        lines = [f"• <@{p.user_id}>: {', '.join(p.roles)}" for p in people] or ["• nobody yet"]
        return Reply.markdown(
            f"*Team {escape(team.name)}* (<#{team.slack_channel_id}>)\n" + "\n".join(lines)
        )

    surface.subcommand(
        "team",
        "/chaos team [NAME] [add @person ROLE | remove @person [ROLE]]",
        "a team's members and roles; its admins add and remove people",
        team_command,
    )


def _user(text: str) -> str:
    match = _MENTION.fullmatch(text)
    if match is None:
        raise ChaosbotError(f"`{text}` is not a person: mention them, like @alice.")
    return match[1] or match[2]
