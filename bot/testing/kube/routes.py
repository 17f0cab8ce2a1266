"""The route table of the Kubernetes API test server: URL paths and verbs to cluster operations."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.testing.kube.cluster import Cluster
from bot.testing.kube.model import (
    RESOURCES,
    ApiError,
    JsonObject,
    ResourceType,
    find_resource,
)
from bot.testing.kube.objects import DeleteOptions

__all__ = ["ApiRequest", "ApiResponse", "dispatch"]


@dataclass(frozen=True)
class ApiRequest:
    """A decoded request: what the route handlers work from."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str | None
    body: Any  # the parsed JSON body, None when there is none


@dataclass
class ApiResponse:
    """A JSON answer with its HTTP status and any extra headers."""

    status: int
    body: JsonObject
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Target:
    """What a resource path names: a resource type, maybe a namespace, maybe an object."""

    rt: ResourceType
    namespace: str | None
    name: str


_Handler = Callable[[Cluster, ApiRequest, re.Match[str]], ApiResponse]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: _Handler


# --- discovery --------------------------------------------------------------------------------

_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update"]
_SUBRESOURCES = {
    "eviction": {"group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]},
    "scale": {
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
        "verbs": ["get", "patch", "update"],
    },
}


def _version(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    major, minor = cluster.validator.kube_version.split(".")[:2]
    return ApiResponse(
        200,
        {
            "major": major,
            "minor": minor,
            "gitVersion": f"v{cluster.validator.kube_version}",
            "gitCommit": "0" * 40,
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.24.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        },
    )


def _core_versions(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    return ApiResponse(
        200,
        {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
        },
    )


def _group(name: str) -> JsonObject:
    versions = sorted({rt.version for rt in RESOURCES if rt.group == name})
    entries = [{"groupVersion": f"{name}/{version}", "version": version} for version in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def _groups(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    names = sorted({rt.group for rt in RESOURCES if rt.group})
    groups = [_group(name) for name in names]
    return ApiResponse(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})


def _one_group(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    if not any(rt.group == match["group"] for rt in RESOURCES):
        raise ApiError.no_route()
    return ApiResponse(200, {"kind": "APIGroup", "apiVersion": "v1", **_group(match["group"])})


def _resources(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    group, version = match["group"] or "", match["version"] or "v1"
    served = [rt for rt in RESOURCES if rt.group == group and rt.version == version]
    if not served:
        raise ApiError.no_route()
    entries: list[JsonObject] = []
    for rt in served:
        entries.append(
            {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": _VERBS,
                **({"shortNames": list(rt.short_names)} if rt.short_names else {}),
            }
        )
        for sub in rt.subresources:
            entries.append(
                {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": True}
                | _SUBRESOURCES[sub]
            )
    group_version = f"{group}/{version}" if group else version
    body = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version}
    return ApiResponse(200, {**body, "resources": entries})


# --- resources --------------------------------------------------------------------------------


def _target(match: re.Match[str], *, item: bool) -> _Target:
    """Resolve the resource a path names, answering 404 the way the server does otherwise."""
    group = match["group"] or ""
    version = match["version"] or match["core"]
    rt = find_resource(group, version, match["plural"])
    namespace = match["namespace"]
    if rt is None or (namespace is not None and not rt.namespaced):
        raise ApiError.no_route()
    if item and rt.namespaced and namespace is None:
        raise ApiError.no_route()
    return _Target(rt, namespace, match.groupdict().get("name") or "")


def _dry_run(request: ApiRequest) -> bool:
    value = request.query.get("dryRun")
    if value is None:
        return False
    if value != "All":
        raise ApiError.bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
    return True


def _list(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    target = _target(match, item=False)
    if request.query.get("watch") in ("true", "1"):
        raise ApiError.bad_request("watch is not supported by the Kubernetes API test server")
    items = cluster.select(
        target.rt,
        target.namespace,
        label_selector=request.query.get("labelSelector"),
        field_selector=request.query.get("fieldSelector"),
    )
    return ApiResponse(200, cluster.list_object(target.rt, items))


def _create(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    target = _target(match, item=False)
    if target.rt.namespaced and target.namespace is None:
        raise ApiError.no_route()
    created = cluster.create(target.rt, target.namespace, request.body, dry_run=_dry_run(request))
    return ApiResponse(201, created)


def _delete_collection(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    target = _target(match, item=False)
    deleted = cluster.delete_collection(
        target.rt,
        target.namespace,
        DeleteOptions.parse(request.body, request.query),
        label_selector=request.query.get("labelSelector"),
        field_selector=request.query.get("fieldSelector"),
        dry_run=_dry_run(request),
    )
    return ApiResponse(200, deleted)


def _get(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    target = _target(match, item=True)
    return ApiResponse(200, cluster.get(target.rt, target.namespace, target.name))


def _replace(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    t = _target(match, item=True)
    replaced = cluster.replace(t.rt, t.namespace, t.name, request.body, dry_run=_dry_run(request))
    return ApiResponse(200, replaced)


def _patch(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    t = _target(match, item=True)
    patched = cluster.patch(
        t.rt, t.namespace, t.name, request.content_type, request.body, dry_run=_dry_run(request)
    )
    return ApiResponse(200, patched)


def _delete(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    t = _target(match, item=True)
    options = DeleteOptions.parse(request.body, request.query)
    deleted = cluster.delete(t.rt, t.namespace, t.name, options, dry_run=_dry_run(request))
    return ApiResponse(200, deleted)


def _evict(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    t = _target(match, item=True)
    # The real server answers 201 with a bare Success Status.
    return ApiResponse(
        201, cluster.evict(str(t.namespace), t.name, request.body, dry_run=_dry_run(request))
    )


def _read_scale(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    t = _target(match, item=True)
    return ApiResponse(200, cluster.read_scale(t.rt, str(t.namespace), t.name))


def _replace_scale(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    t = _target(match, item=True)
    scale = cluster.replace_scale(
        t.rt, str(t.namespace), t.name, request.body, dry_run=_dry_run(request)
    )
    return ApiResponse(200, scale)


def _patch_scale(cluster: Cluster, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
    t = _target(match, item=True)
    scale = cluster.patch_scale(
        t.rt,
        str(t.namespace),
        t.name,
        request.content_type,
        request.body,
        dry_run=_dry_run(request),
    )
    return ApiResponse(200, scale)


_PREFIX = r"/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
_IN_NAMESPACE = r"(?:/namespaces/(?P<namespace>[^/]+))?"
_COLLECTION = rf"{_PREFIX}{_IN_NAMESPACE}/(?P<plural>[^/]+)"
_ITEM = rf"{_COLLECTION}/(?P<name>[^/]+)"
_EVICTION = rf"{_PREFIX}/namespaces/(?P<namespace>[^/]+)/(?P<plural>pods)/(?P<name>[^/]+)/eviction"
_SCALE = (
    rf"{_PREFIX}/namespaces/(?P<namespace>[^/]+)"
    r"/(?P<plural>deployments|statefulsets|replicasets)/(?P<name>[^/]+)/scale"
)


def _route(method: str, pattern: str, handler: _Handler) -> _Route:
    return _Route(method, re.compile(pattern), handler)


ROUTES: tuple[_Route, ...] = (
    _route("GET", r"/version/?", _version),
    _route("GET", r"/api/?", _core_versions),
    _route("GET", r"/apis/?", _groups),
    _route("GET", r"/api/(?P<version>v1)/?(?P<group>)", _resources),
    _route("GET", r"/apis/(?P<group>[^/]+)/?", _one_group),
    _route("GET", r"/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/?", _resources),
    _route("POST", _EVICTION, _evict),
    _route("GET", _SCALE, _read_scale),
    _route("PUT", _SCALE, _replace_scale),
    _route("PATCH", _SCALE, _patch_scale),
    _route("GET", _ITEM, _get),
    _route("PUT", _ITEM, _replace),
    _route("PATCH", _ITEM, _patch),
    _route("DELETE", _ITEM, _delete),
    _route("GET", _COLLECTION, _list),
    _route("POST", _COLLECTION, _create),
    _route("DELETE", _COLLECTION, _delete_collection),
)

_JSON_BODY_METHODS = ("POST", "PUT")


def dispatch(cluster: Cluster, request: ApiRequest) -> ApiResponse:
    """Answer a request through the route table; every failure becomes a Status response."""
    try:
        return _route_request(cluster, request)
    except ApiError as error:
        return ApiResponse(error.code, error.status(), dict(error.headers))


def _route_request(cluster: Cluster, request: ApiRequest) -> ApiResponse:
    path_known = False
    for route in ROUTES:
        match = route.pattern.fullmatch(request.path)
        if match is None:
            continue
        path_known = True
        if route.method == request.method:
            if request.method in _JSON_BODY_METHODS and request.content_type not in (
                None,
                "application/json",
            ):
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types "
                    f'include: application/json (got "{request.content_type}")',
                )
            return route.handler(cluster, request, match)
    if path_known:
        raise ApiError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    raise ApiError.no_route()
