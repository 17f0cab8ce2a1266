"""The checks between a run and the cluster, enforced in code right before injection."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.alerts.gate import FiringAlerts, alert_refusal
from bot.catalog.models import Environment, Service
from bot.catalog.namespaces import foreign_namespace_problem
from bot.catalog.service import sharing_services
from bot.catalog.spec import Alerting
from bot.config import BlastRadiusLimits
from bot.library.reach import affected_pods
from bot.runs.models import Run
from bot.runs.service import freezes_covering, kill_switch_engaged
from bot.runs.states import ACTIVE

__all__ = ["PreflightPolicy", "blast_radius_refusal", "check_preflight"]

_SERVICE_CAP = "the service's blast radius cap (Edit, or blastRadiusPercent in chaos.yaml)"


class PreflightPolicy(Protocol):
    """The platform settings preflight reads (bot.config.Settings is one)."""

    @property
    def allowed_namespaces(self) -> frozenset[str]: ...

    @property
    def allow_production(self) -> bool: ...

    @property
    def max_runs_per_cluster(self) -> int: ...

    @property
    def max_blast_radius_percent(self) -> BlastRadiusLimits: ...


class LivePods(Protocol):
    def running_pods(
        self, *, context: str | None, namespace: str, selector: str
    ) -> frozenset[str]: ...


def check_preflight(
    *,
    session: Session,
    run: Run,
    cluster: LivePods,
    policy: PreflightPolicy,
    now: datetime,
    alerts: FiringAlerts | None = None,
) -> list[str]:
    """Every reason the run may not inject now; empty means go.

    `alerts` is the team's Alertmanager (None when the platform has none): a run of a service
    that names its alerts (spec.alerting) does not start while one of them fires.
    """
    service = run.service
    refusals: list[str] = []
    if run.abort_requested_at is not None:
        refusals.append(f"abort requested by {run.abort_requested_by}")
    if service.namespace not in policy.allowed_namespaces:
        refusals.append(f"namespace {service.namespace} is not in CHAOSBOT_ALLOWED_NAMESPACES")
    foreign = foreign_namespace_problem(
        session=session, namespace=service.namespace, team_id=service.team_id
    )
    if foreign is not None:
        refusals.append(foreign)
    if service.environment is Environment.PRODUCTION and not (
        policy.allow_production and service.production_allowed
    ):
        refusals.append("production runs are not allowed for this service")
    switch = kill_switch_engaged(session=session)
    if switch is not None:
        refusals.append(f"the kill switch is engaged by {switch.changed_by}: {switch.reason}")
    for freeze in freezes_covering(session=session, team_id=service.team_id, at=now):
        refusals.append(f"frozen until {freeze.ends_at:%Y-%m-%d %H:%M} UTC: {freeze.reason}")
    firing = alert_refusal(alerts, Alerting.from_document(service.alerting).matchers)
    if firing is not None:
        refusals.append(firing)
    others = (
        select(func.count()).select_from(Run).where(Run.status.in_(list(ACTIVE)), Run.id != run.id)
    )
    if session.scalar(others.where(Run.service_id == run.service_id)):
        refusals.append(f"another run of {service.name} is in progress")
    same_cluster = (
        Run.cluster_context.is_(None)
        if run.cluster_context is None
        else Run.cluster_context == run.cluster_context
    )
    if (session.scalar(others.where(same_cluster)) or 0) >= policy.max_runs_per_cluster:
        refusals.append(
            f"{policy.max_runs_per_cluster} runs are already in progress on this cluster"
        )
    if not refusals:
        refusals.extend(_shared_pods(session, run, cluster, policy.max_blast_radius_percent))
    return refusals


def _shared_pods(
    session: Session, run: Run, cluster: LivePods, limits: BlastRadiusLimits
) -> list[str]:
    """Refusals about the pods themselves: another service selecting them, a run of that
    service under way, and the blast radius counted over every service that selects them
    (so a second service over the same pods escapes neither the cap nor one run at a time)."""
    service = run.service

    def pods_of(other: Service) -> frozenset[str]:
        return cluster.running_pods(
            context=other.cluster_context, namespace=other.namespace, selector=other.selector
        )

    pods = cluster.running_pods(
        context=run.cluster_context, namespace=service.namespace, selector=service.selector
    )
    if not pods:
        return [f"no pod matches {service.selector} in {service.namespace}"]
    sharing = sharing_services(
        session=session,
        name=service.name,
        context=service.cluster_context,
        namespace=service.namespace,
        pods=pods,
        pods_of=pods_of,
    )
    refusals = [
        f"its pods are also selected by service {other.name} (team {other.team.name}): two "
        "services may not select the same pods"
        for other, _shared in sharing
    ]
    busy = session.scalars(
        select(Run.id).where(
            Run.status.in_(list(ACTIVE)),
            Run.id != run.id,
            Run.service_id.in_([other.id for other, _shared in sharing]),
        )
    ).first()
    if busy is not None:
        refusals.append("a run of a service that selects the same pods is in progress")
    live = len(pods.union(*(pods_of(other) for other, _shared in sharing)))
    refusal = blast_radius_refusal(
        affected=affected_pods(run.parameters, live),
        live=live,
        cap=min([service.blast_radius_percent] + [o.blast_radius_percent for o, _ in sharing]),
        maximum=limits.of(service.environment),
        environment=service.environment.value,
    )
    return refusals + ([refusal] if refusal else [])


def blast_radius_refusal(
    *, affected: int, live: int, cap: int, maximum: int, environment: str
) -> str | None:
    """Why disrupting `affected` of `live` pods is refused, naming the setting that would allow
    it; None when it is within both the service's cap and the platform's maximum."""
    if 100 * affected <= min(cap, maximum) * live:  # in whole numbers
        return None
    needed = -(-100 * affected // live)  # the smallest cap that allows it
    head = f"it would disrupt {affected} of {live} pods ({100 * affected / live:.0f}%)"
    platform = f"the platform maximum for {environment}"
    if cap <= maximum:
        text = f"{head}, above the service's cap of {cap}%: raise {_SERVICE_CAP} to {needed}"
        if needed > maximum:
            text += (
                f", but {platform} is {maximum}% ({BlastRadiusLimits.SETTING}), which the "
                f"platform team would have to raise to {needed} first"
            )
        return text
    text = (
        f"{head}, above {platform} of {maximum}% ({BlastRadiusLimits.SETTING}), which is below "
        f"the service's own cap of {cap}%: the platform team would have to raise it to {needed}"
    )
    if needed > cap:
        text += f", and the owners {_SERVICE_CAP} to {needed}"
    return text
