"""The `pods` steady-state probe, Chaos Toolkit provider `probe_pods`: how many of a service's
pods are Ready against the replicas its workloads want.

The pods are those the service's label selector matches in its namespace. The replicas wanted
come from the workloads that own them (their controller ownerReferences): a Deployment's
spec.replicas, reached through its ReplicaSets (the two ReplicaSets of a rollout count as their
one Deployment), a StatefulSet's, or a ReplicaSet's own when no Deployment owns it. A pod with no
such controller (a bare pod, or a DaemonSet's or a Job's) stands for itself. A pod is ready when
it is Running with its Ready condition True and is not being deleted: inside its grace period a
terminating pod can still report Ready while it is going away.

The cluster is chosen as every fault chooses it (`bot.faults.kube.Kube`: the `kubernetes`
secrets, then KUBERNETES_CONTEXT / the kubeconfig). The probe only reads, with these API calls
(the RBAC rules it needs):

- list pods in the namespace (`GET /api/v1/namespaces/<ns>/pods?labelSelector=...`);
- get replicasets, deployments and statefulsets (apps/v1) in the namespace, one per owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaoslib.exceptions import ActivityFailed
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from bot.faults.args import as_float, label_selector_object
from bot.faults.kube import DEPLOYMENTS, PODS, REPLICASETS, STATEFULSETS, Kind, Kube, KubeError, Obj
from bot.faults.workloads import is_ready
from bot.probes.readings import pods_reading

__all__ = ["ReadyPods", "count_ready_pods", "probe_pods"]

# The controllers whose spec.replicas say how many pods are wanted, by ownerReference kind.
_WORKLOADS: dict[str, Kind] = {
    "Deployment": DEPLOYMENTS,
    "StatefulSet": STATEFULSETS,
    "ReplicaSet": REPLICASETS,
}


@dataclass(frozen=True, kw_only=True)
class ReadyPods:
    """A service's ready pods against the replicas it wants."""

    ready: int
    desired: int

    @property
    def percent(self) -> float:
        """Ready pods as a percentage of desired (over 100 while a rollout surges)."""
        return round(self.ready * 100 / self.desired, 1) if self.desired else 0.0

    def below(self, minimum: float) -> bool:
        """Whether fewer than `minimum` percent are ready (exactly, not on the rounded percent)."""
        return self.ready * 100 < minimum * self.desired

    def as_output(self) -> dict[str, Any]:
        """The activity's output in the journal."""
        return {"ready": self.ready, "desired": self.desired, "percent": self.percent}


def probe_pods(
    namespace: str,
    label_selector: str,
    min_ready_percent: float = 66,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Count the service's ready pods against its desired replicas; fail below the minimum.

    The output is {"ready", "desired", "percent"}. Fewer than min_ready_percent ready, no pod
    matching the selector, or an API error fails the probe with its reason ("3 of 6 pods ready
    (50%), below 66%").
    """
    minimum = as_float(min_ready_percent, "min_ready_percent")
    if not 0 <= minimum <= 100:
        raise ActivityFailed(f"min_ready_percent must be between 0 and 100, not {minimum:g}")
    label_selector_object(label_selector)  # an empty selector would count the whole namespace
    try:
        counted = count_ready_pods(Kube(secrets), namespace, label_selector)
    except KubeError as error:
        raise ActivityFailed(
            f"Kubernetes API answered {error.status} {error.reason}: {error.message}"
        ) from None
    except (ApiException, ConfigException, HTTPError) as error:
        raise ActivityFailed(
            f"Kubernetes API unreachable: {type(error).__name__}: {error}"
        ) from None
    if counted.below(minimum):
        raise ActivityFailed(
            f"{pods_reading(counted.ready, counted.desired, counted.percent)}, below {minimum:g}%"
        )
    return counted.as_output()


def count_ready_pods(kube: Kube, namespace: str, label_selector: str) -> ReadyPods:
    """The ready pods matching the selector and the replicas their workloads want.

    ActivityFailed when no pod matches, or when the pods' workloads want none.
    """
    pods = kube.list(PODS, namespace, labels=label_selector)
    if not pods:
        raise ActivityFailed(f"no pod in {namespace} matches {label_selector}")
    owners = _Owners(kube, namespace)
    wanted: dict[tuple[str, str], int] = {}
    alone = 0
    for pod in pods:
        workload = owners.workload_of(pod)
        if workload is None:
            alone += 1
        else:
            metadata = workload["metadata"]
            replicas = (workload.get("spec") or {}).get("replicas")
            # The API defaults a missing spec.replicas to 1.
            wanted[(workload["kind"], metadata["name"])] = 1 if replicas is None else int(replicas)
    desired = sum(wanted.values()) + alone
    if desired == 0:
        raise ActivityFailed(
            f"the workloads of the pods matching {label_selector} in {namespace} want 0 replicas"
        )
    ready = sum(1 for p in pods if is_ready(p) and not p["metadata"].get("deletionTimestamp"))
    return ReadyPods(ready=ready, desired=desired)


class _Owners:
    """The workload behind each pod, each owner read once per count."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube, self.namespace = kube, namespace
        self._read: dict[tuple[str, str], Obj | None] = {}

    def workload_of(self, pod: Obj) -> Obj | None:
        """The Deployment, StatefulSet or lone ReplicaSet whose replicas include the pod."""
        owner = self._controller(pod)
        if owner is not None and owner["kind"] == "ReplicaSet":
            return self._controller(owner) or owner
        return owner

    def _controller(self, obj: Obj) -> Obj | None:
        """The object's controlling owner, if it is a workload that still exists."""
        for reference in obj["metadata"].get("ownerReferences") or []:
            kind = _WORKLOADS.get(reference.get("kind", ""))
            if not reference.get("controller") or kind is None:
                continue
            key = (reference["kind"], reference["name"])
            if key not in self._read:
                found = self.kube.get(kind, self.namespace, reference["name"])
                if found is not None:
                    found.setdefault("kind", reference["kind"])
                self._read[key] = found
            found = self._read[key]
            # A workload re-created under the same name is not this object's owner.
            if found is not None and found["metadata"].get("uid") == reference.get("uid"):
                return found
            return None
        return None
