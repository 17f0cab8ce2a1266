"""Validation of objects before they are stored, as the API server (and Chaos Mesh) would do it.

Built-in kinds are checked with kubernetes-validate's strict schemas for one Kubernetes release,
plus the few server-side rules a JSON schema cannot express (name syntax, replicas >= 0, a
workload selector that matches its template, one source per volume, no rollingUpdate with a
Recreate strategy, a Job's pods restarting OnFailure or Never). Chaos Mesh kinds are checked against the JSON
Schemas in bot/testing/kube/schemas, derived from the Chaos Mesh CRDs and admission webhook rules.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from importlib import resources
from typing import Any

import jsonschema
import kubernetes_validate
from referencing import Registry, Resource

from bot.testing.kube.model import ApiError, JsonObject, ResourceType
from bot.testing.kube.selectors import label_selector_requirements, labels_match

__all__ = ["EVICTION", "SCALE", "Validator", "latest_kube_version"]

# Request bodies that are not stored resources but are validated all the same.
SCALE = ResourceType("autoscaling", "v1", "scale", "Scale")
EVICTION = ResourceType("policy", "v1", "evictions", "Eviction")

_SCHEMA_BASE = "https://chaosbot.invalid/schemas/"
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_WORKLOADS = ("Deployment", "StatefulSet", "ReplicaSet")


def _memoize_schema_files() -> None:
    """Make kubernetes-validate load its schema files once per process instead of per call.

    Its validate() re-reads and re-parses about 2 MB of JSON and rescans its schema directory
    on every call (about 10 ms); the files never change and the parsed schemas are never
    mutated, so caching those loaders leaves validation itself untouched and ten times faster.
    """
    utils = kubernetes_validate.utils
    for loader in ("schema_contents", "all_versions"):
        function = getattr(utils, loader, None)
        if function is not None and not hasattr(function, "cache_info"):
            setattr(utils, loader, functools.cache(function))


_memoize_schema_files()


def latest_kube_version() -> str:
    """The newest Kubernetes release kubernetes-validate ships schemas for (e.g. "1.37.0")."""
    return str(kubernetes_validate.latest_version())


class Validator:
    """Checks create/replace bodies and patch results; raises ApiError 422 on the first failure."""

    def __init__(self, kube_version: str) -> None:
        self.kube_version = kube_version

    def validate(self, rt: ResourceType, obj: JsonObject) -> None:
        """Raise ApiError(422, "Invalid") listing why obj is not a valid rt object."""
        causes = self._custom_causes(rt, obj) if rt.custom else self._builtin_causes(obj)
        if not causes:
            causes = list(_server_rules(rt, obj))
        if causes:
            name = str((obj.get("metadata") or {}).get("name") or "")
            raise ApiError.invalid(rt, name, causes)

    def _builtin_causes(self, obj: JsonObject) -> list[tuple[str, str]]:
        try:
            kubernetes_validate.validate(obj, desired_version=self.kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            return [_cause(error)]
        return []

    def _custom_causes(self, rt: ResourceType, obj: JsonObject) -> list[tuple[str, str]]:
        errors = _custom_validator(rt.plural).iter_errors(obj)
        causes = [_cause(error) for error in sorted(errors, key=lambda e: list(map(str, e.path)))]
        return list(dict.fromkeys(causes))  # nested schemas can report the same cause twice


@functools.cache
def _custom_validator(plural: str) -> jsonschema.Draft202012Validator:
    """The JSON Schema validator for a Chaos Mesh kind (schemas load once per process)."""
    schema_dir = resources.files("bot.testing.kube").joinpath("schemas")
    registry: Registry[Any] = Registry()
    for entry in schema_dir.iterdir():
        if entry.name.endswith(".json"):
            contents = json.loads(entry.read_text(encoding="utf-8"))
            registry = registry.with_resource(contents["$id"], Resource.from_contents(contents))
    schema = registry.contents(f"{_SCHEMA_BASE}{plural}.json")
    return jsonschema.Draft202012Validator(schema, registry=registry)


def field_path(parts: Iterable[Any]) -> str:
    """A JSON path as the server writes it in messages: spec.containers[0].image."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _cause(error: jsonschema.ValidationError) -> tuple[str, str]:
    """A (field, message) pair in the server's wording for a JSON Schema failure."""
    path = field_path(error.absolute_path)
    # Both are whatever JSON the schema and the object held at that point.
    value: Any = error.validator_value
    instance: Any = error.instance
    match error.validator:
        case "required" if isinstance(instance, dict):
            missing = [name for name in value if name not in instance]
            return _join(path, missing[0] if missing else ""), "Required value"
        case "enum":
            supported = ", ".join(json.dumps(v) for v in value if v is not None)
            return path, f"Unsupported value: {json.dumps(instance)}: supported values: {supported}"
        case "additionalProperties" | "unevaluatedProperties":
            # jsonschema names the offending keys in its message: "('foo' was unexpected)".
            unknown = re.findall(r"'([^']*)'", error.message.rpartition("(")[2]) or [""]
            return _join(path, unknown[0]), f'unknown field "{unknown[0]}"'
        case "type":
            types = [str(t) for t in value if t != "null"] if isinstance(value, list) else [value]
            return (
                path,
                f"Invalid value: {json.dumps(instance)}: must be of type {' or '.join(types)}",
            )
        case "anyOf" if all(isinstance(b, dict) and list(b) == ["required"] for b in value):
            names = " or ".join(name for branch in value for name in branch["required"])
            return path, f"Required value: {names} must be set"
        case "minimum":
            return path, f"Invalid value: {instance}: must be greater than or equal to {value}"
        case "maximum":
            return path, f"Invalid value: {instance}: must be less than or equal to {value}"
    return path, f"Invalid value: {error.message}"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path and name else path or name


