"""The API semantics of the test server: CRUD, patch, delete, eviction and scale over the store.

Every operation takes the store lock, validates, writes, and then runs the controllers
synchronously, so a response already reflects the cluster's reaction (a deleted pod of a
Deployment has been replaced by the time the DELETE answers).
"""

from __future__ import annotations

import copy
import random
from typing import Any

from bot.testing.kube.controllers import Controllers
from bot.testing.kube.defaults import apply_defaults, initial_status
from bot.testing.kube.disruption import check_eviction
from bot.testing.kube.model import (
    RESOURCES,
    ApiError,
    JsonObject,
    ResourceType,
    deep_copy,
    now_rfc3339,
    resource_by_plural,
    status_object,
)
from bot.testing.kube.objects import (
    DeleteOptions,
    check_name,
    check_preconditions,
    check_version,
    decode,
    deleted_view,
    desired_state,
    grace_seconds,
    place,
    scale_of,
)
from bot.testing.kube.patch import apply_patch
from bot.testing.kube.pods import PodOverride, apply_pod_state, set_condition
from bot.testing.kube.selectors import (
    SelectorError,
    field_label_value,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)
from bot.testing.kube.store import ObjectStore, delete_object, is_terminating, stamp_new
from bot.testing.kube.validation import EVICTION, SCALE, Validator
from bot.testing.kube.workloads import SAFE_CHARS

__all__ = ["Cluster"]

_NAMESPACES = resource_by_plural("namespaces")
_PODS = resource_by_plural("pods")
_NODES = resource_by_plural("nodes")
_FIELD_LABELS = {
    "Pod": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "Node": ("spec.unschedulable",),
    "Namespace": ("status.phase",),
    "Secret": ("type",),
}


