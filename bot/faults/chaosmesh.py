"""Chaos Mesh faults (chaos-mesh.org/v1alpha1 via CustomObjectsApi), each removed by its run label.

chaosk8s.chaosmesh covers network and stress only, cannot label what it creates, and writes
fields the CRDs do not have (metadata.ns, a StressChaos direction, null containerNames), so the
objects are built here. Every object carries a `duration` a little longer than the hold (the
hold plus marks.GRACE_SECONDS, as its expiry): if chaosbot dies before its rollback, Chaos Mesh
lifts the fault on its own. For a container kill, which happens once, the duration only ends
the experiment in Chaos Mesh's records; the object is deleted all the same.
"""

from __future__ import annotations

from typing import Any, cast

from chaosk8s import create_k8s_api_client
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bot.faults.args import as_int, chaos_mesh_selector, run_label_value
from bot.faults.kube import Kind, Kube, Obj, Secrets
from bot.faults.marks import RUN_LABEL, Mark, created_metadata
from bot.faults.workloads import service_pods

__all__ = [
    "CHAOS_KINDS",
    "CHAOS_MESH",
    "delay_io",
    "delay_network",
    "fail_dns",
    "kill_containers",
    "lose_packets",
    "remove_chaos",
    "skew_time",
    "stress_cpu",
    "stress_memory",
]

GROUP, VERSION = "chaos-mesh.org", "v1alpha1"
CHAOS_KINDS = {
    "podchaos": "PodChaos",
    "networkchaos": "NetworkChaos",
    "stresschaos": "StressChaos",
    "iochaos": "IOChaos",
    "dnschaos": "DNSChaos",
    "timechaos": "TimeChaos",
}
CHAOS_MESH = {plural: Kind(f"/apis/{GROUP}/{VERSION}", plural) for plural in CHAOS_KINDS}
_DIRECTIONS = ("to", "from", "both")
# The kind of each fault's object, by the fault's name (the object's: chaosbot-{fault}-{run}).
_FAULTS = {
    "container-kill": "podchaos",
    "cpu": "stresschaos",
    "memory": "stresschaos",
    **{f"delay-{direction}": "networkchaos" for direction in _DIRECTIONS},
    "loss": "networkchaos",
    "dns": "dnschaos",
    "io-latency": "iochaos",
    "time": "timechaos",
}


def kill_containers(
    namespace: str,
    label_selector: str,
    run_id: str,
    container: str = "",
    count: Any = 1,
    secrets: Secrets = None,
    configuration: Configuration = None,
) -> Obj:
    """Kill a container ("": the pods' first) in `count` of the service's pods.

    The kubelet restarts it, as after a crash.
    """
    mark = Mark.of(run_id, configuration)
    if not container:
        pods = service_pods(Kube(secrets), namespace, label_selector)
        if not pods:
            raise ActivityFailed(f"no pod in {namespace} matches {label_selector}")
        container = pods[0]["spec"]["containers"][0]["name"]
    kill = {"action": "container-kill", "containerNames": [container]}
    selector = chaos_mesh_selector(namespace, label_selector)
    fixed = {"selector": selector, "mode": "fixed", "value": str(as_int(count, "count"))}
    return _inject("container-kill", namespace, mark, kill, fixed, secrets=secrets)


def stress_cpu(
    namespace: str,
    label_selector: str,
    run_id: str,
    workers: Any = 1,
    load: Any = 80,
    percent: Any = 100,
    hold_seconds: Any = 60,
    secrets: Secrets = None,
) -> Obj:
    """Run CPU burners (`workers` of them, each at `load` %) in the service's containers."""
    mark = Mark.held(run_id, hold_seconds)
    cpu = {"workers": as_int(workers, "workers"), "load": as_int(load, "load")}
    pods = _pods(namespace, label_selector, percent)
    return _inject("cpu", namespace, mark, pods, {"stressors": {"cpu": cpu}}, secrets=secrets)


