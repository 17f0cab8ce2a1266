"""Disaster recovery: snapshot a service's workload, delete it, restore it and time the recovery.

What is safely feasible, and what is not:

- The snapshot is the workload's Deployments/StatefulSets, the Services selecting its pods and
  the ConfigMaps its pods use, as JSON in one labelled ConfigMap (`chaosbot-dr-<run>`, under
  Kubernetes' 1 MiB object limit), taken before anything is deleted. Secrets are never copied
  or deleted: a ConfigMap is no place for them.
- Only what the snapshot holds is deleted: the workloads, their Services (unless told not to),
  their ConfigMaps only when asked (they may be shared with other workloads).
- Restoring creates what is missing from the snapshot; a Service gets a new cluster IP
  (clients that cached the old address break, which is part of what a restore tests).
- Persistent volumes are not touched: a StatefulSet's claims outlive it and are reused. This
  tests redeploying from declarations and the time to Ready, not data recovery or your real
  backup tooling. A GitOps controller (Argo CD, Flux) may recreate the workload first; the
  restore then finds nothing missing, and the time to Ready is what it achieved.
"""

from __future__ import annotations

import json
import time
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration

from bot.faults.args import as_bool, as_float, run_label_value
from bot.faults.kube import (
    CONFIGMAPS,
    DEPLOYMENTS,
    SERVICES,
    STATEFULSETS,
    Kind,
    Kube,
    KubeError,
    Obj,
    Secrets,
)
from bot.faults.marks import Mark, claimed_by, created_metadata
from bot.faults.workloads import is_rolled_out, workloads_of
from bot.selectors import Requirement, labels_match

__all__ = [
    "delete_workload",
    "is_snapshot",
    "recreate_missing",
    "restore_workload",
    "snapshot_workload",
]

SNAPSHOT_KEY = "objects.json"
SNAPSHOT_LIMIT = 900_000  # bytes, under the 1 MiB object limit with room for metadata
POLL_SECONDS = 1.0
KINDS: dict[str, Kind] = {
    "deployments": DEPLOYMENTS,
    "statefulsets": STATEFULSETS,
    "services": SERVICES,
    "configmaps": CONFIGMAPS,
}
_SERVER_METADATA = ("name", "namespace", "labels", "annotations", "ownerReferences", "finalizers")
_SERVER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)


def snapshot_workload(
    namespace: str,
    label_selector: str,
    run_id: str,
    secrets: Secrets = None,
    configuration: Configuration = None,
) -> Obj:
    """Keep the workload, its Services and ConfigMaps in a labelled ConfigMap (first one wins)."""
    kube, mark = Kube(secrets), Mark.of(run_id, configuration)
    existing = _snapshot(kube, namespace, mark.run)
    if existing is not None:
        return {"snapshot": _name(mark.run), "objects": [_ref(e) for e in existing]}
    workloads = workloads_of(kube, namespace, label_selector)
    if not workloads:
        raise ActivityFailed(
            f"no Deployment or StatefulSet in {namespace} matches {label_selector}"
        )
    templates = [obj["spec"]["template"] for _, obj in workloads]
    entries = [{"kind": kind.plural, "object": _clean(obj)} for kind, obj in workloads]
    for service in kube.list(SERVICES, namespace):
        if _selects_any(service, templates):
            entries.append({"kind": "services", "object": _clean(service)})
    for name in sorted({n for t in templates for n in _config_maps(t["spec"])}):
        config_map = kube.get(CONFIGMAPS, namespace, name)
        if config_map is not None:
            entries.append({"kind": "configmaps", "object": _clean(config_map)})
    text = json.dumps(entries, sort_keys=True)
    if len(text) > SNAPSHOT_LIMIT:
        raise ActivityFailed(f"the snapshot would be {len(text)} bytes, over {SNAPSHOT_LIMIT}")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "data": {SNAPSHOT_KEY: text}}
    metadata = created_metadata(_name(mark.run), namespace, mark)
    kube.create(CONFIGMAPS, namespace, {**body, "metadata": metadata})
    return {"snapshot": _name(mark.run), "objects": [_ref(e) for e in entries]}


def delete_workload(
    namespace: str,
    run_id: str,
    delete_services: Any = True,
    delete_config_maps: Any = False,
    secrets: Secrets = None,
) -> list[str]:
    """Delete what the snapshot holds; refuses to delete anything without a snapshot."""
    kube, run = Kube(secrets), run_label_value(run_id)
    entries = _snapshot(kube, namespace, run)
    if entries is None:
        raise ActivityFailed(f"no snapshot {_name(run)} in {namespace}: deleting nothing")
    skip = set()
    if not as_bool(delete_services, "delete_services"):
        skip.add("services")
    if not as_bool(delete_config_maps, "delete_config_maps"):
        skip.add("configmaps")
    deleted = []
    for entry in (e for e in entries if e["kind"] not in skip):
        if kube.delete(KINDS[entry["kind"]], namespace, entry["object"]["metadata"]["name"]):
            deleted.append(_ref(entry))
    return deleted


