"""The weekly digest: which teams' digests are due (Monday 09:00 team time, once per ISO week),
their reports, and the organisation's for the platform channel; the DigestConversation words
them (Slack's is bot/slack/digest.py).

Sent at most once per team and ISO week: the delivery row and the queued messages are written in
one transaction, and the outbox (which waits out 429s and outages) makes the Web API calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.catalog.models import Team
from bot.compliance.conversation import DueDigests, OrgDigest, conversation
from bot.compliance.gather import gather
from bot.compliance.models import DigestDelivery
from bot.compliance.report import TeamReport, org_report, team_report
from bot.config.compliance_policy import CompliancePolicy
from bot.gamedays.timing import zone

__all__ = ["DigestReport", "digest_week", "send_digests"]

SEND_AT = time(9, 0)  # Monday, on the team's clock


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
    teams_due: list[tuple[TeamReport, str]] = []
    org: OrgDigest | None = None
    deliveries: list[dict[str, Any]] = []
    reports: dict[int, TeamReport] = {}
    for team_id, week in due.items():
        report = reports[team_id] = team_report(landscape, team_id, policy)
        deliveries.append(
            {"scope": f"team:{team_id}", "week": week, "channel": report.channel, "sent_at": now}
        )
        if not report.services:
            continue
        teams_due.append((report, week))
        sent.teams.append(report.team)
    if org_due and org_week is not None and admin_channel:
        org = OrgDigest(
            report=org_report(landscape, policy, known=reports),
            week=org_week[0],
            channel=admin_channel,
        )
        deliveries.append(
            {"scope": "org", "week": org_week[0], "channel": admin_channel, "sent_at": now}
        )
        sent.org = True
    sent.messages = conversation.get().send(
        session, DueDigests(teams=teams_due, org=org), now=now, chart=chart
    )
    session.execute(insert(DigestDelivery), deliveries)
    return sent
