"""The `pods` steady-state probe (bot.probes.pods.probe_pods) against the Kubernetes API test
server: ready pods counted against the replicas their Deployment or StatefulSet wants, found
through the pods' ownerReferences; what a failed probe says; and how the steady-state watch
reads it when an experiment calls it with its `kubernetes` secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chaoslib.activity import run_activity
from chaoslib.exceptions import ActivityFailed

from bot.faults.kube import PODS, Kube
from bot.probes import watch
from bot.probes.pods import probe_pods
from bot.testing.kube.api import KubeApiServer
from bot.testing.kube.seed import pod_manifest
from bot.testing.kube.store import owner_reference
from tests.integration.abandoned import kube_secrets

NS = "payments"
SELECTOR = "app=checkout"
LABELS = {"app": "checkout"}


@pytest.fixture
def secrets(
    kube_api: KubeApiServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """The `kubernetes` secrets that take the probe to kube_api; three nodes, namespace NS."""
    for index in range(3):
        kube_api.add_node(f"node-{index + 1}")
    kube_api.add_namespace(NS)
    return kube_secrets(kube_api, monkeypatch, tmp_path)


def _pod_names(kube_api: KubeApiServer) -> list[str]:
    return sorted(p["metadata"]["name"] for p in kube_api.list("pods", NS, SELECTOR))


def _make_unready(kube_api: KubeApiServer, count: int) -> None:
    for name in _pod_names(kube_api)[:count]:
        kube_api.set_pod_status(NS, name, ready=False)


def test_a_service_with_every_pod_ready_passes_at_100_percent(
    kube_api: KubeApiServer, secrets: dict[str, str]
) -> None:
    kube_api.add_deployment(NS, "checkout", replicas=3, labels=LABELS)
    output = probe_pods(NS, SELECTOR, 100, secrets=secrets)
    assert output == {"ready": 3, "desired": 3, "percent": 100.0}


def test_unready_pods_are_counted_out_and_below_the_minimum_the_probe_fails(
    kube_api: KubeApiServer, secrets: dict[str, str]
) -> None:
    kube_api.add_deployment(NS, "checkout", replicas=6, labels=LABELS)
    kube_api.add_deployment(NS, "ledger", replicas=2, labels={"app": "ledger"}, pods_ready=False)
    _make_unready(kube_api, 2)
    assert probe_pods(NS, SELECTOR, 66, secrets=secrets) == {
        "ready": 4,
        "desired": 6,
        "percent": 66.7,
    }
    _make_unready(kube_api, 3)
    with pytest.raises(ActivityFailed) as failed:
        probe_pods(NS, SELECTOR, 66, secrets=secrets)
    assert str(failed.value) == "3 of 6 pods ready (50%), below 66%"
    # The minimum arrives as text under `chaos run --var`; exactly at it passes.
    as_text: Any = "50"
    assert probe_pods(NS, SELECTOR, as_text, secrets=secrets)["percent"] == 50.0


def test_a_statefulsets_replicas_are_what_its_pods_count_against(
    kube_api: KubeApiServer, secrets: dict[str, str]
) -> None:
    kube_api.add_statefulset(NS, "checkout", replicas=3, labels=LABELS)
    kube_api.set_pod_status(NS, "checkout-2", ready=False)
    with pytest.raises(ActivityFailed, match=r"^2 of 3 pods ready \(66.7%\), below 67%$"):
        probe_pods(NS, SELECTOR, 67, secrets=secrets)


def test_desired_replicas_come_from_the_deployment_not_from_the_pods_that_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the controllers off nothing makes the missing pods (as when a quota refuses them):
    # five replicas wanted, a rollout's two ReplicaSets, two pods in all.
    with KubeApiServer(controllers=False) as kube_api:
        kube_api.add_namespace(NS)
        deployment = kube_api.add_deployment(NS, "checkout", replicas=5, labels=LABELS)
        for revision in ("old", "new"):
            replica_set = kube_api.add_object(
                "replicasets",
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": f"checkout-{revision}",
                        "namespace": NS,
                        "labels": LABELS,
                        "ownerReferences": [owner_reference(deployment)],
                    },
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": LABELS},
                        "template": deployment["spec"]["template"],
                    },
                },
            )
            pod = pod_manifest(
                NS,
                f"checkout-{revision}-x",
                labels=LABELS,
                node="node-1",
                phase=None,
                ready=True,
                containers=None,
            )
            pod["metadata"]["ownerReferences"] = [owner_reference(replica_set)]
            kube_api.add_object("pods", pod)
        secrets = kube_secrets(kube_api, monkeypatch, tmp_path)
        with pytest.raises(ActivityFailed, match=r"^2 of 5 pods ready \(40%\), below 66%$"):
            probe_pods(NS, SELECTOR, secrets=secrets)
        kube_api.clear_requests()
        assert probe_pods(NS, SELECTOR, 40, secrets=secrets)["desired"] == 5
        # Reads only, each owner once: the calls the probe's RBAC rules must allow.
        apps = f"/apis/apps/v1/namespaces/{NS}"
        assert sorted((r.method, r.path) for r in kube_api.requests) == [
            ("GET", f"/api/v1/namespaces/{NS}/pods"),
            ("GET", f"{apps}/deployments/checkout"),
            ("GET", f"{apps}/replicasets/checkout-new"),
            ("GET", f"{apps}/replicasets/checkout-old"),
        ]


def test_pods_being_deleted_do_not_count_though_they_still_report_ready(
    kube_api: KubeApiServer, secrets: dict[str, str]
) -> None:
    kube_api.add_deployment(NS, "checkout", replicas=3, labels=LABELS)
    kube = Kube(secrets)
    before = set(_pod_names(kube_api))
    victim = sorted(before)[0]
    kube.change(PODS, NS, victim, _hold)
    kube.delete(PODS, NS, victim)
    # The ReplicaSet replaced the terminating pod; the replacement is not Ready yet.
    [replacement] = set(_pod_names(kube_api)) - before
    kube_api.set_pod_status(NS, replacement, ready=False)
    terminating = kube_api.get("pods", NS, victim)
    assert terminating is not None and terminating["metadata"]["deletionTimestamp"]
    assert probe_pods(NS, SELECTOR, 66, secrets=secrets) == {
        "ready": 2,
        "desired": 3,
        "percent": 66.7,
    }


def test_bare_pods_count_as_their_own_desired_replicas(
    kube_api: KubeApiServer, secrets: dict[str, str]
) -> None:
    kube_api.add_pod(NS, "checkout-a", labels=LABELS)
    kube_api.add_pod(NS, "checkout-b", labels=LABELS, ready=False)
    with pytest.raises(ActivityFailed, match=r"^1 of 2 pods ready \(50%\), below 66%$"):
        probe_pods(NS, SELECTOR, secrets=secrets)


def test_a_selector_matching_nothing_and_bad_arguments_fail_with_the_reason(
    kube_api: KubeApiServer, secrets: dict[str, str]
) -> None:
    kube_api.add_deployment(NS, "checkout", replicas=3, labels=LABELS)
    with pytest.raises(ActivityFailed, match=r"^no pod in payments matches app=chekout$"):
        probe_pods(NS, "app=chekout", secrets=secrets)
    with pytest.raises(ActivityFailed, match="label_selector is empty"):
        probe_pods(NS, "", secrets=secrets)
    with pytest.raises(ActivityFailed, match="between 0 and 100, not 150"):
        probe_pods(NS, SELECTOR, 150, secrets=secrets)


def test_api_errors_fail_the_probe_with_the_servers_answer(
    kube_api: KubeApiServer, secrets: dict[str, str]
) -> None:
    kube_api.add_deployment(NS, "checkout", replicas=3, labels=LABELS)
    kube_api.inject("GET", r"/replicasets/", status=403, message="no reading replicasets")
    with pytest.raises(ActivityFailed) as failed:
        probe_pods(NS, SELECTOR, secrets=secrets)
    assert str(failed.value) == "Kubernetes API answered 403 Forbidden: no reading replicasets"
    kube_api.stop()
    with pytest.raises(ActivityFailed, match=r"^Kubernetes API unreachable: MaxRetryError"):
        probe_pods(NS, SELECTOR, secrets=secrets)


def test_the_watch_reads_a_pods_probe_of_an_experiment_as_its_percent_and_its_reason(
    kube_api: KubeApiServer, secrets: dict[str, str]
) -> None:
    kube_api.add_deployment(NS, "checkout", replicas=3, labels=LABELS)
    probe: dict[str, Any] = {
        "type": "probe",
        "name": "pods of app=checkout",
        "tolerance": {"type": "range", "target": "percent", "range": [66, 1000]},
        "provider": {
            "type": "python",
            "module": "bot.probes.pods",
            "func": "probe_pods",
            "arguments": {"namespace": NS, "label_selector": SELECTOR, "min_ready_percent": 66},
            "secrets": ["kubernetes"],
        },
    }
    experiment_secrets = {"kubernetes": secrets}
    assert run_activity(probe, None, experiment_secrets)["percent"] == 100.0
    watched = watch._Watch(probes=[probe], interval_seconds=1, fail_after=1)
    watched.rolling_back()  # measure only: a breach must not signal this test process
    watched._check(None, experiment_secrets)
    _make_unready(kube_api, 2)
    watched._check(None, experiment_secrets)
    [healthy, broken] = watched.checks
    assert (healthy.ok, healthy.value, healthy.detail) == (
        True,
        100.0,
        "got 3 of 3 pods ready (100%)",
    )
    assert (broken.ok, broken.value) == (False, None)
    assert broken.detail == "1 of 3 pods ready (33.3%), below 66%"
    assert watched.breach is not None
    assert watched.breach.reason == "pods of app=checkout: 1 of 3 pods ready (33.3%), below 66%"


def _hold(pod: dict[str, Any]) -> bool:
    pod["metadata"]["finalizers"] = ["example.com/hold"]
    return True
