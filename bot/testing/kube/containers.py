"""What a kubelet does for a pod's container, for the test server's Jobs (kube_jobs): the
container's environment from the pod and the stored ConfigMaps and Secrets, a kubeconfig for the
pod's ServiceAccount, the pod status it reports, and stopping its process."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import yaml

from bot.testing.kube.model import JsonObject, now_rfc3339
from bot.testing.kube.pods import set_condition
from bot.testing.kube.store import ObjectStore

__all__ = [
    "ContainerConfigError",
    "container_environment",
    "mount_config_maps",
    "running",
    "terminate",
    "terminated",
    "waiting",
    "write_kubeconfig",
]

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class ContainerConfigError(Exception):
    """A container's environment cannot be built (the kubelet's CreateContainerConfigError)."""


def container_environment(store: ObjectStore, pod: JsonObject) -> dict[str, str]:
    """The variables of the pod's first container: its envFrom, then its env."""
    namespace = pod["metadata"]["namespace"]
    container = pod["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        for key, value in _source(store, namespace, source).items():
            if _ENV_NAME.match(prefix + key):  # a kubelet skips keys that are no variable names
                env[prefix + key] = value
    for variable in container.get("env") or []:
        resolved = _value(store, pod, variable)
        if resolved is not None:
            env[variable["name"]] = resolved
    return env


def mount_config_maps(store: ObjectStore, pod: JsonObject, root: Path) -> dict[str, Path]:
    """The pod's first container's configMap volumes, written under `root` (one directory per
    volume, a file per key or per item's path): by mountPath. A process shares this machine's
    filesystem, so a mount is not at its mountPath; the kubelet starts the process in the one
    mounted at its workingDir. A missing ConfigMap (not optional) or key is an error, as the
    kubelet's FailedMount keeps the pod from starting."""
    namespace = pod["metadata"]["namespace"]
    volumes = {v["name"]: v for v in pod["spec"].get("volumes") or [] if "configMap" in v}
    mounted: dict[str, Path] = {}
    for mount in pod["spec"]["containers"][0].get("volumeMounts") or []:
        volume = volumes.get(mount["name"])
        if volume is None:
            continue
        source = volume["configMap"]
        data = _data(store, "configmap", namespace, source.get("name", ""))
        if data is None and not source.get("optional"):
            raise ContainerConfigError(f'configmap "{source.get("name", "")}" not found')
        data = data or {}
        items = source.get("items") or [{"key": k, "path": k} for k in data]
        directory = root / volume["name"]
        directory.mkdir(parents=True, exist_ok=True)
        for item in items:
            if item["key"] not in data:
                raise ContainerConfigError(
                    f"configmap references non-existent config key: {item['key']}"
                )
            target = directory / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[item["key"]], encoding="utf-8")
        mounted[mount["mountPath"]] = directory
    return mounted


def _source(store: ObjectStore, namespace: str, source: JsonObject) -> dict[str, str]:
    if "configMapRef" in source:
        ref, kind = source["configMapRef"], "configmap"
    else:
        ref, kind = source.get("secretRef") or {}, "secret"
    data = _data(store, kind, namespace, ref.get("name", ""))
    if data is None:
        if ref.get("optional"):
            return {}
        raise ContainerConfigError(f'{kind} "{ref.get("name", "")}" not found')
    return data


def _data(store: ObjectStore, kind: str, namespace: str, name: str) -> dict[str, str] | None:
    plural = "configmaps" if kind == "configmap" else "secrets"
    obj = store.get(plural, namespace, name)
    if obj is None:
        return None
    if kind == "configmap":
        return {k: str(v) for k, v in (obj.get("data") or {}).items()}
    return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}


def _value(store: ObjectStore, pod: JsonObject, variable: JsonObject) -> str | None:
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
            data = _data(store, kind, namespace, ref.get("name", ""))
            if data is None or ref.get("key") not in data:
                if ref.get("optional"):
                    return None
                if data is None:
                    raise ContainerConfigError(f'{kind} "{ref.get("name", "")}" not found')
                raise ContainerConfigError(
                    f"couldn't find key {ref.get('key')} in {title} "
                    f"{namespace}/{ref.get('name', '')}"
                )
            return data[ref["key"]]
    return ""


def write_kubeconfig(
    path: Path, *, server: str, token: str, namespace: str, name: str, user: str | None = None
) -> Path:
    """A kubeconfig with one context `name` reaching `server` with a bearer token (the
    server's own, or a pod's ServiceAccount's: a real kubelet mounts its token instead)."""
    account = user or name
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": name, "user": account, "namespace": namespace},
            }
        ],
        "current-context": name,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def running(pod: JsonObject, started_at: str) -> None:
    """The pod's status once its container runs."""
    status = pod.setdefault("status", {})
    status["phase"] = "Running"
    status.setdefault("startTime", started_at)
    status.setdefault("podIP", "10.245.0.1")
    conditions = status.setdefault("conditions", [])
    for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
        set_condition(conditions, kind, True, started_at)
    status["containerStatuses"] = [
        _container_status(pod, {"running": {"startedAt": started_at}}, ready=True)
    ]


def terminated(pod: JsonObject, code: int, started_at: str) -> None:
    """The pod's status once its container's process has exited with `code` (Popen's)."""
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
        "startedAt": started_at,
        "finishedAt": now,
    }
    status["containerStatuses"] = [_container_status(pod, {"terminated": terminated}, ready=False)]


def waiting(pod: JsonObject, reason: str, message: str) -> None:
    """The pod's status while its container cannot start (CreateContainerConfigError, ...)."""
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


def terminate(popen: subprocess.Popen[bytes], *, grace_seconds: float) -> None:
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
