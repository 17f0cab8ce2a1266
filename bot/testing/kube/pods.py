"""Pod and node facts shared by the simulated controllers and the request handlers."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.testing.kube.model import JsonObject, now_rfc3339
from bot.testing.kube.store import ObjectStore

__all__ = [
    "PodOverride",
    "apply_pod_state",
    "container_status",
    "fits_node",
    "internal_ip",
    "is_pod_ready",
    "node_is_ready",
    "qos_class",
    "replicas_of",
    "set_condition",
    "write_changed",
]


@dataclass
class PodOverride:
    """A pod state a test pinned, which the simulated kubelet then leaves alone."""

    phase: str | None = None
    ready: bool | None = None


def is_pod_ready(pod: JsonObject) -> bool:
    """Running with a Ready=True condition."""
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and _condition_true(status, "Ready")


def node_is_ready(node: JsonObject) -> bool:
    """Whether a node reports Ready=True."""
    return _condition_true(node.get("status") or {}, "Ready")


def _condition_true(status: JsonObject, condition_type: str) -> bool:
    return any(
        c.get("type") == condition_type and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def set_condition(
    conditions: list[JsonObject],
    condition_type: str,
    value: bool,
    now: str,
    reason: str | None = None,
    message: str | None = None,
) -> None:
    """Set a condition in place, keeping lastTransitionTime when the status does not change."""
    status = "True" if value else "False"
    existing = next((c for c in conditions if c.get("type") == condition_type), None)
    if existing is None:
        existing = {"type": condition_type, "status": status, "lastTransitionTime": now}
        conditions.append(existing)
    elif existing.get("status") != status:
        existing.update(status=status, lastTransitionTime=now)
    for key, text in (("reason", reason), ("message", message)):
        if text is None:
            existing.pop(key, None)
        else:
            existing[key] = text


def apply_pod_state(pod: JsonObject, phase: str | None, ready: bool | None) -> None:
    """Write a test-chosen phase and readiness into a pod's status."""
    status = pod.setdefault("status", {})
    if phase is not None:
        status["phase"] = phase
    if ready is not None:
        conditions = status.setdefault("conditions", [])
        for condition_type in ("ContainersReady", "Ready"):
            set_condition(conditions, condition_type, ready, now_rfc3339())
        for container in status.get("containerStatuses") or []:
            container["ready"] = ready


def qos_class(spec: JsonObject) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    containers = spec.get("containers") or []
    resources = [container.get("resources") or {} for container in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        set(r.get("limits") or {}) >= {"cpu", "memory"}
        and all((r.get("limits") or {}).get(k) == v for k, v in (r.get("requests") or {}).items())
        for r in resources
    )
    return "Guaranteed" if guaranteed else "Burstable"


def fits_node(pod: JsonObject, node: JsonObject) -> bool:
    """Whether the scheduler may place pod on node: Ready, uncordoned, taints tolerated,
    nodeSelector satisfied."""
    node_spec = node.get("spec") or {}
    if node_spec.get("unschedulable") or not node_is_ready(node):
        return False
    tolerations = pod["spec"].get("tolerations") or []
    for taint in node_spec.get("taints") or []:
        blocking = taint.get("effect") in ("NoSchedule", "NoExecute")
        if blocking and not _tolerates(tolerations, taint):
            return False
    labels = node["metadata"].get("labels") or {}
    selector = pod["spec"].get("nodeSelector") or {}
    return all(labels.get(key) == value for key, value in selector.items())


def _tolerates(tolerations: list[JsonObject], taint: JsonObject) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            continue
        key_matches = not toleration.get("key") or toleration["key"] == taint.get("key")
        if toleration.get("operator") == "Exists" and key_matches:
            return True
        same_value = toleration.get("value", "") == taint.get("value", "")
        if toleration.get("key") == taint.get("key") and same_value:
            return True
    return False


def container_status(container: JsonObject, ready: bool, phase: str, started: str) -> JsonObject:
    """The containerStatuses entry a kubelet reports for a container of a pod in phase."""
    running = phase == "Running"
    state: JsonObject = (
        {"running": {"startedAt": started}}
        if running
        else {"waiting": {"reason": "PodInitializing"}}
    )
    image = container.get("image") or ""
    container_id = hashlib.sha256(f"{started}/{container['name']}".encode()).hexdigest()
    return {
        "name": container["name"],
        "image": image,
        "imageID": f"docker.io/library/{image}",
        "containerID": f"containerd://{container_id}",
        "ready": ready,
        "started": running,
        "restartCount": 0,
        "state": state,
    }


def internal_ip(node: JsonObject) -> str:
    """A node's InternalIP address ("" if it reports none)."""
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address["address"])
    return ""


def replicas_of(spec: JsonObject) -> int:
    """A workload's desired replicas (the API defaults a missing value to 1)."""
    replicas = spec.get("replicas")
    return 1 if replicas is None else int(replicas)


def write_changed(
    store: ObjectStore, plural: str, obj: JsonObject, change: Callable[..., object], *args: Any
) -> None:
    """Apply change(copy, *args) to a copy of obj and store it if that changed anything."""
    new = copy.deepcopy(obj)
    change(new, *args)
    store.update(plural, new)
