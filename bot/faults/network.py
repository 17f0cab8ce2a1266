"""Blackhole: a deny-all NetworkPolicy for the service's pods, created and removed with chaosk8s.

Only effective with a CNI that enforces NetworkPolicy (Calico, Cilium, ...): on one that does
not (flannel alone, kindnet) the policy is created and nothing happens, which the experiment's
steady state then shows. Denying egress also denies DNS lookups: that is part of a blackhole.
"""

from __future__ import annotations

from chaosk8s.networking.actions import create_network_policy, remove_network_policy
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration
from kubernetes.client.exceptions import ApiException

from bot.faults.args import label_selector_object, run_label_value
from bot.faults.kube import NETWORKPOLICIES, Kube, Obj, Secrets
from bot.faults.marks import RUN_LABEL, Mark, created_metadata

__all__ = ["blackhole", "remove_network_policies"]

_POLICY_TYPES = {"ingress": ["Ingress"], "egress": ["Egress"], "both": ["Ingress", "Egress"]}


def blackhole(
    namespace: str,
    label_selector: str,
    run_id: str,
    direction: str = "both",
    secrets: Secrets = None,
    configuration: Configuration = None,
) -> Obj:
    """Drop all traffic to ("ingress"), from ("egress") or to and from ("both") the pods."""
    mark = Mark.of(run_id, configuration)
    if direction not in _POLICY_TYPES:
        raise ActivityFailed(
            f"direction must be one of {', '.join(_POLICY_TYPES)}, not {direction}"
        )
    types = _POLICY_TYPES[direction]
    spec: Obj = {"podSelector": label_selector_object(label_selector), "policyTypes": types}
    for policy_type in types:
        spec[policy_type.lower()] = []  # no rule: nothing is allowed
    policy: Obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": created_metadata(f"chaosbot-blackhole-{mark.run}", namespace, mark),
        "spec": spec,
    }
    create_network_policy(spec=policy, ns=namespace, secrets=dict(secrets or {}))
    return {"networkpolicy": policy["metadata"]["name"], "policyTypes": types}


def remove_network_policies(namespace: str, run_id: str, secrets: Secrets = None) -> list[str]:
    """Delete every NetworkPolicy this run created in the namespace."""
    kube, run = Kube(secrets), run_label_value(run_id)
    removed = []
    for policy in kube.list(NETWORKPOLICIES, namespace, labels=f"{RUN_LABEL}={run}"):
        name = policy["metadata"]["name"]
        try:
            remove_network_policy(name, ns=namespace, secrets=dict(secrets or {}))
        except ApiException as error:
            if error.status != 404:  # gone already: a second rollback, or someone else
                raise
            continue
        removed.append(name)
    return removed
