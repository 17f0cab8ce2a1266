"""The Job controller and a minimal kubelet for Jobs: a Job's container runs as a local process.

Opt-in (`KubeApiServer(kubelet=KubeletConfig(...))`): without it, Jobs are stored as sent and
nothing runs. With it, the test server does what kube-controller-manager's Job controller, the
TTL-after-finished controller and a kubelet do for a Job of one pod (completions 1,
parallelism 1):

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
  it finished counts as failed (the real controller's job-tracking finalizer is not simulated).

Deliberate differences from a real kubelet: the process shares this machine's filesystem and
network, the ServiceAccount's credentials arrive as a KUBECONFIG file rather than a mounted token
(the `kubernetes` client reads either), the image is not pulled (the command runs from this
Python environment), securityContext and resources are not enforced, only the first container
runs, and the environment is the pod's own plus PATH, a HOME and the extra variables of the
`KubeletConfig` (a test's PYTHONPATH, say).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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

__all__ = ["CHAOSBOT_COMMAND", "JobRuntime", "KubeletConfig"]

# What the image's `chaosbot` entry point is on this machine.
CHAOSBOT_COMMAND = (sys.executable, "-m", "bot")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_TERMINAL = ("Succeeded", "Failed")
_SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True, kw_only=True)
class KubeletConfig:
    """How the test server runs Jobs' containers.

    env: extra variables for every container (a test's PYTHONPATH); token_for(namespace,
    service_account): the bearer token a pod's kubeconfig carries (default: the server's admin
    token); commands: how a container command's first word maps to a local command line;
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


class EnvError(Exception):
    """A container's environment cannot be built (CreateContainerConfigError)."""


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
            _terminate(process.popen, grace_seconds=min(process.grace_seconds, 2.0))
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
                    target=_terminate,
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
                write_changed(self.store, "pods", pod, _terminated, process)

    def _start_pod(self, pod: JsonObject) -> None:
        try:
            env = self._environment(pod)
        except EnvError as error:
            write_changed(self.store, "pods", pod, _config_error, str(error))
            return
        container = pod["spec"]["containers"][0]
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        if not argv:
            write_changed(self.store, "pods", pod, _config_error, "no command (no image to run)")
            return
        argv = [*self.config.commands.get(argv[0], (argv[0],)), *argv[1:]]
        try:
            popen = subprocess.Popen(
                argv, env=env, cwd=self.workdir, start_new_session=True, stdin=subprocess.DEVNULL
            )
        except OSError as error:
            write_changed(self.store, "pods", pod, _start_error, str(error))
            return
        grace = float(pod["spec"].get("terminationGracePeriodSeconds", 30))
        process = _Process(pod["metadata"]["uid"], popen, grace, now_rfc3339())
        self._processes[process.pod_uid] = process
        write_changed(self.store, "pods", pod, _running, process)
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
        namespace = pod["metadata"]["namespace"]
        container = pod["spec"]["containers"][0]
        env: dict[str, str] = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
        }
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix") or ""
            for key, value in self._source(namespace, source).items():
                if _ENV_NAME.match(prefix + key):
                    env[prefix + key] = value
        for variable in container.get("env") or []:
            resolved = self._value(pod, variable)
            if resolved is not None:
                env[variable["name"]] = resolved
        account = pod["spec"].get("serviceAccountName") or "default"
        env["HOSTNAME"] = pod["metadata"]["name"]
        env["KUBECONFIG"] = str(self._kubeconfig(pod, namespace, account))
        env.update(self.config.env)
        return env

    def _source(self, namespace: str, source: JsonObject) -> dict[str, str]:
        if "configMapRef" in source:
            ref, kind = source["configMapRef"], "configmap"
        else:
            ref, kind = source.get("secretRef") or {}, "secret"
        data = self._data(kind, namespace, ref.get("name", ""))
        if data is None:
            if ref.get("optional"):
                return {}
            raise EnvError(f'{kind} "{ref.get("name", "")}" not found')
        return data

    def _data(self, kind: str, namespace: str, name: str) -> dict[str, str] | None:
        plural = "configmaps" if kind == "configmap" else "secrets"
        obj = self.store.get(plural, namespace, name)
        if obj is None:
            return None
        if kind == "configmap":
            return {k: str(v) for k, v in (obj.get("data") or {}).items()}
        return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}

    def _value(self, pod: JsonObject, variable: JsonObject) -> str | None:
        if "value" in variable:
            return str(variable["value"])
        source = variable.get("valueFrom") or {}
        namespace = pod["metadata"]["namespace"]
        if "fieldRef" in source:
            path = source["fieldRef"].get("fieldPath", "")
            fields = {
                "metadata.name": pod["metadata"]["name"],
                "metadata.namespace": namespace,
                "metadata.uid": pod["metadata"]["uid"],
                "spec.nodeName": pod["spec"].get("nodeName", ""),
                "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
            }
            return str(fields.get(path, ""))
        for key, kind, title in (
            ("configMapKeyRef", "configmap", "ConfigMap"),
            ("secretKeyRef", "secret", "Secret"),
        ):
            if key in source:
                ref = source[key]
                data = self._data(kind, namespace, ref.get("name", ""))
                if data is None or ref.get("key") not in data:
                    if ref.get("optional"):
                        return None
                    if data is None:
                        raise EnvError(f'{kind} "{ref.get("name", "")}" not found')
                    raise EnvError(
                        f"couldn't find key {ref.get('key')} in {title} "
                        f"{namespace}/{ref.get('name', '')}"
                    )
                return data[ref["key"]]
        return ""

    def _kubeconfig(self, pod: JsonObject, namespace: str, account: str) -> Path:
        token_for = self.config.token_for
        token = token_for(namespace, account) if token_for else self._admin_token
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "in-cluster", "cluster": {"server": self._server_url()}}],
            "users": [{"name": account, "user": {"token": token}}],
            "contexts": [
                {
                    "name": "in-cluster",
                    "context": {"cluster": "in-cluster", "user": account, "namespace": namespace},
                }
            ],
            "current-context": "in-cluster",
        }
        path = self.workdir / f"{pod['metadata']['uid']}.kubeconfig"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        path.chmod(0o600)
        return path

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
        suffix = "".join(self._rng.choice(_SAFE_CHARS) for _ in range(5))
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


