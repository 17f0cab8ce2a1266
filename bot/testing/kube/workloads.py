"""The simulated workload controllers: Deployment -> ReplicaSet -> Pod and StatefulSet -> Pod."""

from __future__ import annotations

import copy
import hashlib
import json
import random

from bot.testing.kube.model import JsonObject, now_rfc3339
from bot.testing.kube.pods import (
    PodOverride,
    is_pod_ready,
    qos_class,
    replicas_of,
    set_condition,
    write_changed,
)
from bot.testing.kube.store import (
    ObjectStore,
    controller_uid,
    delete_object,
    is_terminating,
    owner_reference,
    stamp_new,
)

__all__ = ["SAFE_CHARS", "WorkloadControllers", "template_hash"]

# The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"


class WorkloadControllers:
    """Keep each workload's pods matching its spec, and its status matching its pods.

    Deployment pods are <deployment>-<template hash>-<5 chars>, owned by ReplicaSet
    <deployment>-<template hash>; a template change makes a new ReplicaSet and scales the old
    ones to zero. StatefulSet pods are <statefulset>-0..n-1 and come back under the same name.
    """

    def __init__(
        self,
        store: ObjectStore,
        rng: random.Random,
        overrides: dict[str, PodOverride],
        unready_workloads: set[tuple[str, str, str]],
    ) -> None:
        self.store = store
        self.rng = rng
        self.overrides = overrides
        self.unready_workloads = unready_workloads

    def sync(self) -> None:
        """Create and delete ReplicaSets and pods as the workload specs ask."""
        for deployment in self.store.objects("deployments"):
            self._sync_deployment(deployment)
        for replica_set in self.store.objects("replicasets"):
            self._sync_replica_set(replica_set)
        for stateful_set in self.store.objects("statefulsets"):
            self._sync_stateful_set(stateful_set)

    def update_statuses(self) -> None:
        """Count each workload's pods into its status."""
        for rs in self.store.objects("replicasets"):
            counts = _pod_counts(self._active_pods(rs))
            optional = {"fullyLabeledReplicas": counts["replicas"], **counts}
            self._write_status("replicasets", rs, _non_zero(optional, "replicas"))
        for deployment in self.store.objects("deployments"):
            self._write_status("deployments", deployment, self._deployment_status(deployment))
        for stateful_set in self.store.objects("statefulsets"):
            self._write_status("statefulsets", stateful_set, self._stateful_status(stateful_set))

    # --- Deployment -> ReplicaSet -----------------------------------------------------------

    def _sync_deployment(self, deployment: JsonObject) -> None:
        spec = deployment["spec"]
        pod_hash = template_hash(spec["template"])
        current = f"{deployment['metadata']['name']}-{pod_hash}"
        owned = self._replica_sets_of(deployment)
        if not any(rs["metadata"]["name"] == current for rs in owned):
            self._create_replica_set(deployment, current, pod_hash, revision=len(owned) + 1)
        for rs in owned:
            wanted = replicas_of(spec) if rs["metadata"]["name"] == current else 0
            if rs["spec"].get("replicas") != wanted:
                write_changed(self.store, "replicasets", rs, _set_replicas, wanted)

    def _replica_sets_of(self, deployment: JsonObject) -> list[JsonObject]:
        metadata = deployment["metadata"]
        return [
            rs
            for rs in self.store.objects("replicasets", metadata["namespace"])
            if controller_uid(rs) == metadata["uid"]
        ]

    def _create_replica_set(
        self, deployment: JsonObject, name: str, pod_hash: str, *, revision: int
    ) -> None:
        spec = deployment["spec"]
        template = copy.deepcopy(spec["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = pod_hash
        selector = copy.deepcopy(spec["selector"])
        selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
        replica_set = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": deployment["metadata"]["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": {"replicas": replicas_of(spec), "selector": selector, "template": template},
            "status": {"replicas": 0},
        }
        self.store.put("replicasets", stamp_new(replica_set))

    # --- ReplicaSet -> Pod --------------------------------------------------------------------

    def _sync_replica_set(self, replica_set: JsonObject) -> None:
        pods = self._active_pods(replica_set)
        missing = replicas_of(replica_set["spec"]) - len(pods)
        for _ in range(missing):
            name = self._unique_pod_name(replica_set)
            self._create_pod(replica_set, name, {}, {})
        for pod in sorted(pods, key=_deletion_priority)[: max(0, -missing)]:
            self._remove_pod(pod)

    def _unique_pod_name(self, replica_set: JsonObject) -> str:
        metadata = replica_set["metadata"]
        while True:
            suffix = "".join(self.rng.choice(SAFE_CHARS) for _ in range(5))
            name = f"{metadata['name']}-{suffix}"
            if self.store.get("pods", metadata["namespace"], name) is None:
                return name

    # --- StatefulSet -> Pod -------------------------------------------------------------------

    def _sync_stateful_set(self, stateful_set: JsonObject) -> None:
        metadata, spec = stateful_set["metadata"], stateful_set["spec"]
        namespace, name = metadata["namespace"], metadata["name"]
        revision = f"{name}-{template_hash(spec['template'])}"
        replicas = replicas_of(spec)
        for pod in self._active_pods(stateful_set):
            labels = pod["metadata"]["labels"]
            ordinal = labels.get("apps.kubernetes.io/pod-index", "")
            stale = labels.get("controller-revision-hash") != revision
            if stale or not ordinal.isdigit() or int(ordinal) >= replicas:
                self._remove_pod(pod)
        for ordinal in range(replicas):
            pod_name = f"{name}-{ordinal}"
            if self.store.get("pods", namespace, pod_name) is None:
                labels = {
                    "controller-revision-hash": revision,
                    "statefulset.kubernetes.io/pod-name": pod_name,
                    "apps.kubernetes.io/pod-index": str(ordinal),
                }
                identity = {"hostname": pod_name, "subdomain": spec.get("serviceName")}
                self._create_pod(stateful_set, pod_name, labels, identity)

    # --- pods -----------------------------------------------------------------------------------

    def _active_pods(self, owner: JsonObject) -> list[JsonObject]:
        metadata = owner["metadata"]
        return [
            pod
            for pod in self.store.objects("pods", metadata["namespace"])
            if controller_uid(pod) == metadata["uid"] and not is_terminating(pod)
        ]

    def _create_pod(
        self, owner: JsonObject, name: str, labels: dict[str, str], spec_fields: JsonObject
    ) -> None:
        template = owner["spec"]["template"]
        template_meta = template.get("metadata") or {}
        metadata: JsonObject = {
            "name": name,
            "namespace": owner["metadata"]["namespace"],
            "labels": {**(template_meta.get("labels") or {}), **labels},
            "ownerReferences": [owner_reference(owner)],
        }
        if template_meta.get("annotations"):
            metadata["annotations"] = dict(template_meta["annotations"])
        spec = copy.deepcopy(template["spec"])
        spec.update({key: value for key, value in spec_fields.items() if value})
        pod: JsonObject = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": spec,
            "status": {"phase": "Pending", "qosClass": qos_class(spec)},
        }
        stamp_new(pod)
        if _workload_key(owner) in self.unready_workloads:
            self.overrides[pod["metadata"]["uid"]] = PodOverride(ready=False)
        self.store.put("pods", pod)

    def _remove_pod(self, pod: JsonObject) -> None:
        grace = int(pod["spec"].get("terminationGracePeriodSeconds", 30))
        if delete_object(self.store, "pods", pod, grace) is None:
            self.overrides.pop(pod["metadata"]["uid"], None)

    # --- statuses -------------------------------------------------------------------------------

    def _deployment_status(self, deployment: JsonObject) -> JsonObject:
        pod_hash = template_hash(deployment["spec"]["template"])
        pods = [pod for rs in self._replica_sets_of(deployment) for pod in self._active_pods(rs)]
        counts = _pod_counts(pods)
        updated = [p for p in pods if p["metadata"]["labels"].get("pod-template-hash") == pod_hash]
        desired = replicas_of(deployment["spec"])
        status: JsonObject = {
            "replicas": counts["replicas"],
            "updatedReplicas": len(updated),
            "readyReplicas": counts["readyReplicas"],
            "availableReplicas": counts["availableReplicas"],
            "unavailableReplicas": max(0, desired - counts["availableReplicas"]),
        }
        conditions = copy.deepcopy((deployment.get("status") or {}).get("conditions") or [])
        now = now_rfc3339()
        available = counts["availableReplicas"] >= desired
        reason = "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable"
        set_condition(conditions, "Available", available, now, reason)
        set_condition(conditions, "Progressing", True, now, "NewReplicaSetAvailable")
        return {**_non_zero(status), "conditions": conditions}

    def _stateful_status(self, stateful_set: JsonObject) -> JsonObject:
        counts = _pod_counts(self._active_pods(stateful_set))
        name = stateful_set["metadata"]["name"]
        revision = f"{name}-{template_hash(stateful_set['spec']['template'])}"
        optional = {
            "readyReplicas": counts["readyReplicas"],
            "currentReplicas": counts["replicas"],
            "updatedReplicas": counts["replicas"],
        }
        return {
            "replicas": counts["replicas"],
            "availableReplicas": counts["availableReplicas"],
            **_non_zero(optional),
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }

    def _write_status(self, plural: str, obj: JsonObject, status: JsonObject) -> None:
        generation = obj["metadata"].get("generation", 1)
        full = {"observedGeneration": generation, **status}
        write_changed(self.store, plural, obj, _set_status, full)