class Cluster:
    """The objects of one simulated cluster and the operations the API offers on them."""

    def __init__(self, *, kube_version: str, controllers: bool, rng: random.Random) -> None:
        self.store = ObjectStore()
        self.lock = self.store.lock
        self.validator = Validator(kube_version)
        self.controllers = Controllers(self.store, enabled=controllers, rng=rng)
        self.rng = rng

    # --- reads ----------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> JsonObject:
        """A copy of one object; 404 if it does not exist."""
        with self.lock:
            return deep_copy(self._stored(rt, namespace, name))

    def select(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[JsonObject]:
        """Copies of the objects matching both selectors (namespace None: all namespaces)."""
        supported = ("metadata.name", "metadata.namespace", *_FIELD_LABELS.get(rt.kind, ()))
        try:
            labels = parse_label_selector(label_selector)
            fields = parse_field_selector(field_selector, supported)
        except SelectorError as error:
            raise ApiError.bad_request(str(error)) from None
        with self.lock:
            return [
                deep_copy(obj)
                for obj in self.store.objects(rt.plural, namespace if rt.namespaced else None)
                if labels_match(labels, obj["metadata"].get("labels"))
                and all(f.matches(field_label_value(obj, f.field)) for f in fields)
            ]

    def list_object(self, rt: ResourceType, items: list[JsonObject]) -> JsonObject:
        """The <Kind>List envelope; items of built-in kinds carry no kind/apiVersion, as served."""
        if not rt.custom:
            items = [
                {k: v for k, v in item.items() if k not in ("kind", "apiVersion")} for item in items
            ]
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": self.store.revision},
            "items": items,
        }

    # --- writes ---------------------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Any,
        *,
        dry_run: bool = False,
        keep_status: bool = False,
    ) -> JsonObject:
        """POST: validate and store a new object (keep_status lets seeding helpers set status)."""
        obj = decode(rt, body)
        place(rt, obj, namespace)
        metadata = obj["metadata"]
        if metadata.get("resourceVersion"):
            raise ApiError.internal("resourceVersion should not be set on objects to be created")
        if not metadata.get("name") and metadata.get("generateName"):
            suffix = "".join(self.rng.choice(SAFE_CHARS) for _ in range(5))
            metadata["name"] = f"{metadata['generateName']}{suffix}"
        with self.lock:
            if rt.namespaced:
                self._stored(_NAMESPACES, None, str(namespace))
            stamp_new(obj)
            if not rt.custom:
                apply_defaults(rt.kind, obj)
            status = initial_status(rt.kind, obj.get("spec") or {})
            if status is not None and not (keep_status and "status" in obj):
                obj["status"] = status
            self.validator.validate(rt, obj)
            if self.store.get(rt.plural, namespace, metadata["name"]) is not None:
                raise ApiError.already_exists(rt, metadata["name"])
            if dry_run:
                return obj
            self.store.put(rt.plural, obj)
            return self._after_write(rt, obj)

    def replace(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        dry_run: bool = False,
    ) -> JsonObject:
        """PUT: replace an object; a stale metadata.resourceVersion answers 409 Conflict."""
        obj = decode(rt, body)
        place(rt, obj, namespace)
        check_name(obj, name)
        with self.lock:
            return self._update(rt, self._stored(rt, namespace, name), obj, dry_run=dry_run)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str | None,
        patch: Any,
        *,
        dry_run: bool = False,
    ) -> JsonObject:
        """PATCH: apply a JSON, merge or strategic merge patch, then update as a PUT would."""
        with self.lock:
            current = self._stored(rt, namespace, name)
            patched = decode(rt, apply_patch(content_type, current, patch, strategic=not rt.custom))
            place(rt, patched, namespace)
            check_name(patched, name)
            return self._update(rt, current, patched, dry_run=dry_run)

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        options: DeleteOptions,
        *,
        dry_run: bool = False,
    ) -> JsonObject:
        """DELETE: remove an object at once, or mark it terminating while finalizers hold it (the
        answer is then the object as it stays); graceful deletion alone is not simulated."""
        with self.lock:
            current = self._stored(rt, namespace, name)
            check_preconditions(rt, current, options)
            response = deleted_view(rt, current, options)
            if not dry_run:
                kept = self._remove(rt, current, options)
                self.controllers.reconcile()
                if kept is not None:
                    stored = self.store.get(rt.plural, namespace if rt.namespaced else None, name)
                    response = deep_copy(stored or kept)
            return response

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        options: DeleteOptions,
        *,
        label_selector: str | None,
        field_selector: str | None,
        dry_run: bool = False,
    ) -> JsonObject:
        """DELETE on a collection: remove every match and answer the list of what went."""
        with self.lock:
            doomed = self.select(
                rt, namespace, label_selector=label_selector, field_selector=field_selector
            )
            if not dry_run:
                for obj in doomed:
                    self._remove(rt, obj, options)
                self.controllers.reconcile()
            return self.list_object(rt, doomed)

    # --- subresources ---------------------------------------------------------------------------

    def evict(self, namespace: str, name: str, body: Any, *, dry_run: bool = False) -> JsonObject:
        """POST pods/<name>/eviction: delete the pod unless its disruption budget forbids it."""
        eviction = decode(EVICTION, body)
        place(EVICTION, eviction, namespace)
        if eviction["metadata"].get("name") != name:
            raise ApiError.bad_request("name in URL does not match name in Eviction object")
        self.validator.validate(EVICTION, eviction)
        options = DeleteOptions.parse(eviction.get("deleteOptions"), {})
        with self.lock:
            pod = self._stored(_PODS, namespace, name)
            check_preconditions(_PODS, pod, options)
            check_eviction(self.store, pod, dry_run=dry_run)
            if not dry_run:
                self._remove(_PODS, pod, options)
                self.controllers.reconcile()
            return status_object(None)

    def read_scale(self, rt: ResourceType, namespace: str, name: str) -> JsonObject:
        """GET <workload>/scale: the autoscaling/v1 Scale view of a workload."""
        with self.lock:
            return scale_of(self._stored(rt, namespace, name))

    def replace_scale(
        self, rt: ResourceType, namespace: str, name: str, body: Any, *, dry_run: bool = False
    ) -> JsonObject:
        """PUT <workload>/scale."""
        scale = decode(SCALE, body)
        place(SCALE, scale, namespace)
        check_name(scale, name)
        with self.lock:
            return self._apply_scale(rt, self._stored(rt, namespace, name), scale, dry_run)

    def patch_scale(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str | None,
        patch: Any,
        *,
        dry_run: bool = False,
    ) -> JsonObject:
        """PATCH <workload>/scale (what `patch_namespaced_deployment_scale` sends)."""
        with self.lock:
            current = self._stored(rt, namespace, name)
            scale = decode(SCALE, apply_patch(content_type, scale_of(current), patch))
            check_name(scale, name)
            return self._apply_scale(rt, current, scale, dry_run)

    # --- state only tests can set ---------------------------------------------------------------

    def set_pod_status(
        self, namespace: str, name: str, *, phase: str | None = None, ready: bool | None = None
    ) -> JsonObject:
        """Pin a pod's phase and/or readiness; the simulated kubelet keeps them from then on."""
        with self.lock:
            pod = self._stored(_PODS, namespace, name)
            override = self.controllers.overrides.setdefault(pod["metadata"]["uid"], PodOverride())
            override.phase = phase if phase is not None else override.phase
            override.ready = ready if ready is not None else override.ready
            updated = deep_copy(pod)
            apply_pod_state(updated, phase, ready)
            self.store.update("pods", updated)
            return self._after_write(_PODS, updated)

    def set_node_ready(self, name: str, ready: bool) -> JsonObject:
        """Flip a node's Ready condition (its pods stop being Ready; nothing new lands there)."""
        with self.lock:
            node = deep_copy(self._stored(_NODES, None, name))
            conditions = node.setdefault("status", {}).setdefault("conditions", [])
            reason, message = (
                ("KubeletReady", "kubelet is posting ready status")
                if ready
                else ("NodeStatusUnknown", "Kubelet stopped posting node status.")
            )
            set_condition(conditions, "Ready", ready, now_rfc3339(), reason, message)
            self.store.update("nodes", node)
            return self._after_write(_NODES, node)

    # --- internals ------------------------------------------------------------------------------

    def _stored(self, rt: ResourceType, namespace: str | None, name: str) -> JsonObject:
        obj = self.store.get(rt.plural, namespace if rt.namespaced else None, name)
        if obj is None:
            raise ApiError.not_found(rt, name)
        return obj

    def _update(
        self, rt: ResourceType, current: JsonObject, new: JsonObject, *, dry_run: bool
    ) -> JsonObject:
        check_version(rt, current, new)
        metadata, current_meta = new["metadata"], current["metadata"]
        for server_owned in (
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ):
            if server_owned in current_meta:
                metadata[server_owned] = current_meta[server_owned]
            else:
                metadata.pop(server_owned, None)
        if is_terminating(current):
            added = [f for f in metadata.get("finalizers") or [] if f not in _finalizers(current)]
            if added:
                raise ApiError.invalid(
                    rt,
                    current_meta["name"],
                    [
                        (
                            "metadata.finalizers",
                            "Forbidden: no new finalizers can be added if the object is being "
                            f"deleted, found new finalizers {added}",
                        )
                    ],
                )
        if rt.has_status:
            new.pop("status", None)
            if "status" in current:
                new["status"] = copy.deepcopy(current["status"])
        if rt.kind == "Service":
            for allocated in ("clusterIP", "clusterIPs"):
                if allocated in current["spec"]:
                    new.setdefault("spec", {}).setdefault(allocated, current["spec"][allocated])
        if not rt.custom:
            apply_defaults(rt.kind, new)
        if desired_state(new) != desired_state(current):
            metadata["generation"] = current_meta.get("generation", 1) + 1
        metadata["resourceVersion"] = current_meta["resourceVersion"]
        self.validator.validate(rt, new)
        if dry_run:
            return new
        self.store.update(rt.plural, new)
        if is_terminating(new) and not metadata.get("finalizers"):
            # The last finalizer is gone: the deletion that was waiting for it completes.
            self._remove(rt, new, DeleteOptions())
        return self._after_write(rt, new)

    def _after_write(self, rt: ResourceType, written: JsonObject) -> JsonObject:
        self.controllers.reconcile()
        metadata = written["metadata"]
        stored = self.store.get(rt.plural, metadata.get("namespace"), metadata["name"])
        return deep_copy(stored if stored is not None else written)

    def _remove(
        self, rt: ResourceType, obj: JsonObject, options: DeleteOptions
    ) -> JsonObject | None:
        """Delete obj; the object marked terminating if finalizers keep it, else None."""
        metadata = obj["metadata"]
        grace = grace_seconds(rt, obj, options)
        if rt.kind == "Pod" and self.controllers.jobs is not None:
            self.controllers.jobs.deleting(metadata["uid"], grace)
        kept = delete_object(self.store, rt.plural, obj, grace)
        if kept is not None:
            return kept
        self.controllers.forget(obj)
        # batch/v1 Jobs orphan their pods unless the request asks otherwise (kubectl asks for
        # Background); every other kind defaults to Background.
        default = "Orphan" if rt.kind == "Job" else "Background"
        if (options.propagation_policy or default) == "Orphan":
            self._orphan_dependents(metadata["uid"])
        if rt.kind == "Namespace":
            for namespaced in (r for r in RESOURCES if r.namespaced):
                for item in self.store.objects(namespaced.plural, metadata["name"]):
                    self.store.remove(namespaced.plural, metadata["name"], item["metadata"]["name"])
                    self.controllers.forget(item)
        return None

    def _orphan_dependents(self, owner_uid: str) -> None:
        for rt in RESOURCES:
            for obj in self.store.objects(rt.plural):
                references = obj["metadata"].get("ownerReferences") or []
                if any(reference["uid"] == owner_uid for reference in references):
                    orphan = deep_copy(obj)
                    kept = [r for r in references if r["uid"] != owner_uid]
                    orphan["metadata"]["ownerReferences"] = kept
                    if not kept:
                        del orphan["metadata"]["ownerReferences"]
                    self.store.put(rt.plural, orphan)

    def _apply_scale(
        self, rt: ResourceType, current: JsonObject, scale: JsonObject, dry_run: bool
    ) -> JsonObject:
        self.validator.validate(SCALE, scale)
        check_version(rt, current, scale)
        workload = deep_copy(current)
        workload["spec"]["replicas"] = (scale.get("spec") or {}).get("replicas") or 0
        return scale_of(self._update(rt, current, workload, dry_run=dry_run))


def _finalizers(obj: JsonObject) -> list[str]:
    return list(obj["metadata"].get("finalizers") or [])
