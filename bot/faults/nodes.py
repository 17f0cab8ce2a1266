"""Node faults: drain nodes (PDB-respecting), lose nodes abruptly, take a whole zone out.

chaosk8s has cordon_node/drain_nodes, but they neither label what they change nor record what
a node had before (uncordon_node would make a node that was cordoned before the run
schedulable), and drain_nodes fails on the first pod a disruption budget protects. Here a
cordon is one write that also labels the node and records its original `unschedulable`, and a
drain reports the pods a budget protects instead of forcing them.

Pods that no controller would bring back (bare pods) are never evicted or deleted. Pod removal
stays in the service's namespace unless `all_namespaces` is set: the cordon alone already
affects every team's scheduling.

Node objects are never deleted: a deleted Node is not reliably restorable (the kubelet does
not re-register until it restarts, and labels and taints others set would be lost), so "node
loss" is a cordon plus the immediate deletion of the node's pods, as a crashed node looks.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration

from bot.faults.args import as_bool, as_int, run_label_value
from bot.faults.kube import NODES, PODS, Kube, KubeError, Obj, Secrets
from bot.faults.marks import RUN_LABEL, Mark, claim, claimed_by, original_of, release
from bot.faults.workloads import service_pods

__all__ = [
    "ZONE_LABEL",
    "drain_nodes",
    "lose_nodes",
    "restore_node",
    "restore_nodes",
    "take_zone_out",
]

ZONE_LABEL = "topology.kubernetes.io/zone"
log = logging.getLogger("chaostoolkit")


def drain_nodes(
    namespace: str,
    label_selector: str,
    run_id: str,
    nodes: Any = 1,
    all_namespaces: Any = False,
    secrets: Secrets = None,
    configuration: Configuration = None,
) -> Obj:
    """Cordon the `nodes` nodes running most of the service's pods and evict their pods."""
    kube, mark = Kube(secrets), Mark.of(run_id, configuration)
    chosen = _nodes_hosting(kube, namespace, label_selector)[: as_int(nodes, "nodes")]
    scope = None if as_bool(all_namespaces, "all_namespaces") else namespace
    return _take_out(kube, chosen, mark, scope, evict=True)


def lose_nodes(
    namespace: str,
    label_selector: str,
    run_id: str,
    nodes: Any = 1,
    secrets: Secrets = None,
    configuration: Configuration = None,
) -> Obj:
    """Cordon the `nodes` nodes running most of the service's pods and delete their pods now.

    Deletion skips disruption budgets and grace periods, as a node that dies does.
    """
    kube, mark = Kube(secrets), Mark.of(run_id, configuration)
    chosen = _nodes_hosting(kube, namespace, label_selector)[: as_int(nodes, "nodes")]
    return _take_out(kube, chosen, mark, namespace, evict=False)


def take_zone_out(
    namespace: str,
    label_selector: str,
    run_id: str,
    zone: str = "",
    all_namespaces: Any = False,
    secrets: Secrets = None,
    configuration: Configuration = None,
) -> Obj:
    """Cordon every node of a zone and evict their pods (zone "": the service's main zone)."""
    kube, mark = Kube(secrets), Mark.of(run_id, configuration)
    if not zone:
        hosts = _nodes_hosting(kube, namespace, label_selector)
        node = kube.get(NODES, None, hosts[0])
        zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(ZONE_LABEL, "")
        if not zone:
            raise ActivityFailed(f"node {hosts[0]} has no {ZONE_LABEL} label; name the zone")
    chosen = [n["metadata"]["name"] for n in kube.list(NODES, None, labels=f"{ZONE_LABEL}={zone}")]
    if not chosen:
        raise ActivityFailed(f"no node is in zone {zone}")
    scope = None if as_bool(all_namespaces, "all_namespaces") else namespace
    return {"zone": zone, **_take_out(kube, chosen, mark, scope, evict=True)}


def restore_nodes(run_id: str, secrets: Secrets = None) -> list[str]:
    """Give every node this run changed its original schedulability back, and unlabel it."""
    kube, run = Kube(secrets), run_label_value(run_id)
    restored = []
    for node in kube.list(NODES, None, labels=f"{RUN_LABEL}={run}"):
        restore_node(kube, node["metadata"]["name"], run)
        restored.append(node["metadata"]["name"])
    return restored


