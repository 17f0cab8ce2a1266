"""Slack surface of ownership: which team each namespace belongs to (`/chaos namespace`)."""

from __future__ import annotations

from bot.catalog.access import check_may_assign_namespaces
from bot.catalog.namespaces import assign_namespace, list_namespace_owners
from bot.context import BotContext
from bot.errors import ChaosbotError
from bot.slack.commands import CommandRequest, CommandRouter, Subcommand
from bot.slack.mrkdwn import escape
from bot.slack.replies import Reply

__all__ = ["register"]

_NAMESPACE_USAGE = "Usage: `/chaos namespace` (list) or `/chaos namespace assign NAMESPACE TEAM`."


def register(*, router: CommandRouter, context: BotContext) -> None:
    """Add `/chaos namespace`."""

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

    router.add(
        Subcommand(
            "namespace",
            "/chaos namespace [assign NAMESPACE TEAM]",
            "which team each namespace belongs to; platform admins assign them",
            namespace_command,
        )
    )
