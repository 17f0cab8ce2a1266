"""The overlays of deploy/kubernetes rendered with `kubectl kustomize`, and ways to look into them."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("quickstart", "production")
IMAGE = "ghcr.io/chaosbot/chaosbot"

Obj = dict[str, Any]


def kubectl() -> str:
    """kubectl (on the project's machines); its own kustomize renders the overlays."""
    found = shutil.which("kubectl") or "/usr/bin/kubectl"
    assert Path(found).exists(), "kubectl is needed to render deploy/kubernetes"
    return found


def render(directory: Path) -> list[Obj]:
    """`kubectl kustomize DIRECTORY` as a list of objects."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    """The one object of that kind and name (in whatever namespace)."""
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} named {name}"
    return found[0]


def pod_specs(objects: list[Obj]) -> Iterator[tuple[str, Obj]]:
    """Every pod spec in the output (Deployments, Jobs, CronJobs), named `Kind/name`."""
    for obj in objects:
        spec = obj.get("spec") or {}
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            template = spec["template"]
        elif obj["kind"] == "CronJob":
            template = spec["jobTemplate"]["spec"]["template"]
        else:
            continue
        yield f"{obj['kind']}/{obj['metadata']['name']}", template["spec"]


def pod_templates(objects: list[Obj]) -> Iterator[tuple[str, Obj]]:
    """Every pod template (metadata and spec), named `Kind/name`."""
    for obj in objects:
        spec = obj.get("spec") or {}
        if obj["kind"] in ("Deployment", "Job"):
            yield f"{obj['kind']}/{obj['metadata']['name']}", spec["template"]
        elif obj["kind"] == "CronJob":
            yield (
                f"CronJob/{obj['metadata']['name']}",
                spec["jobTemplate"]["spec"]["template"],
            )


def containers(pod_spec: Obj) -> list[Obj]:
    """Init containers and containers alike."""
    return [*(pod_spec.get("initContainers") or []), *pod_spec["containers"]]


def bot_container(objects: list[Obj]) -> Obj:
    spec = find(objects, "Deployment", "chaosbot")["spec"]["template"]["spec"]
    (bot,) = [c for c in spec["containers"] if c["name"] == "chaosbot"]
    return dict(bot)


def env_value(container: Obj, name: str) -> str:
    values = [e["value"] for e in container.get("env") or [] if e["name"] == name]
    assert len(values) == 1, f"{container['name']} sets {name} {len(values)} times"
    return str(values[0])
