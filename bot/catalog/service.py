"""Reads and writes of the service catalogue. No Slack, no Kubernetes: plain rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session, selectinload

from bot.audit.service import Subject
from bot.catalog.access import can_manage, may_join_team, may_manage_team
from bot.catalog.models import (
    DEFAULT_TIMEZONE,
    Member,
    Role,
    Service,
    ServiceOwner,
    SuiteEntry,
    Team,
)
from bot.catalog.namespaces import claim_namespace, foreign_namespace_problem
from bot.catalog.spec import (
    DEFAULT_DURATION_MINUTES,
    DEFAULT_MEAN_DAYS_BETWEEN,
    DEFAULT_MIN_SPACING_HOURS,
    SLACK_USER,
    Alerting,
    BlindWindow,
    FieldError,
    HttpProbe,
    ServiceSpec,
    SpecInvalid,
    SteadyStateWatch,
    WorkloadRef,
    parse_freeze_window,
    probe_from_stored,
    stored_probes,
    to_document,
)
from bot.catalog.spec import SuiteEntry as SuiteEntrySpec
from bot.errors import ChaosbotError
from bot.load.profile import LoadProfile

__all__ = [
    "NotAllowed",
    "SaveResult",
    "ServiceNotFound",
    "blind_window_of",
    "can_manage",
    "diff_documents",
    "find_service",
    "list_services",
    "list_teams",
    "offboard_service",
    "record_service_change",
    "save_service",
    "sharing_services",
    "spec_of",
    "team_of_channel",
]


class ServiceNotFound(ChaosbotError):
    """No (active) service has that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"There is no service called `{name}`. `/chaos services` lists them.")


class NotAllowed(ChaosbotError):
    """The person may not do this to this service."""

    def __init__(self, action: str, service: str) -> None:
        super().__init__(f"Only the owners of `{service}` (or its team's admins) can {action} it.")


@dataclass(frozen=True)
class SaveResult:
    """What saving a declaration did."""

    service_id: int
    created: bool
    changes: list[str] = field(default_factory=list)


def find_service(*, session: Session, name: str, offboarded: bool = False) -> Service:
    """The active service called `name` (or offboarded, when `offboarded`), or ServiceNotFound."""
    query = select(Service).where(Service.name == name)
    if not offboarded:
        query = query.where(Service.offboarded_at.is_(None))
    service = session.scalar(
        query.options(selectinload(Service.owners), selectinload(Service.suite))
    )
    if service is None:
        raise ServiceNotFound(name)
    return service


def list_services(*, session: Session, team: str | None = None) -> Sequence[Service]:
    """Active services, by team then name; only one team's when `team` is given."""
    query = (
        select(Service)
        .join(Service.team)
        .where(Service.offboarded_at.is_(None))
        .options(selectinload(Service.owners), selectinload(Service.team))
        .order_by(Team.name, Service.name)
    )
    if team is not None:
        query = query.where(Team.name == team)
    return session.scalars(query).all()


def list_teams(*, session: Session) -> Sequence[Team]:
    """Every team, by name."""
    return session.scalars(select(Team).order_by(Team.name)).all()


def team_of_channel(*, session: Session, channel_id: str) -> Team | None:
    """The team whose channel this is, if any (the first by name when teams share one)."""
    return session.scalars(
        select(Team).where(Team.slack_channel_id == channel_id).order_by(Team.name).limit(1)
    ).first()


def sharing_services(
    *,
    session: Session,
    name: str,
    context: str | None,
    namespace: str,
    pods: frozenset[str],
    pods_of: Callable[[Service], frozenset[str]],
) -> list[tuple[Service, frozenset[str]]]:
    """The other active services of the cluster's namespace that select any of `pods`, each
    with the pods it shares (the one rule onboarding and preflight both apply)."""
    # No context is the default one, which may be any named one: compare those too (pod names
    # carry random suffixes, so pods of two clusters do not share names by chance).
    same_cluster = (
        true()
        if context is None
        else or_(Service.cluster_context.is_(None), Service.cluster_context == context)
    )
    others = session.scalars(
        select(Service)
        .where(
            Service.namespace == namespace,
            Service.name != name,
            Service.offboarded_at.is_(None),
            same_cluster,
        )
        .options(selectinload(Service.team))
        .order_by(Service.name)
    )
    found = []
    for other in others:
        shared = pods & pods_of(other)
        if shared:
            found.append((other, shared))
    return found


