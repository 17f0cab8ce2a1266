"""RBAC for the Kubernetes API test server: who a token is, and what the stored Roles let it do.

It follows the real API server's request-info resolver and RBAC authorizer:

- A resource request's verb comes from the HTTP method (GET get/list/watch, POST create, PUT
  update, PATCH patch, DELETE delete/deletecollection); a GET or DELETE without a name is a
  list or a deletecollection; a list whose field selector pins `metadata.name` is authorized
  with that name (so `resourceNames` can allow it).
- Rules match on verbs, apiGroups, resources (`resource/subresource` for a subresource,
  `*/subresource` too) and resourceNames, with `*` wildcards. A ClusterRoleBinding grants its
  ClusterRole everywhere; a RoleBinding grants its Role, or a ClusterRole, in its namespace.
  Subjects are Users, Groups and ServiceAccounts (a RoleBinding's ServiceAccount subject
  without a namespace is in the binding's namespace).
- Members of system:masters may do anything (the server's admin token is one); discovery paths
  are open to every authenticated identity, as the default system:discovery binding makes them.
- A refusal is a 403 with the real Status body and message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.testing.kube.cluster import Cluster
from bot.testing.kube.model import ApiError, JsonObject, resource_by_plural

__all__ = ["MASTERS", "Identity", "RequestAttributes", "authorize", "request_attributes"]

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
# What the default system:discovery and system:public-info-viewer ClusterRoles open to everyone.
_DISCOVERY = re.compile(r"/(?:api|apis|openapi)(?:/.*)?|/(?:version|healthz|livez|readyz)/?")
_NAME = re.compile(r"^[^/%]+$")


@dataclass(frozen=True)
class Identity:
    """The authenticated user of a request: a name and its groups."""

    user: str
    groups: tuple[str, ...] = ()

    @classmethod
    def service_account(cls, namespace: str, name: str) -> Identity:
        """The identity of a ServiceAccount's token."""
        return cls(
            f"system:serviceaccount:{namespace}:{name}",
            ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED),
        )

    @property
    def service_account_ref(self) -> tuple[str, str] | None:
        """(namespace, name) when this is a ServiceAccount."""
        parts = self.user.split(":")
        if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
            return parts[2], parts[3]
        return None


@dataclass(frozen=True)
class RequestAttributes:
    """What the authorizer is asked about one request (the real server's RequestInfo)."""

    verb: str
    path: str
    resource_request: bool
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


