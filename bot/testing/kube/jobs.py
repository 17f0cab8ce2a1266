"""The Job controller and a minimal kubelet for Jobs: a Job's container runs as a local process.

Opt-in (`KubeApiServer(kubelet=KubeletConfig(...))`): without it, Jobs are stored as sent and
nothing runs. With it, the test server does what kube-controller-manager's Job controller, the
TTL-after-finished controller and a kubelet do for a Job of one pod (completions 1,
parallelism 1; what the kubelet does for the container is in kube_containers):

- the Job gets its pod `<job>-<5 chars>` (labels `job-name`, `batch.kubernetes.io/job-name`,
  `controller-uid`, `batch.kubernetes.io/controller-uid`, an ownerReference to the Job); once the
  scheduler has bound it to a node, its first container's command runs as a process of its own
  session on this machine (`chaosbot` is `python -m bot`), with the container's env and envFrom
  resolved from the stored ConfigMaps and Secrets (a missing one that is not optional keeps the
  pod Pending with CreateContainerConfigError, as a kubelet does), HOSTNAME=<pod name>, and
  KUBECONFIG pointing at a kubeconfig for the pod's ServiceAccount;
- the pod goes Pending -> Running -> Succeeded/Failed with the container's exit code, and the
  Job's status follows as the Job controller writes it (active, ready, succeeded, failed,
  startTime, completionTime, the SuccessCriteriaMet/Complete or FailureTarget/Failed
  conditions with BackoffLimitExceeded or DeadlineExceeded);
- past activeDeadlineSeconds the pod is deleted and its process stopped (SIGTERM, then SIGKILL
  after the pod's terminationGracePeriodSeconds); ttlSecondsAfterFinished deletes a finished Job
  and its pods; a deleted pod's process is stopped the same way, and a pod that vanished before
  it finished counts as failed (the real controller's job-tracking finalizer is not simulated);
- a configMap volume is written to a directory of the pod's, and the process starts in the one
  mounted at the container's workingDir (a load profile's script, bot.load).

Deliberate differences from a real kubelet: the process shares this machine's filesystem and
network, the ServiceAccount's credentials arrive as a KUBECONFIG file rather than a mounted token
(the `kubernetes` client reads either), the image is not pulled (the command runs from this
Python environment), securityContext and resources are not enforced, only the first container
runs, and the environment is the pod's own plus PATH, a HOME and the extra variables of the
`KubeletConfig` (a test's PYTHONPATH, say).
"""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.testing.kube.containers import (
    ContainerConfigError,
    container_environment,
    mount_config_maps,
    running,
    terminate,
    terminated,
    waiting,
    write_kubeconfig,
)
from bot.testing.kube.defaults import default_pod_spec, job_labels
from bot.testing.kube.model import JsonObject, now_rfc3339
from bot.testing.kube.pods import is_pod_ready, set_condition, write_changed
from bot.testing.kube.store import (
    ObjectStore,
    controller_uid,
    delete_object,
    owner_reference,
    stamp_new,
)
from bot.testing.kube.workloads import SAFE_CHARS

__all__ = ["CHAOSBOT_COMMAND", "JobRuntime", "KubeletConfig"]

# What the image's `chaosbot` entry point is on this machine.
CHAOSBOT_COMMAND = (sys.executable, "-m", "bot")
_TERMINAL = ("Succeeded", "Failed")


@dataclass(frozen=True, kw_only=True)
class KubeletConfig:
    """How the test server runs Jobs' containers.

    env: extra variables for every container (a test's PYTHONPATH); token_for(namespace,
    service_account): the bearer token a pod's kubeconfig carries (default: a token of the
    pod's ServiceAccount, authorized by the stored RBAC objects, as a real kubelet mounts it); commands: how a container command's first word maps to a local command line;
    workdir: where kubeconfigs are written and processes start (default: a temporary
    directory); tick_seconds: how often deadlines and TTLs are looked at.
    """

    env: Mapping[str, str] = field(default_factory=dict)
    token_for: Callable[[str, str], str] | None = None
    commands: Mapping[str, Sequence[str]] = field(
        default_factory=lambda: {"chaosbot": CHAOSBOT_COMMAND}
    )
    workdir: Path | None = None
    tick_seconds: float = 0.05


