"""Faults left in place, as a worker that died before its rollbacks leaves them.

The fault providers are called in this process against the Kubernetes API test server (seeded
as the payments cluster), with an experiment configuration as chaoslib passes it. chaosk8s
picks its client from the secrets when no kubeconfig file exists, so `kube_secrets` points
KUBECONFIG at nothing and names the server in the secrets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.faults import certs, chaosmesh, network, nodes, workloads
from bot.faults.marks import RUN_LABEL
from bot.testing.kube.api import KubeApiServer
from tests.integration.payments_cluster import NAMESPACE, SELECTOR

__all__ = ["LEDGER", "kube_secrets", "leave_faults", "marked"]

LEDGER = "app=ledger"


def kube_secrets(
    kube: KubeApiServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """The `kubernetes` secrets that take the providers to `kube` from this process."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig-here"))
    monkeypatch.delenv("CHAOSTOOLKIT_IN_POD", raising=False)
    return {"KUBERNETES_HOST": kube.url, "KUBERNETES_API_KEY": kube.token}


def leave_faults(secrets: dict[str, str], run: str, hold_seconds: float) -> None:
    """One fault of each family that marks objects, none rolled back.

    Changed: a node cordoned (checkout's busiest), ledger scaled to zero, checkout's certificate
    swapped. Created: a blackhole NetworkPolicy, a StressChaos and a PodChaos (and the
    certificate's backup).
    """
    configuration: dict[str, Any] = {"hold_seconds": hold_seconds}
    for fault, selector in (
        (nodes.drain_nodes, SELECTOR),
        (workloads.scale_to_zero, LEDGER),
        (certs.swap_in_expired_certificate, SELECTOR),
        (network.blackhole, SELECTOR),
        (chaosmesh.kill_containers, SELECTOR),
    ):
        fault(NAMESPACE, selector, run, secrets=secrets, configuration=configuration)
    chaosmesh.stress_cpu(NAMESPACE, SELECTOR, run, hold_seconds=hold_seconds, secrets=secrets)


def marked(kube: KubeApiServer, run: str | None = None) -> list[str]:
    """Every object carrying the run label (of `run` only, if given), as namespace/kind/name."""
    selector = RUN_LABEL if run is None else f"{RUN_LABEL}={run}"
    kinds = ("nodes", "deployments", "statefulsets", "secrets", "configmaps", "networkpolicies")
    found = []
    for kind in (*kinds, *chaosmesh.CHAOS_KINDS):
        for obj in kube.list(kind, label_selector=selector):
            metadata = obj["metadata"]
            parts = (metadata.get("namespace"), kind, metadata["name"])
            found.append("/".join(p for p in parts if p))
    return sorted(found)
