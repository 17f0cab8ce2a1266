"""The Kubernetes API test server's RBAC: request attributes, rule matching, and the 403 it answers."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bot.k8s.client import ClientFactory
from bot.testing.kube.api import KubeApiServer
from bot.testing.kube.cluster import Cluster
from bot.testing.kube.model import resource_by_plural
from bot.testing.kube.rbac import Identity, RequestAttributes, authorize, request_attributes
from bot.testing.kube.seed import namespace_manifest
from bot.testing.kube.validation import latest_kube_version

RUNNER = Identity.service_account("chaosbot", "chaosbot-runner")
RBAC = "rbac.authorization.k8s.io/v1"


@pytest.fixture
def cluster() -> Cluster:
    found = Cluster(kube_version=latest_kube_version(), controllers=False, rng=random.Random(0))
    for name in ("payments", "orders", "chaosbot"):
        found.create(resource_by_plural("namespaces"), None, namespace_manifest(name, None))
    return found


def _role(
    cluster: Cluster, name: str, rules: list[dict[str, Any]], namespace: str | None = None
) -> None:
    kind = "Role" if namespace else "ClusterRole"
    body = {"apiVersion": RBAC, "kind": kind, "metadata": {"name": name}, "rules": rules}
    cluster.create(resource_by_plural(f"{kind.lower()}s"), namespace, body)


def _bind(
    cluster: Cluster,
    name: str,
    role: tuple[str, str],
    subject: dict[str, str],
    namespace: str | None = None,
) -> None:
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    body = {
        "apiVersion": RBAC,
        "kind": kind,
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role[0], "name": role[1]},
        "subjects": [subject],
    }
    cluster.create(resource_by_plural(f"{kind.lower()}s"), namespace, body)


def _sa(name: str = "chaosbot-runner", namespace: str | None = "chaosbot") -> dict[str, str]:
    subject = {"kind": "ServiceAccount", "name": name}
    return subject | ({"namespace": namespace} if namespace else {})


def _allowed(cluster: Cluster, method: str, path: str, **query: str) -> bool:
    return authorize(cluster, RUNNER, request_attributes(method, path, query)) is None


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/namespaces/p/pods", {}, ("list", "", "pods", "", "p", "")),
        ("GET", "/api/v1/namespaces/p/pods", {"watch": "true"}, ("watch", "", "pods", "", "p", "")),
        ("GET", "/api/v1/namespaces/p/pods/x", {}, ("get", "", "pods", "", "p", "x")),
        (
            "POST",
            "/api/v1/namespaces/p/pods/x/eviction",
            {},
            ("create", "", "pods", "eviction", "p", "x"),
        ),
        (
            "PUT",
            "/apis/apps/v1/namespaces/p/deployments/d/scale",
            {},
            ("update", "apps", "deployments", "scale", "p", "d"),
        ),
        ("PATCH", "/api/v1/nodes/n1", {}, ("patch", "", "nodes", "", "", "n1")),
        (
            "DELETE",
            "/api/v1/namespaces/p/secrets",
            {},
            ("deletecollection", "", "secrets", "", "p", ""),
        ),
        ("DELETE", "/api/v1/namespaces/p/secrets/s", {}, ("delete", "", "secrets", "", "p", "s")),
        (
            "GET",
            "/api/v1/namespaces/p/secrets",
            {"fieldSelector": "metadata.name=tls"},
            ("list", "", "secrets", "", "p", "tls"),
        ),
        ("GET", "/api/v1/pods", {}, ("list", "", "pods", "", "", "")),
        ("GET", "/api/v1/namespaces/p", {}, ("get", "", "namespaces", "", "p", "p")),
    ],
)
def test_request_attributes_follow_the_request_info_resolver(
    method: str, path: str, query: dict[str, str], expected: tuple[str, ...]
) -> None:
    found = request_attributes(method, path, query)
    assert found.resource_request
    assert (
        found.verb,
        found.group,
        found.resource,
        found.subresource,
        found.namespace,
        found.name,
    ) == expected


@pytest.mark.parametrize("path", ["/api", "/apis", "/api/v1", "/apis/apps/v1", "/version"])
def test_discovery_is_open_to_every_identity(cluster: Cluster, path: str) -> None:
    attributes = request_attributes("GET", path, {})
    assert not attributes.resource_request
    assert authorize(cluster, RUNNER, attributes) is None


def test_nothing_is_allowed_without_a_binding(cluster: Cluster) -> None:
    assert not _allowed(cluster, "GET", "/api/v1/namespaces/payments/pods")
    masters = Identity("admin", ("system:masters",))
    attributes = request_attributes("DELETE", "/api/v1/nodes/n1", {})
    assert authorize(cluster, masters, attributes) is None


def test_a_role_binding_grants_its_role_in_its_namespace_only(cluster: Cluster) -> None:
    _role(
        cluster,
        "runs",
        [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "delete"]}],
        "payments",
    )
    _bind(cluster, "runs", ("Role", "runs"), _sa(), "payments")
    assert _allowed(cluster, "GET", "/api/v1/namespaces/payments/pods")
    assert _allowed(cluster, "DELETE", "/api/v1/namespaces/payments/pods/p1")
    assert not _allowed(cluster, "GET", "/api/v1/namespaces/payments/pods/p1")  # get: not listed
    assert not _allowed(cluster, "GET", "/api/v1/namespaces/orders/pods")
    assert not _allowed(cluster, "GET", "/api/v1/pods")  # across namespaces
    assert not _allowed(cluster, "DELETE", "/api/v1/namespaces/payments/pods")  # deletecollection
    assert not _allowed(cluster, "POST", "/api/v1/namespaces/payments/pods/p1/eviction")
    other = Identity.service_account("chaosbot", "chaosbot")
    attributes = request_attributes("GET", "/api/v1/namespaces/payments/pods", {})
    assert authorize(cluster, other, attributes) is not None


def test_a_role_binding_to_a_cluster_role_grants_it_within_the_namespace(cluster: Cluster) -> None:
    _role(
        cluster, "reader", [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}]
    )
    _bind(cluster, "reader", ("ClusterRole", "reader"), _sa(namespace=None), "orders")
    # A RoleBinding's ServiceAccount subject without a namespace is in the binding's namespace:
    # this one names orders/chaosbot-runner, not chaosbot/chaosbot-runner.
    assert not _allowed(cluster, "GET", "/apis/apps/v1/namespaces/orders/deployments/d")
    _bind(cluster, "reader2", ("ClusterRole", "reader"), _sa(), "orders")
    assert _allowed(cluster, "GET", "/apis/apps/v1/namespaces/orders/deployments/d")
    assert not _allowed(cluster, "GET", "/apis/apps/v1/namespaces/payments/deployments/d")


def test_cluster_role_bindings_grant_everywhere(cluster: Cluster) -> None:
    _role(
        cluster,
        "nodes",
        [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "update"]}],
    )
    _bind(
        cluster,
        "nodes",
        ("ClusterRole", "nodes"),
        {"kind": "Group", "name": "system:serviceaccounts:chaosbot"},
    )
    assert _allowed(cluster, "PUT", "/api/v1/nodes/n1")
    assert _allowed(cluster, "GET", "/api/v1/nodes")
    assert not _allowed(cluster, "PATCH", "/api/v1/nodes/n1")
    assert not _allowed(cluster, "DELETE", "/api/v1/nodes/n1")


def test_subresources_resource_names_and_wildcards(cluster: Cluster) -> None:
    rules = [
        {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
        {"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["get"]},
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["tls"],
            "verbs": ["get", "list"],
        },
        {"apiGroups": ["chaos-mesh.org"], "resources": ["*"], "verbs": ["*"]},
    ]
    _role(cluster, "mixed", rules, "payments")
    _bind(cluster, "mixed", ("Role", "mixed"), _sa(), "payments")
    assert _allowed(cluster, "POST", "/api/v1/namespaces/payments/pods/p1/eviction")
    assert not _allowed(cluster, "DELETE", "/api/v1/namespaces/payments/pods/p1")
    assert _allowed(cluster, "GET", "/apis/apps/v1/namespaces/payments/statefulsets/s/scale")
    assert not _allowed(cluster, "GET", "/apis/apps/v1/namespaces/payments/statefulsets/s")
    assert _allowed(cluster, "GET", "/api/v1/namespaces/payments/secrets/tls")
    assert not _allowed(cluster, "GET", "/api/v1/namespaces/payments/secrets/other")
    assert not _allowed(cluster, "GET", "/api/v1/namespaces/payments/secrets")
    assert _allowed(
        cluster, "GET", "/api/v1/namespaces/payments/secrets", fieldSelector="metadata.name=tls"
    )
    assert _allowed(cluster, "DELETE", "/apis/chaos-mesh.org/v1alpha1/namespaces/payments/podchaos")
    assert not _allowed(
        cluster, "GET", "/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies"
    )


def test_the_refusal_is_the_real_servers_status(cluster: Cluster) -> None:
    refused = authorize(
        cluster, RUNNER, request_attributes("GET", "/api/v1/namespaces/payments/pods", {})
    )
    assert refused is not None
    assert refused.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods is forbidden: User "system:serviceaccount:chaosbot:chaosbot-runner" '
        'cannot list resource "pods" in API group "" in the namespace "payments"',
        "reason": "Forbidden",
        "details": {"kind": "pods"},
        "code": 403,
    }
    node = authorize(cluster, RUNNER, request_attributes("PUT", "/api/v1/nodes/n1", {}))
    assert node is not None
    assert node.message == (
        'nodes "n1" is forbidden: User "system:serviceaccount:chaosbot:chaosbot-runner" '
        'cannot update resource "nodes" in API group "" at the cluster scope'
    )
    assert node.status()["details"] == {"name": "n1", "kind": "nodes"}
    evict = authorize(
        cluster,
        RUNNER,
        request_attributes("POST", "/api/v1/namespaces/payments/pods/p/eviction", {}),
    )
    assert evict is not None and 'cannot create resource "pods/eviction"' in evict.message
    scale = authorize(
        cluster,
        RUNNER,
        request_attributes("GET", "/apis/apps/v1/namespaces/p/deployments/d/scale", {}),
    )
    assert scale is not None and scale.status()["details"] == {
        "name": "d",
        "group": "apps",
        "kind": "deployments",
    }
    assert scale.message.startswith('deployments.apps "d" is forbidden: ')
    path = authorize(cluster, RUNNER, RequestAttributes("get", "/metrics", resource_request=False))
    assert path is not None and path.message == (
        'forbidden: User "system:serviceaccount:chaosbot:chaosbot-runner" cannot get path "/metrics"'
    )


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(namespaces=("default", "payments", "chaosbot")) as kube:
        yield kube


def test_over_http_a_service_account_token_is_held_to_its_roles(
    server: KubeApiServer, tmp_path: Path
) -> None:
    token = server.service_account_token("chaosbot", "chaosbot-runner")
    runner = ClientFactory(
        kubeconfig=str(server.write_kubeconfig(tmp_path / "runner", token=token)),
        default_context=None,
    )
    api = runner.api_client(None)
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as refused:
        core.list_namespaced_pod("payments")
    assert refused.value.status == 403
    body = json.loads(str(refused.value.body))
    assert body["reason"] == "Forbidden"
    assert body["message"].endswith(
        'cannot list resource "pods" in API group "" in the namespace "payments"'
    )
    role = {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}
    server.add_object(
        "roles",
        {
            "apiVersion": RBAC,
            "kind": "Role",
            "metadata": {"name": "r", "namespace": "payments"},
            "rules": [role],
        },
    )
    server.add_object(
        "rolebindings",
        {
            "apiVersion": RBAC,
            "kind": "RoleBinding",
            "metadata": {"name": "r", "namespace": "payments"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [_sa()],
        },
    )
    assert core.list_namespaced_pod("payments").items == []
    assert client.VersionApi(api).get_code().major
    records = [r for r in server.requests if r.path.endswith("/payments/pods")]
    assert [(r.status, r.user) for r in records] == [
        (403, "system:serviceaccount:chaosbot:chaosbot-runner"),
        (200, "system:serviceaccount:chaosbot:chaosbot-runner"),
    ]
    admin_clients = ClientFactory(
        kubeconfig=str(server.write_kubeconfig(tmp_path / "admin")), default_context=None
    )
    admin = admin_clients.api_client(None)
    assert client.CoreV1Api(admin).list_node().items == []
    runner.close()
    admin_clients.close()
