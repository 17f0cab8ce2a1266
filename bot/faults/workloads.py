"""Workload faults: scale a service's Deployments/StatefulSets to zero, lower their limits.

Each change is one write (PUT with the object's resourceVersion) that also labels the workload
and records the original replicas or container resources, so restore_workloads puts back
exactly what was there, including resources that were unset. A HorizontalPodAutoscaler on the
workload will fight a scale to zero (it scales back up to its minimum): that is a finding, not
a failure of the fault.

Here too are the queries the other faults share: the service's workloads and pods, and whether
they are Ready.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration
from kubernetes.utils import parse_quantity

from bot.faults.args import label_selector_object, run_label_value
from bot.faults.kube import DEPLOYMENTS, PODS, STATEFULSETS, Kind, Kube, Obj, Secrets
from bot.faults.marks import RUN_LABEL, Mark, claim, claimed_by, original_of, release
from bot.selectors import labels_match, parse_label_selector

__all__ = [
    "WORKLOAD_KINDS",
    "is_ready",
    "is_rolled_out",
    "restore_workload",
    "restore_workloads",
    "scale_to_zero",
    "service_pods",
    "throttle_resources",
    "workloads_of",
]

WORKLOAD_KINDS: tuple[Kind, ...] = (DEPLOYMENTS, STATEFULSETS)
# kubernetes.utils is untyped; this is its quantity parser with the type it has.
_parse_quantity: Callable[[Any], Decimal] = parse_quantity


def scale_to_zero(
    namespace: str,
    label_selector: str,
    run_id: str,
    secrets: Secrets = None,
    configuration: Configuration = None,
) -> list[str]:
    """Scale every workload whose pods the selector matches to zero replicas."""
    kube, mark = Kube(secrets), Mark.of(run_id, configuration)

    def to_zero(obj: Obj) -> bool:
        spec = obj["spec"]
        claim(obj, mark, {"replicas": spec.get("replicas", 1)})
        spec["replicas"] = 0
        return True

    return _change_all(kube, namespace, label_selector, to_zero)


def throttle_resources(
    namespace: str,
    label_selector: str,
    run_id: str,
    cpu_limit: str = "100m",
    memory_limit: str = "",
    container: str = "",
    secrets: Secrets = None,
    configuration: Configuration = None,
) -> list[str]:
    """Lower the CPU and/or memory limit of the workloads' containers ("" leaves one alone).

    Requests above the new limit are lowered to it (the API refuses requests over limits). The
    pods are replaced by a rollout, as for any template change.
    """
    kube, mark = Kube(secrets), Mark.of(run_id, configuration)
    limits = {k: v for k, v in (("cpu", cpu_limit), ("memory", memory_limit)) if v}
    if not limits:
        raise ActivityFailed("set cpu_limit, memory_limit or both")
    for resource, value in limits.items():
        _quantity(value, f"{resource}_limit")

    def lower(obj: Obj) -> bool:
        containers = [
            c
            for c in obj["spec"]["template"]["spec"]["containers"]
            if not container or c["name"] == container
        ]
        if not containers:
            raise ActivityFailed(f"{obj['metadata']['name']} has no container called {container}")
        claim(obj, mark, {"resources": {c["name"]: c.get("resources") for c in containers}})
        for spec in containers:
            resources = spec.setdefault("resources", {})
            resources.setdefault("limits", {}).update(limits)
            requests = resources.get("requests") or {}
            for name, limit in limits.items():
                if name in requests and _quantity(requests[name], name) > _quantity(limit, name):
                    requests[name] = limit
        return True

    return _change_all(kube, namespace, label_selector, lower)


def restore_workloads(namespace: str, run_id: str, secrets: Secrets = None) -> list[str]:
    """Put back the replicas and resources this run changed, and unlabel the workloads."""
    kube, run = Kube(secrets), run_label_value(run_id)
    restored = []
    for kind in WORKLOAD_KINDS:
        for obj in kube.list(kind, namespace, labels=f"{RUN_LABEL}={run}"):
            restore_workload(kube, kind, namespace, obj["metadata"]["name"], run)
            restored.append(f"{kind.plural}/{obj['metadata']['name']}")
    return restored


def restore_workload(kube: Kube, kind: Kind, namespace: str, name: str, run: str) -> None:
    """Put back the replicas and resources the run changed on one workload, and unlabel it.

    A workload no longer changed by that run (restored meanwhile, or gone) is left as it is.
    """
    kube.change(kind, namespace, name, functools.partial(_restore, run=run))


def workloads_of(kube: Kube, namespace: str, label_selector: str) -> list[tuple[Kind, Obj]]:
    """The Deployments and StatefulSets whose pod template the service's selector matches."""
    label_selector_object(label_selector)  # refuses an empty selector
    requirements = parse_label_selector(label_selector)
    found = []
    for kind in WORKLOAD_KINDS:
        for obj in kube.list(kind, namespace):
            labels = obj["spec"]["template"].get("metadata", {}).get("labels")
            if labels_match(requirements, labels):
                found.append((kind, obj))
    return found


def service_pods(kube: Kube, namespace: str, label_selector: str) -> list[Obj]:
    """The service's pods that are not already being deleted."""
    label_selector_object(label_selector)
    pods = kube.list(PODS, namespace, labels=label_selector)
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def is_ready(pod: Obj) -> bool:
    """Whether a pod is Running with its Ready condition true."""
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def is_rolled_out(workload: Obj) -> bool:
    """Whether a Deployment/StatefulSet has seen its latest spec and has all replicas Ready."""
    wanted = workload["spec"].get("replicas", 1)
    status = workload.get("status") or {}
    caught_up = status.get("observedGeneration", 0) >= workload["metadata"].get("generation", 1)
    return bool(caught_up and status.get("readyReplicas", 0) >= wanted)


def _change_all(
    kube: Kube, namespace: str, label_selector: str, mutate: Callable[[Obj], bool]
) -> list[str]:
    targets = workloads_of(kube, namespace, label_selector)
    if not targets:
        raise ActivityFailed(
            f"no Deployment or StatefulSet in {namespace} runs pods matching {label_selector}"
        )
    changed = []
    for kind, obj in targets:
        kube.change(kind, namespace, obj["metadata"]["name"], mutate)
        changed.append(f"{kind.plural}/{obj['metadata']['name']}")
    return changed


def _restore(obj: Obj, run: str) -> bool:
    if claimed_by(obj) != run:
        return False
    original = original_of(obj)
    if "replicas" in original:
        obj["spec"]["replicas"] = original["replicas"]
    for spec in obj["spec"]["template"]["spec"]["containers"]:
        if spec["name"] not in original.get("resources", {}):
            continue
        before = original["resources"][spec["name"]]
        if before is None:
            spec.pop("resources", None)
        else:
            spec["resources"] = before
    release(obj)
    return True


def _quantity(value: Any, name: str) -> Decimal:
    try:
        quantity = _parse_quantity(value)
    except (ValueError, TypeError):
        raise ActivityFailed(f"{name}: {value!r} is not a Kubernetes quantity") from None
    return quantity
