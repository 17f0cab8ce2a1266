"""The catalogue's questions (ClusterView) answered by the Kubernetes API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from bot.catalog.cluster import (
    ClusterUnreachable,
    ContainerReport,
    PodReport,
    WorkloadNotFound,
    WorkloadReport,
)
from bot.catalog.spec import WorkloadRef
from bot.k8s.client import ClientFactory
from bot.selectors import label_selector_requirements, labels_match, selector_string

__all__ = ["KubeCluster"]

ZONE_LABEL = "topology.kubernetes.io/zone"
# Connect and read time-outs: onboarding checks run inside Slack's three-second ack.
TIMEOUT = (1.0, 2.0)

T = TypeVar("T")


class KubeCluster:
    """Read-only views of workloads, pods, nodes and PDBs."""

    def __init__(self, clients: ClientFactory) -> None:
        self._clients = clients

    def _call(self, context: str | None, fn: Callable[[client.ApiClient], T]) -> T:
        api = self._clients.api_client(context)
        try:
            return fn(api)
        except ApiException as exc:
            if exc.status in (401, 403):
                raise ClusterUnreachable(
                    context, f"not authorised ({exc.status} {exc.reason})"
                ) from None
            raise ClusterUnreachable(
                context, f"the API answered {exc.status} {exc.reason}"
            ) from None
        except (HTTPError, OSError) as exc:
            raise ClusterUnreachable(context, type(exc).__name__) from None

    def list_workloads(self, *, context: str | None, namespace: str) -> list[WorkloadRef]:
        def read(api: client.ApiClient) -> list[WorkloadRef]:
            found = [
                WorkloadRef(kind=kind, name=body["metadata"]["name"])
                for kind, body in _workloads(api, namespace)
            ]
            return sorted(found, key=lambda w: (w.kind, w.name))

        return self._call(context, read)

    def resolve_selector(
        self, *, context: str | None, namespace: str, workload: WorkloadRef
    ) -> str:
        def read(api: client.ApiClient) -> str:
            body = self._workload(api, namespace, workload)
            return selector_string(body.get("spec", {}).get("selector"))

        return self._call(context, read)

    def pod_names(self, *, context: str | None, namespace: str, selector: str) -> frozenset[str]:
        def read(api: client.ApiClient) -> frozenset[str]:
            pods = client.CoreV1Api(api).list_namespaced_pod(
                namespace, label_selector=selector, _request_timeout=TIMEOUT
            )
            listing = api.sanitize_for_serialization(pods)
            return frozenset(str(p["metadata"]["name"]) for p in listing.get("items", []))

        return self._call(context, read)

    def discover(self, *, context: str | None, namespace: str, selector: str) -> WorkloadReport:
        return self._call(context, lambda api: _discover(api, namespace, selector))

    @staticmethod
    def _workload(api: client.ApiClient, namespace: str, workload: WorkloadRef) -> dict[str, Any]:
        apps = client.AppsV1Api(api)
        read = (
            apps.read_namespaced_deployment
            if workload.kind == "Deployment"
            else apps.read_namespaced_stateful_set
        )
        try:
            body: dict[str, Any] = api.sanitize_for_serialization(
                read(workload.name, namespace, _request_timeout=TIMEOUT)
            )
        except ApiException as exc:
            if exc.status == 404:
                raise WorkloadNotFound(workload, namespace) from None
            raise
        return body


def _discover(api: client.ApiClient, namespace: str, selector: str) -> WorkloadReport:
    core, policy = client.CoreV1Api(api), client.PolicyV1Api(api)
    pods = [
        api.sanitize_for_serialization(p)
        for p in core.list_namespaced_pod(
            namespace, label_selector=selector, _request_timeout=TIMEOUT
        ).items
    ]
    zones = _node_zones(api, {p["spec"].get("nodeName") for p in pods} - {None})
    owner = _owning_workload(_workloads(api, namespace), pods)
    template_spec = (
        owner[1]["spec"]["template"]["spec"] if owner else (pods[0]["spec"] if pods else {})
    )
    pdbs = [
        api.sanitize_for_serialization(b)
        for b in policy.list_namespaced_pod_disruption_budget(
            namespace, _request_timeout=TIMEOUT
        ).items
    ]
    matching_pdbs = [b for b in pdbs if _selects_any(b["spec"].get("selector"), pods)]
    return WorkloadReport(
        namespace=namespace,
        selector=selector,
        workload=WorkloadRef(kind=owner[0], name=owner[1]["metadata"]["name"]) if owner else None,
        desired_replicas=owner[1]["spec"].get("replicas", 1) if owner else None,
        pods=tuple(_pod_report(p, zones) for p in pods),
        containers=tuple(_container_report(c) for c in template_spec.get("containers", [])),
        pdbs=tuple(b["metadata"]["name"] for b in matching_pdbs),
        pdb_disruptions_allowed=(
            min(b.get("status", {}).get("disruptionsAllowed", 0) for b in matching_pdbs)
            if matching_pdbs
            else None
        ),
    )


def _workloads(api: client.ApiClient, namespace: str) -> list[tuple[str, dict[str, Any]]]:
    apps = client.AppsV1Api(api)
    deployments = apps.list_namespaced_deployment(namespace, _request_timeout=TIMEOUT).items
    statefulsets = apps.list_namespaced_stateful_set(namespace, _request_timeout=TIMEOUT).items
    return [("Deployment", api.sanitize_for_serialization(d)) for d in deployments] + [
        ("StatefulSet", api.sanitize_for_serialization(s)) for s in statefulsets
    ]


def _node_zones(api: client.ApiClient, names: set[str]) -> dict[str, str | None]:
    core = client.CoreV1Api(api)
    zones: dict[str, str | None] = {}
    for name in sorted(names):
        try:
            node = api.sanitize_for_serialization(core.read_node(name, _request_timeout=TIMEOUT))
        except ApiException as exc:
            if exc.status != 404:
                raise
            zones[name] = None
            continue
        zones[name] = (node["metadata"].get("labels") or {}).get(ZONE_LABEL)
    return zones


def _owning_workload(
    workloads: list[tuple[str, dict[str, Any]]], pods: list[dict[str, Any]]
) -> tuple[str, dict[str, Any]] | None:
    for kind, body in workloads:
        if _selects_any(body.get("spec", {}).get("selector"), pods):
            return kind, body
    return None


def _selects_any(selector: dict[str, Any] | None, pods: list[dict[str, Any]]) -> bool:
    requirements = label_selector_requirements(selector)
    if not requirements:
        return False  # a null or empty selector is not a deliberate match of these pods
    return any(labels_match(requirements, p["metadata"].get("labels")) for p in pods)


def _pod_report(pod: dict[str, Any], zones: dict[str, str | None]) -> PodReport:
    node = pod["spec"].get("nodeName")
    conditions = pod.get("status", {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return PodReport(
        name=pod["metadata"]["name"],
        node=node,
        zone=zones.get(node) if node else None,
        phase=pod.get("status", {}).get("phase", "Unknown"),
        ready=ready,
    )


def _container_report(container: dict[str, Any]) -> ContainerReport:
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    return ContainerReport(
        name=container["name"],
        readiness_probe="readinessProbe" in container,
        liveness_probe="livenessProbe" in container,
        cpu_request=requests.get("cpu"),
        memory_request=requests.get("memory"),
        cpu_limit=limits.get("cpu"),
        memory_limit=limits.get("memory"),
    )