# --- rules the real server enforces in code rather than in its OpenAPI schema -----------------


def _server_rules(rt: ResourceType, obj: JsonObject) -> Iterable[tuple[str, str]]:
    metadata = obj.get("metadata") or {}
    yield from _name_rules(rt, str(metadata.get("name") or ""))
    for key, value in (metadata.get("labels") or {}).items():
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            yield f"metadata.labels[{key}]", f'Invalid value: "{value}": a valid label must be '
            "an empty string or consist of alphanumeric characters, '-', '_' or '.'"
    spec = obj.get("spec") or {}
    if rt.kind in (*_WORKLOADS, "Scale") and (spec.get("replicas") or 0) < 0:
        yield (
            "spec.replicas",
            f"Invalid value: {spec['replicas']}: must be greater than or equal to 0",
        )
    if rt.kind in _WORKLOADS:
        yield from _workload_rules(spec)
    if rt.kind == "Pod" and not spec.get("containers"):
        yield "spec.containers", "Required value"
    if rt.kind == "Deployment":
        yield from _strategy_rules(spec)
    for path, pod_spec in _pod_specs(rt.kind, spec):
        yield from _volume_rules(path, pod_spec)
    if rt.kind == "Job":
        yield from _job_rules("spec", spec)
    if rt.kind == "CronJob":
        yield from _job_rules("spec.jobTemplate.spec", (spec.get("jobTemplate") or {}).get("spec"))
    if rt.kind == "PodDisruptionBudget" and "minAvailable" in spec and "maxUnavailable" in spec:
        yield "spec", "Invalid value: minAvailable and maxUnavailable cannot be both set"


def _name_rules(rt: ResourceType, name: str) -> Iterable[tuple[str, str]]:
    if rt.kind in ("Scale", "Eviction"):
        return
    if not name:
        yield "metadata.name", "Required value: name or generateName is required"
        return
    label_only = rt.kind in ("Namespace", "Service")
    pattern, limit = (_DNS_LABEL, 63) if label_only else (_SUBDOMAIN, 253)
    if len(name) > limit or not pattern.match(name):
        kind = "RFC 1123 label" if label_only else "RFC 1123 subdomain"
        yield (
            "metadata.name",
            (
                f'Invalid value: "{name}": a lowercase {kind} must consist of lower case alphanumeric '
                "characters or '-', and must start and end with an alphanumeric character"
            ),
        )


def _workload_rules(spec: JsonObject) -> Iterable[tuple[str, str]]:
    selector = spec.get("selector")
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    requirements = label_selector_requirements(selector)
    if not requirements:
        yield "spec.selector", "Invalid value: empty selector is invalid for deployment"
    elif not labels_match(requirements, template_labels):
        yield (
            "spec.template.metadata.labels",
            (
                f"Invalid value: {json.dumps(template_labels)}: `selector` does not match template "
                "`labels`"
            ),
        )
    if not ((spec.get("template") or {}).get("spec") or {}).get("containers"):
        yield "spec.template.spec.containers", "Required value"


# The order in which the server looks for a volume's source (validateVolumeSource): the first
# one found is the volume's type, each further one is refused.
_VOLUME_SOURCES = (
    "hostPath",
    "emptyDir",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "quobyte",
    "cinder",
    "cephfs",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
)


def _pod_specs(kind: str, spec: JsonObject) -> Iterable[tuple[str, JsonObject]]:
    """The pod spec of a pod, or of the pod template of a workload, Job or CronJob."""
    if kind == "Pod":
        yield "spec", spec
        return
    if kind in (*_WORKLOADS, "Job"):
        template, path = spec.get("template"), "spec.template.spec"
    elif kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        template, path = job.get("template"), "spec.jobTemplate.spec.template.spec"
    else:
        return
    pod_spec = (template or {}).get("spec")
    if isinstance(pod_spec, dict):
        yield path, pod_spec


def _volume_rules(path: str, pod_spec: JsonObject) -> Iterable[tuple[str, str]]:
    for index, volume in enumerate(pod_spec.get("volumes") or []):
        where = f"{path}.volumes[{index}]"
        sources = [key for key in _VOLUME_SOURCES if volume.get(key) is not None]
        if not sources:
            yield where, "Required value: must specify a volume type"
        for extra in sources[1:]:
            yield f"{where}.{extra}", "Forbidden: may not specify more than 1 volume type"


def _strategy_rules(spec: JsonObject) -> Iterable[tuple[str, str]]:
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate") is not None:
        yield (
            "spec.strategy.rollingUpdate",
            "Forbidden: may not be specified when strategy `type` is 'Recreate'",
        )


def _job_rules(path: str, job_spec: JsonObject | None) -> Iterable[tuple[str, str]]:
    # A pod's restartPolicy defaults to Always, which a Job's pods may not have.
    pod_spec = ((job_spec or {}).get("template") or {}).get("spec") or {}
    policy = pod_spec.get("restartPolicy") or "Always"
    if policy not in ("OnFailure", "Never"):
        yield (
            f"{path}.template.spec.restartPolicy",
            f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"',
        )
