"""Raw-JSON Kubernetes access for the fault providers, on the client chaosk8s builds.

Objects are read and written as plain JSON dicts, never through the client's models: a model
drops the fields it does not know, and a read-modify-replace through one would erase them.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from chaosk8s import create_k8s_api_client
from chaoslib.exceptions import ActivityFailed
from kubernetes import client

__all__ = [
    "CONFIGMAPS",
    "DEPLOYMENTS",
    "JOBS",
    "NETWORKPOLICIES",
    "NODES",
    "PODS",
    "REPLICASETS",
    "SECRETS",
    "SERVICES",
    "STATEFULSETS",
    "Kind",
    "Kube",
    "KubeError",
    "Obj",
    "Secrets",
]

Obj = dict[str, Any]
Secrets = Mapping[str, Any] | None

# (connect, read) seconds: a fault must not hang the run on a silent API server.
TIMEOUT = (5.0, 30.0)
CONFLICT_RETRIES = 3


@dataclass(frozen=True)
class Kind:
    """A REST resource: where it is served and whether it lives in a namespace."""

    prefix: str  # "/api/v1" or "/apis/<group>/<version>"
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None, name: str | None = None, sub: str | None = None) -> str:
        """The URL path of the collection (namespace None: of all namespaces), or of one object."""
        parts = [self.prefix]
        if self.namespaced and namespace is not None:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name is not None:
            parts.append(quote(name, safe=""))
        if sub is not None:
            parts.append(sub)
        return "/".join(parts)


NODES = Kind("/api/v1", "nodes", namespaced=False)
PODS = Kind("/api/v1", "pods")
SECRETS = Kind("/api/v1", "secrets")
CONFIGMAPS = Kind("/api/v1", "configmaps")
SERVICES = Kind("/api/v1", "services")
DEPLOYMENTS = Kind("/apis/apps/v1", "deployments")
REPLICASETS = Kind("/apis/apps/v1", "replicasets")
STATEFULSETS = Kind("/apis/apps/v1", "statefulsets")
NETWORKPOLICIES = Kind("/apis/networking.k8s.io/v1", "networkpolicies")
JOBS = Kind("/apis/batch/v1", "jobs")  # a run's load (bot.load)


class KubeError(ActivityFailed):  # type: ignore[misc]
    """An API call answered with an error Status; chaoslib records the activity as failed."""

    def __init__(self, method: str, path: str, status: int, body: Obj) -> None:
        self.status = status
        self.reason = str(body.get("reason") or "")
        self.message = str(body.get("message") or "")
        self.causes: list[Obj] = list((body.get("details") or {}).get("causes") or [])
        super().__init__(f"{method} {path}: {status} {self.reason}: {self.message}".rstrip(": "))


class Kube:
    """One API client (chosen as chaosk8s chooses it, or given) and JSON verbs on any Kind."""

    def __init__(self, secrets: Secrets = None, *, api: client.ApiClient | None = None) -> None:
        self.api = api if api is not None else create_k8s_api_client(dict(secrets or {}))

    def get(self, kind: Kind, namespace: str | None, name: str) -> Obj | None:
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", kind.path(namespace, name))
        except KubeError as error:
            if error.status == 404:
                return None
            raise

    def list(
        self,
        kind: Kind,
        namespace: str | None,
        *,
        labels: str | None = None,
        fields: str | None = None,
    ) -> builtins.list[Obj]:
        """The objects of a kind (in one namespace, or all with None), filtered by selectors."""
        query = [(k, v) for k, v in (("labelSelector", labels), ("fieldSelector", fields)) if v]
        items: builtins.list[Obj] = (
            self.request("GET", kind.path(namespace), query=query).get("items") or []
        )
        return sorted(
            items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])
        )

    def create(self, kind: Kind, namespace: str | None, body: Obj) -> Obj:
        """POST a new object."""
        return self.request("POST", kind.path(namespace), body=body)

    def replace(self, kind: Kind, body: Obj) -> Obj:
        """PUT an object back; its resourceVersion makes a concurrent change answer 409."""
        metadata = body["metadata"]
        return self.request(
            "PUT", kind.path(metadata.get("namespace"), metadata["name"]), body=body
        )

    def delete(
        self,
        kind: Kind,
        namespace: str | None,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        propagation: str = "Background",
    ) -> bool:
        """DELETE an object (dependents go in the background, or first with "Foreground");
        False when it was already gone."""
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        try:
            self.request("DELETE", kind.path(namespace, name), body=body)
        except KubeError as error:
            if error.status == 404:
                return False
            raise
        return True

    def evict(self, namespace: str, name: str) -> None:
        """Ask the eviction API to remove a pod; a disruption budget may answer 429."""
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        self.request("POST", PODS.path(namespace, name, "eviction"), body=body)

    def change(
        self, kind: Kind, namespace: str | None, name: str, mutate: Callable[[Obj], bool]
    ) -> Obj | None:
        """Read, mutate and replace an object, re-reading on a 409 conflict.

        mutate edits the object in place and says whether it changed anything; None when the
        object does not exist.
        """
        for attempt in range(CONFLICT_RETRIES):
            obj = self.get(kind, namespace, name)
            if obj is None:
                return None
            if not mutate(obj):
                return obj
            try:
                return self.replace(kind, obj)
            except KubeError as error:
                if error.status != 409 or attempt == CONFLICT_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def request(
        self,
        method: str,
        path: str,
        *,
        query: builtins.list[tuple[str, str]] | None = None,
        body: Any = None,
    ) -> Obj:
        """One JSON request through the client's auth and transport; errors raise KubeError."""
        verb, url, headers, payload, _ = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(verb, url, headers, payload, _request_timeout=TIMEOUT)
        response.read()
        text = response.data.decode("utf-8") if response.data else ""
        try:
            answer = json.loads(text) if text else {}
        except ValueError:
            answer = {"message": text[:200]}
        if not 200 <= response.status <= 299:
            raise KubeError(
                method, path, response.status, answer if isinstance(answer, dict) else {}
            )
        return answer if isinstance(answer, dict) else {}
