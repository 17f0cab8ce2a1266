"""Tests of bot.testing.kube.api.KubeApiServer, driven by the real `kubernetes` client.

Every call goes over HTTP through a kubeconfig the server wrote, exactly as the bot talks to a
cluster; the seeding and inspection helpers are only used to arrange and check state.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client import ApiClient, ApiException

from bot.testing.kube.api import KubeApiServer
from bot.testing.kube.seed import container

NS = "default"
SAFE = "bcdfghjklmnpqrstvwxz2456789"
GROUP, VERSION = "chaos-mesh.org", "v1alpha1"
TARGETS = {"namespaces": [NS], "labelSelectors": {"app": "web"}}


# --- fixtures and helpers -------------------------------------------------------------------------


# kubernetes.config is untyped; these typed names are the tests' doors into it.
new_client_from_config: Callable[..., ApiClient] = config.new_client_from_config
list_kube_config_contexts: Callable[..., tuple[Any, Any]] = config.list_kube_config_contexts

# The API fixtures are typed Any: the tests read optional model fields freely, and a wrong
# guess fails the assertion that makes it.


@pytest.fixture
def api_client(kubeconfig: Path) -> Iterator[ApiClient]:
    """The real client, configured from the server's kubeconfig."""
    with new_client_from_config(config_file=str(kubeconfig)) as api:
        yield api


def _api_group(api_class: Callable[[ApiClient], Any]) -> Any:
    """A fixture: the client's API class for one group, on the shared ApiClient."""

    @pytest.fixture
    def group(api_client: ApiClient) -> Any:
        return api_class(api_client)

    return group


core = _api_group(client.CoreV1Api)
apps = _api_group(client.AppsV1Api)
custom = _api_group(client.CustomObjectsApi)
policy = _api_group(client.PolicyV1Api)
networking = _api_group(client.NetworkingV1Api)
leases = _api_group(client.CoordinationV1Api)


@pytest.fixture
def nodes(kube_api: KubeApiServer) -> list[str]:
    """Three Ready nodes, one per zone."""
    for name, zone in (("n1", "zone-a"), ("n2", "zone-b"), ("n3", "zone-c")):
        kube_api.add_node(name, zone=zone)
    return ["n1", "n2", "n3"]


def api_error(call: Callable[[], object]) -> ApiException:
    """The ApiException a client call raises (failing the test if it raises none)."""
    with pytest.raises(ApiException) as raised:
        call()
    return raised.value


def status_of(error: ApiException) -> dict[str, Any]:
    """The Status object the server answered with."""
    assert error.body is not None
    body: dict[str, Any] = json.loads(error.body)
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == error.status
    return body


def names(objects: list[dict[str, Any]]) -> set[str]:
    return {obj["metadata"]["name"] for obj in objects}


def pods_of(kube_api: KubeApiServer, selector: str = "app=web") -> list[dict[str, Any]]:
    return kube_api.list("pods", NS, label_selector=selector)


def config_map(name: str, data: dict[str, str] | None = None) -> Any:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data or {"k": "v"})


def eviction(name: str) -> Any:
    return client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=NS))


