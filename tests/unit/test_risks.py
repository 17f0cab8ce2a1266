from __future__ import annotations

from bot.catalog.cluster import ContainerReport, PodReport, WorkloadReport
from bot.catalog.risks import assess, suggest
from bot.catalog.spec import WorkloadRef

HEALTHY = ContainerReport(
    name="app",
    readiness_probe=True,
    liveness_probe=True,
    cpu_request="100m",
    memory_request="128Mi",
    cpu_limit="1",
    memory_limit="256Mi",
)


def _bare(*, liveness_probe: bool) -> ContainerReport:
    """A container with no readiness probe, requests or limits."""
    return ContainerReport(
        name="app",
        readiness_probe=False,
        liveness_probe=liveness_probe,
        cpu_request=None,
        memory_request=None,
        cpu_limit=None,
        memory_limit=None,
    )


def _report(
    *,
    zones: list[str],
    replicas: int | None = None,
    containers: tuple[ContainerReport, ...] = (HEALTHY,),
    pdbs: tuple[str, ...] = ("app",),
) -> WorkloadReport:
    pods = tuple(
        PodReport(name=f"app-{i}", node=f"n{i}", zone=z, phase="Running", ready=True)
        for i, z in enumerate(zones)
    )
    return WorkloadReport(
        namespace="payments",
        selector="app=app",
        workload=WorkloadRef(kind="Deployment", name="app"),
        desired_replicas=len(pods) if replicas is None else replicas,
        pods=pods,
        containers=containers,
        pdbs=pdbs,
    )


def test_a_well_built_service_has_no_risks_and_gets_the_default_suggestions() -> None:
    report = _report(zones=["a", "b", "c"])
    assert assess(report) == []
    assert [s.experiment for s in suggest([])] == ["pod-kill", "upstream-latency", "cpu-pressure"]


def test_every_listed_risk_is_named() -> None:
    bare = _bare(liveness_probe=False)
    report = _report(zones=["a"], containers=(bare,), pdbs=())
    keys = [r.key for r in assess(report)]
    assert keys == ["single-replica", "no-pdb", "no-readiness-probe", "no-memory-limit"]


def test_pods_all_in_one_zone_are_a_risk_and_suggest_a_zone_outage() -> None:
    risks = assess(_report(zones=["eu-1a", "eu-1a", "eu-1a"]))
    assert [r.summary for r in risks] == ["all pods in one zone (eu-1a)"]
    assert suggest(risks)[0].experiment == "zone-outage"


def test_suggestions_are_three_distinct_experiments_led_by_the_risks() -> None:
    bare = _bare(liveness_probe=True)
    risks = assess(_report(zones=["a"], containers=(bare,), pdbs=()))
    chosen = [s.experiment for s in suggest(risks)]
    assert chosen == ["pod-kill", "node-drain", "memory-pressure"]
    assert all(s.why for s in suggest(risks))