def spec_of(service: Service) -> ServiceSpec:
    """The declaration a stored service corresponds to (what `chaosbot export` writes)."""
    stored = [probe_from_stored(entry) for entry in service.probes or ()]
    return ServiceSpec(
        name=service.name,
        team=service.team.name,
        team_channel=service.team.slack_channel_id,
        team_timezone=service.team.timezone,
        tier=service.tier,
        environment=service.environment,
        cluster=service.cluster_context,
        namespace=service.namespace,
        workload=(
            WorkloadRef(kind=service.workload_kind, name=service.workload_name)
            if service.workload_kind and service.workload_name
            else None
        ),
        selector=None if service.workload_kind else service.selector,
        owners=tuple(o.slack_user_id for o in service.owners),
        approvers=tuple(service.approvers),
        probes=tuple(p for p, steady in stored if not steady and isinstance(p, HttpProbe)),
        steady_state=SteadyStateWatch.from_document(
            service.steady_state, probes=[p for p, steady in stored if steady]
        ),
        # A service that names no alerts exports none (and applying that keeps none).
        alerting=Alerting.from_document(service.alerting) if service.alerting else None,
        blast_radius_percent=service.blast_radius_percent,
        blind=blind_window_of(service),
        suite=tuple(
            SuiteEntrySpec(
                experiment=e.experiment,
                parameters=e.parameters,
                load=LoadProfile.from_document(e.load) if e.load else None,
            )
            for e in service.suite
        ),
    )


def save_service(
    *,
    session: Session,
    spec: ServiceSpec,
    selector: str,
    actor: str,
    now: datetime,
    create_only: bool = False,
    platform_admins: frozenset[str] = frozenset(),
) -> SaveResult:
    """Create the service, or bring an existing one in line with the declaration.

    `selector` is the label selector the service's pods are found by (resolved from the
    workload when the declaration names one). With `create_only`, an existing service is an
    error on the `name` field (the onboarding modal); otherwise it is updated (chaos.yaml).
    """
    existing = session.scalar(select(Service).where(Service.name == spec.name))
    active = existing is not None and existing.offboarded_at is None
    if existing is not None and active and create_only:
        raise SpecInvalid(
            [FieldError("name", f"a service called {spec.name} is already registered")]
        )
    # Read before anything changes (the team's channel and timezone too), so the diff shows
    # every change.
    before = to_document(spec_of(existing)) if existing is not None and active else {}
    previously_updated = existing.updated_at if existing is not None else None
    if existing is not None and active and existing.team.name != spec.team:
        raise SpecInvalid([FieldError("team", f"{spec.name} belongs to team {existing.team.name}")])
    known_team = session.scalar(select(Team).where(Team.name == spec.team))
    if (
        known_team is not None
        and not active
        and SLACK_USER.fullmatch(actor)  # a person; the CLI's `cli:NAME` is the platform's
        and not may_join_team(
            session=session, team=known_team, user_id=actor, admins=platform_admins
        )
    ):
        raise SpecInvalid(
            [
                FieldError(
                    "team",
                    f"only members of team {known_team.name} (or platform admins) can add "
                    "services to it: ask one of its admins to add you (`/chaos team "
                    f"{known_team.name}`)",
                )
            ]
        )
    foreign = foreign_namespace_problem(
        session=session,
        namespace=spec.namespace,
        team_id=known_team.id if known_team is not None else None,
    )
    if foreign is not None:
        raise SpecInvalid([FieldError("namespace", foreign)])
    team = _team(session, spec, actor=actor, admins=platform_admins, now=now)
    service = existing or Service(name=spec.name, created_at=now)
    _apply(service, spec, team, selector, now)
    if existing is None:
        session.add(service)
    session.flush()
    claim_namespace(session=session, namespace=spec.namespace, team=team, actor=actor, now=now)
    after = to_document(spec_of(service))
    changes = diff_documents(before, after) if before else []
    created = not before
    if not created and not changes and previously_updated is not None:
        service.updated_at = previously_updated  # an unchanged declaration is not an update
    if created or changes:
        action = "service.onboarded" if created else "service.updated"
        record_service_change(session, service, actor, now, action, {"changes": changes})
    return SaveResult(service_id=service.id, created=created, changes=changes)


def offboard_service(*, session: Session, service: Service, actor: str, now: datetime) -> None:
    """Retire a service: no more experiments or drills, its history kept."""
    service.offboarded_at = now
    service.updated_at = now
    record_service_change(session, service, actor, now, "service.offboarded")