def stress_memory(
    namespace: str,
    label_selector: str,
    run_id: str,
    workers: Any = 1,
    size: str = "256MB",
    percent: Any = 100,
    hold_seconds: Any = 60,
    secrets: Secrets = None,
) -> Obj:
    """Allocate `size` (e.g. 256MB, or 80% of the container's limit) per worker in the pods."""
    mark = Mark.held(run_id, hold_seconds)
    memory = {"workers": as_int(workers, "workers"), "size": str(size)}
    pods = _pods(namespace, label_selector, percent)
    return _inject(
        "memory", namespace, mark, pods, {"stressors": {"memory": memory}}, secrets=secrets
    )


def delay_network(
    namespace: str,
    label_selector: str,
    run_id: str,
    direction: str = "to",
    latency_ms: Any = 200,
    jitter_ms: Any = 0,
    peer_selector: str = "",
    peer_namespace: str = "",
    external_targets: str = "",
    percent: Any = 100,
    hold_seconds: Any = 60,
    secrets: Secrets = None,
) -> Obj:
    """Delay packets to ("to") or from ("from") the peers, or all egress without peers."""
    mark = Mark.held(run_id, hold_seconds)
    delay = {
        "latency": f"{as_int(latency_ms, 'latency_ms')}ms",
        "jitter": f"{as_int(jitter_ms, 'jitter_ms')}ms",
    }
    peers = (peer_selector, peer_namespace, external_targets)
    network = _network("delay", namespace, label_selector, direction, peers, percent)
    return _inject(
        f"delay-{direction}", namespace, mark, network, {"delay": delay}, secrets=secrets
    )


def lose_packets(
    namespace: str,
    label_selector: str,
    run_id: str,
    loss_percent: Any = 30,
    correlation: Any = 0,
    direction: str = "to",
    peer_selector: str = "",
    peer_namespace: str = "",
    external_targets: str = "",
    percent: Any = 100,
    hold_seconds: Any = 60,
    secrets: Secrets = None,
) -> Obj:
    """Drop `loss_percent` % of the packets between the service's pods and the peers."""
    mark = Mark.held(run_id, hold_seconds)
    loss = {
        "loss": str(as_int(loss_percent, "loss_percent")),
        "correlation": str(as_int(correlation, "correlation")),
    }
    peers = (peer_selector, peer_namespace, external_targets)
    network = _network("loss", namespace, label_selector, direction, peers, percent)
    return _inject("loss", namespace, mark, network, {"loss": loss}, secrets=secrets)


def fail_dns(
    namespace: str,
    label_selector: str,
    run_id: str,
    domains: str = "",
    action: str = "error",
    percent: Any = 100,
    hold_seconds: Any = 60,
    secrets: Secrets = None,
) -> Obj:
    """Make DNS lookups of `domains` (comma-separated patterns; "": all) fail or go random."""
    mark = Mark.held(run_id, hold_seconds)
    if action not in ("error", "random"):
        raise ActivityFailed(f"action must be error or random, not {action}")
    pods = _pods(namespace, label_selector, percent)
    patterns = [d.strip() for d in domains.split(",") if d.strip()]
    dns = {"action": action, **({"patterns": patterns} if patterns else {})}
    return _inject("dns", namespace, mark, pods, dns, secrets=secrets)


def delay_io(
    namespace: str,
    label_selector: str,
    run_id: str,
    volume_path: str = "/data",
    path: str = "",
    delay_ms: Any = 100,
    io_percent: Any = 100,
    percent: Any = 100,
    hold_seconds: Any = 60,
    secrets: Secrets = None,
) -> Obj:
    """Delay `io_percent` % of file operations under `volume_path` (a mounted volume)."""
    mark = Mark.held(run_id, hold_seconds)
    pods = _pods(namespace, label_selector, percent)
    io = {
        "action": "latency",
        "volumePath": volume_path,
        "delay": f"{as_int(delay_ms, 'delay_ms')}ms",
        "percent": as_int(io_percent, "io_percent"),
        **({"path": path} if path else {}),
    }
    return _inject("io-latency", namespace, mark, pods, io, secrets=secrets)


