"""The vocabulary of the Kubernetes API test server: resource types, errors and timestamps."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "CHAOS_MESH_GROUP",
    "RESOURCES",
    "ApiError",
    "JsonObject",
    "ResourceType",
    "deep_copy",
    "find_resource",
    "now_rfc3339",
    "object_details",
    "resource_by_plural",
    "resource_of",
    "status_object",
]

JsonObject = dict[str, Any]

CHAOS_MESH_GROUP = "chaos-mesh.org"


@dataclass(frozen=True)
class ResourceType:
    """One REST resource the server serves (e.g. pods, deployments.apps, podchaos.chaos-mesh.org)."""

    group: str
    version: str
    plural: str
    kind: str
    _: KW_ONLY
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # Kinds with a status subresource ignore status in writes to the main resource, as the real
    # server does; controllers own those statuses.
    has_status: bool = True
    # Custom resources are validated with our JSON Schemas and refuse strategic merge patches.
    custom: bool = False

    @property
    def api_version(self) -> str:
        """The apiVersion of objects of this type ("v1", "apps/v1")."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """The resource as it appears in server messages: "pods", "deployments.apps"."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        """The kind as it appears in validation messages: "Pod", "Deployment.apps"."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def singular(self) -> str:
        """The lower-case singular name used by discovery."""
        return self.kind.lower()


def _chaos(plural: str, kind: str) -> ResourceType:
    return ResourceType(CHAOS_MESH_GROUP, "v1alpha1", plural, kind, has_status=False, custom=True)


def _rbac(plural: str, kind: str, *, namespaced: bool) -> ResourceType:
    return ResourceType(
        "rbac.authorization.k8s.io", "v1", plural, kind, namespaced=namespaced, has_status=False
    )


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",)),
    ResourceType("", "v1", "nodes", "Node", namespaced=False, short_names=("no",)),
    ResourceType("", "v1", "pods", "Pod", short_names=("po",), subresources=("eviction",)),
    ResourceType("", "v1", "secrets", "Secret", has_status=False),
    ResourceType("", "v1", "configmaps", "ConfigMap", short_names=("cm",), has_status=False),
    ResourceType("", "v1", "services", "Service", short_names=("svc",)),
    ResourceType(
        "apps", "v1", "deployments", "Deployment", short_names=("deploy",), subresources=("scale",)
    ),
    ResourceType(
        "apps", "v1", "statefulsets", "StatefulSet", short_names=("sts",), subresources=("scale",)
    ),
    ResourceType(
        "apps", "v1", "replicasets", "ReplicaSet", short_names=("rs",), subresources=("scale",)
    ),
    ResourceType(
        "policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short_names=("pdb",)
    ),
    ResourceType(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        short_names=("netpol",),
        has_status=False,
    ),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", has_status=False),
    ResourceType(
        "", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",), has_status=False
    ),
    ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",)),
    ResourceType("batch", "v1", "jobs", "Job"),
    ResourceType("batch", "v1", "cronjobs", "CronJob", short_names=("cj",)),
    _rbac("roles", "Role", namespaced=True),
    _rbac("rolebindings", "RoleBinding", namespaced=True),
    _rbac("clusterroles", "ClusterRole", namespaced=False),
    _rbac("clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    _chaos("podchaos", "PodChaos"),
    _chaos("networkchaos", "NetworkChaos"),
    _chaos("stresschaos", "StressChaos"),
    _chaos("iochaos", "IOChaos"),
    _chaos("dnschaos", "DNSChaos"),
    _chaos("timechaos", "TimeChaos"),
)

_BY_PLURAL = {rt.plural: rt for rt in RESOURCES}
_BY_GROUP_VERSION = {(rt.group, rt.version, rt.plural): rt for rt in RESOURCES}
_BY_KIND = {(rt.api_version, rt.kind): rt for rt in RESOURCES}


def resource_of(manifest: Mapping[str, Any]) -> ResourceType:
    """The resource type of a manifest, by its apiVersion and kind."""
    key = (str(manifest.get("apiVersion")), str(manifest.get("kind")))
    try:
        return _BY_KIND[key]
    except KeyError:
        raise ValueError(f"the test server does not serve {key[1]} of {key[0]}") from None