def record_service_change(
    session: Session,
    service: Service,
    actor: str,
    now: datetime,
    action: str,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Add the audit event of a change to the service (its name, then `detail`)."""
    Subject("service", service.id, {"name": service.name}).record(
        session, actor, now, action, detail
    )


def diff_documents(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[str]:
    """Human-readable differences between two declarations, one line per changed field."""
    lines: list[str] = []
    for key in sorted(
        set(before) | set(after), key=lambda k: (list(after) + list(before)).index(k)
    ):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        path = f"{prefix}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            lines.extend(diff_documents(old, new, f"{path}."))
        else:
            lines.append(f"{path}: {_show(old)} -> {_show(new)}")
    return lines


def _show(value: Any) -> str:
    return "(none)" if value is None else repr(value) if isinstance(value, str) else str(value)


def _team(
    session: Session, spec: ServiceSpec, *, actor: str, admins: frozenset[str], now: datetime
) -> Team:
    """The declaration's team: created with its channel (its creator its first admin), or the
    existing one, whose channel only its admins or platform admins may move."""
    team = session.scalar(select(Team).where(Team.name == spec.team))
    if team is not None:
        if spec.team_channel and spec.team_channel != team.slack_channel_id:
            if not may_manage_team(session=session, team=team, user_id=actor, admins=admins):
                raise SpecInvalid(
                    [
                        FieldError(
                            "teamChannel",
                            f"team {team.name} already has a channel; only its admins (or "
                            "platform admins) can move it, so leave this empty to join it",
                        )
                    ]
                )
            team.slack_channel_id = spec.team_channel
        if spec.team_timezone and spec.team_timezone != team.timezone:
            team.timezone = spec.team_timezone
        return team
    if not spec.team_channel:
        raise SpecInvalid(
            [FieldError("teamChannel", f"{spec.team} is a new team: give its Slack channel")]
        )
    team = Team(
        name=spec.team,
        slack_channel_id=spec.team_channel,
        timezone=spec.team_timezone or DEFAULT_TIMEZONE,
        created_at=now,
    )
    session.add(team)
    session.flush()
    for owner in spec.owners:
        team.members.append(Member(slack_user_id=owner, role=Role.OWNER))
    if SLACK_USER.fullmatch(actor):  # not the CLI's `cli:NAME`
        team.members.append(Member(slack_user_id=actor, role=Role.ADMIN))
    return team


def _apply(service: Service, spec: ServiceSpec, team: Team, selector: str, now: datetime) -> None:
    service.team = team
    service.tier = spec.tier
    service.environment = spec.environment
    service.cluster_context = spec.cluster
    service.namespace = spec.namespace
    service.selector = selector
    service.workload_kind = spec.workload.kind if spec.workload else None
    service.workload_name = spec.workload.name if spec.workload else None
    if spec.steady_state is not None:
        steady_probes = list(spec.steady_state.probes)
    else:  # the declaration says nothing of it (the modal): keep the stored steady state
        steady_probes = [p for p, steady in map(probe_from_stored, service.probes or ()) if steady]
    service.probes = stored_probes(spec.probes, steady_probes)
    if spec.steady_state is not None or service.steady_state is None:
        service.steady_state = (spec.steady_state or SteadyStateWatch()).settings_document()
    if spec.alerting is not None:
        service.alerting = spec.alerting.as_document()
    service.blast_radius_percent = spec.blast_radius_percent
    service.blind_enabled = spec.blind is not None
    service.blind_window = spec.blind.as_document() if spec.blind else None
    service.offboarded_at = None
    service.updated_at = now
    service.approvers = list(spec.approvers)
    wanted = list(spec.owners)
    service.owners[:] = [o for o in service.owners if o.slack_user_id in wanted]
    have = {o.slack_user_id for o in service.owners}
    service.owners.extend(ServiceOwner(slack_user_id=u) for u in wanted if u not in have)
    if spec.suite is not None:
        _replace_suite(service, spec.suite)


def _replace_suite(service: Service, suite: tuple[SuiteEntrySpec, ...]) -> None:
    by_experiment = {e.experiment: e for e in service.suite}
    service.suite[:] = []
    for position, entry in enumerate(suite):
        row = by_experiment.get(entry.experiment) or SuiteEntry(experiment=entry.experiment)
        row.parameters = dict(entry.parameters)
        row.load = entry.load.as_document() if entry.load else None
        row.position = position
        service.suite.append(row)


def blind_window_of(service: Service) -> BlindWindow | None:
    """The service's blind-drill opt-in, or None when it has not opted in.

    A row stored before the opt-in had experiments, a frequency, a spacing, holidays and a
    duration reads with their defaults, and no experiments (so it is never drilled).
    """
    window = service.blind_window
    if not service.blind_enabled or not window:
        return None
    start, end = window["hours"].split("-")
    return BlindWindow(
        weekdays=tuple(window["weekdays"]),
        start=time.fromisoformat(start),
        end=time.max if end == "24:00" else time.fromisoformat(end),
        timezone=window["timezone"],
        experiments=tuple(window.get("experiments") or ()),
        mean_days_between=window.get("meanDaysBetween", DEFAULT_MEAN_DAYS_BETWEEN),
        min_spacing_hours=window.get("minSpacingHours", DEFAULT_MIN_SPACING_HOURS),
        holiday_country=window.get("holidayCountry"),
        duration_minutes=window.get("durationMinutes", DEFAULT_DURATION_MINUTES),
        freeze_windows=tuple(parse_freeze_window(w) for w in window.get("freezeWindows") or ()),
    )
