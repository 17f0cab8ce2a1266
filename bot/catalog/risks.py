"""What a service's shape in the cluster says about its resilience, and what to try first."""

from __future__ import annotations

from dataclasses import dataclass

from bot.catalog.cluster import WorkloadReport

__all__ = ["Risk", "Suggestion", "assess", "suggest"]


@dataclass(frozen=True)
class Risk:
    """A weakness visible from the cluster, named so that a team can fix or test it."""

    key: str
    summary: str


@dataclass(frozen=True)
class Suggestion:
    """An experiment of the library worth running first, and why for this service."""

    experiment: str
    why: str


# The experiment each risk is best exposed by, and the sentence that says why.
_SUGGESTION_FOR_RISK: dict[str, Suggestion] = {
    "single-replica": Suggestion(
        "pod-kill",
        "with one replica, losing its pod is an outage: measure how long until it is back",
    ),
    "no-pdb": Suggestion(
        "node-drain",
        "without a PodDisruptionBudget a node drain may evict every replica at once",
    ),
    "no-readiness-probe": Suggestion(
        "pod-kill",
        "without a readiness probe, restarted pods get traffic before they can serve it",
    ),
    "no-memory-limit": Suggestion(
        "memory-pressure",
        "without a memory limit, one leak can starve the node and its neighbours",
    ),
    "single-zone": Suggestion(
        "zone-outage", "every pod is in one zone: a zone outage takes the whole service down"
    ),
}
_DEFAULTS = (
    Suggestion("pod-kill", "pods die in every cluster; check the service does not notice"),
    Suggestion(
        "upstream-latency", "slow dependencies are the commonest cause of cascading failure"
    ),
    Suggestion("cpu-pressure", "shows whether latency stays in budget when CPU is contended"),
)


def assess(report: WorkloadReport) -> list[Risk]:
    """The risks visible in the report, most severe first."""
    risks: list[Risk] = []
    replicas = report.desired_replicas if report.desired_replicas is not None else len(report.pods)
    if replicas <= 1:
        risks.append(Risk("single-replica", f"single replica ({replicas} desired)"))
    if len(report.zones) == 1 and len(report.pods) > 1:
        risks.append(Risk("single-zone", f"all pods in one zone ({report.zones[0]})"))
    if not report.pdbs:
        risks.append(Risk("no-pdb", "no PodDisruptionBudget"))
    missing_readiness = [c.name for c in report.containers if not c.readiness_probe]
    if missing_readiness:
        risks.append(
            Risk("no-readiness-probe", f"no readiness probe on {', '.join(missing_readiness)}")
        )
    missing_limit = [c.name for c in report.containers if not c.memory_limit]
    if missing_limit:
        risks.append(Risk("no-memory-limit", f"no memory limit on {', '.join(missing_limit)}"))
    return risks


def suggest(risks: list[Risk], *, count: int = 3) -> list[Suggestion]:
    """`count` distinct experiments: those that expose the risks first, then good defaults."""
    chosen: list[Suggestion] = []
    for candidate in [_SUGGESTION_FOR_RISK[r.key] for r in risks] + list(_DEFAULTS):
        if all(c.experiment != candidate.experiment for c in chosen):
            chosen.append(candidate)
        if len(chosen) == count:
            break
    return chosen
