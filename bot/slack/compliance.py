"""`/chaos compliance [TEAM|all]`: the weekly digest's view, on demand."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.catalog.models import Team
from bot.catalog.service import team_of_channel
from bot.compliance.digest import digest_week
from bot.compliance.gather import gather
from bot.compliance.report import org_report, team_report
from bot.errors import ChaosbotError
from bot.slack.commands import CommandRequest
from bot.slack.digest import org_blocks, team_blocks
from bot.slack.mrkdwn import escape
from bot.slack.replies import Reply
from bot.slack.surface import Surface

__all__ = ["register"]


def register(surface: Surface) -> None:
    context = surface.context

    def compliance_command(request: CommandRequest) -> Reply:
        if len(request.args) > 1:
            raise ChaosbotError("Usage: `/chaos compliance [TEAM|all]`.")
        arg = request.args[0] if request.args else None
        now = context.clock.now()
        policy = context.settings.compliance_policy
        with context.db.session() as session:
            if arg is not None and arg.lower() == "all":
                report = org_report(gather(session, now=now), policy)
                blocks = org_blocks(report, week=_week(now, "UTC"))
                text = "Compliance of the organisation"
            else:
                team = (
                    session.scalar(select(Team).where(Team.name == arg))
                    if arg
                    else team_of_channel(session=session, channel_id=request.channel_id)
                )
                if team is None:
                    raise ChaosbotError(
                        f"There is no team {arg}."
                        if arg
                        else "This channel is no team's: "
                        "`/chaos compliance TEAM` or `/chaos compliance all`."
                    )
                landscape = gather(session, now=now, team_ids=[team.id])
                blocks = team_blocks(
                    team_report(landscape, team.id, policy), week=_week(now, team.timezone)
                )
                text = f"Compliance of team {escape(team.name)}"
        return Reply(text=text, blocks=blocks)

    surface.subcommand(
        "compliance",
        "/chaos compliance [TEAM|all]",
        "where a team (or everyone) stands: compliance, scores, drills, findings",
        compliance_command,
    )


def _week(now: datetime, timezone: str) -> str:
    """The ISO week on the team's clock (the digest's label)."""
    due = digest_week(now, timezone)
    if due is not None:
        return due[0]
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"
