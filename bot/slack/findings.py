"""`/chaos findings [SERVICE]`: the open findings, most severe first, with Resolve buttons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk import WebClient

from bot.catalog.service import find_service, team_of_channel
from bot.errors import ChaosbotError
from bot.findings.models import Finding, Severity
from bot.findings.service import may_resolve, open_findings, resolve_finding
from bot.slack.blockkit import button, context, section
from bot.slack.commands import CommandRequest
from bot.slack.ids import ActionId
from bot.slack.mrkdwn import escape
from bot.slack.replies import Reply
from bot.slack.responder import Responder
from bot.slack.surface import Surface

__all__ = ["findings_blocks", "register"]

MAX_LISTED = 20
_ICONS = {
    Severity.CRITICAL: ":red_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.LOW: ":white_circle:",
}


def findings_blocks(
    rows: Sequence[Finding], *, heading: str, resolvable: set[str]
) -> list[dict[str, Any]]:
    """One section per finding (severity, service, age, owner, action items), Resolve if allowed."""
    blocks: list[dict[str, Any]] = [section(f"*{escape(heading)}*")]
    if not rows:
        blocks.append(section("No open finding. :tada:"))
    for finding in rows[:MAX_LISTED]:
        items = "".join(
            f"\n    ◦ {escape(item.text)} (<@{escape(item.owner)}>, due {item.due_on:%d %b})"
            for item in finding.action_items
        )
        owner = f" · owner <@{escape(finding.owner)}>" if finding.owner else ""
        text = (
            f"{_ICONS[finding.severity]} `{finding.key}` *{escape(finding.service.name)}*: "
            f"{escape(finding.title)} ({finding.severity.value}, since "
            f"{finding.created_at:%d %b %Y}){owner}{items}"
        )
        resolve = button(ActionId.RESOLVE_FINDING, "Resolve", finding.key)
        blocks.append(section(text, accessory=resolve if finding.key in resolvable else None))
    if len(rows) > MAX_LISTED:
        blocks.append(context(f"…and {len(rows) - MAX_LISTED} more."))
    return blocks


def register(surface: Surface) -> None:
    context = surface.context
    admins = context.settings.platform_admins

    def listing(user_id: str, service: str | None, channel_id: str) -> Reply:
        with context.db.session() as session:
            if service is not None:
                found = find_service(session=session, name=service)
                rows = open_findings(session=session, service_id=found.id)
                heading = f"Open findings of {found.name}"
            else:
                team = team_of_channel(session=session, channel_id=channel_id)
                rows = open_findings(session=session, team_id=team.id if team else None)
                heading = f"Open findings of team {team.name}" if team else "Open findings"
            resolvable = {
                f.key
                for f in rows[:MAX_LISTED]
                if may_resolve(session=session, finding=f, user_id=user_id, admins=admins)
            }
            blocks = findings_blocks(rows, heading=heading, resolvable=resolvable)
        return Reply(text=escape(heading), blocks=blocks)

    def findings_command(request: CommandRequest) -> Reply:
        if len(request.args) > 1:
            raise ChaosbotError("Usage: `/chaos findings [SERVICE]`.")
        service = request.args[0] if request.args else None
        return listing(request.user_id, service, request.channel_id)

    surface.subcommand(
        "findings",
        "/chaos findings [SERVICE]",
        "open findings (of this channel's team unless told), with Resolve",
        findings_command,
    )

    def resolve(body: dict[str, Any], respond: Responder, _client: WebClient) -> None:
        user = body["user"]["id"]
        with context.db.session() as session:
            finding = resolve_finding(
                session=session,
                ref=body["actions"][0]["value"],
                user_id=user,
                now=context.clock.now(),
                admins=admins,
            )
            service = finding.service.name
        channel = (body.get("channel") or {}).get("id", "")
        reply = listing(user, service, channel)
        respond(**reply.as_response(), replace_original=True)

    surface.button(ActionId.RESOLVE_FINDING, resolve)
