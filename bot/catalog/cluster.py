"""What the catalogue needs to know from a cluster, as plain data and one small port.

The Kubernetes adapter (bot/k8s/cluster.py) implements `ClusterView`; the catalogue, the risk
assessment and the tests of both only see these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.catalog.spec import WorkloadRef
from bot.errors import ChaosbotError

__all__ = [
    "ClusterUnreachable",
    "ClusterView",
    "ContainerReport",
    "PodReport",
    "WorkloadNotFound",
    "WorkloadReport",
]


class ClusterUnreachable(ChaosbotError):
    """The cluster (or that context of the kubeconfig) cannot be reached or refused us."""

    def __init__(self, context: str | None, reason: str) -> None:
        self.context = context
        self.reason = reason
        where = f"cluster context {context}" if context else "the default cluster"
        super().__init__(f"could not reach {where}: {reason}")


class WorkloadNotFound(ChaosbotError):
    """The named Deployment or StatefulSet does not exist in the namespace."""

    def __init__(self, workload: WorkloadRef, namespace: str) -> None:
        self.workload = workload
        self.namespace = namespace
        super().__init__(f"there is no {workload.kind} called {workload.name} in {namespace}")


@dataclass(frozen=True, kw_only=True)
class ContainerReport:
    """One container of the workload's pod template, as far as resilience is concerned."""

    name: str
    readiness_probe: bool
    liveness_probe: bool
    cpu_request: str | None
    memory_request: str | None
    cpu_limit: str | None
    memory_limit: str | None


@dataclass(frozen=True, kw_only=True)
class PodReport:
    """One pod matched by the service's selector."""

    name: str
    node: str | None
    zone: str | None
    phase: str
    ready: bool


@dataclass(frozen=True, kw_only=True)
class WorkloadReport:
    """What the cluster says about a service's pods right now."""

    namespace: str
    selector: str
    workload: WorkloadRef | None
    desired_replicas: int | None
    pods: tuple[PodReport, ...]
    containers: tuple[ContainerReport, ...]
    pdbs: tuple[str, ...] = field(default_factory=tuple)
    pdb_disruptions_allowed: int | None = None

    @property
    def zones(self) -> tuple[str, ...]:
        """The distinct zones the pods run in (pods on nodes without a zone label excluded)."""
        return tuple(sorted({p.zone for p in self.pods if p.zone}))

    @property
    def ready_pods(self) -> int:
        return sum(1 for p in self.pods if p.ready)


class ClusterView(Protocol):
    """Read-only questions the catalogue asks a cluster."""

    def list_workloads(self, *, context: str | None, namespace: str) -> list[WorkloadRef]:
        """Deployments and StatefulSets in the namespace, by kind then name."""
        ...

    def resolve_selector(
        self, *, context: str | None, namespace: str, workload: WorkloadRef
    ) -> str:
        """The label selector of the workload's pods (from its spec.selector)."""
        ...

    def pod_names(self, *, context: str | None, namespace: str, selector: str) -> frozenset[str]:
        """The names of the pods the selector matches in the namespace."""
        ...

    def discover(self, *, context: str | None, namespace: str, selector: str) -> WorkloadReport:
        """Everything WorkloadReport holds, for the pods the selector matches."""
        ...
