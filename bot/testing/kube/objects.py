"""Request-independent pieces of the API semantics: decoding bodies, preconditions, answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.testing.kube.model import (
    ApiError,
    JsonObject,
    ResourceType,
    deep_copy,
    object_details,
    status_object,
)
from bot.testing.kube.selectors import selector_string

__all__ = [
    "DeleteOptions",
    "check_name",
    "check_preconditions",
    "check_version",
    "decode",
    "deleted_view",
    "desired_state",
    "grace_seconds",
    "place",
    "scale_of",
]

_CONFLICT = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


@dataclass(frozen=True)
class DeleteOptions:
    """What a DELETE (or an Eviction's deleteOptions) asks for."""

    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None

    @classmethod
    def parse(cls, body: Any, query: dict[str, str]) -> DeleteOptions:
        """Options from a DeleteOptions body and the query string (the query wins)."""
        body = body if isinstance(body, dict) else {}
        preconditions = body.get("preconditions") or {}
        grace = query.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
        try:
            grace_seconds = None if grace is None else int(grace)
        except ValueError:
            raise ApiError.bad_request(f"invalid gracePeriodSeconds {grace!r}") from None
        return cls(
            grace_period_seconds=grace_seconds,
            propagation_policy=query.get("propagationPolicy", body.get("propagationPolicy")),
            precondition_uid=preconditions.get("uid"),
            precondition_resource_version=preconditions.get("resourceVersion"),
        )


def decode(rt: ResourceType, body: Any) -> JsonObject:
    """A copy of a request body as an rt object, with apiVersion/kind defaulted from the URL."""
    if not isinstance(body, dict):
        raise ApiError.bad_request(
            f"the body of the request must be a JSON object (got {type(body).__name__})"
        )
    obj = deep_copy(body)
    api_version = obj.get("apiVersion") or rt.api_version
    kind = obj.get("kind") or rt.kind
    if api_version != rt.api_version:
        raise ApiError.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({rt.api_version})"
        )
    if kind != rt.kind:
        raise ApiError.bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
        )
    obj["apiVersion"], obj["kind"] = api_version, kind
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = obj["metadata"] = {}
    if not isinstance(metadata, dict):
        raise ApiError.bad_request("metadata must be an object")
    return obj


def place(rt: ResourceType, obj: JsonObject, namespace: str | None) -> None:
    metadata = obj["metadata"]
    if not rt.namespaced:
        metadata.pop("namespace", None)
        return
    if metadata.get("namespace") and metadata["namespace"] != namespace:
        raise ApiError.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    metadata["namespace"] = namespace


def check_name(obj: JsonObject, name: str) -> None:
    if obj["metadata"].get("name") != name:
        raise ApiError.bad_request(
            f"the name of the object ({obj['metadata'].get('name')}) does not match the name on "
            f"the URL ({name})"
        )


def check_version(rt: ResourceType, current: JsonObject, new: JsonObject) -> None:
    """Optimistic concurrency: a write carrying a resourceVersion must carry the current one."""
    name = current["metadata"]["name"]
    wanted_uid = new["metadata"].get("uid")
    if wanted_uid and wanted_uid != current["metadata"]["uid"]:
        raise ApiError.conflict(
            rt,
            name,
            f"Precondition failed: UID in precondition: {wanted_uid}, UID in object meta: "
            f"{current['metadata']['uid']}",
        )
    version = new["metadata"].get("resourceVersion")
    if version and version != current["metadata"]["resourceVersion"]:
        raise ApiError.conflict(rt, name, _CONFLICT)


def check_preconditions(rt: ResourceType, current: JsonObject, options: DeleteOptions) -> None:
    metadata = current["metadata"]
    if options.precondition_uid and options.precondition_uid != metadata["uid"]:
        raise ApiError.conflict(
            rt,
            metadata["name"],
            f"Precondition failed: UID in precondition: {options.precondition_uid}, "
            f"UID in object meta: {metadata['uid']}",
        )
    wanted = options.precondition_resource_version
    if wanted and wanted != metadata["resourceVersion"]:
        raise ApiError.conflict(rt, metadata["name"], _CONFLICT)


def deleted_view(rt: ResourceType, obj: JsonObject, options: DeleteOptions) -> JsonObject:
    """What DELETE answers: the pod or namespace as it starts terminating, a Service as it was,
    else a Success Status (as the real registries do)."""
    now = datetime.now(UTC)
    if rt.kind == "Service":
        return deep_copy(obj)
    if rt.kind == "Pod":
        view = deep_copy(obj)
        grace = grace_seconds(rt, obj, options)
        if grace > 0:
            deadline = now + timedelta(seconds=grace)
            view["metadata"]["deletionTimestamp"] = deadline.strftime("%Y-%m-%dT%H:%M:%SZ")
            view["metadata"]["deletionGracePeriodSeconds"] = grace
        return view
    if rt.kind == "Namespace":
        view = deep_copy(obj)
        view["metadata"]["deletionTimestamp"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        view.setdefault("status", {})["phase"] = "Terminating"
        return view
    details = object_details(rt, obj["metadata"]["name"])
    details["uid"] = obj["metadata"]["uid"]
    return status_object(None, details=details)


def grace_seconds(rt: ResourceType, obj: JsonObject, options: DeleteOptions) -> int:
    """The grace period a delete gives the object: a pod's own (or the request's), else 0."""
    if rt.kind != "Pod":
        return 0
    grace = options.grace_period_seconds
    if grace is None:
        grace = int(obj["spec"].get("terminationGracePeriodSeconds", 30))
    return grace


def desired_state(obj: JsonObject) -> JsonObject:
    """Everything but metadata and status: a change here bumps metadata.generation."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def scale_of(workload: JsonObject) -> JsonObject:
    metadata = workload["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            key: metadata[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if key in metadata
        },
        "spec": {"replicas": workload["spec"].get("replicas", 1)},
        "status": {
            "replicas": (workload.get("status") or {}).get("replicas", 0),
            "selector": selector_string(workload["spec"].get("selector")),
        },
    }
