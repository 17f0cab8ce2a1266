"""The control loops of the simulated cluster, run synchronously after every write.

They stand in for kube-controller-manager, the scheduler and the kubelets just enough for chaos
experiments: garbage collection of owned objects, the workload controllers (kube_workloads),
round-robin scheduling and pods turning Running and Ready (kube_scheduling), and the disruption
controller's PodDisruptionBudget status (kube_disruption).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from bot.testing.kube.disruption import DisruptionController
from bot.testing.kube.model import JsonObject
from bot.testing.kube.pods import PodOverride
from bot.testing.kube.scheduling import Kubelets, Scheduler
from bot.testing.kube.store import ObjectStore, delete_object, is_terminating
from bot.testing.kube.workloads import WorkloadControllers

if TYPE_CHECKING:
    from bot.testing.kube.jobs import JobRuntime

__all__ = ["Controllers"]

# Each round reacts to the previous one's writes (GC -> controllers -> scheduler -> kubelet);
# a handful of rounds always reaches a fixed point.
_MAX_ROUNDS = 5


class Controllers:
    """Reconciles the store towards what the objects in it ask for.

    enabled=False keeps only garbage collection and budget statuses: no pods are created,
    scheduled or started, so objects stay exactly as the requests left them.
    """

    def __init__(self, store: ObjectStore, *, enabled: bool, rng: random.Random) -> None:
        self.store = store
        self.enabled = enabled
        # Pod states tests pinned, by pod uid.
        self.overrides: dict[str, PodOverride] = {}
        # (kind, namespace, name) of workloads whose new pods start unready, as a test asked.
        self.unready_workloads: set[tuple[str, str, str]] = set()
        self._workloads = WorkloadControllers(store, rng, self.overrides, self.unready_workloads)
        self._scheduler = Scheduler(store)
        self._kubelets = Kubelets(store, self.overrides)
        self._disruption = DisruptionController(store)
        # The Job controller and kubelet for Jobs (bot/testing/kube/jobs.py), when a test asked.
        self.jobs: JobRuntime | None = None

    def run_jobs(self, runtime: JobRuntime) -> None:
        """Let `runtime` run Jobs: their pods are its, not the default kubelet's."""
        self.jobs = runtime
        self._kubelets.skip = runtime.manages

    def reconcile(self) -> None:
        """Run every loop until nothing changes."""
        for _ in range(_MAX_ROUNDS):
            before = self.store.revision
            self._collect_garbage()
            if self.enabled:
                self._remove_pods_of_missing_nodes()
                self._workloads.sync()
                if self.jobs is not None:
                    self.jobs.sync()
                self._scheduler.run()
                self._kubelets.run()
                self._workloads.update_statuses()
            self._disruption.run()
            if self.store.revision == before:
                return

    def forget(self, obj: JsonObject) -> None:
        """Drop what the loops remember about an object that was deleted."""
        self.overrides.pop(obj["metadata"]["uid"], None)

    def _collect_garbage(self) -> None:
        """Delete objects whose owners are all gone (cascading: Deployment -> RS -> pods)."""
        removed = True
        while removed:
            removed = False
            uids = self.store.uids()
            for plural in ("replicasets", "pods", "statefulsets", "deployments"):
                for obj in self.store.objects(plural):
                    owners = obj["metadata"].get("ownerReferences") or []
                    if owners and all(owner["uid"] not in uids for owner in owners):
                        removed = self._remove(plural, obj) or removed

    def _remove_pods_of_missing_nodes(self) -> None:
        """Pod GC: pods bound to a node that no longer exists are deleted (and then replaced)."""
        nodes = {node["metadata"]["name"] for node in self.store.objects("nodes")}
        for pod in self.store.objects("pods"):
            node_name = pod["spec"].get("nodeName")
            if node_name and node_name not in nodes:
                self._remove("pods", pod)

    def _remove(self, plural: str, obj: JsonObject) -> bool:
        """Delete obj (a finalizer keeps it, terminating); whether that changed anything."""
        if is_terminating(obj):
            return False
        if delete_object(self.store, plural, obj) is None:
            self.forget(obj)
        return True
