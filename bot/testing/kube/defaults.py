"""Server-side defaulting: the fields the API server fills in on every write of a built-in kind."""

from __future__ import annotations

import base64
import binascii
import itertools

from bot.testing.kube.model import ApiError, JsonObject
from bot.testing.kube.pods import qos_class

__all__ = ["apply_defaults", "default_pod_spec", "initial_status", "job_defaults", "job_labels"]

_cluster_ips = itertools.count(10)


def apply_defaults(kind: str, obj: JsonObject) -> None:
    """Fill in defaults in place, as the server's defaulting functions do for that kind."""
    spec = obj.get("spec")
    if kind == "Namespace":
        name = obj["metadata"].get("name", "")
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    elif kind == "Secret":
        _normalize_secret(obj)
    elif not isinstance(spec, dict):
        return
    elif kind == "Pod":
        default_pod_spec(spec)
    elif kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        _workload_defaults(kind, spec)
    elif kind == "Job":
        job_defaults(obj)
        template = spec.get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            default_pod_spec(template["spec"])
    elif kind == "Service":
        _service_defaults(spec)
    elif kind == "NetworkPolicy":
        spec.setdefault("policyTypes", ["Ingress", *(["Egress"] if "egress" in spec else [])])


def initial_status(kind: str, spec: JsonObject) -> JsonObject | None:
    """The status a freshly created object starts with (None keeps what the client sent)."""
    if kind == "Pod":
        return {"phase": "Pending", "qosClass": qos_class(spec)}
    if kind == "Namespace":
        return {"phase": "Active"}
    if kind == "Service":
        return {"loadBalancer": {}}
    if kind == "Deployment":
        return {}
    if kind == "ReplicaSet":
        return {"replicas": 0}
    if kind == "StatefulSet":
        return {"replicas": 0, "availableReplicas": 0}
    if kind == "PodDisruptionBudget":
        counts = ("currentHealthy", "desiredHealthy", "disruptionsAllowed", "expectedPods")
        return dict.fromkeys(counts, 0)
    return None


def default_pod_spec(spec: JsonObject) -> None:
    """Pod spec defaults (also applied to workload templates)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image") or "")
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def _workload_defaults(kind: str, spec: JsonObject) -> None:
    spec.setdefault("replicas", 1)
    if kind != "ReplicaSet":
        spec.setdefault("revisionHistoryLimit", 10)
    if kind == "Deployment":
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault(
            "strategy",
            {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
        )
    if kind == "StatefulSet":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault(
            "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
        )
        spec.setdefault(
            "persistentVolumeClaimRetentionPolicy",
            {"whenDeleted": "Retain", "whenScaled": "Retain"},
        )
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        default_pod_spec(template["spec"])


def _service_defaults(spec: JsonObject) -> None:
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    if "clusterIP" not in spec:
        number = next(_cluster_ips)
        spec["clusterIP"] = f"10.96.{number // 250}.{number % 250 + 1}"
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))


def _normalize_secret(secret: JsonObject) -> None:
    """Fold stringData into base64 data and reject data that is not base64 (as decoding does)."""
    secret.setdefault("type", "Opaque")
    data = secret.get("data")
    if data is None:
        data = secret["data"] = {}
    if not isinstance(data, dict):
        return  # schema validation reports the wrong type
    for key, value in data.items():
        try:
            base64.b64decode(str(value), validate=True)
        except binascii.Error as error:
            raise ApiError.bad_request(
                f"illegal base64 data in Secret data[{key!r}]: {error}"
            ) from None
    string_data = secret.pop("stringData", None) or {}
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    if not data:
        secret.pop("data")


def job_defaults(job: JsonObject) -> None:
    """What the API server fills in on a Job (the selector and template labels from its uid)."""
    spec = job.get("spec")
    if not isinstance(spec, dict):
        return
    for key, value in (
        ("backoffLimit", 6),
        ("completions", 1),
        ("parallelism", 1),
        ("completionMode", "NonIndexed"),
        ("suspend", False),
        ("podReplacementPolicy", "TerminatingOrFailed"),
    ):
        spec.setdefault(key, value)
    uid, name = job["metadata"].get("uid"), job["metadata"].get("name")
    if not uid or spec.get("manualSelector"):
        return
    spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
    template = spec.setdefault("template", {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    for key, value in job_labels(uid, name).items():
        labels.setdefault(key, value)


def job_labels(uid: str, name: str) -> dict[str, str]:
    """The labels the API server gives a Job's pod template (and its pods)."""
    return {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
