"""Where each team stands: compliance per service, scores and their trend, drills' response
times, open findings and upcoming game days. What the digest, `/chaos compliance` and the App
Home show is computed here, once, from a Landscape."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.compliance.gather import Landscape, ServiceFacts, UpcomingGameDay
from bot.compliance.policy import ComplianceState, Standing, evaluate
from bot.compliance.score import score, trend
from bot.config.compliance_policy import CompliancePolicy
from bot.drills.models import Detection
from bot.findings.models import Severity

__all__ = ["OrgReport", "ServiceReport", "TeamReport", "org_report", "team_report", "week_ends"]

TREND_WEEKS = 8


@dataclass(frozen=True)
class ServiceReport:
    name: str
    tier: int
    state: ComplianceState
    score: float | None
    trend: list[float | None]
    open_findings: dict[Severity, int]
    owners: list[str]
    overdue_action_items: int = 0

    @property
    def open_total(self) -> int:
        return sum(self.open_findings.values())


@dataclass(frozen=True)
class TeamReport:
    team_id: int
    team: str
    channel: str
    timezone: str
    now: datetime
    services: list[ServiceReport]
    week_labels: list[str]
    trend: list[float | None]  # the mean score of the team's scored services, week by week
    drills: int
    unacknowledged: int
    # Drills of services that name their alerts, and how many of them their monitoring noticed.
    monitored: int
    detected: int
    median_to_acknowledge: timedelta | None
    median_to_resolve: timedelta | None
    upcoming: list[tuple[str, UpcomingGameDay]]

    def count(self, standing: Standing) -> int:
        return sum(1 for s in self.services if s.state.standing is standing)

    @property
    def overdue_action_items(self) -> int:
        return sum(s.overdue_action_items for s in self.services)

    @property
    def open_findings(self) -> dict[Severity, int]:
        totals: dict[Severity, int] = {}
        for service in self.services:
            for severity, count in service.open_findings.items():
                totals[severity] = totals.get(severity, 0) + count
        return totals


@dataclass(frozen=True)
class OrgReport:
    now: datetime
    teams: list[TeamReport]

    def count(self, standing: Standing) -> int:
        return sum(t.count(standing) for t in self.teams)

    @property
    def services(self) -> int:
        return sum(len(t.services) for t in self.teams)


def week_ends(now: datetime, weeks: int = TREND_WEEKS) -> list[datetime]:
    """`now` and the same moment each of the `weeks - 1` weeks before, oldest first."""
    return [now - timedelta(weeks=k) for k in reversed(range(weeks))]


def _service_report(
    facts: ServiceFacts, landscape: Landscape, policy: CompliancePolicy, ends: Sequence[datetime]
) -> ServiceReport:
    state = evaluate(facts.evidence(landscape.categories), policy, now=landscape.now)
    weekly = trend(facts.suite, facts.verdicts, risks=landscape.risks, week_ends=ends)
    # The last week ends now (week_ends): its score is the score.
    now = (
        weekly[-1]
        if ends and ends[-1] == landscape.now
        else score(facts.suite, facts.verdicts, risks=landscape.risks, as_of=landscape.now)
    )
    return ServiceReport(
        name=facts.name,
        tier=facts.tier,
        state=state,
        score=now,
        trend=weekly,
        open_findings=dict(facts.open_findings),
        owners=list(facts.owners),
        overdue_action_items=facts.overdue_action_items,
    )


def team_report(landscape: Landscape, team_id: int, policy: CompliancePolicy) -> TeamReport:
    team = landscape.teams[team_id]
    ends = week_ends(landscape.now)
    facts = landscape.of_team(team_id)
    services = [_service_report(f, landscape, policy, ends) for f in facts]
    weekly: list[float | None] = []
    for index in range(len(ends)):
        scored = [s.trend[index] for s in services if s.trend[index] is not None]
        weekly.append(round(statistics.fmean(scored), 1) if scored else None)  # type: ignore[arg-type]
    drills = [d for f in facts for d in f.drills]
    acknowledged = [d.to_acknowledge for d in drills if d.to_acknowledge is not None]
    resolved = [d.to_resolve for d in drills if d.to_resolve is not None]
    upcoming = sorted(
        ((f.name, g) for f in facts for g in f.upcoming), key=lambda pair: pair[1].starts_at
    )
    return TeamReport(
        team_id=team_id,
        team=team.name,
        channel=team.slack_channel_id,
        timezone=team.timezone,
        now=landscape.now,
        services=services,
        week_labels=[f"W{end.isocalendar().week:02d}" for end in ends],
        trend=weekly,
        drills=len(drills),
        unacknowledged=sum(1 for d in drills if d.alerted and d.to_acknowledge is None),
        monitored=sum(1 for d in drills if d.detection is not None),
        detected=sum(1 for d in drills if d.detection is Detection.DETECTED),
        median_to_acknowledge=_median(acknowledged),
        median_to_resolve=_median(resolved),
        upcoming=upcoming,
    )


def org_report(
    landscape: Landscape,
    policy: CompliancePolicy,
    *,
    known: Mapping[int, TeamReport] | None = None,
) -> OrgReport:
    """Every team's report (`known`: those already made from this landscape, reused)."""
    known = known or {}
    teams = [
        known.get(team_id) or team_report(landscape, team_id, policy)
        for team_id in sorted(landscape.teams)
    ]
    return OrgReport(now=landscape.now, teams=[t for t in teams if t.services])


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))