_METHOD_VERBS = {
    "GET": "get",
    "HEAD": "get",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


def request_attributes(method: str, path: str, query: dict[str, str]) -> RequestAttributes:
    """The request as the authorizer sees it (k8s.io/apiserver's RequestInfoFactory)."""
    verb = _METHOD_VERBS.get(method, method.lower())
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return RequestAttributes(verb, path, resource_request=False)
    prefix, rest = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if len(rest) < 3:
            return RequestAttributes(verb, path, resource_request=False)
        group, rest = rest[0], rest[1:]
    rest = rest[1:]  # the version
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 else ""
    if not name and verb == "get":
        verb = "watch" if query.get("watch") in ("true", "1") else "list"
        name = _pinned_name(query.get("fieldSelector") or "")
    elif not name and verb == "delete":
        verb = "deletecollection"
    return RequestAttributes(verb, path, True, group, resource, subresource, namespace, name)


def authorize(
    cluster: Cluster, identity: Identity, attributes: RequestAttributes
) -> ApiError | None:
    """None when the identity may make the request; otherwise the 403 the server answers."""
    if MASTERS in identity.groups:
        return None
    if not attributes.resource_request and _DISCOVERY.fullmatch(attributes.path):
        return None
    with cluster.lock:  # the bindings and roles as they are at this moment
        rules = list(_rules(cluster, identity, attributes.namespace))
    if any(_allows(rule, attributes) for rule in rules):
        return None
    return forbidden(identity, attributes)


def forbidden(identity: Identity, attributes: RequestAttributes) -> ApiError:
    """The real server's 403 for a request its authorizer refused."""
    if not attributes.resource_request:
        why = f'User "{identity.user}" cannot {attributes.verb} path "{attributes.path}"'
        return ApiError(403, "Forbidden", f"forbidden: {why}", {})
    where = (
        f'in the namespace "{attributes.namespace}"'
        if attributes.namespace
        else "at the cluster scope"
    )
    why = (
        f'User "{identity.user}" cannot {attributes.verb} resource '
        f'"{attributes.combined_resource}" in API group "{attributes.group}" {where}'
    )
    qualified = (
        f"{attributes.resource}.{attributes.group}" if attributes.group else attributes.resource
    )
    subject = f'{qualified} "{attributes.name}"' if attributes.name else qualified
    details: JsonObject = {}
    if attributes.name:
        details["name"] = attributes.name
    if attributes.group:
        details["group"] = attributes.group
    details["kind"] = attributes.resource
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {why}", details)


def _pinned_name(field_selector: str) -> str:
    """The name a list's field selector requires exactly (`metadata.name=x`), or ""."""
    for term in field_selector.split(","):
        match = re.fullmatch(r"\s*metadata\.name\s*==?\s*([^\s,]+)\s*", term)
        if match and _NAME.match(match[1]):
            return match[1]
    return ""


def _rules(cluster: Cluster, identity: Identity, namespace: str) -> Iterable[JsonObject]:
    """Every rule granted to the identity for requests in `namespace` ("" for cluster scope)."""
    for binding in _objects(cluster, "clusterrolebindings", None):
        if _binds(binding, identity, binding_namespace=""):
            yield from _role_rules(cluster, binding["roleRef"], "")
    if not namespace:
        return
    for binding in _objects(cluster, "rolebindings", namespace):
        if _binds(binding, identity, binding_namespace=namespace):
            yield from _role_rules(cluster, binding["roleRef"], namespace)


def _role_rules(cluster: Cluster, ref: JsonObject, namespace: str) -> list[JsonObject]:
    if ref.get("kind") == "ClusterRole":
        role = cluster.store.get("clusterroles", None, str(ref.get("name")))
    elif ref.get("kind") == "Role" and namespace:
        role = cluster.store.get("roles", namespace, str(ref.get("name")))
    else:
        role = None
    return list((role or {}).get("rules") or [])


def _binds(binding: JsonObject, identity: Identity, *, binding_namespace: str) -> bool:
    account = identity.service_account_ref
    for subject in binding.get("subjects") or []:
        kind, name = subject.get("kind"), subject.get("name")
        if kind == "User" and name == identity.user:
            return True
        if kind == "Group" and name in identity.groups:
            return True
        if kind == "ServiceAccount" and account is not None:
            namespace = subject.get("namespace") or binding_namespace
            if (namespace, name) == account:
                return True
    return False


def _allows(rule: JsonObject, attributes: RequestAttributes) -> bool:
    if not _has(rule.get("verbs"), attributes.verb):
        return False
    if not attributes.resource_request:
        return any(
            url == "*"
            or url == attributes.path
            or (url.endswith("*") and attributes.path.startswith(url[:-1]))
            for url in rule.get("nonResourceURLs") or []
        )
    if not _has(rule.get("apiGroups"), attributes.group):
        return False
    resources = rule.get("resources") or []
    if not any(
        r == "*"
        or r == attributes.combined_resource
        or (attributes.subresource and r == f"*/{attributes.subresource}")
        for r in resources
    ):
        return False
    names = rule.get("resourceNames") or []
    return not names or (bool(attributes.name) and attributes.name in names)


def _has(values: Any, wanted: str) -> bool:
    return isinstance(values, list) and ("*" in values or wanted in values)


def _objects(cluster: Cluster, plural: str, namespace: str | None) -> list[JsonObject]:
    return list(cluster.store.objects(resource_by_plural(plural).plural, namespace))