def raw_request(
    kube_api: KubeApiServer, method: str, path: str, body: bytes | None, token: str | None
) -> tuple[int, dict[str, Any]]:
    """Send bytes the typed client would never send; answer (status, JSON body)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(kube_api.url + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- lifecycle, kubeconfig, auth, discovery ---------------------------------------------------------


def test_serves_on_an_ephemeral_loopback_port_until_stopped() -> None:
    server = KubeApiServer()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    with server:
        match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", server.url)
        assert match is not None
        port = int(match.group(1))
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_kubeconfig_names_the_server_token_context_and_namespace(
    kube_api: KubeApiServer, tmp_path: Path
) -> None:
    path = kube_api.write_kubeconfig(tmp_path / "kc", context="lab", namespace="chaos")
    document = yaml.safe_load(path.read_text())
    assert document["clusters"][0]["cluster"]["server"] == kube_api.url
    assert document["users"][0]["user"]["token"] == kube_api.token
    contexts, current = list_kube_config_contexts(config_file=str(path))
    assert current["name"] == "lab"
    assert current["context"]["namespace"] == "chaos"
    assert [c["name"] for c in contexts] == ["lab"]
    with new_client_from_config(config_file=str(path)) as api:
        assert api.configuration.host == kube_api.url
        core: Any = client.CoreV1Api(api)
        assert core.read_namespace("default").metadata.name == "default"


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_a_wrong_or_missing_token_is_unauthorized(
    kube_api: KubeApiServer, token: str | None
) -> None:
    configuration = client.Configuration(host=kube_api.url)
    if token is not None:
        configuration.api_key = {"BearerToken": token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
    with ApiClient(configuration) as api:
        error = api_error(lambda: client.CoreV1Api(api).list_namespace())
    assert error.status == 401
    assert status_of(error)["reason"] == "Unauthorized"
    assert kube_api.requests[-1].status == 401


def test_version_and_discovery(kube_api: KubeApiServer, api_client: ApiClient) -> None:
    assert client.VersionApi(api_client).get_code().git_version == f"v{kube_api.kube_version}"
    assert client.CoreApi(api_client).get_api_versions().versions == ["v1"]
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"apps", "policy", "networking.k8s.io", "coordination.k8s.io", GROUP} <= groups
    core_resources = {r.name for r in client.CoreV1Api(api_client).get_api_resources().resources}
    assert {"pods", "pods/eviction", "nodes", "secrets", "namespaces"} <= core_resources
    app_resources = {r.name for r in client.AppsV1Api(api_client).get_api_resources().resources}
    assert {"deployments", "deployments/scale", "statefulsets/scale"} <= app_resources


# --- metadata and errors ------------------------------------------------------------------------


def test_created_objects_get_server_metadata(core: Any) -> None:
    first = core.create_namespaced_config_map(NS, config_map("one"))
    second = core.create_namespaced_config_map(NS, config_map("two"))
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first.metadata.uid
    )
    assert first.metadata.uid != second.metadata.uid
    assert isinstance(first.metadata.resource_version, str)
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    assert first.metadata.creation_timestamp is not None
    assert first.metadata.generation == 1
    first.data = {"k": "changed"}
    replaced = core.replace_namespaced_config_map("one", NS, first)
    assert replaced.metadata.generation == 2
    assert int(replaced.metadata.resource_version) > int(second.metadata.resource_version)
    unchanged = core.replace_namespaced_config_map("one", NS, replaced)
    assert unchanged.metadata.resource_version == replaced.metadata.resource_version


def test_creating_in_a_missing_namespace_is_404(core: Any) -> None:
    error = api_error(lambda: core.create_namespaced_config_map("nowhere", config_map("x")))
    assert error.status == 404
    body = status_of(error)
    assert body["reason"] == "NotFound"
    assert body["details"] == {"name": "nowhere", "kind": "namespaces"}


def test_a_duplicate_create_is_409_already_exists(core: Any) -> None:
    core.create_namespaced_config_map(NS, config_map("dup"))
    error = api_error(lambda: core.create_namespaced_config_map(NS, config_map("dup")))
    assert error.status == 409
    body = status_of(error)
    assert body["reason"] == "AlreadyExists"
    assert body["details"] == {"name": "dup", "kind": "configmaps"}


def test_a_missing_object_is_404_with_name_and_kind(core: Any, apps: Any) -> None:
    error = api_error(lambda: core.read_namespaced_pod("ghost", NS))
    assert error.status == 404
    body = status_of(error)
    assert body["message"] == 'pods "ghost" not found'
    assert body["details"] == {"name": "ghost", "kind": "pods"}
    body = status_of(api_error(lambda: apps.read_namespaced_deployment("ghost", NS)))
    assert body["details"] == {"name": "ghost", "group": "apps", "kind": "deployments"}


def test_invalid_bodies_and_patch_results_are_422(
    kube_api: KubeApiServer, core: Any, apps: Any, nodes: list[str]
) -> None:
    bad_name = client.V1Pod(
        metadata=client.V1ObjectMeta(name="Bad_Name"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]),
    )
    body = status_of(api_error(lambda: core.create_namespaced_pod(NS, bad_name)))
    assert body["code"] == 422
    assert body["reason"] == "Invalid"
    assert 'Pod "Bad_Name" is invalid: metadata.name' in body["message"]
    kube_api.add_deployment(NS, "web", replicas=2, labels={"app": "web"})
    for patch, field in (
        ({"spec": {"replicas": -1}}, "spec.replicas"),
        ({"spec": {"bogus": 1}}, 'unknown field "bogus"'),
        ({"spec": {"replicas": "three"}}, "must be of type integer"),
    ):
        error = api_error(functools.partial(apps.patch_namespaced_deployment, "web", NS, patch))
        assert error.status == 422
        assert field in status_of(error)["message"]
    stored = kube_api.get("deployments", NS, "web")
    assert stored is not None
    assert stored["spec"]["replicas"] == 2
    assert "bogus" not in stored["spec"]


def test_unparsable_json_is_400(kube_api: KubeApiServer) -> None:
    path = f"/api/v1/namespaces/{NS}/configmaps"
    code, body = raw_request(kube_api, "POST", path, b'{"metadata": ', kube_api.token)
    assert code == 400
    assert body["reason"] == "BadRequest"
    assert kube_api.get("configmaps", NS, "x") is None
    code, body = raw_request(kube_api, "POST", path, b"[1, 2]", kube_api.token)
    assert (code, body["reason"]) == (400, "BadRequest")


def test_an_unknown_path_is_404_and_a_wrong_method_405(kube_api: KubeApiServer) -> None:
    code, body = raw_request(kube_api, "GET", "/api/v1/widgets", None, kube_api.token)
    assert (code, body["reason"]) == (404, "NotFound")
    code, body = raw_request(kube_api, "POST", f"/api/v1/namespaces/{NS}", b"{}", kube_api.token)
    assert (code, body["reason"]) == (405, "MethodNotAllowed")


# --- namespaces ---------------------------------------------------------------------------------


def test_namespaces_list_get_create_delete(kube_api: KubeApiServer, core: Any) -> None:
    created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="shop")))
    assert created.status.phase == "Active"
    assert created.metadata.labels == {"kubernetes.io/metadata.name": "shop"}
    listed = {ns.metadata.name for ns in core.list_namespace().items}
    assert listed == {"default", "kube-system", "kube-public", "kube-node-lease", "shop"}
    kube_api.add_pod("shop", "lonely")
    deleted = core.delete_namespace("shop")
    assert deleted["status"]["phase"] == "Terminating"
    assert status_of(api_error(lambda: core.read_namespace("shop")))["code"] == 404
    assert kube_api.list("pods", "shop") == []


# --- pods: selectors, delete ----------------------------------------------------------------------


@pytest.fixture
def labelled_pods(kube_api: KubeApiServer) -> None:
    """p1..p4 in default and p5 in namespace "other", with assorted labels (all Pending)."""
    kube_api.add_namespace("other")
    kube_api.add_pod(NS, "p1", labels={"app": "web", "tier": "front"})
    kube_api.add_pod(NS, "p2", labels={"app": "web", "tier": "back"})
    kube_api.add_pod(NS, "p3", labels={"app": "db"})
    kube_api.add_pod(NS, "p4")
    kube_api.add_pod("other", "p5", labels={"app": "cache", "release": "7"})


@pytest.mark.usefixtures("labelled_pods")
@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", {"p1", "p2"}),
        ("app==web", {"p1", "p2"}),
        ("app!=web", {"p3", "p4", "p5"}),
        ("app in (web,db)", {"p1", "p2", "p3"}),
        ("app in (web, db)", {"p1", "p2", "p3"}),
        ("app notin (web)", {"p3", "p4", "p5"}),
        ("tier", {"p1", "p2"}),
        ("!tier", {"p3", "p4", "p5"}),
        ("app=web,tier!=back", {"p1"}),
        ("app in (web,db),!tier", {"p3"}),
        ("release>5", {"p5"}),
        ("", {"p1", "p2", "p3", "p4", "p5"}),
    ],
)
def test_label_selectors_in_full_syntax(core: Any, selector: str, expected: set[str]) -> None:
    every = core.list_pod_for_all_namespaces(label_selector=selector)
    assert {pod.metadata.name for pod in every.items} == expected
    in_default = core.list_namespaced_pod(NS, label_selector=selector)
    assert {pod.metadata.name for pod in in_default.items} == expected - {"p5"}


@pytest.mark.parametrize("selector", ["app in web", "app=(web", "a b", "bad key!=x", "x in (a"])
def test_an_unparsable_label_selector_is_400(
    kube_api: KubeApiServer, core: Any, selector: str
) -> None:
    error = api_error(lambda: core.list_namespaced_pod(NS, label_selector=selector))
    assert error.status == 400
    assert "unable to parse requirement" in status_of(error)["message"]


@pytest.fixture
def placed_pods(kube_api: KubeApiServer, nodes: list[str]) -> None:
    """p1 Running on n1, p2 Running on n2, p3 Succeeded on n2, p4 Running on n3 in "other"."""
    kube_api.add_namespace("other")
    kube_api.add_pod(NS, "p1", node="n1")
    kube_api.add_pod(NS, "p2", node="n2")
    kube_api.add_pod(NS, "p3", node="n2", phase="Succeeded")
    kube_api.add_pod("other", "p4", node="n3")


@pytest.mark.usefixtures("placed_pods")
@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("spec.nodeName=n1", {"p1"}),
        ("spec.nodeName==n2", {"p2", "p3"}),
        ("spec.nodeName!=n1", {"p2", "p3", "p4"}),
        ("status.phase=Running", {"p1", "p2", "p4"}),
        ("status.phase!=Running", {"p3"}),
        ("metadata.name=p2", {"p2"}),
        ("metadata.name!=p2", {"p1", "p3", "p4"}),
        ("metadata.namespace=other", {"p4"}),
        ("metadata.namespace!=other", {"p1", "p2", "p3"}),
        ("status.phase=Running,spec.nodeName=n2", {"p2"}),
    ],
)
def test_pod_field_selectors(core: Any, selector: str, expected: set[str]) -> None:
    found = core.list_pod_for_all_namespaces(field_selector=selector)
    assert {pod.metadata.name for pod in found.items} == expected


def test_an_unsupported_field_selector_is_400(core: Any) -> None:
    error = api_error(lambda: core.list_namespaced_pod(NS, field_selector="spec.priority=1"))
    assert error.status == 400
    assert status_of(error)["message"] == "field label not supported: spec.priority"


def test_a_created_pod_is_scheduled_and_starts(core: Any, nodes: list[str]) -> None:
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="solo", labels={"app": "solo"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx:1.27")]),
        status=client.V1PodStatus(phase="Failed"),
    )
    created = core.create_namespaced_pod(NS, pod)
    assert created.spec.node_name in nodes
    assert created.status.phase == "Running"
    ready = {c.type: c.status for c in created.status.conditions}
    assert ready["Ready"] == "True"
    assert created.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert core.read_namespaced_pod("solo", NS).status.pod_ip is not None


def test_deleting_a_pod_honours_the_grace_period_in_the_answer(
    kube_api: KubeApiServer, core: Any, nodes: list[str]
) -> None:
    kube_api.add_pod(NS, "victim", node="n1")
    deleted = core.delete_namespaced_pod("victim", NS, grace_period_seconds=7)
    assert deleted.metadata.name == "victim"
    assert deleted.metadata.deletion_grace_period_seconds == 7
    assert deleted.metadata.deletion_timestamp is not None
    assert kube_api.get("pods", NS, "victim") is None
    record = kube_api.requests_matching("DELETE", r"/pods/victim$")[-1]
    assert record.query == {"gracePeriodSeconds": "7"}
    assert record.status == 200


MERGE = "application/merge-patch+json"


def test_a_finalizer_keeps_a_deleted_pod_terminating_until_it_is_removed(
    kube_api: KubeApiServer, core: Any, apps: Any, nodes: list[str]
) -> None:
    kube_api.add_deployment(NS, "web", replicas=3, labels={"app": "web"})
    victim = sorted(names(pods_of(kube_api)))[0]
    hold = {"metadata": {"finalizers": ["example.com/hold"]}}
    core.patch_namespaced_pod(victim, NS, hold, _content_type=MERGE)
    deleted = core.delete_namespaced_pod(victim, NS, grace_period_seconds=7)
    assert deleted.metadata.deletion_grace_period_seconds == 7
    assert deleted.metadata.deletion_timestamp is not None
    terminating = core.read_namespaced_pod(victim, NS)
    assert terminating.metadata.deletion_timestamp == deleted.metadata.deletion_timestamp
    # Inside its grace period the pod still reports what it did; its ReplicaSet counts it out
    # and has replaced it.
    assert {c.type: c.status for c in terminating.status.conditions}["Ready"] == "True"
    assert len(pods_of(kube_api)) == 4
    [replica_set] = kube_api.list("replicasets", NS)
    status = apps.read_namespaced_replica_set(replica_set["metadata"]["name"], NS).status
    assert (status.replicas, status.ready_replicas) == (3, 3)
    # Deleting it again changes nothing; no finalizer may be added while it terminates.
    again = core.delete_namespaced_pod(victim, NS, grace_period_seconds=1)
    assert again.metadata.deletion_grace_period_seconds == 7
    more = {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}
    error = api_error(lambda: core.patch_namespaced_pod(victim, NS, more, _content_type=MERGE))
    assert error.status == 422
    assert "no new finalizers can be added" in status_of(error)["message"]
    # Removing the last finalizer completes the deletion.
    core.patch_namespaced_pod(victim, NS, {"metadata": {"finalizers": None}}, _content_type=MERGE)
    assert kube_api.get("pods", NS, victim) is None
    assert len(pods_of(kube_api)) == 3


def test_a_finalizer_holds_any_object_and_its_owned_pods_are_collected_the_same_way(
    kube_api: KubeApiServer, core: Any, apps: Any, nodes: list[str]
) -> None:
    core.create_namespaced_config_map(
        NS,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="held", finalizers=["example.com/hold"]),
            data={"k": "v"},
        ),
    )
    answer = core.delete_namespaced_config_map("held", NS)
    assert answer["metadata"]["deletionGracePeriodSeconds"] == 0
    assert answer["metadata"]["deletionTimestamp"]
    kept = kube_api.get("configmaps", NS, "held")
    assert kept is not None and kept["metadata"]["deletionTimestamp"]
    # A pod of a deleted Deployment goes with it, unless a finalizer holds it.
    kube_api.add_deployment(NS, "web", replicas=2, labels={"app": "web"})
    victim = sorted(names(pods_of(kube_api)))[0]
    hold = {"metadata": {"finalizers": ["example.com/hold"]}}
    core.patch_namespaced_pod(victim, NS, hold, _content_type=MERGE)
    apps.delete_namespaced_deployment("web", NS)
    [left] = pods_of(kube_api)
    assert left["metadata"]["name"] == victim
    assert left["metadata"]["deletionTimestamp"]


def test_deletecollection_removes_only_the_selected_pods(
    kube_api: KubeApiServer, core: Any
) -> None:
    kube_api.add_pod(NS, "a", labels={"role": "doomed"})
    kube_api.add_pod(NS, "b", labels={"role": "doomed"})
    kube_api.add_pod(NS, "c", labels={"role": "kept"})
    core.delete_collection_namespaced_pod(NS, label_selector="role=doomed")
    assert names(kube_api.list("pods", NS)) == {"c"}


# --- workload controllers -------------------------------------------------------------------------


def test_deployment_pods_are_named_owned_by_a_replica_set_and_counted(
    kube_api: KubeApiServer, apps: Any, nodes: list[str]
) -> None:
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=3,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web", "team": "shop"}),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="app", image="nginx:1.27")]
                ),
            ),
        ),
    )
    apps.create_namespaced_deployment(NS, deployment)
    pods = pods_of(kube_api)
    assert len(pods) == 3
    matches = [
        re.fullmatch(rf"web-([{SAFE}]+)-([{SAFE}]{{5}})", p["metadata"]["name"]) for p in pods
    ]
    assert all(matches)
    hashes = {m.group(1) for m in matches if m}
    assert len(hashes) == 1
    replica_set = apps.read_namespaced_replica_set(f"web-{hashes.pop()}", NS)
    assert replica_set.metadata.owner_references[0].kind == "Deployment"
    assert replica_set.metadata.owner_references[0].name == "web"
    for pod in pods:
        (owner,) = pod["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == (
            "ReplicaSet",
            replica_set.metadata.name,
            True,
        )
        assert owner["uid"] == replica_set.metadata.uid
        assert pod["metadata"]["labels"]["team"] == "shop"
        assert pod["spec"]["nodeName"] in nodes
    status = apps.read_namespaced_deployment("web", NS).status
    assert (status.replicas, status.ready_replicas, status.available_replicas) == (3, 3, 3)
    assert status.observed_generation == 1


def test_a_deleted_deployment_pod_is_replaced_under_a_new_name(
    kube_api: KubeApiServer, core: Any, nodes: list[str]
) -> None:
    kube_api.add_deployment(NS, "web", replicas=3, labels={"app": "web"})
    before = names(pods_of(kube_api))
    victim = sorted(before)[0]
    core.delete_namespaced_pod(victim, NS)
    after = names(pods_of(kube_api))
    assert len(after) == 3
    assert victim not in after
    assert len(after - before) == 1


def test_deleting_a_deployment_deletes_its_replica_sets_and_pods(
    kube_api: KubeApiServer, apps: Any, nodes: list[str]
) -> None:
    kube_api.add_deployment(NS, "web", replicas=2, labels={"app": "web"})
    answer = apps.delete_namespaced_deployment("web", NS)
    assert answer["status"] == "Success"
    assert answer["details"]["name"] == "web"
    assert kube_api.list("replicasets", NS) == []
    assert pods_of(kube_api) == []


def test_the_scale_subresource_reads_and_changes_replicas(
    kube_api: KubeApiServer, apps: Any, nodes: list[str]
) -> None:
    kube_api.add_deployment(NS, "web", replicas=3, labels={"app": "web"})
    scale = apps.read_namespaced_deployment_scale("web", NS)
    assert (scale.spec.replicas, scale.status.replicas, scale.status.selector) == (3, 3, "app=web")
    zero = apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 0}})
    assert zero.spec.replicas == 0
    assert pods_of(kube_api) == []
    record = kube_api.requests_matching("PATCH", r"/deployments/web/scale$")[-1]
    assert record.content_type == "application/strategic-merge-patch+json"
    assert record.body == {"spec": {"replicas": 0}}
    body = client.V1Scale(
        metadata=client.V1ObjectMeta(name="web", namespace=NS), spec=client.V1ScaleSpec(replicas=2)
    )
    assert apps.replace_namespaced_deployment_scale("web", NS, body).spec.replicas == 2
    assert len(pods_of(kube_api)) == 2
    deployment = apps.read_namespaced_deployment("web", NS)
    assert deployment.spec.replicas == 2
    assert deployment.metadata.generation == 3
    negative = {"spec": {"replicas": -1}}
    error = api_error(lambda: apps.patch_namespaced_deployment_scale("web", NS, negative))
    assert error.status == 422


def test_statefulset_pods_are_ordinal_and_come_back_under_the_same_name(
    kube_api: KubeApiServer, core: Any, apps: Any, nodes: list[str]
) -> None:
    kube_api.add_statefulset(NS, "db", replicas=3, labels={"app": "db"})
    assert names(pods_of(kube_api, "app=db")) == {"db-0", "db-1", "db-2"}
    uid = core.read_namespaced_pod("db-1", NS).metadata.uid
    core.delete_namespaced_pod("db-1", NS)
    reborn = core.read_namespaced_pod("db-1", NS)
    assert reborn.metadata.uid != uid
    assert reborn.metadata.owner_references[0].kind == "StatefulSet"
    listed = apps.list_namespaced_stateful_set(NS, label_selector="app=db").items
    assert [sts.metadata.name for sts in listed] == ["db"]
    apps.patch_namespaced_stateful_set_scale("db", NS, {"spec": {"replicas": 1}})
    assert names(pods_of(kube_api, "app=db")) == {"db-0"}
    status = apps.read_namespaced_stateful_set("db", NS).status
    assert (status.replicas, status.ready_replicas) == (1, 1)


def test_pods_go_round_robin_to_ready_untainted_uncordoned_nodes(
    kube_api: KubeApiServer, nodes: list[str]
) -> None:
    kube_api.add_deployment(NS, "web", replicas=6, labels={"app": "web"})
    per_node = [p["spec"]["nodeName"] for p in pods_of(kube_api)]
    assert sorted(per_node) == ["n1", "n1", "n2", "n2", "n3", "n3"]
    kube_api.add_node("cordoned", unschedulable=True)
    kube_api.add_node("tainted", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}])
    kube_api.add_node("down", ready=False)
    kube_api.add_deployment(NS, "more", replicas=6, labels={"app": "more"})
    assert {p["spec"]["nodeName"] for p in pods_of(kube_api, "app=more")} == set(nodes)
    toleration = {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}
    tolerating = kube_api.add_object(
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "tolerates", "namespace": NS},
            "spec": {
                "containers": [container()],
                "tolerations": [toleration],
                "nodeSelector": {"kubernetes.io/hostname": "tainted"},
            },
        },
    )
    assert tolerating["spec"]["nodeName"] == "tainted"


def test_pods_stay_pending_without_a_schedulable_node(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, "web", replicas=2, labels={"app": "web"})
    pods = pods_of(kube_api)
    assert [p["status"]["phase"] for p in pods] == ["Pending", "Pending"]
    assert all("nodeName" not in p["spec"] for p in pods)
    scheduled = {c["type"]: c["status"] for c in pods[0]["status"]["conditions"]}
    assert scheduled["PodScheduled"] == "False"
    kube_api.add_node("late")
    assert {p["spec"]["nodeName"] for p in pods_of(kube_api)} == {"late"}
    assert {p["status"]["phase"] for p in pods_of(kube_api)} == {"Running"}


def test_cordon_then_drain_moves_pods_off_the_node(
    kube_api: KubeApiServer, core: Any, nodes: list[str]
) -> None:
    kube_api.add_deployment(NS, "web", replicas=6, labels={"app": "web"})
    cordoned = core.patch_node("n1", {"spec": {"unschedulable": True}})
    assert cordoned.spec.unschedulable is True
    record = kube_api.requests_matching("PATCH", r"^/api/v1/nodes/n1$")[-1]
    assert record.content_type == "application/strategic-merge-patch+json"
    unschedulable = core.list_node(field_selector="spec.unschedulable=true").items
    assert [node.metadata.name for node in unschedulable] == ["n1"]
    on_n1 = core.list_namespaced_pod(NS, field_selector="spec.nodeName=n1").items
    assert len(on_n1) == 2
    for pod in on_n1:
        core.create_namespaced_pod_eviction(pod.metadata.name, NS, eviction(pod.metadata.name))
    assert [r.status for r in kube_api.requests_matching("POST", r"/eviction$")] == [201, 201]
    assert core.list_namespaced_pod(NS, field_selector="spec.nodeName=n1").items == []
    assert len(pods_of(kube_api)) == 6


def test_nodes_list_by_zone_label_get_and_delete_reschedules_pods(
    kube_api: KubeApiServer, core: Any, nodes: list[str]
) -> None:
    in_zone = core.list_node(label_selector="topology.kubernetes.io/zone=zone-b").items
    assert [node.metadata.name for node in in_zone] == ["n2"]
    assert core.read_node("n2").metadata.labels["kubernetes.io/hostname"] == "n2"
    assert [n.metadata.name for n in core.list_node(field_selector="metadata.name=n3").items] == [
        "n3"
    ]
    kube_api.add_deployment(NS, "web", replicas=3, labels={"app": "web"})
    before = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods_of(kube_api)}
    core.delete_node("n1")
    after = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods_of(kube_api)}
    assert len(after) == 3
    assert "n1" not in after.values()
    moved = [name for name, node in before.items() if node == "n1"]
    assert moved
    assert not set(moved) & set(after)


def test_a_not_ready_node_makes_its_pods_unready(kube_api: KubeApiServer, nodes: list[str]) -> None:
    kube_api.add_deployment(NS, "web", replicas=3, labels={"app": "web"})
    kube_api.set_node_ready("n2", False)
    ready = {p["spec"]["nodeName"]: p["status"]["conditions"] for p in pods_of(kube_api)}
    assert {c["type"]: c["status"] for c in ready["n2"]}["Ready"] == "False"
    assert {c["type"]: c["status"] for c in ready["n1"]}["Ready"] == "True"
    deployment = kube_api.get("deployments", NS, "web")
    assert deployment is not None
    assert deployment["status"]["readyReplicas"] == 2


def test_unready_workload_pods_when_asked(
    kube_api: KubeApiServer, apps: Any, nodes: list[str]
) -> None:
    kube_api.add_deployment(NS, "web", replicas=2, labels={"app": "web"}, pods_ready=False)
    assert {p["status"]["phase"] for p in pods_of(kube_api)} == {"Running"}
    status = apps.read_namespaced_deployment("web", NS).status
    assert (status.replicas, status.ready_replicas) == (2, None)


def test_a_template_change_rolls_the_pods_and_merges_containers_by_name(
    kube_api: KubeApiServer, apps: Any, nodes: list[str]
) -> None:
    two = [container("app", "nginx:1.27"), container("sidecar", "envoy:1.31")]
    kube_api.add_deployment(NS, "web", replicas=2, labels={"app": "web"}, containers=two)
    old_pods = names(pods_of(kube_api))
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}
    }
    patched = apps.patch_namespaced_deployment("web", NS, patch)
    images = {c.name: c.image for c in patched.spec.template.spec.containers}
    assert images == {"app": "nginx:1.28", "sidecar": "envoy:1.31"}
    assert patched.metadata.generation == 2
    assert patched.status.observed_generation == 2
    new_pods = pods_of(kube_api)
    assert len(new_pods) == 2
    assert not names(new_pods) & old_pods
    assert {p["spec"]["containers"][0]["image"] for p in new_pods} == {"nginx:1.28"}
    replica_sets = {
        rs["metadata"]["name"]: rs["spec"]["replicas"] for rs in kube_api.list("replicasets", NS)
    }
    assert sorted(replica_sets.values()) == [0, 2]
    merged = apps.patch_namespaced_deployment(
        "web", NS, patch, _content_type="application/merge-patch+json"
    )
    assert [c.name for c in merged.spec.template.spec.containers] == ["app"]


def test_controllers_can_be_switched_off() -> None:
    with KubeApiServer(controllers=False) as server:
        server.add_node("n1")
        server.add_deployment(NS, "web", replicas=3, labels={"app": "web"})
        server.add_pod(NS, "bare")
        assert names(server.list("pods", NS)) == {"bare"}
        bare = server.get("pods", NS, "bare")
        assert bare is not None
        assert bare["status"]["phase"] == "Pending"
        assert "nodeName" not in bare["spec"]
        assert server.list("replicasets", NS) == []


# --- eviction and disruption budgets --------------------------------------------------------------


def _first_pod_of_web(kube_api: KubeApiServer, *, min_available: int) -> str:
    """Deployment web (3 replicas) under budget web-pdb: the name of its first pod."""
    kube_api.add_deployment(NS, "web", replicas=3, labels={"app": "web"})
    kube_api.add_pdb(NS, "web-pdb", selector={"app": "web"}, min_available=min_available)
    return sorted(names(pods_of(kube_api)))[0]


def test_an_eviction_that_would_break_the_budget_is_429(
    kube_api: KubeApiServer, core: Any, nodes: list[str]
) -> None:
    victim = _first_pod_of_web(kube_api, min_available=3)
    error = api_error(lambda: core.create_namespaced_pod_eviction(victim, NS, eviction(victim)))
    assert error.status == 429
    body = status_of(error)
    assert body["reason"] == "TooManyRequests"
    assert "violate the pod's disruption budget" in body["message"]
    assert (
        "web-pdb needs 3 healthy pods and has 3 currently"
        in body["details"]["causes"][0]["message"]
    )
    assert kube_api.get("pods", NS, victim) is not None


def test_an_allowed_eviction_deletes_the_pod_which_is_replaced(
    kube_api: KubeApiServer, core: Any, nodes: list[str]
) -> None:
    victim = _first_pod_of_web(kube_api, min_available=2)
    core.create_namespaced_pod_eviction(victim, NS, eviction(victim))
    assert kube_api.requests[-1].status == 201
    assert kube_api.get("pods", NS, victim) is None
    assert len(pods_of(kube_api)) == 3
    error = api_error(lambda: core.create_namespaced_pod_eviction("ghost", NS, eviction("ghost")))
    assert error.status == 404


def test_unready_pods_are_evictable_only_when_the_budget_or_policy_allows(
    kube_api: KubeApiServer, core: Any, policy: Any, nodes: list[str]
) -> None:
    sick = _first_pod_of_web(kube_api, min_available=3)
    kube_api.set_pod_status(NS, sick, ready=False)
    error = api_error(lambda: core.create_namespaced_pod_eviction(sick, NS, eviction(sick)))
    assert error.status == 429
    pdb = kube_api.get("poddisruptionbudgets", NS, "web-pdb")
    assert pdb is not None
    assert pdb["status"]["currentHealthy"] == 2
    policy.patch_namespaced_pod_disruption_budget(
        "web-pdb", NS, {"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}}
    )
    core.create_namespaced_pod_eviction(sick, NS, eviction(sick))
    assert kube_api.get("pods", NS, sick) is None


def test_budgets_can_be_created_listed_and_deleted_through_the_api(
    kube_api: KubeApiServer, policy: Any, nodes: list[str]
) -> None:
    kube_api.add_deployment(NS, "web", replicas=4, labels={"app": "web"})
    budget = client.V1PodDisruptionBudget(
        metadata=client.V1ObjectMeta(name="web-pdb"),
        spec=client.V1PodDisruptionBudgetSpec(
            min_available="50%", selector=client.V1LabelSelector(match_labels={"app": "web"})
        ),
    )
    created = policy.create_namespaced_pod_disruption_budget(NS, budget)
    assert (created.status.expected_pods, created.status.disruptions_allowed) == (4, 2)
    listed = policy.list_pod_disruption_budget_for_all_namespaces().items
    assert [pdb.metadata.name for pdb in listed] == ["web-pdb"]
    both = {"spec": {"maxUnavailable": 1}}
    error = api_error(lambda: policy.patch_namespaced_pod_disruption_budget("web-pdb", NS, both))
    assert error.status == 422
    assert "cannot be both set" in status_of(error)["message"]
    policy.delete_namespaced_pod_disruption_budget("web-pdb", NS)
    assert policy.list_namespaced_pod_disruption_budget(NS).items == []


def test_a_pod_under_two_budgets_cannot_be_evicted(
    kube_api: KubeApiServer, core: Any, nodes: list[str]
) -> None:
    kube_api.add_deployment(NS, "web", replicas=3, labels={"app": "web"})
    kube_api.add_pdb(NS, "one", selector={"app": "web"}, max_unavailable=1)
    kube_api.add_pdb(NS, "two", selector={"app": "web"}, max_unavailable=1)
    victim = sorted(names(pods_of(kube_api)))[0]
    error = api_error(lambda: core.create_namespaced_pod_eviction(victim, NS, eviction(victim)))
    assert error.status == 500
    assert "more than one PodDisruptionBudget" in status_of(error)["message"]


@pytest.mark.parametrize(
    ("min_available", "max_unavailable", "unready", "expected"),
    [
        # (currentHealthy, desiredHealthy, disruptionsAllowed, expectedPods)
        (2, None, 0, (4, 2, 2, 4)),
        (4, None, 0, (4, 4, 0, 4)),
        ("50%", None, 0, (4, 2, 2, 4)),
        ("60%", None, 0, (4, 3, 1, 4)),
        (None, 1, 0, (4, 3, 1, 4)),
        (None, "30%", 0, (4, 2, 2, 4)),
        (None, 1, 1, (3, 3, 0, 4)),
        (2, None, 3, (1, 2, 0, 4)),
    ],
)
def test_budget_status_follows_healthy_pods_and_the_budget(
    kube_api: KubeApiServer,
    policy: Any,
    nodes: list[str],
    min_available: int | str | None,
    max_unavailable: int | str | None,
    unready: int,
    expected: tuple[int, int, int, int],
) -> None:
    kube_api.add_deployment(NS, "web", replicas=4, labels={"app": "web"})
    for pod in sorted(names(pods_of(kube_api)))[:unready]:
        kube_api.set_pod_status(NS, pod, ready=False)
    kube_api.add_pdb(
        NS,
        "pdb",
        selector={"app": "web"},
        min_available=min_available,
        max_unavailable=max_unavailable,
    )
    status = policy.read_namespaced_pod_disruption_budget("pdb", NS).status
    found = (
        status.current_healthy,
        status.desired_healthy,
        status.disruptions_allowed,
        status.expected_pods,
    )
    assert found == expected
    allowed = {c.type: c.status for c in status.conditions}["DisruptionAllowed"]
    assert allowed == ("True" if expected[2] else "False")


# --- secrets, configmaps, services, network policies ----------------------------------------------


def test_secrets_are_patched_with_data_and_string_data(kube_api: KubeApiServer, core: Any) -> None:
    kube_api.add_secret(NS, "db-creds", data={"password": "old", "user": "app"})
    stored = core.read_namespaced_secret("db-creds", NS)
    assert base64.b64decode(stored.data["password"]) == b"old"
    patched = core.patch_namespaced_secret("db-creds", NS, {"stringData": {"password": "new"}})
    assert base64.b64decode(patched.data["password"]) == b"new"
    assert base64.b64decode(patched.data["user"]) == b"app"
    assert patched.string_data is None
    record = kube_api.requests_matching("PATCH", r"/secrets/db-creds$")[-1]
    assert record.content_type == "application/strategic-merge-patch+json"
    encoded = base64.b64encode(b"rotated").decode()
    core.patch_namespaced_secret("db-creds", NS, {"data": {"password": encoded}})
    secret = kube_api.get("secrets", NS, "db-creds")
    assert secret is not None
    assert secret["data"]["password"] == encoded
    bad = {"data": {"password": "not base64!"}}
    assert api_error(lambda: core.patch_namespaced_secret("db-creds", NS, bad)).status == 400
    created = core.create_namespaced_secret(
        NS,
        client.V1Secret(metadata=client.V1ObjectMeta(name="token"), string_data={"t": "abc"}),
    )
    assert created.type == "Opaque"
    assert created.data == {"t": base64.b64encode(b"abc").decode()}
    assert [s.metadata.name for s in core.list_namespaced_secret(NS).items] == ["db-creds", "token"]
    core.delete_namespaced_secret("token", NS)
    assert kube_api.get("secrets", NS, "token") is None


def test_configmap_crud_and_merge_patch(core: Any) -> None:
    core.create_namespaced_config_map(NS, config_map("settings", {"a": "1", "b": "2"}))
    merge = {"data": {"a": None, "c": "3"}}
    patched = core.patch_namespaced_config_map(
        "settings", NS, merge, _content_type="application/merge-patch+json"
    )
    assert patched.data == {"b": "2", "c": "3"}
    current = core.read_namespaced_config_map("settings", NS)
    current.metadata.labels = {"team": "sre"}
    core.replace_namespaced_config_map("settings", NS, current)
    listed = core.list_namespaced_config_map(NS, label_selector="team=sre").items
    assert [cm.metadata.name for cm in listed] == ["settings"]
    answer = core.delete_namespaced_config_map("settings", NS)
    assert answer["status"] == "Success"
    assert api_error(lambda: core.read_namespaced_config_map("settings", NS)).status == 404


def test_service_crud_keeps_the_allocated_cluster_ip(core: Any) -> None:
    service = client.V1Service(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1ServiceSpec(selector={"app": "web"}, ports=[client.V1ServicePort(port=80)]),
    )
    created = core.create_namespaced_service(NS, service)
    assert created.spec.type == "ClusterIP"
    assert re.fullmatch(r"10\.96\.\d+\.\d+", created.spec.cluster_ip)
    assert created.spec.ports[0].target_port == 80
    patched = core.patch_namespaced_service("web", NS, {"metadata": {"labels": {"tier": "edge"}}})
    assert patched.metadata.labels == {"tier": "edge"}
    replacement = client.V1Service(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1ServiceSpec(selector={"app": "web2"}, ports=[client.V1ServicePort(port=81)]),
    )
    replaced = core.replace_namespaced_service("web", NS, replacement)
    assert replaced.spec.cluster_ip == created.spec.cluster_ip
    assert replaced.spec.selector == {"app": "web2"}
    core.delete_namespaced_service("web", NS)
    assert core.list_namespaced_service(NS).items == []


def test_network_policies_crud_and_label_selection(networking: Any) -> None:
    deny = client.V1NetworkPolicy(
        metadata=client.V1ObjectMeta(name="deny-web", labels={"chaosbot.io/experiment": "e1"}),
        spec=client.V1NetworkPolicySpec(
            pod_selector=client.V1LabelSelector(match_labels={"app": "web"})
        ),
    )
    created = networking.create_namespaced_network_policy(NS, deny)
    assert created.spec.policy_types == ["Ingress"]
    other = client.V1NetworkPolicy(
        metadata=client.V1ObjectMeta(name="other"),
        spec=client.V1NetworkPolicySpec(pod_selector=client.V1LabelSelector()),
    )
    networking.create_namespaced_network_policy(NS, other)
    chosen = networking.list_namespaced_network_policy(NS, label_selector="chaosbot.io/experiment")
    assert [p.metadata.name for p in chosen.items] == ["deny-web"]
    everywhere = networking.list_network_policy_for_all_namespaces().items
    assert {p.metadata.name for p in everywhere} == {"deny-web", "other"}
    networking.patch_namespaced_network_policy("other", NS, {"spec": {"policyTypes": ["Egress"]}})
    assert networking.read_namespaced_network_policy("other", NS).spec.policy_types == ["Egress"]
    networking.delete_namespaced_network_policy("deny-web", NS)
    remaining = networking.list_namespaced_network_policy(NS).items
    assert [p.metadata.name for p in remaining] == ["other"]


# --- leases and optimistic concurrency ----------------------------------------------------------


def test_leases_refuse_writes_with_a_stale_resource_version(
    kube_api: KubeApiServer, leases: Any
) -> None:
    lease = client.V1Lease(
        metadata=client.V1ObjectMeta(name="chaosbot-leader"),
        spec=client.V1LeaseSpec(holder_identity="bot-a", lease_duration_seconds=15),
    )
    leases.create_namespaced_lease(NS, lease)
    seen_by_a = leases.read_namespaced_lease("chaosbot-leader", NS)
    seen_by_b = leases.read_namespaced_lease("chaosbot-leader", NS)
    seen_by_a.spec.holder_identity = "bot-a"
    seen_by_a.spec.lease_transitions = 1
    renewed = leases.replace_namespaced_lease("chaosbot-leader", NS, seen_by_a)
    assert renewed.metadata.resource_version != seen_by_b.metadata.resource_version
    seen_by_b.spec.holder_identity = "bot-b"
    error = api_error(lambda: leases.replace_namespaced_lease("chaosbot-leader", NS, seen_by_b))
    assert error.status == 409
    body = status_of(error)
    assert body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]
    assert body["details"] == {
        "name": "chaosbot-leader",
        "group": "coordination.k8s.io",
        "kind": "leases",
    }
    stale = {
        "metadata": {"resourceVersion": seen_by_b.metadata.resource_version},
        "spec": {"holderIdentity": "bot-b"},
    }
    assert (
        api_error(lambda: leases.patch_namespaced_lease("chaosbot-leader", NS, stale)).status == 409
    )
    stored = kube_api.get("leases", NS, "chaosbot-leader")
    assert stored is not None
    assert stored["spec"]["holderIdentity"] == "bot-a"
    fresh = {**stale, "metadata": {"resourceVersion": renewed.metadata.resource_version}}
    taken = leases.patch_namespaced_lease("chaosbot-leader", NS, fresh)
    assert taken.spec.holder_identity == "bot-b"


# --- Chaos Mesh custom objects --------------------------------------------------------------------

VALID_CHAOS: dict[str, tuple[str, dict[str, Any]]] = {
    "podchaos": ("PodChaos", {"action": "pod-kill", "mode": "one", "selector": TARGETS}),
    "networkchaos": (
        "NetworkChaos",
        {
            "action": "delay",
            "mode": "all",
            "selector": TARGETS,
            "delay": {"latency": "100ms", "jitter": "10ms"},
            "direction": "to",
            "duration": "30s",
        },
    ),
    "stresschaos": (
        "StressChaos",
        {
            "mode": "fixed",
            "value": "1",
            "selector": TARGETS,
            "stressors": {"cpu": {"workers": 1, "load": 80}},
        },
    ),
    "iochaos": (
        "IOChaos",
        {
            "action": "latency",
            "mode": "one",
            "selector": TARGETS,
            "volumePath": "/data",
            "delay": "100ms",
            "percent": 50,
        },
    ),
    "dnschaos": (
        "DNSChaos",
        {"action": "error", "mode": "all", "selector": TARGETS, "patterns": ["example.com"]},
    ),
    "timechaos": ("TimeChaos", {"mode": "one", "selector": TARGETS, "timeOffset": "-10m"}),
}

INVALID_CHAOS = [
    ("podchaos", {"action": "pod-explode"}, 'spec.action: Unsupported value: "pod-explode"'),
    ("podchaos", {"mode": "fixed"}, "spec.value: Required value"),
    ("podchaos", {"action": "container-kill"}, "spec.containerNames: Required value"),
    ("podchaos", {"gracePeriodSeconds": 5}, 'unknown field "gracePeriodSeconds"'),
    ("networkchaos", {"selector": None}, "spec.selector: Required value"),
    ("networkchaos", {"delay": {"jitter": "1ms"}}, "spec.delay.latency: Required value"),
    ("stresschaos", {"stressors": None}, "stressors or stressngStressors must be set"),
    ("stresschaos", {"stressors": {"cpu": {"workers": 0}}}, "spec.stressors.cpu.workers"),
    ("iochaos", {"volumePath": None}, "spec.volumePath: Required value"),
    ("dnschaos", {"mode": "some"}, 'spec.mode: Unsupported value: "some"'),
    ("timechaos", {"timeOffset": None}, "spec.timeOffset: Required value"),
]


def chaos_body(plural: str, name: str, **changes: Any) -> dict[str, Any]:
    """A valid Chaos Mesh object of that kind, with spec fields changed (None removes one)."""
    kind, spec = VALID_CHAOS[plural]
    spec = {**spec, **changes}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {key: value for key, value in spec.items() if value is not None},
    }


@pytest.mark.parametrize("plural", sorted(VALID_CHAOS))
def test_each_chaos_kind_can_be_created_read_listed_and_deleted(custom: Any, plural: str) -> None:
    created = custom.create_namespaced_custom_object(
        GROUP, VERSION, NS, plural, chaos_body(plural, "exp")
    )
    assert created["kind"] == VALID_CHAOS[plural][0]
    assert created["metadata"]["generation"] == 1
    read = custom.get_namespaced_custom_object(GROUP, VERSION, NS, plural, "exp")
    assert read["spec"] == VALID_CHAOS[plural][1] | {}
    listed = custom.list_cluster_custom_object(GROUP, VERSION, plural)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["exp"]
    custom.delete_namespaced_custom_object(GROUP, VERSION, NS, plural, "exp")
    assert custom.list_namespaced_custom_object(GROUP, VERSION, NS, plural)["items"] == []


@pytest.mark.parametrize(("plural", "changes", "message"), INVALID_CHAOS)
def test_invalid_chaos_objects_are_422(
    kube_api: KubeApiServer, custom: Any, plural: str, changes: dict[str, Any], message: str
) -> None:
    body = chaos_body(plural, "bad", **changes)
    error = api_error(
        lambda: custom.create_namespaced_custom_object(GROUP, VERSION, NS, plural, body)
    )
    assert error.status == 422
    status = status_of(error)
    assert status["reason"] == "Invalid"
    assert message in status["message"]
    assert status["details"]["group"] == GROUP
    assert kube_api.get(plural, NS, "bad") is None


def test_chaos_objects_patch_replace_and_conflict(kube_api: KubeApiServer, custom: Any) -> None:
    created = custom.create_namespaced_custom_object(
        GROUP, VERSION, NS, "podchaos", chaos_body("podchaos", "kill")
    )
    patched = custom.patch_namespaced_custom_object(
        GROUP, VERSION, NS, "podchaos", "kill", {"spec": {"mode": "all"}}
    )
    assert patched["spec"]["mode"] == "all"
    assert patched["metadata"]["generation"] == 2
    assert kube_api.requests[-1].content_type == "application/merge-patch+json"
    error = api_error(
        lambda: custom.replace_namespaced_custom_object(
            GROUP, VERSION, NS, "podchaos", "kill", created
        )
    )
    assert error.status == 409
    strategic = api_error(
        lambda: custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            "podchaos",
            "kill",
            {"spec": {"mode": "one"}},
            _content_type="application/strategic-merge-patch+json",
        )
    )
    assert strategic.status == 415
    invalid = api_error(
        lambda: custom.patch_namespaced_custom_object(
            GROUP, VERSION, NS, "podchaos", "kill", {"spec": {"action": "nope"}}
        )
    )
    assert invalid.status == 422
    missing = api_error(
        lambda: custom.create_namespaced_custom_object(
            GROUP, VERSION, "nowhere", "podchaos", chaos_body("podchaos", "x")
        )
    )
    assert missing.status == 404


# --- patch flavours and dry runs ------------------------------------------------------------------


def test_json_patch_applies_operations_and_fails_cleanly(
    kube_api: KubeApiServer, apps: Any, nodes: list[str]
) -> None:
    kube_api.add_deployment(NS, "web", replicas=3, labels={"app": "web"})
    operations = [
        {"op": "replace", "path": "/spec/replicas", "value": 1},
        {"op": "add", "path": "/metadata/annotations", "value": {"chaosbot.io/paused": "true"}},
        {"op": "test", "path": "/metadata/labels/app", "value": "web"},
    ]
    patched = apps.patch_namespaced_deployment("web", NS, operations)
    assert patched.spec.replicas == 1
    assert patched.metadata.annotations == {"chaosbot.io/paused": "true"}
    assert kube_api.requests[-1].content_type == "application/json-patch+json"
    assert len(pods_of(kube_api)) == 1
    failing = [{"op": "test", "path": "/spec/replicas", "value": 5}]
    assert api_error(lambda: apps.patch_namespaced_deployment("web", NS, failing)).status == 422
    missing = [{"op": "remove", "path": "/spec/nothing"}]
    assert api_error(lambda: apps.patch_namespaced_deployment("web", NS, missing)).status == 422


def test_unsupported_patch_types_are_415(kube_api: KubeApiServer, core: Any) -> None:
    core.create_namespaced_config_map(NS, config_map("cm"))
    error = api_error(
        lambda: core.patch_namespaced_config_map(
            "cm", NS, {"data": {"k": "x"}}, _content_type="application/apply-patch+yaml"
        )
    )
    assert error.status == 415
    assert status_of(error)["reason"] == "UnsupportedMediaType"


def test_dry_run_validates_without_storing(
    kube_api: KubeApiServer, core: Any, apps: Any, nodes: list[str]
) -> None:
    created = core.create_namespaced_config_map(NS, config_map("dry"), dry_run="All")
    assert created.metadata.name == "dry"
    assert kube_api.get("configmaps", NS, "dry") is None
    bad = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="Not_Valid"))
    assert (
        api_error(lambda: core.create_namespaced_config_map(NS, bad, dry_run="All")).status == 422
    )
    kube_api.add_deployment(NS, "web", replicas=2, labels={"app": "web"})
    would_be = apps.patch_namespaced_deployment("web", NS, {"spec": {"replicas": 5}}, dry_run="All")
    assert would_be.spec.replicas == 5
    current = apps.read_namespaced_deployment("web", NS)
    assert current.spec.replicas == 2
    current.spec.replicas = 4
    assert apps.replace_namespaced_deployment("web", NS, current, dry_run="All").spec.replicas == 4
    apps.delete_namespaced_deployment("web", NS, dry_run="All")
    scale = apps.patch_namespaced_deployment_scale(
        "web", NS, {"spec": {"replicas": 0}}, dry_run="All"
    )
    assert scale.spec.replicas == 0
    stored = kube_api.get("deployments", NS, "web")
    assert stored is not None
    assert stored["spec"]["replicas"] == 2
    assert len(pods_of(kube_api)) == 2
    victim = sorted(names(pods_of(kube_api)))[0]
    core.delete_namespaced_pod(victim, NS, dry_run="All")
    assert kube_api.get("pods", NS, victim) is not None


# --- fault injection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"), [(500, "InternalError"), (409, "Conflict"), (503, "ServiceUnavailable")]
)
def test_injected_errors_answer_a_status_the_given_number_of_times(
    kube_api: KubeApiServer, core: Any, code: int, reason: str
) -> None:
    kube_api.inject("GET", r"/namespaces/default/pods$", status=code, times=2)
    for _ in range(2):
        error = api_error(lambda: core.list_namespaced_pod(NS))
        assert error.status == code
        assert status_of(error)["reason"] == reason
    assert core.list_namespaced_pod(NS).items == []
    assert core.list_namespace().items
    statuses = [r.status for r in kube_api.requests_matching("GET", r"/pods$")]
    assert statuses == [code, code, 200]


def test_an_injected_429_says_when_to_retry(
    kube_api: KubeApiServer, core: Any, nodes: list[str]
) -> None:
    kube_api.add_pod(NS, "p", node="n1")
    kube_api.inject("POST", r"/eviction$", status=429, message="slow down")
    error = api_error(lambda: core.create_namespaced_pod_eviction("p", NS, eviction("p")))
    assert error.status == 429
    assert error.headers is not None
    assert error.headers["Retry-After"] == "1"
    assert status_of(error)["message"] == "slow down"
    kube_api.inject("GET", r"/pods$", status=429, retry_after=0)
    assert core.list_namespaced_pod(NS).items  # urllib3 retries a GET that carries Retry-After
    assert [r.status for r in kube_api.requests_matching("GET", r"/pods$")] == [429, 200]


def test_faults_without_a_count_last_until_cleared(kube_api: KubeApiServer, core: Any) -> None:
    kube_api.inject("*", r"^/api/v1/namespaces$", status=500, times=None, message="etcd down")
    for _ in range(3):
        error = api_error(lambda: core.list_namespace())
        assert status_of(error)["message"] == "etcd down"
    kube_api.clear_faults()
    assert core.list_namespace().items


def test_injected_latency_delays_matching_requests(kube_api: KubeApiServer, core: Any) -> None:
    kube_api.inject_latency("GET", r"/configmaps$", 0.3, times=1)
    started = time.monotonic()
    core.list_namespaced_config_map(NS)
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    core.list_namespaced_config_map(NS)
    assert time.monotonic() - started < 0.2


def test_an_injected_timeout_holds_the_request_until_the_client_gives_up(
    kube_api: KubeApiServer, core: Any
) -> None:
    kube_api.inject_timeout("POST", r"/configmaps$", hold_seconds=5)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        core.create_namespaced_config_map(NS, config_map("slow"), _request_timeout=0.3)
    assert time.monotonic() - started < 2
    assert kube_api.requests[-1].status is None
    assert kube_api.get("configmaps", NS, "slow") is None
    assert core.list_namespaced_config_map(NS).items == []  # other requests are still served
    started = time.monotonic()
    kube_api.stop()  # releases the held connection at once
    assert time.monotonic() - started < 1


def test_a_held_connection_is_closed_after_the_hold(kube_api: KubeApiServer, core: Any) -> None:
    kube_api.inject_timeout("POST", r"/configmaps$", hold_seconds=0.2)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.ProtocolError):
        core.create_namespaced_config_map(NS, config_map("dropped"), _request_timeout=5)
    assert 0.2 <= time.monotonic() - started < 2
    assert core.create_namespaced_config_map(NS, config_map("later")).metadata.name == "later"


# --- request log and helpers ------------------------------------------------------------------------


def test_the_request_log_records_what_the_client_sent(kube_api: KubeApiServer, core: Any) -> None:
    kube_api.clear_requests()
    core.create_namespaced_config_map(NS, config_map("logged", {"x": "1"}))
    core.list_namespaced_config_map(NS, label_selector="a=b", field_selector="metadata.name=logged")
    created, listed = kube_api.requests
    assert (created.method, created.path, created.status) == (
        "POST",
        "/api/v1/namespaces/default/configmaps",
        201,
    )
    assert created.content_type is None  # the client sends none on create; the server takes JSON
    assert isinstance(created.body, dict)
    assert created.body["metadata"] == {"name": "logged"}
    assert created.body["data"] == {"x": "1"}
    assert listed.query == {"labelSelector": "a=b", "fieldSelector": "metadata.name=logged"}
    assert listed.body is None
    assert kube_api.requests_matching("POST", r"/configmaps$") == [created]
    assert kube_api.requests_matching("*", r"configmaps") == [created, listed]
    assert kube_api.requests_matching("DELETE", r"configmaps") == []


def test_helpers_seed_valid_objects_and_hand_out_copies(
    kube_api: KubeApiServer, nodes: list[str]
) -> None:
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5}
    limits = {"cpu": "500m", "memory": "256Mi"}
    kube_api.add_deployment(
        NS,
        "api",
        replicas=1,
        labels={"app": "api"},
        readiness_probe=probe,
        liveness_probe=probe,
        resources={"requests": limits, "limits": limits},
    )
    (pod,) = pods_of(kube_api, "app=api")
    assert pod["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["status"]["qosClass"] == "Guaranteed"
    node = kube_api.get("nodes", None, "n2")
    assert node is not None
    assert node["metadata"]["labels"]["topology.kubernetes.io/zone"] == "zone-b"
    node["metadata"]["labels"]["mutated"] = "yes"
    again = kube_api.get("nodes", None, "n2")
    assert again is not None
    assert "mutated" not in again["metadata"]["labels"]
    assert kube_api.get("pods", NS, "nope") is None
    pinned = kube_api.add_pod(NS, "done", node="n1", phase="Succeeded")
    assert pinned["status"]["phase"] == "Succeeded"
    with pytest.raises(KeyError, match="unknown resource"):
        kube_api.list("widgets")


def test_concurrent_writes_get_distinct_resource_versions(core: Any) -> None:
    versions: list[str] = []
    lock = threading.Lock()

    def create(worker: int) -> None:
        for index in range(10):
            made = core.create_namespaced_config_map(NS, config_map(f"cm-{worker}-{index}"))
            with lock:
                versions.append(made.metadata.resource_version)

    threads = [threading.Thread(target=create, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(versions) == 60
    assert len(set(versions)) == 60
    assert len(core.list_namespaced_config_map(NS).items) == 60
