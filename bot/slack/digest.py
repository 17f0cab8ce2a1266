"""The weekly digest in Slack: one message (or a few, when Block Kit's limits would be exceeded)
per team channel, with a PNG of the score trend in its thread, and a summary of the whole
organisation in the platform channel. `/chaos compliance` shows the same blocks on demand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.compliance.conversation import DueDigests
from bot.compliance.policy import Standing
from bot.compliance.report import OrgReport, ServiceReport, TeamReport
from bot.drills.alert import duration_text
from bot.findings.models import Severity
from bot.gamedays.timing import local_label
from bot.outbox.service import ts_of
from bot.reports.chart import TrendChart
from bot.slack.blockkit import MESSAGE_BLOCKS, SECTION_TEXT, fit
from bot.slack.blockkit import section as _section
from bot.slack.mrkdwn import escape
from bot.slack.outbox import UPLOAD_METHOD, enqueue_many, upload_payload
from bot.slack.templates import render

__all__ = ["MAX_BLOCKS", "SlackDigestConversation", "org_blocks", "split_blocks", "team_blocks"]

MAX_BLOCKS = MESSAGE_BLOCKS  # per message
_ICONS = {
    Standing.COMPLIANT: ":large_green_circle:",
    Standing.DUE_SOON: ":large_yellow_circle:",
    Standing.OVERDUE: ":red_circle:",
    Standing.FAILING: ":x:",
}
_SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)


class SlackDigestConversation:
    """The DigestConversation (bot/compliance/conversation.py): every due digest's messages
    queued in one batched INSERT, in the transaction that records their delivery."""

    def send(self, session: Session, digests: DueDigests, *, now: datetime, chart: bool) -> int:
        calls: list[tuple[str, dict[str, Any], str]] = []
        for report, week in digests.teams:
            calls += _team_calls(report, week, chart=chart)
        if digests.org is not None:
            org = digests.org
            for index, blocks in enumerate(split_blocks(org_blocks(org.report, week=org.week)), 1):
                payload = {
                    "channel": org.channel,
                    "text": f"Weekly chaos digest of the organisation, {org.week}",
                    "blocks": blocks,
                }
                calls.append(("chat.postMessage", payload, f"digest:org:{org.week}:{index}"))
        enqueue_many(session=session, now=now, calls=calls)
        return sum(1 for method, _, _ in calls if method == "chat.postMessage")


# --- rendering --------------------------------------------------------------------------------


def _sections(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Lines packed into as few sections as the 3,000-character limit allows."""
    blocks: list[dict[str, Any]] = []
    current = ""
    for line in lines:
        line = fit(line, SECTION_TEXT)
        if current and len(current) + 1 + len(line) > SECTION_TEXT:
            blocks.append(_section(current))
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(_section(current))
    return blocks