def skew_time(
    namespace: str,
    label_selector: str,
    run_id: str,
    offset_seconds: Any = 600,
    percent: Any = 100,
    hold_seconds: Any = 60,
    secrets: Secrets = None,
) -> Obj:
    """Shift the clock the service's processes see by `offset_seconds` (negative: the past)."""
    mark = Mark.held(run_id, hold_seconds)
    pods = _pods(namespace, label_selector, percent)
    offset = f"{as_int(offset_seconds, 'offset_seconds')}s"
    time = {"timeOffset": offset, "clockIds": ["CLOCK_REALTIME"]}
    return _inject("time", namespace, mark, pods, time, secrets=secrets)


def remove_chaos(namespace: str, run_id: str, secrets: Secrets = None) -> list[str]:
    """Delete every Chaos Mesh object of any kind this run created in the namespace."""
    run = run_label_value(run_id)
    api = _api(secrets)
    removed = []
    for plural in CHAOS_KINDS:
        try:
            listing = cast(
                Obj,
                api.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, label_selector=f"{RUN_LABEL}={run}"
                ),
            )
        except ApiException as error:
            if error.status == 404:  # Chaos Mesh (or this kind) is not installed
                continue
            raise
        for item in listing.get("items") or []:
            name = item["metadata"]["name"]
            try:
                api.delete_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
            except ApiException as error:
                if error.status != 404:
                    raise
                continue
            removed.append(f"{plural}/{name}")
    return removed


def _pods(namespace: str, label_selector: str, percent: Any) -> Obj:
    """The selector and mode fields: the service's pods, all or a percentage."""
    share = as_int(percent, "percent")
    if not 1 <= share <= 100:
        raise ActivityFailed(f"percent must be between 1 and 100, not {share}")
    spec: Obj = {"selector": chaos_mesh_selector(namespace, label_selector), "mode": "all"}
    if share < 100:
        spec.update(mode="fixed-percent", value=str(share))
    return spec


def _network(
    action: str,
    namespace: str,
    label_selector: str,
    direction: str,
    peers: tuple[str, str, str],
    percent: Any,
) -> Obj:
    """A NetworkChaos spec. peers: (selector, namespace, external targets) at the other end.

    "from" and "both" need peer pods, so without any they are every pod of the namespace.
    """
    peer_selector, peer_namespace, external_targets = peers
    if direction not in _DIRECTIONS:
        raise ActivityFailed(f"direction must be one of {', '.join(_DIRECTIONS)}, not {direction}")
    spec = {**_pods(namespace, label_selector, percent), "action": action}
    spec["direction"] = direction
    targets = [t.strip() for t in external_targets.split(",") if t.strip()]
    if targets:
        if direction != "to":
            raise ActivityFailed("external_targets only work with direction to")
        spec["externalTargets"] = targets
    if peer_selector or peer_namespace or direction != "to":
        peers_in = peer_namespace or namespace
        selector = chaos_mesh_selector(peers_in, peer_selector) if peer_selector else {}
        spec["target"] = {"selector": {**selector, "namespaces": [peers_in]}, "mode": "all"}
    return spec


def _inject(fault: str, namespace: str, mark: Mark, *parts: Obj, secrets: Secrets) -> Obj:
    """Create the fault's object, its spec the parts in order; it lifts itself when the run's
    writes expire. The parts are built by the caller, so their checks run in the caller's order.
    """
    plural = _FAULTS[fault]
    spec: Obj = {key: value for part in parts for key, value in part.items()}
    spec["duration"] = f"{mark.lifetime_seconds}s"
    body: Obj = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": CHAOS_KINDS[plural],
        "metadata": created_metadata(f"chaosbot-{fault}-{mark.run}", namespace, mark),
        "spec": spec,
    }
    _api(secrets).create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)
    return {"kind": body["kind"], "name": body["metadata"]["name"], "spec": spec}


def _api(secrets: Secrets) -> client.CustomObjectsApi:
    """The custom objects API of the cluster the secrets name."""
    return client.CustomObjectsApi(create_k8s_api_client(dict(secrets or {})))
