"""The checks between a run and the cluster, enforced in code right before injection."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.catalog.models import Environment
from bot.runs.models import Run
from bot.runs.service import freezes_covering, kill_switch_engaged
from bot.runs.states import ACTIVE

__all__ = ["PreflightPolicy", "affected_pods", "check_preflight"]


class PreflightPolicy(Protocol):
    """The platform settings preflight reads (bot.config.Settings is one)."""

    @property
    def allowed_namespaces(self) -> frozenset[str]: ...

    @property
    def allow_production(self) -> bool: ...

    @property
    def max_runs_per_cluster(self) -> int: ...


class LivePods(Protocol):
    def live_pods(self, run: Run) -> int: ...


def affected_pods(parameters: dict[str, Any], live: int) -> int:
    """How many of the service's pods a run disrupts, from its percent/count parameters.

    Experiments without either act on every matched pod (a latency or a policy on the
    service), so they count as all of them.
    """
    percent = parameters.get("percent")
    if isinstance(percent, int | float) and percent > 0:
        return min(live, math.ceil(live * float(percent) / 100))
    if isinstance(parameters.get("count"), int):
        return min(live, int(parameters["count"]))
    return live


def check_preflight(
    *, session: Session, run: Run, cluster: LivePods, policy: PreflightPolicy, now: datetime
) -> list[str]:
    """Every reason the run may not inject now; empty means go."""
    service = run.service
    refusals: list[str] = []
    if run.abort_requested_at is not None:
        refusals.append(f"abort requested by {run.abort_requested_by}")
    if service.namespace not in policy.allowed_namespaces:
        refusals.append(f"namespace {service.namespace} is not in CHAOSBOT_ALLOWED_NAMESPACES")
    if service.environment is Environment.PRODUCTION and not (
        policy.allow_production and service.production_allowed
    ):
        refusals.append("production runs are not allowed for this service")
    switch = kill_switch_engaged(session=session)
    if switch is not None:
        refusals.append(f"the kill switch is engaged by {switch.changed_by}: {switch.reason}")
    for freeze in freezes_covering(session=session, team_id=service.team_id, at=now):
        refusals.append(f"frozen until {freeze.ends_at:%Y-%m-%d %H:%M} UTC: {freeze.reason}")
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
        refusals.extend(_blast_radius(run, cluster))
    return refusals


def _blast_radius(run: Run, cluster: LivePods) -> list[str]:
    live = cluster.live_pods(run)
    if live == 0:
        return [f"no pod matches {run.service.selector} in {run.service.namespace}"]
    affected = affected_pods(run.parameters, live)
    share = 100 * affected / live
    cap = run.service.blast_radius_percent
    if share > cap:
        return [
            f"it would disrupt {affected} of {live} pods ({share:.0f}%), above the service's cap of {cap}%"
        ]
    return []