def split_blocks(blocks: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Messages of at most 50 blocks each, in order."""
    return [list(blocks[i : i + MAX_BLOCKS]) for i in range(0, len(blocks), MAX_BLOCKS)] or [[]]


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _findings(totals: dict[Severity, int]) -> str:
    return ", ".join(f"{totals[s]} {s.value}" for s in _SEVERITIES if totals.get(s))


def _service_line(service: ServiceReport) -> str:
    return render(
        "slack/digest/service.md.j2",
        icon=_ICONS[service.state.standing],
        name=service.name,
        tier=service.tier,
        advisory=service.state.advisory,
        standing=service.state.standing.value,
        reasons="; ".join(service.state.reasons),
        score=_score(service.score),
        open_findings=service.open_total,
        overdue_items=service.overdue_action_items,
    )


def team_blocks(report: TeamReport, *, week: str) -> list[dict[str, Any]]:
    """The team's digest as blocks (split into messages by `split_blocks`)."""
    covered = report.count(Standing.COMPLIANT) + report.count(Standing.DUE_SOON)
    trend = " → ".join(_score(v) for v in report.trend)
    header = render(
        "slack/digest/team_header.md.j2",
        team=report.team,
        week=week,
        services=len(report.services),
        covered=covered,
        due_soon=report.count(Standing.DUE_SOON),
        overdue=report.count(Standing.OVERDUE),
        failing=report.count(Standing.FAILING),
        score_line=f"{trend} (weeks {report.week_labels[0]} to {report.week_labels[-1]})",
    )
    footer = render(
        "slack/digest/team_footer.md.j2",
        team=report.team,
        drills=report.drills,
        to_acknowledge=_maybe(report.median_to_acknowledge),
        to_resolve=_maybe(report.median_to_resolve),
        unacknowledged=report.unacknowledged,
        monitored=report.monitored,
        detected=report.detected,
        findings=_findings(report.open_findings),
        overdue_items=report.overdue_action_items,
        upcoming=[
            (name, g.key, local_label(g.starts_at, report.timezone)) for name, g in report.upcoming
        ],
    )
    order = {Standing.FAILING: 0, Standing.OVERDUE: 1, Standing.DUE_SOON: 2, Standing.COMPLIANT: 3}
    services = sorted(report.services, key=lambda s: (order[s.state.standing], s.tier, s.name))
    return [
        _section(header),
        {"type": "divider"},
        *_sections([_service_line(s) for s in services]),
        {"type": "divider"},
        *_sections(footer.splitlines()),
    ]


def org_blocks(report: OrgReport, *, week: str) -> list[dict[str, Any]]:
    totals: dict[Severity, int] = {}
    for team in report.teams:
        for severity, count in team.open_findings.items():
            totals[severity] = totals.get(severity, 0) + count
    header = render(
        "slack/digest/org.md.j2",
        week=week,
        teams=len(report.teams),
        services=report.services,
        covered=report.count(Standing.COMPLIANT) + report.count(Standing.DUE_SOON),
        due_soon=report.count(Standing.DUE_SOON),
        overdue=report.count(Standing.OVERDUE),
        failing=report.count(Standing.FAILING),
        findings=_findings(totals) or "none",
    )
    lines = [
        render(
            "slack/digest/org_team.md.j2",
            team=t.team,
            services=len(t.services),
            covered=t.count(Standing.COMPLIANT) + t.count(Standing.DUE_SOON),
            due_soon=t.count(Standing.DUE_SOON),
            overdue=t.count(Standing.OVERDUE),
            failing=t.count(Standing.FAILING),
            findings=sum(t.open_findings.values()),
            overdue_items=t.overdue_action_items,
            score=_score(t.trend[-1]),
        )
        for t in sorted(
            report.teams,
            key=lambda t: (-t.count(Standing.FAILING), -t.count(Standing.OVERDUE), t.team),
        )
    ]
    return [_section(header), {"type": "divider"}, *_sections(lines)]


def _maybe(delta: timedelta | None) -> str:
    return "n/a" if delta is None else duration_text(delta)


def _team_calls(
    report: TeamReport, week: str, *, chart: bool
) -> list[tuple[str, dict[str, Any], str]]:
    """The Web API calls of one team's digest: its messages, then the chart in the thread."""
    messages = split_blocks(team_blocks(report, week=week))
    key = f"digest:team:{report.team_id}:{week}"
    calls: list[tuple[str, dict[str, Any], str]] = []
    for index, blocks in enumerate(messages, start=1):
        part = f" (part {index} of {len(messages)})" if len(messages) > 1 else ""
        payload = {
            "channel": report.channel,
            "text": f"Weekly chaos digest of team {escape(report.team)}, {week}{part}",
            "blocks": blocks,
            "unfurl_links": False,
        }
        calls.append(("chat.postMessage", payload, f"{key}:{index}"))
    if chart:
        # Drawn by the outbox when it uploads it (a PNG per team is most of a digest's work).
        trend = TrendChart(
            title=f"{report.team}: resilience score",
            series=tuple(zip(report.week_labels, report.trend, strict=True)),
        )
        payload = upload_payload(
            channel=report.channel,
            filename=f"score-{report.team}-{week}.png",
            title=f"Resilience score of team {report.team}, week by week",
            content=trend,
            thread_ts=ts_of(f"{key}:1"),
        )
        calls.append((UPLOAD_METHOD, payload, f"{key}:chart"))
    return calls