def find_resource(group: str, version: str, plural: str) -> ResourceType | None:
    """The resource type served at /api(s)/<group>/<version>/<plural>, if there is one."""
    return _BY_GROUP_VERSION.get((group, version, plural))


def resource_by_plural(plural: str) -> ResourceType:
    """The resource type for a plural name such as "pods" (the helpers' naming)."""
    try:
        return _BY_PLURAL[plural]
    except KeyError:
        known = ", ".join(sorted(_BY_PLURAL))
        raise KeyError(f"unknown resource {plural!r}; known resources: {known}") from None


@dataclass
class ApiError(Exception):
    """An error the server answers with a Status object (the shape the real API server uses)."""

    code: int
    reason: str
    message: str
    details: JsonObject | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def status(self) -> JsonObject:
        """The Status body for this error."""
        return status_object(self.code, self.reason, self.message, self.details)

    @classmethod
    def not_found(cls, rt: ResourceType, name: str) -> ApiError:
        """404 for a missing object: `pods "web-0" not found`, details {name, kind}."""
        return cls(
            404, "NotFound", f'{rt.group_resource} "{name}" not found', object_details(rt, name)
        )

    @classmethod
    def already_exists(cls, rt: ResourceType, name: str) -> ApiError:
        """409 for a create whose name is taken."""
        message = f'{rt.group_resource} "{name}" already exists'
        return cls(409, "AlreadyExists", message, object_details(rt, name))

    @classmethod
    def conflict(cls, rt: ResourceType, name: str, why: str) -> ApiError:
        """409 for a write that lost an optimistic-concurrency race."""
        message = f'Operation cannot be fulfilled on {rt.group_resource} "{name}": {why}'
        return cls(409, "Conflict", message, object_details(rt, name))

    @classmethod
    def invalid(cls, rt: ResourceType, name: str, causes: list[tuple[str, str]]) -> ApiError:
        """422 for an object that fails validation; causes are (field, message) pairs."""
        text = ", ".join(f"{path}: {msg}" if path else msg for path, msg in causes)
        details: JsonObject = {"name": name, "kind": rt.kind}
        if rt.group:
            details["group"] = rt.group
        details["causes"] = [
            {"reason": _cause_reason(msg), "message": msg, "field": path} for path, msg in causes
        ]
        return cls(422, "Invalid", f'{rt.group_kind} "{name}" is invalid: {text}', details)

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        """400 for a request the server cannot make sense of."""
        return cls(400, "BadRequest", message)

    @classmethod
    def internal(cls, message: str) -> ApiError:
        """500 for what the real server reports as an internal error."""
        return cls(500, "InternalError", f"Internal error occurred: {message}")

    @classmethod
    def no_route(cls) -> ApiError:
        """404 for a path that names no resource the server knows."""
        return cls(404, "NotFound", "the server could not find the requested resource", {})


# field.ErrorType's reasons, by the words the server's messages start with.
_CAUSE_REASONS = (
    ("Required value", "FieldValueRequired"),
    ("Forbidden", "FieldValueForbidden"),
    ("Unsupported value", "FieldValueNotSupported"),
    ("Duplicate value", "FieldValueDuplicate"),
)


def _cause_reason(message: str) -> str:
    for start, reason in _CAUSE_REASONS:
        if message.startswith(start):
            return reason
    return "FieldValueInvalid"


def object_details(rt: ResourceType, name: str) -> JsonObject:
    details: JsonObject = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    return details


def status_object(
    code: int | None, reason: str = "", message: str = "", details: JsonObject | None = None
) -> JsonObject:
    """A metav1.Status: a Failure for error codes, else a Success (which often omits the code)."""
    status: JsonObject = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if code is not None and code >= 400 else "Success",
    }
    if message:
        status["message"] = message
    if reason:
        status["reason"] = reason
    if details is not None:
        status["details"] = details
    if code is not None:
        status["code"] = code
    return status


def now_rfc3339() -> str:
    """The current UTC time in the API's timestamp format (second precision, trailing Z)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def deep_copy(obj: JsonObject) -> JsonObject:
    """A deep copy of a JSON object, so callers never share the store's dicts."""
    return copy.deepcopy(obj)