def template_hash(template: JsonObject) -> str:
    """A stable pod-template-hash (the real one is an FNV hash; any stable hash will do)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(10):
        number, index = divmod(number, len(SAFE_CHARS))
        chars.append(SAFE_CHARS[index])
    return "".join(chars)


def _workload_key(owner: JsonObject) -> tuple[str, str, str]:
    """(kind, namespace, name) of the workload behind a pod owner (a ReplicaSet's Deployment)."""
    metadata = owner["metadata"]
    for reference in metadata.get("ownerReferences") or []:
        if reference.get("controller"):
            return reference["kind"], metadata["namespace"], reference["name"]
    return owner["kind"], metadata["namespace"], metadata["name"]


def _deletion_priority(pod: JsonObject) -> tuple[bool, bool, bool, int]:
    """Scale-down order: unscheduled, then not running, then not ready, then newest first."""
    return (
        bool(pod["spec"].get("nodeName")),
        (pod.get("status") or {}).get("phase") == "Running",
        is_pod_ready(pod),
        -int(pod["metadata"].get("resourceVersion") or 0),
    )


def _set_replicas(obj: JsonObject, replicas: int) -> None:
    obj["spec"]["replicas"] = replicas


def _set_status(obj: JsonObject, status: JsonObject) -> None:
    obj["status"] = status


def _pod_counts(pods: list[JsonObject]) -> dict[str, int]:
    ready = sum(1 for pod in pods if is_pod_ready(pod))
    return {"replicas": len(pods), "readyReplicas": ready, "availableReplicas": ready}


def _non_zero(values: JsonObject, *keep: str) -> JsonObject:
    """Drop zero counts, as the API's omitempty fields do (except the keys in keep)."""
    return {k: v for k, v in values.items() if v or k in keep}