def _running(pod: JsonObject, process: _Process) -> None:
    status = pod.setdefault("status", {})
    status["phase"] = "Running"
    status.setdefault("startTime", process.started_at)
    status.setdefault("podIP", "10.245.0.1")
    conditions = status.setdefault("conditions", [])
    for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
        set_condition(conditions, kind, True, process.started_at)
    status["containerStatuses"] = [
        _container_status(pod, {"running": {"startedAt": process.started_at}}, ready=True)
    ]


def _terminated(pod: JsonObject, process: _Process) -> None:
    code = process.exit_code if process.exit_code is not None else 137
    # A process killed by a signal exits with 128 + the signal's number, as a container's does.
    exit_code = 128 - code if code < 0 else code
    status = pod.setdefault("status", {})
    status["phase"] = "Succeeded" if exit_code == 0 else "Failed"
    now = now_rfc3339()
    conditions = status.setdefault("conditions", [])
    for kind in ("ContainersReady", "Ready"):
        set_condition(conditions, kind, False, now, "PodCompleted")
    terminated = {
        "exitCode": exit_code,
        "reason": "Completed" if exit_code == 0 else "Error",
        "startedAt": process.started_at,
        "finishedAt": now,
    }
    status["containerStatuses"] = [_container_status(pod, {"terminated": terminated}, ready=False)]


def _config_error(pod: JsonObject, message: str) -> None:
    _waiting(pod, "CreateContainerConfigError", message)


def _start_error(pod: JsonObject, message: str) -> None:
    _waiting(pod, "RunContainerError", message)


def _waiting(pod: JsonObject, reason: str, message: str) -> None:
    status = pod.setdefault("status", {})
    status["phase"] = "Pending"
    now = now_rfc3339()
    conditions = status.setdefault("conditions", [])
    set_condition(conditions, "Initialized", True, now)
    for kind in ("ContainersReady", "Ready"):
        set_condition(conditions, kind, False, now, "ContainersNotReady")
    status["containerStatuses"] = [
        _container_status(pod, {"waiting": {"reason": reason, "message": message}}, ready=False)
    ]


def _container_status(pod: JsonObject, state: JsonObject, *, ready: bool) -> JsonObject:
    container = pod["spec"]["containers"][0]
    return {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": "",
        "ready": ready,
        "started": "running" in state,
        "restartCount": 0,
        "state": state,
    }


def _terminate(popen: subprocess.Popen[bytes], *, grace_seconds: float) -> None:
    """SIGTERM to the process's group, then SIGKILL once the grace period is over (at once
    when it is 0)."""
    if popen.poll() is not None:
        return
    if grace_seconds <= 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGTERM)
    try:
        popen.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()
