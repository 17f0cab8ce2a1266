"""What the run engine asks the cluster: live pods, dry runs, and what a run left behind."""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager
from typing import Any

from kubernetes import client

# Imported now, not on first use: kubernetes loads its API modules lazily (about 0.3 s),
# which would otherwise land on the first preflight of a run.
from kubernetes.client.api.core_v1_api import CoreV1Api

from bot.k8s.client import ClientFactory
from bot.k8s.dry_run import server_side_dry_run
from bot.k8s.sweep import MARKED_KINDS, Marked, kinds_named, marked_objects

__all__ = ["KubeRunCluster"]

Obj = dict[str, Any]
# How the leftover check names each kind (Chaos Mesh kinds by their plural).
_LEFTOVER_NAMES = {
    "nodes": "node",
    "networkpolicies": "networkpolicy",
    "deployments": "deployment",
    "statefulsets": "statefulset",
    "secrets": "secret",
    "configmaps": "configmap",
    "jobs": "job",
}


class KubeRunCluster:
    """Read-only Kubernetes queries for preflight, dry runs and the leftover check.

    The leftover check looks in `namespaces` (the allowlist) and at nodes, never across the
    cluster, so a run needs no cluster-wide list permission.
    """

    def __init__(self, clients: ClientFactory, *, namespaces: Collection[str] = ()) -> None:
        self._clients = clients
        self._namespaces = frozenset(namespaces)

    def running_pods(self, *, context: str | None, namespace: str, selector: str) -> frozenset[str]:
        """The names of the running pods the selector matches in the namespace."""
        api = self._clients.api_client(context)
        listing = CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector)
        return frozenset(
            p["metadata"]["name"]
            for p in _items(api, listing)
            if p.get("status", {}).get("phase") == "Running"
        )

    def dry_run(self) -> AbstractContextManager[list[str]]:
        """Writes go to the API with dryRun=All while the block is open; yields them."""
        return server_side_dry_run()

    def leftovers(
        self, key: str, *, context: str | None, kinds: Collection[str] | None = None
    ) -> list[str]:
        """Every object still carrying the run's label, as `kind/name` or `namespace/kind/name`.

        kinds: the `resource.group` kinds the run's experiment creates or changes (its
        `creates`): only those are listed, so a run needs list permission on nothing else (no
        Secrets unless it swaps certificates). None: every kind a fault may mark.
        """
        api = self._clients.api_client(context)
        listed = MARKED_KINDS if kinds is None else kinds_named(kinds)
        found = marked_objects(api, namespaces=self._namespaces, kinds=listed, run_key=key)
        return [_leftover(m) for m in found]


def _leftover(marked: Marked) -> str:
    kind = _LEFTOVER_NAMES.get(marked.kind.plural, marked.kind.plural)
    return "/".join(part for part in (marked.namespace, kind, marked.name) if part)


def _items(api: client.ApiClient, listing: Any) -> list[Obj]:
    items: list[Obj] = api.sanitize_for_serialization(listing).get("items", [])
    return items
