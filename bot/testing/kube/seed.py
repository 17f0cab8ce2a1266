"""Manifests the seeding helpers of the Kubernetes API test server build (valid, minimal, typical)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from bot.testing.kube.model import JsonObject, now_rfc3339

__all__ = [
    "DEFAULT_IMAGE",
    "container",
    "label_selector",
    "namespace_manifest",
    "node_manifest",
    "pdb_manifest",
    "pod_manifest",
    "secret_manifest",
    "workload_manifest",
]

DEFAULT_IMAGE = "nginx:1.27"


def container(
    name: str = "app",
    image: str = DEFAULT_IMAGE,
    *,
    resources: Mapping[str, Any] | None = None,
    readiness_probe: Mapping[str, Any] | None = None,
    liveness_probe: Mapping[str, Any] | None = None,
    ports: Sequence[int] = (),
) -> JsonObject:
    """A container spec; probes and resources are included only when given."""
    spec: JsonObject = {"name": name, "image": image}
    if ports:
        spec["ports"] = [{"containerPort": port, "protocol": "TCP"} for port in ports]
    if resources is not None:
        spec["resources"] = dict(resources)
    if readiness_probe is not None:
        spec["readinessProbe"] = dict(readiness_probe)
    if liveness_probe is not None:
        spec["livenessProbe"] = dict(liveness_probe)
    return spec


def namespace_manifest(name: str, labels: Mapping[str, str] | None) -> JsonObject:
    """A Namespace."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _metadata(name, None, labels)}


def node_manifest(
    name: str,
    *,
    address: str,
    kube_version: str,
    zone: str | None,
    labels: Mapping[str, str] | None,
    ready: bool,
    unschedulable: bool,
    taints: Sequence[Mapping[str, Any]],
) -> JsonObject:
    """A Node as a kubelet registers it: well-known labels, capacity, addresses and conditions."""
    node_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        **({"topology.kubernetes.io/zone": zone} if zone else {}),
        **(labels or {}),
    }
    spec: JsonObject = {}
    if unschedulable:
        spec["unschedulable"] = True
    if taints:
        spec["taints"] = [dict(taint) for taint in taints]
    capacity = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _metadata(name, None, node_labels),
        "spec": spec,
        "status": {
            "conditions": _node_conditions(ready),
            "addresses": [
                {"type": "InternalIP", "address": address},
                {"type": "Hostname", "address": name},
            ],
            "capacity": capacity,
            "allocatable": dict(capacity),
            "nodeInfo": _node_info(kube_version),
        },
    }


def _node_conditions(ready: bool) -> list[JsonObject]:
    now = now_rfc3339()
    conditions = []
    for condition_type, status, reason in (
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"),
        ("Ready", "True" if ready else "False", "KubeletReady" if ready else "KubeletNotReady"),
    ):
        conditions.append(
            {
                "type": condition_type,
                "status": status,
                "reason": reason,
                "message": reason,
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }
        )
    return conditions


def _node_info(kube_version: str) -> JsonObject:
    machine = uuid.uuid4().hex
    return {
        "architecture": "amd64",
        "bootID": str(uuid.uuid4()),
        "containerRuntimeVersion": "containerd://1.7.24",
        "kernelVersion": "6.8.0-generic",
        "kubeProxyVersion": "",
        "kubeletVersion": f"v{kube_version}",
        "machineID": machine,
        "operatingSystem": "linux",
        "osImage": "Ubuntu 24.04.1 LTS",
        "systemUUID": machine,
    }


def pod_manifest(
    namespace: str,
    name: str,
    *,
    labels: Mapping[str, str] | None,
    node: str | None,
    phase: str | None,
    ready: bool,
    containers: Sequence[Mapping[str, Any]] | None,
) -> JsonObject:
    """A bare Pod, with the status a kubelet would report for it."""
    spec: JsonObject = {"containers": [dict(c) for c in containers or [container()]]}
    if node:
        spec["nodeName"] = node
    actual_phase = phase or ("Running" if node else "Pending")
    is_ready = "True" if ready and actual_phase == "Running" else "False"
    now = now_rfc3339()
    conditions = [
        {"type": condition_type, "status": is_ready, "lastTransitionTime": now}
        for condition_type in ("ContainersReady", "Ready")
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _metadata(name, namespace, labels),
        "spec": spec,
        "status": {"phase": actual_phase, "conditions": conditions},
    }


def workload_manifest(
    kind: str,
    namespace: str,
    name: str,
    *,
    replicas: int,
    labels: Mapping[str, str],
    containers: Sequence[Mapping[str, Any]],
    annotations: Mapping[str, str] | None = None,
    service_name: str | None = None,
) -> JsonObject:
    """A Deployment or StatefulSet (`kind`) selecting its pods by exactly `labels`; a
    StatefulSet names its governing service."""
    metadata = _metadata(name, namespace, labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    spec: JsonObject = {"replicas": replicas}
    if service_name is not None:
        spec["serviceName"] = service_name
    spec["selector"] = {"matchLabels": dict(labels)}
    spec["template"] = _template(labels, containers)
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": metadata, "spec": spec}


def pdb_manifest(
    namespace: str,
    name: str,
    *,
    selector: Mapping[str, Any],
    min_available: int | str | None,
    max_unavailable: int | str | None,
    unhealthy_pod_eviction_policy: str | None,
) -> JsonObject:
    """A policy/v1 PodDisruptionBudget."""
    spec: JsonObject = {"selector": label_selector(selector)}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    if unhealthy_pod_eviction_policy is not None:
        spec["unhealthyPodEvictionPolicy"] = unhealthy_pod_eviction_policy
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(name, namespace, None),
        "spec": spec,
    }


def secret_manifest(
    namespace: str,
    name: str,
    *,
    data: Mapping[str, str | bytes] | None,
    labels: Mapping[str, str] | None,
    secret_type: str,
) -> JsonObject:
    """A Secret; data values are plain text or bytes and are base64-encoded here."""
    encoded = {
        key: base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()
        for key, value in (data or {}).items()
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(name, namespace, labels),
        "type": secret_type,
        "data": encoded,
    }


def label_selector(selector: Mapping[str, Any]) -> JsonObject:
    """A LabelSelector from either a label map (matchLabels) or a LabelSelector dict."""
    if selector and set(selector) <= {"matchLabels", "matchExpressions"}:
        return dict(selector)
    return {"matchLabels": dict(selector)}


def _template(labels: Mapping[str, str], containers: Sequence[Mapping[str, Any]]) -> JsonObject:
    return {
        "metadata": {"labels": dict(labels)},
        "spec": {"containers": [dict(c) for c in containers]},
    }


def _metadata(name: str, namespace: str | None, labels: Mapping[str, str] | None) -> JsonObject:
    metadata: JsonObject = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = dict(labels)
    return metadata
