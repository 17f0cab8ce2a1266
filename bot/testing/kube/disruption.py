"""Pod disruption budgets: the disruption controller's status and the eviction decision."""

from __future__ import annotations

import copy
import math
from typing import Any

from bot.testing.kube.model import ApiError, JsonObject, deep_copy, now_rfc3339
from bot.testing.kube.pods import is_pod_ready, replicas_of, set_condition, write_changed
from bot.testing.kube.selectors import label_selector_requirements, labels_match
from bot.testing.kube.store import ObjectStore, controller_uid, is_terminating

__all__ = ["DisruptionController", "check_eviction"]

_BUDGET_VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


class DisruptionController:
    """Keep each PodDisruptionBudget's status in line with the pods it covers.

    expectedPods is the scale of the pods' controllers (or the pod count for an integer
    minAvailable); a bare pod counts as one where the real controller reports an error.
    """

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def run(self) -> None:
        """Recompute every budget's status."""
        for pdb in self.store.objects("poddisruptionbudgets"):
            write_changed(self.store, "poddisruptionbudgets", pdb, _set_status, self._status(pdb))

    def _status(self, pdb: JsonObject) -> JsonObject:
        spec, generation = pdb["spec"], pdb["metadata"].get("generation", 1)
        pods = _covered_pods(self.store, pdb)
        healthy = sum(1 for pod in pods if is_pod_ready(pod))
        if isinstance(spec.get("minAvailable"), int):
            expected, desired = len(pods), spec["minAvailable"]
        else:
            expected = self._expected_pods(pods)
            if "minAvailable" in spec:
                desired = _scaled(spec["minAvailable"], expected)
            elif "maxUnavailable" in spec:
                desired = max(0, expected - _scaled(spec["maxUnavailable"], expected))
            else:
                desired = 0
        allowed = max(0, healthy - desired)
        conditions = copy.deepcopy((pdb.get("status") or {}).get("conditions") or [])
        reason = "SufficientPods" if allowed else "InsufficientPods"
        # A metav1.Condition: reason and message are required, the message may be empty.
        set_condition(conditions, "DisruptionAllowed", bool(allowed), now_rfc3339(), reason, "")
        for condition in conditions:
            condition["observedGeneration"] = generation
        return {
            "observedGeneration": generation,
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "disruptionsAllowed": allowed,
            "expectedPods": expected,
            "conditions": conditions,
        }

    def _expected_pods(self, pods: list[JsonObject]) -> int:
        scales: dict[str, int] = {}
        bare = 0
        for pod in pods:
            owner = self._workload_of(pod)
            if owner is None:
                bare += 1
            else:
                scales[owner["metadata"]["uid"]] = replicas_of(owner["spec"])
        return sum(scales.values()) + bare

    def _workload_of(self, obj: JsonObject) -> JsonObject | None:
        """The Deployment, StatefulSet or bare ReplicaSet that controls a pod."""
        namespace, uid = obj["metadata"]["namespace"], controller_uid(obj)
        for plural in ("statefulsets", "deployments", "replicasets"):
            for owner in self.store.objects(plural, namespace):
                if owner["metadata"]["uid"] == uid:
                    parent = self._workload_of(owner) if plural == "replicasets" else None
                    return parent or owner
        return None


def check_eviction(store: ObjectStore, pod: JsonObject, *, dry_run: bool) -> None:
    """Raise the real server's error if evicting pod would break its disruption budget.

    Pods that are not running yet or any more skip the check; an allowed eviction spends one
    of the budget's disruptions (the controller recomputes them after the delete).
    """
    if is_terminating(pod) or (pod.get("status") or {}).get("phase") != "Running":
        return
    labels = pod["metadata"].get("labels")
    budgets = [
        pdb
        for pdb in store.objects("poddisruptionbudgets", pod["metadata"]["namespace"])
        if _selects(pdb["spec"].get("selector"), labels)
    ]
    if not budgets:
        return
    if len(budgets) > 1:
        raise ApiError.internal(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource "
            "does not support."
        )
    budget = budgets[0]
    status = budget.get("status") or {}
    healthy, desired = status.get("currentHealthy", 0), status.get("desiredHealthy", 0)
    if not is_pod_ready(pod):
        policy = budget["spec"].get("unhealthyPodEvictionPolicy", "IfHealthyBudget")
        if policy == "AlwaysAllow" or healthy >= desired > 0:
            return
    if status.get("disruptionsAllowed", 0) <= 0:
        cause = (
            f"The disruption budget {budget['metadata']['name']} needs {desired} healthy pods "
            f"and has {healthy} currently"
        )
        details = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
        raise ApiError(429, "TooManyRequests", _BUDGET_VIOLATION, details)
    if not dry_run:
        spent = deep_copy(budget)
        spent["status"]["disruptionsAllowed"] -= 1
        store.put("poddisruptionbudgets", spent)


def _covered_pods(store: ObjectStore, pdb: JsonObject) -> list[JsonObject]:
    """The live pods a budget's selector covers (a null selector covers none)."""
    selector = pdb["spec"].get("selector")
    return [
        pod
        for pod in store.objects("pods", pdb["metadata"]["namespace"])
        if not is_terminating(pod) and _selects(selector, pod["metadata"].get("labels"))
    ]


def _selects(selector: Any, labels: dict[str, str] | None) -> bool:
    requirements = label_selector_requirements(selector)
    return requirements is not None and labels_match(requirements, labels)


def _scaled(value: int | str, total: int) -> int:
    """An int-or-percent resolved against total, rounding up as the disruption controller does."""
    if isinstance(value, int):
        return value
    return math.ceil(int(value.rstrip("%")) * total / 100)


def _set_status(obj: JsonObject, status: JsonObject) -> None:
    obj["status"] = status
