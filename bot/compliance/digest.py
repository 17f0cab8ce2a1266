"""The weekly digest: one message (or a few, when Block Kit's limits would be exceeded) per team
channel on Monday 09:00 team time, with a PNG of the score trend, and a summary of the whole
organisation in the platform channel. `/chaos compliance` shows the same blocks on demand.

Sent at most once per team and ISO week: the delivery row and the queued messages are written in
one transaction, and the outbox (which waits out 429s and outages) makes the Web API calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.catalog.models import Team
from bot.compliance.gather import gather
from bot.compliance.models import DigestDelivery
from bot.compliance.policy import Standing
from bot.compliance.report import OrgReport, ServiceReport, TeamReport, org_report, team_report
from bot.config.compliance_policy import CompliancePolicy
from bot.drills.alert import duration_text
from bot.findings.models import Severity
from bot.gamedays.timing import local_label, zone
from bot.outbox.service import ts_of
from bot.reports.chart import render_trend_png
from bot.slack.blockkit import MESSAGE_BLOCKS, SECTION_TEXT, fit
from bot.slack.blockkit import section as _section
from bot.slack.mrkdwn import escape
from bot.slack.outbox import UPLOAD_METHOD, enqueue_many, upload_payload
from bot.templates import render

__all__ = [
    "DigestReport",
    "digest_week",
    "org_blocks",
    "send_digests",
    "split_blocks",
    "team_blocks",
]

MAX_BLOCKS = MESSAGE_BLOCKS  # per message
SEND_AT = time(9, 0)  # Monday, on the team's clock
_ICONS = {
    Standing.COMPLIANT: ":large_green_circle:",
    Standing.DUE_SOON: ":large_yellow_circle:",
    Standing.OVERDUE: ":red_circle:",
    Standing.FAILING: ":x:",
}
_SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)


@dataclass
class DigestReport:
    teams: list[str] = field(default_factory=list)
    messages: int = 0
    org: bool = False


def digest_week(now: datetime, timezone: str) -> tuple[str, datetime] | None:
    """The ISO week whose digest is due on this clock, and its moment; None before Monday 09:00."""
    local = now.astimezone(zone(timezone))
    monday = local.date() - timedelta(days=local.weekday())
    moment = datetime.combine(monday, SEND_AT, tzinfo=zone(timezone))
    if local < moment:
        return None
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}", moment.astimezone(UTC)


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
        drills=report.drills,
        to_acknowledge=_maybe(report.median_to_acknowledge),
        to_resolve=_maybe(report.median_to_resolve),
        unacknowledged=report.unacknowledged,
        findings=_findings(report.open_findings),
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


# --- sending ----------------------------------------------------------------------------------


def send_digests(
    session: Session,
    *,
    now: datetime,
    policy: CompliancePolicy,
    admin_channel: str | None,
    chart: bool = True,
) -> DigestReport:
    """Queue every digest that is due and was not sent this ISO week; returns what was queued.

    Reads are a fixed number of queries for all teams together; the messages and delivery rows
    are written in batched INSERTs. Two senders at once (replicas) collide on the delivery
    rows' unique key, and the second one's transaction, messages included, rolls back.
    """
    sent = DigestReport()
    due: dict[int, str] = {}
    teams = session.scalars(select(Team)).all()
    # Only the weeks that can be due now (a timezone far east may be in the next ISO week):
    # the deliveries of past weeks are never read again.
    weeks = {(now + timedelta(days=shift)).isocalendar()[:2] for shift in (-1, 0, 1)}
    labels = [f"{year}-W{week:02d}" for year, week in weeks]
    done = {
        tuple(row)
        for row in session.execute(
            select(DigestDelivery.scope, DigestDelivery.week).where(DigestDelivery.week.in_(labels))
        )
    }
    for team in teams:
        this_week = digest_week(now, team.timezone)
        # A team's first digest is the first Monday after it joined.
        if (
            this_week is not None
            and team.created_at < this_week[1]
            and (f"team:{team.id}", this_week[0]) not in done
        ):
            due[team.id] = this_week[0]
    org_week = digest_week(now, "UTC") if admin_channel else None
    org_due = org_week is not None and ("org", org_week[0]) not in done
    if not due and not org_due:
        return sent
    landscape = gather(session, now=now, team_ids=None if org_due else list(due))
    calls: list[tuple[str, dict[str, Any], str]] = []
    deliveries: list[dict[str, Any]] = []
    for team_id, week in due.items():
        report = team_report(landscape, team_id, policy)
        deliveries.append(
            {"scope": f"team:{team_id}", "week": week, "channel": report.channel, "sent_at": now}
        )
        if not report.services:
            continue
        calls += _team_calls(report, week, chart=chart)
        sent.teams.append(report.team)
    if org_due and org_week is not None and admin_channel:
        report_all = org_report(landscape, policy)
        for index, blocks in enumerate(split_blocks(org_blocks(report_all, week=org_week[0])), 1):
            payload = {
                "channel": admin_channel,
                "text": f"Weekly chaos digest of the organisation, {org_week[0]}",
                "blocks": blocks,
            }
            calls.append(("chat.postMessage", payload, f"digest:org:{org_week[0]}:{index}"))
        deliveries.append(
            {"scope": "org", "week": org_week[0], "channel": admin_channel, "sent_at": now}
        )
        sent.org = True
    enqueue_many(session=session, now=now, calls=calls)
    session.execute(insert(DigestDelivery), deliveries)
    sent.messages = sum(1 for method, _, _ in calls if method == "chat.postMessage")
    return sent


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
        png = render_trend_png(
            list(zip(report.week_labels, report.trend, strict=True)),
            title=f"{report.team}: resilience score",
        )
        payload = upload_payload(
            channel=report.channel,
            filename=f"score-{report.team}-{week}.png",
            title=f"Resilience score of team {report.team}, week by week",
            content=png,
            thread_ts=ts_of(f"{key}:1"),
        )
        calls.append((UPLOAD_METHOD, payload, f"{key}:chart"))
    return calls
