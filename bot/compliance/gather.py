"""Everything compliance, the score and the digest need, read in a fixed number of queries.

One query per kind of fact (services, suites, verdicts, game days, findings, action items,
drills), for all
teams at once: the digest job's statement count does not grow with the number of teams or
services (bench/digest_scale.py measures it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.catalog.models import Service, ServiceOwner, SuiteEntry, Team
from bot.compliance.policy import Evidence
from bot.compliance.score import Verdict
from bot.drills.models import Detection, Drill, DrillStatus
from bot.findings.models import ActionItem, Finding, FindingStatus, Severity
from bot.findings.service import local_today, open_items_query
from bot.gamedays.models import OPEN, GameDay, GameDayStatus
from bot.library.catalogue import load_catalogue
from bot.runs.models import Run
from bot.runs.states import RunStatus

__all__ = ["DrillTimes", "Landscape", "ServiceFacts", "UpcomingGameDay", "by_team", "gather"]

HISTORY = timedelta(days=400)  # verdicts and game days older than this no longer count
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_VERDICTS = {
    RunStatus.COMPLETED: True,
    RunStatus.DEVIATED: False,
    RunStatus.HALTED: False,
    RunStatus.FAILED: False,
}


@dataclass(frozen=True)
class DrillTimes:
    key: str
    fired_at: datetime  # when it started (its alert may have waited, or never gone out)
    to_acknowledge: timedelta | None
    to_resolve: timedelta | None
    alerted: bool = True  # chaosbot raised its own alert (so there was something to acknowledge)
    detection: Detection | None = None  # whether the team's monitoring noticed


@dataclass(frozen=True)
class UpcomingGameDay:
    key: str
    starts_at: datetime
    status: GameDayStatus


@dataclass
class ServiceFacts:
    id: int
    name: str
    tier: int
    team_id: int
    owners: list[str] = field(default_factory=list)
    suite: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    last_passed_gameday: datetime | None = None
    last_gameday_failed_at: datetime | None = None
    open_findings: dict[Severity, int] = field(default_factory=dict)
    critical_open_since: list[datetime] = field(default_factory=list)
    overdue_action_items: int = 0
    drills: list[DrillTimes] = field(default_factory=list)
    upcoming: list[UpcomingGameDay] = field(default_factory=list)

    def evidence(self, categories: Mapping[str, str]) -> Evidence:
        passed: dict[str, datetime] = {}
        for verdict in self.verdicts:
            category = categories.get(verdict.experiment)
            if verdict.passed and category and verdict.at > passed.get(category, _EPOCH):
                passed[category] = verdict.at
        return Evidence(
            tier=self.tier,
            last_passed_gameday=self.last_passed_gameday,
            last_gameday_failed_at=self.last_gameday_failed_at,
            categories_passed=passed,
            critical_open_since=tuple(self.critical_open_since),
            overdue_action_items=self.overdue_action_items,
        )


@dataclass
class Landscape:
    """The facts of every live service, by team."""

    now: datetime
    teams: dict[int, Team]
    services: dict[int, ServiceFacts]
    risks: dict[str, str]
    categories: dict[str, str]

    def of_team(self, team_id: int) -> list[ServiceFacts]:
        return list(self._by_team.get(team_id, ()))

    @cached_property
    def _by_team(self) -> dict[int, list[ServiceFacts]]:
        """Every team's services by name, grouped once (a digest asks for every team's)."""
        return by_team(self)


def gather(
    session: Session,
    *,
    now: datetime,
    team_ids: Sequence[int] | None = None,
    drills_since: datetime | None = None,
    upcoming_days: int = 14,
) -> Landscape:
    """The facts of the live services (of `team_ids`, or all), as of `now`."""
    catalogue = load_catalogue()
    risks = {t.id: t.risk for t in catalogue}
    categories = {t.id: t.category for t in catalogue}
    team_query = select(Team)
    service_query = select(Service).where(Service.offboarded_at.is_(None))
    if team_ids is not None:
        team_query = team_query.where(Team.id.in_(team_ids))
        service_query = service_query.where(Service.team_id.in_(team_ids))
    teams = {t.id: t for t in session.scalars(team_query)}
    # The columns only: a whole Service (its JSON columns decoded) is not needed here.
    services = {
        service_id: ServiceFacts(id=service_id, name=name, tier=tier, team_id=team_id)
        for service_id, name, tier, team_id in session.execute(
            service_query.with_only_columns(Service.id, Service.name, Service.tier, Service.team_id)
        )
    }
    ids = select(Service.id).where(Service.offboarded_at.is_(None))
    if team_ids is not None:
        ids = ids.where(Service.team_id.in_(team_ids))
    since = now - HISTORY

    for service_id, experiment in session.execute(
        select(SuiteEntry.service_id, SuiteEntry.experiment)
        .where(SuiteEntry.service_id.in_(ids))
        .order_by(SuiteEntry.position)
    ):
        services[service_id].suite.append(experiment)

    for service_id, user in session.execute(
        select(ServiceOwner.service_id, ServiceOwner.slack_user_id).where(
            ServiceOwner.service_id.in_(ids)
        )
    ):
        services[service_id].owners.append(user)

    for service_id, experiment, outcome, finished in session.execute(
        select(Run.service_id, Run.experiment, Run.status, Run.finished_at).where(
            Run.service_id.in_(ids),
            Run.status.in_(list(_VERDICTS)),
            Run.dry_run.is_(False),
            Run.finished_at >= since,
            Run.finished_at <= now,
        )
    ):
        if finished is not None:
            services[service_id].verdicts.append(Verdict(experiment, _VERDICTS[outcome], finished))

    not_passed = func.sum(case((Run.status != RunStatus.COMPLETED, 1), else_=0))
    latest_settled: dict[int, tuple[datetime, bool]] = {}
    for service_id, settled, finished, failures in session.execute(
        select(GameDay.service_id, GameDay.status, GameDay.finished_at, not_passed)
        .join(Run, Run.gameday_id == GameDay.id)
        .where(
            GameDay.service_id.in_(ids),
            GameDay.status.in_([GameDayStatus.COMPLETED, GameDayStatus.HALTED]),
            GameDay.finished_at >= since,
            GameDay.finished_at <= now,
        )
        .group_by(GameDay.id, GameDay.service_id, GameDay.status, GameDay.finished_at)
    ):
        facts = services[service_id]
        if finished is None:
            continue
        passed = settled is GameDayStatus.COMPLETED and not failures
        if passed and (facts.last_passed_gameday is None or finished > facts.last_passed_gameday):
            facts.last_passed_gameday = finished
        known = latest_settled.get(service_id)
        if known is None or finished > known[0]:
            latest_settled[service_id] = (finished, passed)
    for service_id, (finished, passed) in latest_settled.items():
        if not passed:
            services[service_id].last_gameday_failed_at = finished

    for service_id, severity, created in session.execute(
        select(Finding.service_id, Finding.severity, Finding.created_at).where(
            Finding.service_id.in_(ids), Finding.status == FindingStatus.OPEN
        )
    ):
        facts = services[service_id]
        facts.open_findings[severity] = facts.open_findings.get(severity, 0) + 1
        if severity is Severity.CRITICAL:
            facts.critical_open_since.append(created)

    # Overdue: past its due day on the team's clock (the latest any clock may have passed is
    # read, and each team's own day decides).
    for service_id, due_on in session.execute(
        open_items_query()
        .with_only_columns(Finding.service_id, ActionItem.due_on)
        .where(Finding.service_id.in_(ids), ActionItem.due_on <= now.date())
    ):
        facts = services[service_id]
        if due_on < local_today(now, teams[facts.team_id].timezone):
            facts.overdue_action_items += 1

    drills_from = drills_since or now - timedelta(days=7)
    # A drill that waited for the team's monitoring may never have raised chaosbot's alert:
    # it counts from when it started.
    started = func.coalesce(Drill.fired_at, Drill.dispatched_at)
    for (
        service_id,
        drill_key,
        fired,
        begun,
        acknowledged,
        injected,
        resolved,
        detection,
    ) in session.execute(
        select(
            Drill.service_id,
            Drill.key,
            Drill.fired_at,
            started,
            Drill.acknowledged_at,
            Drill.injected_at,
            Drill.resolved_at,
            Drill.detection,
        ).where(
            Drill.service_id.in_(ids),
            Drill.status == DrillStatus.REVEALED,
            started >= drills_from,
            started < now,
        )
    ):
        if begun is None:
            continue
        services[service_id].drills.append(
            DrillTimes(
                key=drill_key,
                fired_at=fired or begun,
                to_acknowledge=acknowledged - fired if acknowledged and fired else None,
                to_resolve=resolved - injected if resolved and injected else None,
                alerted=fired is not None,
                detection=detection,
            )
        )

    for service_id, gameday_key, starts, state in session.execute(
        select(GameDay.service_id, GameDay.key, GameDay.starts_at, GameDay.status)
        .where(
            GameDay.service_id.in_(ids),
            GameDay.status.in_(list(OPEN)),
            GameDay.starts_at >= now,
            GameDay.starts_at < now + timedelta(days=upcoming_days),
        )
        .order_by(GameDay.starts_at)
    ):
        services[service_id].upcoming.append(UpcomingGameDay(gameday_key, starts, state))
    return Landscape(now=now, teams=teams, services=services, risks=risks, categories=categories)


def by_team(landscape: Landscape) -> dict[int, list[ServiceFacts]]:
    grouped: dict[int, list[ServiceFacts]] = defaultdict(list)
    for facts in sorted(landscape.services.values(), key=lambda s: s.name):
        grouped[facts.team_id].append(facts)
    return grouped
