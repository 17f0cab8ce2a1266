"""The simulated scheduler and kubelets: pods get a node, then start Running and Ready."""

from __future__ import annotations

from collections.abc import Callable

from bot.testing.kube.model import JsonObject, now_rfc3339
from bot.testing.kube.pods import (
    PodOverride,
    container_status,
    fits_node,
    internal_ip,
    node_is_ready,
    set_condition,
    write_changed,
)
from bot.testing.kube.store import ObjectStore

__all__ = ["Kubelets", "Scheduler"]


class Scheduler:
    """Binds each unscheduled Pending pod to the next fitting node, round-robin."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._next = 0

    def run(self) -> None:
        """Place every pod that waits for a node; mark the ones no node fits Unschedulable."""
        nodes = self.store.objects("nodes")
        for pod in self.store.objects("pods"):
            if pod["spec"].get("nodeName") or (pod.get("status") or {}).get("phase") != "Pending":
                continue
            fitting = [node for node in nodes if fits_node(pod, node)]
            if fitting:
                node_name = fitting[self._next % len(fitting)]["metadata"]["name"]
                self._next += 1
                write_changed(self.store, "pods", pod, _bind, node_name)
            else:
                message = f"0/{len(nodes)} nodes are available to run the pod."
                write_changed(self.store, "pods", pod, _mark_unschedulable, message)


def _bind(pod: JsonObject, node_name: str) -> None:
    pod["spec"]["nodeName"] = node_name
    conditions = pod.setdefault("status", {}).setdefault("conditions", [])
    set_condition(conditions, "PodScheduled", True, now_rfc3339())


def _mark_unschedulable(pod: JsonObject, message: str) -> None:
    conditions = pod.setdefault("status", {}).setdefault("conditions", [])
    set_condition(conditions, "PodScheduled", False, now_rfc3339(), "Unschedulable", message)


class Kubelets:
    """Report the status of scheduled pods: Running, and Ready while their node is Ready.

    A phase or readiness a test pinned (overrides, by pod uid) wins over the simulation.
    """

    def __init__(self, store: ObjectStore, overrides: dict[str, PodOverride]) -> None:
        self.store = store
        self.overrides = overrides
        self._next_ip = 0
        # Pods another kubelet reports (a Job's, run as a process by bot/testing/kube/jobs.py).
        self.skip: Callable[[JsonObject], bool] = lambda pod: False

    def run(self) -> None:
        """Refresh the status of every pod bound to an existing node."""
        nodes = {node["metadata"]["name"]: node for node in self.store.objects("nodes")}
        for pod in self.store.objects("pods"):
            node = nodes.get(pod["spec"].get("nodeName") or "")
            if node is not None and not self.skip(pod):
                write_changed(self.store, "pods", pod, self._report, node)

    def _report(self, pod: JsonObject, node: JsonObject) -> None:
        status = pod.setdefault("status", {})
        override = self.overrides.get(pod["metadata"]["uid"], PodOverride())
        phase = override.phase or status.get("phase") or "Pending"
        if phase == "Pending" and override.phase is None:
            phase = "Running"
        ready = phase == "Running" and node_is_ready(node) and override.ready is not False
        now = now_rfc3339()
        status["phase"] = phase
        status["hostIP"] = internal_ip(node)
        status.setdefault("podIP", self._allocate_ip())
        status["podIPs"] = [{"ip": status["podIP"]}]
        status.setdefault("startTime", now)
        conditions = status.setdefault("conditions", [])
        for condition_type, value in (
            ("PodScheduled", True),
            ("Initialized", True),
            ("ContainersReady", ready),
            ("Ready", ready),
        ):
            set_condition(conditions, condition_type, value, now)
        status["containerStatuses"] = [
            container_status(container, ready, phase, status["startTime"])
            for container in pod["spec"].get("containers") or []
        ]

    def _allocate_ip(self) -> str:
        self._next_ip += 1
        return f"10.244.{self._next_ip // 250}.{self._next_ip % 250 + 1}"