def restore_node(kube: Kube, name: str, run: str) -> None:
    """Give one node the run changed its original schedulability back, and unlabel it.

    A node no longer changed by that run (restored meanwhile, or gone) is left as it is.
    """
    kube.change(NODES, None, name, functools.partial(_uncordon, run=run))


def _uncordon(node: Obj, run: str) -> bool:
    if claimed_by(node) != run:
        return False
    if original_of(node).get("unschedulable"):
        node.setdefault("spec", {})["unschedulable"] = True
    else:
        node.setdefault("spec", {}).pop("unschedulable", None)
    release(node)
    return True


def _cordon(node: Obj, mark: Mark) -> bool:
    spec = node.setdefault("spec", {})
    claim(node, mark, {"unschedulable": bool(spec.get("unschedulable", False))})
    spec["unschedulable"] = True
    return True


def _nodes_hosting(kube: Kube, namespace: str, label_selector: str) -> list[str]:
    """The nodes running the service's pods, those with the most first."""
    counts = Counter(
        p["spec"]["nodeName"]
        for p in service_pods(kube, namespace, label_selector)
        if p["spec"].get("nodeName")
    )
    if not counts:
        raise ActivityFailed(f"no pod matching {label_selector} in {namespace} runs on a node")
    return [name for name, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def _take_out(kube: Kube, chosen: list[str], mark: Mark, scope: str | None, *, evict: bool) -> Obj:
    """Cordon the chosen nodes, then evict (or delete) the pods on them."""
    if not chosen:
        raise ActivityFailed("no node was chosen")
    spare = [
        n["metadata"]["name"]
        for n in kube.list(NODES, None)
        if n["metadata"]["name"] not in chosen
        and not (n.get("spec") or {}).get("unschedulable")
        and _node_ready(n)
    ]
    if not spare:
        raise ActivityFailed(
            f"taking out {', '.join(chosen)} would leave no schedulable node; refusing"
        )
    report: Obj = {"nodes": chosen, "removed": [], "blocked": [], "skipped": []}
    for name in chosen:
        kube.change(NODES, None, name, functools.partial(_cordon, mark=mark))
    for name in chosen:
        for pod in kube.list(PODS, scope, fields=f"spec.nodeName={name}"):
            _remove(kube, pod, evict=evict, report=report)
    return report


def _remove(kube: Kube, pod: Obj, *, evict: bool, report: Obj) -> None:
    metadata = pod["metadata"]
    ref = f"{metadata['namespace']}/{metadata['name']}"
    why_not = _skip_reason(pod)
    if why_not:
        report["skipped"].append({"pod": ref, "reason": why_not})
        return
    try:
        if evict:
            kube.evict(metadata["namespace"], metadata["name"])
        else:
            kube.delete(PODS, metadata["namespace"], metadata["name"], grace_period_seconds=0)
    except KubeError as error:
        if error.status == 404:
            return
        if error.status != 429 or not evict:
            raise
        # A disruption budget said no: report it, never force it.
        reason = "; ".join(str(c.get("message")) for c in error.causes) or error.message
        report["blocked"].append({"pod": ref, "reason": reason})
        log.warning("eviction of %s refused: %s", ref, reason)
        return
    report["removed"].append(ref)


def _skip_reason(pod: Obj) -> str | None:
    """Why a pod on a taken-out node is left alone (kubectl drain's rules), or None."""
    metadata = pod["metadata"]
    owners = [o for o in metadata.get("ownerReferences") or [] if o.get("controller")]
    if "kubernetes.io/config.mirror" in (metadata.get("annotations") or {}):
        return "mirror pod"
    if any(o.get("kind") == "DaemonSet" for o in owners):
        return "DaemonSet pod"
    if not owners:
        return "no controller would recreate it"
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return "already finished"
    if metadata.get("deletionTimestamp"):
        return "already terminating"
    return None


def _node_ready(node: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )
