"""What a game day would hit if it ran now: read from the cluster, never written to it.

The approval message shows it, so owners approve targets, not just experiment names. Pods are
picked when each experiment runs, so the preview names the candidates and how many of them
would be disrupted, with the share checked against the service's blast-radius cap and the
platform's maximum for its environment (the same rule preflight enforces), and says which
experiments disrupt every pod by design.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.catalog.cluster import ClusterView, PodReport, WorkloadReport
from bot.catalog.models import Service
from bot.config import BlastRadiusLimits
from bot.errors import ChaosbotError
from bot.library.catalogue import Catalogue, ExperimentTemplate, load_catalogue
from bot.library.reach import affected_pods
from bot.runs.flows import render_for
from bot.runs.preflight import blast_radius_refusal

__all__ = ["discover_targets", "preview_from", "preview_gameday"]

PREVIEW_RUN_ID = "preview"
SHOWN_TARGETS = 6


def preview_gameday(
    service: Service,
    experiments: Sequence[str],
    *,
    cluster: ClusterView,
    default_context: str | None,
    hold_seconds: float,
    max_blast_radius: BlastRadiusLimits,
    now: datetime,
) -> dict[str, Any]:
    """The preview stored on the game day (JSON): per experiment, targets, blast radius (and
    whether it disrupts every pod by design) and the rollback plan; `error` when the cluster
    could not be asked."""
    report, error = discover_targets(
        cluster,
        context=service.cluster_context or default_context,
        namespace=service.namespace,
        selector=service.selector,
    )
    return preview_from(
        service,
        experiments,
        report,
        error=error,
        default_context=default_context,
        hold_seconds=hold_seconds,
        max_blast_radius=max_blast_radius,
        now=now,
    )


def discover_targets(
    cluster: ClusterView, *, context: str | None, namespace: str, selector: str
) -> tuple[WorkloadReport | None, str | None]:
    """The cluster's part of a preview, alone (it may be asked apart, within a budget): what
    it says about the pods, or why it could not say."""
    try:
        return cluster.discover(context=context, namespace=namespace, selector=selector), None
    except ChaosbotError as exc:
        return None, str(exc)


def preview_from(
    service: Service,
    experiments: Sequence[str],
    report: WorkloadReport | None,
    *,
    error: str | None,
    default_context: str | None,
    hold_seconds: float,
    max_blast_radius: BlastRadiusLimits,
    now: datetime,
    pending: str | None = None,
    catalogue: Catalogue | None = None,
) -> dict[str, Any]:
    """The preview made of what the cluster said (`report`, or the `error` why it said
    nothing). `pending`: the cluster has not answered yet; the preview says so and names this
    token, which the late answer must name to replace it (gamedays.decisions.record_preview)."""
    catalogue = catalogue or load_catalogue()
    pods = list(report.pods) if report else []
    entries = []
    for experiment in experiments:
        template = catalogue.get(experiment)
        parameters, document = render_for(
            service,
            template,
            overrides={},
            run_id=PREVIEW_RUN_ID,
            hold_seconds=hold_seconds,
            default_context=default_context,
        )
        entry: dict[str, Any] = {
            "experiment": template.id,
            "title": template.title,
            "category": template.category,
            "risk": template.risk,
            "every_pod": template.every_pod,
            "rollbacks": [str(r.get("name", "")) for r in document.get("rollbacks") or []],
        }
        if report is not None:
            entry.update(_targets(template, parameters, pods, service, max_blast_radius))
        entries.append(entry)
    return {
        "taken_at": now.isoformat(),
        **({"pending": pending} if pending is not None else {}),
        "pods": len(pods),
        "ready": sum(1 for p in pods if p.ready),
        "error": error,
        "experiments": entries,
    }


def _targets(
    template: ExperimentTemplate,
    parameters: dict[str, Any],
    pods: list[PodReport],
    service: Service,
    limits: BlastRadiusLimits,
) -> dict[str, Any]:
    live = len(pods)
    # The share preflight will check (experiments without count/percent count every pod).
    affected = affected_pods(parameters, live)
    if template.category == "nodes":
        nodes = sorted({p.node for p in pods if p.node})
        count = min(int(parameters.get("nodes") or 1), len(nodes))
        hit = _most_loaded(pods, nodes, count, key=lambda p: p.node)
        targets = f"{count} of the {len(nodes)} nodes running its pods"
        candidates = [f"{n} ({_pods_on(pods, n, lambda p: p.node)} pods)" for n in nodes]
    elif template.category == "zones":
        zones = sorted({p.zone for p in pods if p.zone})
        chosen = str(parameters.get("zone") or "") or (
            Counter(p.zone for p in pods if p.zone).most_common(1)[0][0] if zones else ""
        )
        hit = sum(1 for p in pods if p.zone == chosen)
        targets = f"zone {chosen}" if chosen else "no zone: its nodes have no zone label"
        candidates = [f"{z} ({_pods_on(pods, z, lambda p: p.zone)} pods)" for z in zones]
    else:
        hit = affected
        targets = f"{hit} of {live} pods, picked when it runs"
        candidates = [
            f"{p.name} on {p.node or 'no node'}" + (f" ({p.zone})" if p.zone else "") for p in pods
        ]
    cap, maximum = service.blast_radius_percent, limits.of(service.environment)
    refusal = None
    if live:
        refusal = blast_radius_refusal(
            affected=affected,
            live=live,
            cap=cap,
            maximum=maximum,
            environment=service.environment.value,
        )
    return {
        "targets": targets,
        "candidates": candidates[:SHOWN_TARGETS],
        "more": max(0, len(candidates) - SHOWN_TARGETS),
        "pods_hit": hit,
        "share": round(100 * affected / live) if live else 0,
        "within_cap": live > 0 and refusal is None,
        "cap": min(cap, maximum),
        # The platform's maximum for the environment, not the service's cap, is the limit.
        "cap_is_platform_maximum": maximum < cap,
        "refusal": refusal,
    }


def _pods_on(pods: list[PodReport], value: str, key: Any) -> int:
    return sum(1 for p in pods if key(p) == value)


def _most_loaded(pods: list[PodReport], values: list[str], count: int, *, key: Any) -> int:
    """Pods on the `count` values (nodes) holding the most of them: the worst case."""
    loads = sorted((_pods_on(pods, v, key) for v in values), reverse=True)
    return sum(loads[:count])