def restore_workload(
    namespace: str,
    run_id: str,
    timeout_seconds: Any = 300,
    remove_snapshot: Any = False,
    secrets: Secrets = None,
) -> Obj:
    """Recreate whatever of the snapshot is missing, then time the workloads to Ready.

    With remove_snapshot (the rollback), the snapshot is deleted once everything exists again.
    """
    kube, run = Kube(secrets), run_label_value(run_id)
    started = time.monotonic()
    entries = _snapshot(kube, namespace, run)
    if entries is None:
        return {"recreated": [], "snapshot": None}
    recreated = _recreate(kube, namespace, entries)
    if as_bool(remove_snapshot, "remove_snapshot"):
        kube.delete(CONFIGMAPS, namespace, _name(run))
    workloads = [e for e in entries if e["kind"] in ("deployments", "statefulsets")]
    limit = as_float(timeout_seconds, "timeout_seconds")
    while not all(_ready(kube, namespace, e) for e in workloads):
        if time.monotonic() - started >= limit:
            raise ActivityFailed(f"the restored workload was not Ready within {limit:g}s")
        time.sleep(POLL_SECONDS)
    return {"recreated": recreated, "seconds_to_ready": round(time.monotonic() - started, 3)}


def is_snapshot(config_map: Obj) -> bool:
    """Whether a ConfigMap is the snapshot a disaster-recovery run keeps of a workload."""
    run = claimed_by(config_map)
    return run is not None and config_map["metadata"]["name"] == _name(run)


def recreate_missing(kube: Kube, namespace: str, run: str) -> list[str]:
    """Create whatever of the run's snapshot is missing (nothing without a snapshot); no waiting."""
    entries = _snapshot(kube, namespace, run)
    return [] if entries is None else _recreate(kube, namespace, entries)


def _recreate(kube: Kube, namespace: str, entries: list[Obj]) -> list[str]:
    """ConfigMaps first, then Services, then the workloads: each created only if missing."""
    recreated = []
    for entry in sorted(entries, key=lambda e: list(KINDS).index(e["kind"]), reverse=True):
        kind, obj = KINDS[entry["kind"]], entry["object"]
        if kube.get(kind, namespace, obj["metadata"]["name"]) is not None:
            continue
        try:
            kube.create(kind, namespace, obj)
        except KubeError as error:
            if error.status != 409:  # created meanwhile (a GitOps controller, another restore)
                raise
            continue
        recreated.append(_ref(entry))
    return recreated


def _name(run: str) -> str:
    return f"chaosbot-dr-{run}"


def _snapshot(kube: Kube, namespace: str, run: str) -> list[Obj] | None:
    config_map = kube.get(CONFIGMAPS, namespace, _name(run))
    if config_map is None:
        return None
    entries: list[Obj] = json.loads((config_map.get("data") or {}).get(SNAPSHOT_KEY) or "[]")
    return entries


def _ref(entry: Obj) -> str:
    return f"{entry['kind']}/{entry['object']['metadata']['name']}"


def _clean(obj: Obj) -> Obj:
    """An object as it can be created again: no status, no server-set fields, no cluster IP."""
    metadata = {k: v for k, v in obj["metadata"].items() if k in _SERVER_METADATA}
    annotations = {
        k: v for k, v in (metadata.get("annotations") or {}).items() if k not in _SERVER_ANNOTATIONS
    }
    metadata.pop("annotations", None)
    if annotations:
        metadata["annotations"] = annotations
    clean = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
    clean["metadata"] = metadata
    if obj.get("kind") == "Service":
        clean["spec"] = {
            k: v for k, v in obj["spec"].items() if k not in ("clusterIP", "clusterIPs")
        }
    return clean


def _selects_any(service: Obj, templates: list[Obj]) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        return False  # a Service without a selector is managed by hand, not by this workload
    requirements = [Requirement(k, "=", (v,)) for k, v in selector.items()]
    return any(labels_match(requirements, t.get("metadata", {}).get("labels")) for t in templates)


def _config_maps(pod_spec: Obj) -> set[str]:
    """The ConfigMaps a pod template mounts or reads environment variables from."""
    names = set()
    for volume in pod_spec.get("volumes") or []:
        if "configMap" in volume:
            names.add(volume["configMap"]["name"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "configMap" in source:
                names.add(source["configMap"]["name"])
    for container in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or []):
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                names.add(source["configMapRef"]["name"])
        for variable in container.get("env") or []:
            reference = (variable.get("valueFrom") or {}).get("configMapKeyRef")
            if reference:
                names.add(reference["name"])
    return names


def _ready(kube: Kube, namespace: str, entry: Obj) -> bool:
    current = kube.get(KINDS[entry["kind"]], namespace, entry["object"]["metadata"]["name"])
    return current is not None and is_rolled_out(current)
