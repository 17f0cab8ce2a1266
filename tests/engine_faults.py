"""A minimal fault for engine tests: a labelled deny-all NetworkPolicy, and its rollback."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client, config

LABEL = "chaosbot.io/run-id"


def _api(kubeconfig: str) -> Any:
    api_client = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    return client.NetworkingV1Api(api_client)


def block(namespace: str, run_id: str, kubeconfig: str) -> str:
    """Create the policy; returns its name."""
    body: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"chaosbot-block-{run_id}", "labels": {LABEL: run_id}},
        "spec": {"podSelector": {"matchLabels": {"app": "checkout"}}, "policyTypes": ["Ingress"]},
    }
    created = _api(kubeconfig).create_namespaced_network_policy(namespace, body)
    return str(created.metadata.name)


def unblock(namespace: str, run_id: str, kubeconfig: str) -> int:
    """Delete every policy of the run; returns how many."""
    api = _api(kubeconfig)
    policies = api.list_namespaced_network_policy(
        namespace, label_selector=f"{LABEL}={run_id}"
    ).items
    for policy in policies:
        api.delete_namespaced_network_policy(policy.metadata.name, namespace)
    return len(policies)


def hold(seconds: float) -> None:
    """Keep the fault in place (in small steps, so SIGUSR1 interrupts it at once)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