@dataclass
class _Process:
    pod_uid: str
    popen: subprocess.Popen[bytes]
    grace_seconds: float
    started_at: str
    exit_code: int | None = None
    stopping: bool = False


@dataclass
class _JobBook:
    """What the controller remembers of one Job: its pods, counted ones, its clock."""

    pods: set[str] = field(default_factory=set)
    counted: set[str] = field(default_factory=set)
    started: float | None = None
    finished: float | None = None


class JobRuntime:
    """The Job controller, TTL controller and kubelet for Jobs of one simulated cluster.

    `sync()` runs inside the cluster's reconcile (store lock held); a ticker thread reconciles
    every `tick_seconds` so deadlines and TTLs pass without a write, and each process's exit is
    reported from a thread of its own.
    """

    def __init__(
        self,
        store: ObjectStore,
        config: KubeletConfig,
        *,
        reconcile: Callable[[], None],
        server_url: Callable[[], str],
        admin_token: str,
        rng: Any,
    ) -> None:
        self.store, self.config, self._reconcile = store, config, reconcile
        self._server_url, self._admin_token, self._rng = server_url, admin_token, rng
        self._processes: dict[str, _Process] = {}
        self._books: dict[str, _JobBook] = {}
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._own_workdir: tempfile.TemporaryDirectory[str] | None = None
        if config.workdir is None:
            self._own_workdir = tempfile.TemporaryDirectory(prefix="kubelet-")
            self.workdir = Path(self._own_workdir.name)
        else:
            self.workdir = config.workdir

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._ticker is not None:
            return
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick, name="kube-job-ticker", daemon=True)
        self._ticker.start()

    def stop(self) -> None:
        """Stop the ticker and every process (SIGTERM, then SIGKILL after a short grace)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None
        with self.store.lock:
            processes = list(self._processes.values())
        for process in processes:
            terminate(process.popen, grace_seconds=min(process.grace_seconds, 2.0))
        if self._own_workdir is not None:
            with contextlib.suppress(OSError):
                self._own_workdir.cleanup()

    def _tick(self) -> None:
        while not self._stop.wait(self.config.tick_seconds):
            with self.store.lock:
                self._reconcile()

    # --- the loop -------------------------------------------------------------------------------

    def manages(self, pod: JsonObject) -> bool:
        """Whether a pod is a Job's, or runs a process here (this kubelet reports its status, not
        the default one; an orphaned pod keeps its process)."""
        return pod["metadata"]["uid"] in self._processes or any(
            ref.get("kind") == "Job" and ref.get("controller")
            for ref in pod["metadata"].get("ownerReferences") or []
        )

    def deleting(self, pod_uid: str, grace_seconds: float) -> None:
        """A DELETE of the pod gives its process this grace period (0: SIGKILL at once)."""
        process = self._processes.get(pod_uid)
        if process is not None:
            process.grace_seconds = grace_seconds

    def sync(self) -> None:
        """One pass of the Job controller, the TTL controller and the kubelet."""
        self._stop_orphaned_processes()
        self._run_pods()
        jobs = self.store.objects("jobs")
        for job in jobs:
            self._sync_job(job)
        live = {job["metadata"]["uid"] for job in self.store.objects("jobs")}
        for uid in [uid for uid in self._books if uid not in live]:
            del self._books[uid]

    # --- kubelet --------------------------------------------------------------------------------

    def _stop_orphaned_processes(self) -> None:
        """A pod that is gone (deleted, its Job deleted, its deadline passed) has its process
        stopped: SIGTERM, and SIGKILL after the grace period."""
        present = {pod["metadata"]["uid"] for pod in self.store.objects("pods")}
        for uid, process in list(self._processes.items()):
            if uid in present:
                continue
            del self._processes[uid]
            if process.exit_code is None and not process.stopping:
                process.stopping = True
                threading.Thread(
                    target=terminate,
                    args=(process.popen,),
                    kwargs={"grace_seconds": process.grace_seconds},
                    name=f"kill-{uid[:8]}",
                    daemon=True,
                ).start()

    def _run_pods(self) -> None:
        for pod in self.store.objects("pods"):
            if not self.manages(pod) or not pod["spec"].get("nodeName"):
                continue
            status = pod.get("status") or {}
            if status.get("phase") in _TERMINAL:
                continue
            uid = pod["metadata"]["uid"]
            process = self._processes.get(uid)
            if process is None:
                self._start_pod(pod)
            elif process.exit_code is not None:
                write_changed(
                    self.store, "pods", pod, terminated, process.exit_code, process.started_at
                )

    def _start_pod(self, pod: JsonObject) -> None:
        try:
            env = self._environment(pod)
            mounts = mount_config_maps(
                self.store, pod, self.workdir / f"{pod['metadata']['uid']}.volumes"
            )
        except ContainerConfigError as error:
            write_changed(
                self.store, "pods", pod, waiting, "CreateContainerConfigError", str(error)
            )
            return
        container = pod["spec"]["containers"][0]
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        if not argv:
            write_changed(
                self.store, "pods", pod, waiting, "CreateContainerConfigError", "no command"
            )
            return
        argv = [*self.config.commands.get(argv[0], (argv[0],)), *argv[1:]]
        cwd = mounts.get(container.get("workingDir", ""), self.workdir)
        try:
            popen = subprocess.Popen(
                argv, env=env, cwd=cwd, start_new_session=True, stdin=subprocess.DEVNULL
            )
        except OSError as error:
            write_changed(self.store, "pods", pod, waiting, "RunContainerError", str(error))
            return
        grace = float(pod["spec"].get("terminationGracePeriodSeconds", 30))
        process = _Process(pod["metadata"]["uid"], popen, grace, now_rfc3339())
        self._processes[process.pod_uid] = process
        write_changed(self.store, "pods", pod, running, process.started_at)
        threading.Thread(
            target=self._wait, args=(process,), name=f"pod-{pod['metadata']['name']}", daemon=True
        ).start()

    def _wait(self, process: _Process) -> None:
        code = process.popen.wait()
        with self.store.lock:
            process.exit_code = code
            if not self._stop.is_set():
                self._reconcile()

    def _environment(self, pod: JsonObject) -> dict[str, str]:
        """The image's basics (PATH, HOME), the container's variables, HOSTNAME, a kubeconfig
        for the pod's ServiceAccount, and the test's extra variables."""
        namespace = pod["metadata"]["namespace"]
        account = pod["spec"].get("serviceAccountName") or "default"
        token_for = self.config.token_for
        kubeconfig = write_kubeconfig(
            self.workdir / f"{pod['metadata']['uid']}.kubeconfig",
            server=self._server_url(),
            token=token_for(namespace, account) if token_for else self._admin_token,
            namespace=namespace,
            name="in-cluster",
            user=account,
        )
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            **container_environment(self.store, pod),
            "HOSTNAME": pod["metadata"]["name"],
            "KUBECONFIG": str(kubeconfig),
            **self.config.env,
        }

    # --- Job controller -------------------------------------------------------------------------

    def _sync_job(self, job: JsonObject) -> None:
        uid = job["metadata"]["uid"]
        spec, status = job.get("spec") or {}, job.get("status") or {}
        book = self._books.setdefault(uid, _JobBook())
        now = time.monotonic()
        if _finished(status):
            ttl = spec.get("ttlSecondsAfterFinished")
            book.finished = book.finished if book.finished is not None else now
            if ttl is not None and now - book.finished >= float(ttl):
                # The TTL-after-finished controller deletes with foreground propagation.
                for pod in self.store.objects("pods", job["metadata"]["namespace"]):
                    if controller_uid(pod) == uid:
                        delete_object(self.store, "pods", pod)
                delete_object(self.store, "jobs", job)
            return
        if spec.get("suspend"):
            return
        pods = [p for p in self.store.objects("pods", job["metadata"]["namespace"])]
        owned = [p for p in pods if controller_uid(p) == uid]
        book.pods.update(p["metadata"]["uid"] for p in owned)
        present = {p["metadata"]["uid"] for p in owned}
        succeeded, failed = int(status.get("succeeded") or 0), int(status.get("failed") or 0)
        for pod in owned:
            phase = (pod.get("status") or {}).get("phase")
            pod_uid = pod["metadata"]["uid"]
            if phase in _TERMINAL and pod_uid not in book.counted:
                book.counted.add(pod_uid)
                succeeded += phase == "Succeeded"
                failed += phase == "Failed"
        for pod_uid in book.pods - present - book.counted:
            book.counted.add(pod_uid)  # deleted before it finished: a failure
            failed += 1
        active = [p for p in owned if (p.get("status") or {}).get("phase") not in _TERMINAL]
        if book.started is None:
            book.started = now
        new = copy.deepcopy(job)
        new_status = new.setdefault("status", {})
        new_status.setdefault("startTime", now_rfc3339())
        stamp = now_rfc3339()
        completions = int(spec.get("completions") or 1)
        deadline = spec.get("activeDeadlineSeconds")
        ending: tuple[str, str] | None = None
        if succeeded >= completions:
            for kind in ("SuccessCriteriaMet", "Complete"):
                _job_condition(
                    new_status,
                    kind,
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    stamp,
                )
            new_status["completionTime"] = stamp
        elif failed > int(spec.get("backoffLimit", 6)):
            ending = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif deadline is not None and now - book.started >= float(deadline):
            ending = ("DeadlineExceeded", "Job was active longer than specified deadline")
        if ending is not None:
            for pod in active:
                delete_object(self.store, "pods", pod)
            active = []
            for kind in ("FailureTarget", "Failed"):
                _job_condition(new_status, kind, *ending, stamp)
        elif not active and succeeded < completions:
            active = [self._create_pod(job)]
        new_status["active"] = len(active)
        new_status["ready"] = sum(1 for p in active if is_pod_ready(p))
        new_status["terminating"] = 0
        new_status["succeeded"] = succeeded
        new_status["failed"] = failed
        new_status.setdefault("uncountedTerminatedPods", {})
        for key in ("active", "succeeded", "failed"):
            if not new_status[key]:
                del new_status[key]
        self.store.update("jobs", new)

    def _create_pod(self, job: JsonObject) -> JsonObject:
        template = copy.deepcopy(job["spec"].get("template") or {})
        metadata = template.get("metadata") or {}
        name = job["metadata"]["name"]
        suffix = "".join(self._rng.choice(SAFE_CHARS) for _ in range(5))
        labels = {**(metadata.get("labels") or {}), **job_labels(job["metadata"]["uid"], name)}
        pod: JsonObject = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{name}-{suffix}",
                "generateName": f"{name}-",
                "namespace": job["metadata"]["namespace"],
                "labels": labels,
                "annotations": dict(metadata.get("annotations") or {}),
                "ownerReferences": [owner_reference(job)],
            },
            "spec": template.get("spec") or {},
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        stamp_new(pod)
        default_pod_spec(pod["spec"])
        self._books[job["metadata"]["uid"]].pods.add(pod["metadata"]["uid"])
        return self.store.put("pods", pod)


def _finished(status: JsonObject) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def _job_condition(status: JsonObject, kind: str, reason: str, message: str, now: str) -> None:
    conditions = status.setdefault("conditions", [])
    set_condition(conditions, kind, True, now, reason, message)
    for condition in conditions:
        if condition["type"] == kind:
            condition["lastProbeTime"] = now
