"""What the run engine asks the cluster: live pods, dry runs, and what a run left behind."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, cast

from kubernetes import client

# Imported now, not on first use: kubernetes loads its API modules lazily (about 0.3 s), and
# the first use is the leftover check right after a rollback, on the path of every abort.
from kubernetes.client.api.apps_v1_api import AppsV1Api
from kubernetes.client.api.core_v1_api import CoreV1Api
from kubernetes.client.api.custom_objects_api import CustomObjectsApi
from kubernetes.client.api.networking_v1_api import NetworkingV1Api
from kubernetes.client.exceptions import ApiException

from bot.k8s.client import ClientFactory
from bot.k8s.dry_run import server_side_dry_run
from bot.runs.models import Run
from bot.runs.service import RUN_LABEL

__all__ = ["CHAOS_MESH_KINDS", "KubeRunCluster"]

CHAOS_MESH_KINDS = ("podchaos", "networkchaos", "stresschaos", "iochaos", "dnschaos", "timechaos")
Obj = dict[str, Any]


class KubeRunCluster:
    """Read-only Kubernetes queries for preflight, dry runs and the leftover check."""

    def __init__(self, clients: ClientFactory) -> None:
        self._clients = clients

    def live_pods(self, run: Run) -> int:
        """Running pods matched by the service's selector."""
        return len(self._pods(run))

    def dry_run(self) -> AbstractContextManager[list[str]]:
        """Writes go to the API with dryRun=All while the block is open; yields them."""
        return server_side_dry_run()

    def leftovers(self, key: str, *, context: str | None) -> list[str]:
        """Every object still carrying the run's label, as `kind/name` or `namespace/kind/name`."""
        api = self._clients.api_client(context)
        selector = f"{RUN_LABEL}={key}"
        core, apps = CoreV1Api(api), AppsV1Api(api)
        net, custom = NetworkingV1Api(api), CustomObjectsApi(api)
        found = [
            f"node/{n['metadata']['name']}"
            for n in _items(api, core.list_node(label_selector=selector))
        ]
        listings = [
            ("networkpolicy", net.list_network_policy_for_all_namespaces),
            ("deployment", apps.list_deployment_for_all_namespaces),
            ("statefulset", apps.list_stateful_set_for_all_namespaces),
            ("secret", core.list_secret_for_all_namespaces),
            ("configmap", core.list_config_map_for_all_namespaces),
        ]
        for kind, lister in listings:
            for item in _items(api, lister(label_selector=selector)):
                found.append(f"{item['metadata']['namespace']}/{kind}/{item['metadata']['name']}")
        for plural in CHAOS_MESH_KINDS:
            try:
                listing = cast(
                    Obj,
                    custom.list_cluster_custom_object(
                        "chaos-mesh.org", "v1alpha1", plural, label_selector=selector
                    ),
                )
            except ApiException as exc:
                if exc.status == 404:  # Chaos Mesh not installed: nothing of ours can be there
                    continue
                raise
            for item in listing.get("items", []):
                meta = item["metadata"]
                found.append(f"{meta.get('namespace')}/{plural}/{meta['name']}")
        return found

    def _pods(self, run: Run) -> list[Obj]:
        api = self._clients.api_client(run.cluster_context)
        listing = CoreV1Api(api).list_namespaced_pod(
            run.service.namespace, label_selector=run.service.selector
        )
        running = [p for p in _items(api, listing) if p.get("status", {}).get("phase") == "Running"]
        return sorted(
            running,
            key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]),
        )


def _items(api: client.ApiClient, listing: Any) -> list[Obj]:
    items: list[Obj] = api.sanitize_for_serialization(listing).get("items", [])
    return items
