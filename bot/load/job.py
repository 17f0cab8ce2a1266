"""The objects a run's load profile is made of: a Job in the service's namespace running the
Locust or k6 image, and, for an inline script, the ConfigMap it is mounted from.

Both carry the run label and an expiry (bot.faults.marks), so the leftover check and the sweep
find them like any fault's objects; the Job's activeDeadlineSeconds ends the load at that
expiry even if nobody is left to delete it. The pod gets no ServiceAccount token and no
privileges: a load test needs the network, nothing of the cluster.
"""

from __future__ import annotations

from typing import Any

from bot.faults.marks import RUN_LABEL, Mark, created_metadata
from bot.load.profile import LoadProfile, Tool

__all__ = [
    "CONTAINER",
    "LOAD_SELECTOR",
    "NAME_PREFIX",
    "SCRIPT_DIR",
    "config_map_manifest",
    "job_manifest",
    "load_name",
]

NAME_PREFIX = "chaosbot-load-"
CONTAINER = "load"
# Where the script is mounted; the container starts there, so the tools find it by name.
SCRIPT_DIR = "/mnt/chaosbot-load"
_COMPONENT = {"app.kubernetes.io/name": "chaosbot-load", "app.kubernetes.io/managed-by": "chaosbot"}
# What tells a load's Job from the worker Jobs of the kubernetes executor (which carry the run
# label too).
LOAD_SELECTOR = "app.kubernetes.io/name=chaosbot-load"
# The images' own non-root users (the locust and k6 users of their Dockerfiles).
_USERS = {Tool.LOCUST: 1000, Tool.K6: 12345}


def load_name(run: str) -> str:
    """The Job's (and an inline script's ConfigMap's) name."""
    return f"{NAME_PREFIX}{run}"


def config_map_manifest(profile: LoadProfile, *, namespace: str, mark: Mark) -> dict[str, Any]:
    """The ConfigMap of an inline script (the profile must have one)."""
    assert profile.script is not None
    metadata = created_metadata(load_name(mark.run), namespace, mark)
    metadata["labels"].update(_COMPONENT)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {profile.tool.script_file: profile.script},
    }


def job_manifest(profile: LoadProfile, *, namespace: str, mark: Mark, image: str) -> dict[str, Any]:
    """The Job that runs the load for at most the mark's lifetime."""
    name = load_name(mark.run)
    metadata = created_metadata(name, namespace, mark)
    metadata["labels"].update(_COMPONENT)
    lifetime = mark.lifetime_seconds
    running = min(profile.ramp_up_seconds + (profile.duration_seconds or lifetime), lifetime)
    if profile.config_map is not None:
        source = {"name": profile.config_map.name, "key": profile.config_map.key}
    else:
        source = {"name": name, "key": profile.tool.script_file}
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        **_command(profile, running),
        "workingDir": SCRIPT_DIR,
        "env": _env(profile),
        "volumeMounts": [{"name": "script", "mountPath": SCRIPT_DIR, "readOnly": True}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "runAsUser": _USERS[profile.tool],
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            # A load that fails is not retried: the run says so instead of measuring without it.
            "backoffLimit": 0,
            "activeDeadlineSeconds": lifetime,
            "template": {
                "metadata": {"labels": {RUN_LABEL: mark.run, **_COMPONENT}},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 10,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "script",
                            "configMap": {
                                "name": source["name"],
                                "items": [{"key": source["key"], "path": profile.tool.script_file}],
                            },
                        }
                    ],
                },
            },
        },
    }


def _command(profile: LoadProfile, seconds: int) -> dict[str, list[str]]:
    """The container's command and arguments: `seconds` of load, the first ramping up."""
    users = str(profile.users)
    if profile.tool is Tool.LOCUST:
        # Locust spawns `spawn-rate` users a second: all of them within the ramp-up.
        rate = profile.users / profile.ramp_up_seconds if profile.ramp_up_seconds else profile.users
        args = ["-f", Tool.LOCUST.script_file, "--headless", "--users", users]
        args += ["--spawn-rate", f"{rate:g}", "--run-time", f"{seconds}s", "--stop-timeout", "5"]
        if profile.host:
            args += ["--host", profile.host]
        return {"command": ["locust"], "args": args}
    args = ["run", "--quiet"]
    if profile.ramp_up_seconds:
        steady = max(seconds - profile.ramp_up_seconds, 1)
        args += ["--stage", f"{profile.ramp_up_seconds}s:{users}", "--stage", f"{steady}s:{users}"]
    else:
        args += ["--vus", users, "--duration", f"{seconds}s"]
    return {"command": ["k6"], "args": [*args, Tool.K6.script_file]}


def _env(profile: LoadProfile) -> list[dict[str, str]]:
    env = [{"name": "TARGET_URL", "value": profile.host}] if profile.host else []
    if profile.tool is Tool.K6:
        env.append({"name": "K6_NO_USAGE_REPORT", "value": "true"})
    return env
