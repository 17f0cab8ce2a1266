"""A Kubernetes API server on 127.0.0.1 for tests and the offline demo.

The real `kubernetes` Python client talks to it over HTTP through a kubeconfig from
`KubeApiServer.write_kubeconfig`; nothing in the client is mocked. It serves what chaos
experiments use, with the real server's status codes and Status bodies:

- core/v1 namespaces, nodes, pods (+ eviction), secrets, configmaps, services, serviceaccounts,
  persistentvolumeclaims; apps/v1 deployments, statefulsets, replicasets (+ scale); policy/v1
  poddisruptionbudgets; networking.k8s.io/v1 networkpolicies; coordination.k8s.io/v1 leases;
  batch/v1 jobs, cronjobs; rbac.authorization.k8s.io/v1 roles, rolebindings, clusterroles,
  clusterrolebindings; chaos-mesh.org/v1alpha1
  podchaos, networkchaos, stresschaos, iochaos, dnschaos, timechaos.
- list (label selectors in full syntax, field selectors), get, create, replace, patch (JSON,
  merge and an approximate strategic merge, see kube_patch), delete, deletecollection,
  ``?dryRun=All``, optimistic concurrency on resourceVersion, bearer-token auth.
- RBAC: the admin token may do anything; a ServiceAccount's token (`service_account_token`)
  is authorized against the stored Roles, ClusterRoles and bindings as the real authorizer
  does, and refused with the real 403 (bot/testing/kube/rbac.py).
- validation with kubernetes-validate's strict schemas (built-in kinds) and JSON Schemas derived
  from the Chaos Mesh CRDs (bot/testing/kube/schemas).
- simulated controllers (see kube_controllers), fault injection and a request log.
- opt-in (``kubelet=KubeletConfig(...)``): the Job controller, the TTL-after-finished controller
  and a kubelet that runs a Job's container command as a local process (see kube_jobs).

Deliberate differences from a real API server:

- Deletion is immediate. A pod DELETE answers the pod with deletionTimestamp and
  deletionGracePeriodSeconds set (as a graceful delete would) but the pod is already gone and,
  for a workload, already replaced; a namespace DELETE removes its contents at once. Only
  metadata.finalizers hold an object, as in the real server: a DELETE (or the garbage
  collector, or a scale-down) then marks it terminating (deletionTimestamp, plus a pod's grace
  period, and deletionGracePeriodSeconds), its controller counts it out and replaces it, its
  status stays as it was (a pod inside its grace period), no finalizer can be added, and the
  update that removes the last finalizer deletes it.
- Controllers run synchronously inside the write, and new pods are Running and Ready at once
  (unless pinned otherwise), so the answer to a write already shows the cluster's reaction.
- Foreground propagation deletes dependents at once, as Background does (the owner is not kept
  until they are gone). A Job DELETE without a policy orphans its pods, as batch/v1 does.
- No watch, no server-side apply (``application/apply-patch+yaml`` answers 415), no
  pagination (``limit`` is ignored, which the API allows), no status subresource endpoints (the
  seeding and ``set_*`` helpers change status instead), no admission beyond validation.
- Unknown fields are rejected (422) rather than dropped with a warning, for built-in kinds and
  Chaos Mesh kinds alike: like ``kubectl --validate=strict``, it catches typos in manifests.
- A PodDisruptionBudget covering bare pods (no controller) counts each as one expected pod
  where the real disruption controller reports an error.
"""

from __future__ import annotations

import builtins
import dataclasses
import random
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bot.testing.kube.cluster import Cluster
from bot.testing.kube.containers import write_kubeconfig
from bot.testing.kube.http import Fault, Frontend, HttpListener, RequestRecord
from bot.testing.kube.jobs import JobRuntime, KubeletConfig
from bot.testing.kube.model import ApiError, JsonObject, resource_by_plural, resource_of
from bot.testing.kube.rbac import Identity
from bot.testing.kube.seed import (
    DEFAULT_IMAGE,
    container,
    namespace_manifest,
    node_manifest,
    pdb_manifest,
    pod_manifest,
    secret_manifest,
    workload_manifest,
)
from bot.testing.kube.validation import latest_kube_version

__all__ = ["DEFAULT_TOKEN", "KubeApiServer", "KubeletConfig", "RequestRecord"]

DEFAULT_TOKEN = "chaosbot-test-token"
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class KubeApiServer:
    """An in-memory Kubernetes API server the real `kubernetes` client can talk to."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        controllers: bool = True,
        kube_version: str | None = None,
        namespaces: Iterable[str] = DEFAULT_NAMESPACES,
        seed: int | None = 0,
        hold_seconds: float = 10.0,
        kubelet: KubeletConfig | None = None,
    ) -> None:
        """Set up an empty cluster (plus `namespaces`); start() begins serving.

        controllers=False turns off the workload controllers, scheduler and kubelets (pods are
        stored as sent); seed fixes generated pod names; hold_seconds is how long an injected
        timeout keeps the connection before hanging up; `kubelet` runs Jobs: each Job's pod
        runs its container's command as a local process (bot/testing/kube/jobs.py).
        """
        self.token = token
        self.kube_version = kube_version or latest_kube_version()
        self._cluster = Cluster(
            kube_version=self.kube_version, controllers=controllers, rng=random.Random(seed)
        )
        self._frontend = Frontend(self._cluster, token=token, hold_seconds=hold_seconds)
        self._listener = HttpListener(self._frontend)
        self._node_count = 0
        self._jobs: JobRuntime | None = None
        if kubelet is not None and controllers:
            if kubelet.token_for is None:
                # A pod speaks as its ServiceAccount, as the token a real kubelet mounts does.
                kubelet = dataclasses.replace(kubelet, token_for=self.service_account_token)
            self._jobs = JobRuntime(
                self._cluster.store,
                kubelet,
                reconcile=self._cluster.controllers.reconcile,
                server_url=lambda: self.url,
                admin_token=token,
                rng=self._cluster.rng,
            )
            self._cluster.controllers.run_jobs(self._jobs)
        for name in namespaces:
            self.add_namespace(name)

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's base URL, http://127.0.0.1:PORT (only while running)."""
        return self._listener.url

    def start(self) -> Self:
        """Start serving on an ephemeral port (no-op if already running)."""
        self._listener.start()
        if self._jobs is not None:
            self._jobs.start()
        return self

    def stop(self) -> None:
        """Stop serving; held and delayed requests are released and connections closed, and
        every process a Job's pod runs is stopped."""
        if self._jobs is not None:
            self._jobs.stop()
        self._listener.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def service_account_token(self, namespace: str, name: str) -> str:
        """A new bearer token for `system:serviceaccount:NAMESPACE:NAME`.

        Its requests are authorized by the stored Roles, ClusterRoles and their bindings, as
        the real RBAC authorizer does (bot/testing/kube/rbac.py); the server's own token stays
        an administrator (system:masters).
        """
        token = f"sa-{namespace}-{name}-{secrets.token_hex(8)}"
        self._frontend.add_identity(token, Identity.service_account(namespace, name))
        return token

    def write_kubeconfig(
        self,
        path: str | Path,
        *,
        context: str = "chaosbot-test",
        namespace: str = "default",
        token: str | None = None,
    ) -> Path:
        """Write a kubeconfig for this server (bearer-token user) and return its path.

        token: another identity's (see service_account_token); default the admin token.
        """
        return write_kubeconfig(
            Path(path),
            server=self.url,
            token=token or self.token,
            namespace=namespace,
            name=context,
        )

    # --- seeding --------------------------------------------------------------------------------

    def add_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> JsonObject:
        """Create a namespace."""
        return self.add_object("namespaces", namespace_manifest(name, labels))

    def add_node(
        self,
        name: str,
        *,
        zone: str | None = None,
        labels: Mapping[str, str] | None = None,
        ready: bool = True,
        unschedulable: bool = False,
        taints: Sequence[Mapping[str, Any]] = (),
    ) -> JsonObject:
        """Register a node; zone becomes the topology.kubernetes.io/zone label."""
        self._node_count += 1
        manifest = node_manifest(
            name,
            address=f"172.18.0.{self._node_count + 1}",
            kube_version=self.kube_version,
            zone=zone,
            labels=labels,
            ready=ready,
            unschedulable=unschedulable,
            taints=taints,
        )
        return self.add_object("nodes", manifest)

    def add_pod(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        node: str | None = None,
        phase: str | None = None,
        ready: bool = True,
        containers: Sequence[Mapping[str, Any]] | None = None,
    ) -> JsonObject:
        """Create a bare pod (no controller). Without node, the scheduler places it.

        phase and ready=False are pinned: the simulated kubelet keeps them.
        """
        if node is not None and self._cluster.controllers.enabled:
            self._cluster.get(resource_by_plural("nodes"), None, node)  # 404 -> ApiError
        manifest = pod_manifest(
            namespace,
            name,
            labels=labels,
            node=node,
            phase=phase,
            ready=ready,
            containers=containers,
        )
        pod = self.add_object("pods", manifest)
        if phase is not None or not ready:
            pod = self.set_pod_status(namespace, name, phase=phase, ready=ready)
        return pod

    def add_deployment(
        self,
        namespace: str,
        name: str,
        *,
        replicas: int,
        labels: Mapping[str, str],
        containers: Sequence[Mapping[str, Any]] | None = None,
        image: str = DEFAULT_IMAGE,
        resources: Mapping[str, Any] | None = None,
        readiness_probe: Mapping[str, Any] | None = None,
        liveness_probe: Mapping[str, Any] | None = None,
        annotations: Mapping[str, str] | None = None,
        pods_ready: bool = True,
    ) -> JsonObject:
        """Create a Deployment selecting `labels`; its pods appear at once (Ready unless told).

        Without containers, one container "app" is built from image, resources and probes.
        """
        specs = containers or [
            container(
                image=image,
                resources=resources,
                readiness_probe=readiness_probe,
                liveness_probe=liveness_probe,
            )
        ]
        manifest = workload_manifest(
            "Deployment",
            namespace,
            name,
            replicas=replicas,
            labels=labels,
            containers=specs,
            annotations=annotations,
        )
        return self._add_workload("deployments", manifest, pods_ready=pods_ready)

    def add_statefulset(
        self,
        namespace: str,
        name: str,
        *,
        replicas: int,
        labels: Mapping[str, str],
        containers: Sequence[Mapping[str, Any]] | None = None,
        image: str = DEFAULT_IMAGE,
        service_name: str | None = None,
        pods_ready: bool = True,
    ) -> JsonObject:
        """Create a StatefulSet selecting `labels`; pods <name>-0..n-1 appear at once."""
        manifest = workload_manifest(
            "StatefulSet",
            namespace,
            name,
            replicas=replicas,
            labels=labels,
            containers=containers or [container(image=image)],
            service_name=service_name or name,
        )
        return self._add_workload("statefulsets", manifest, pods_ready=pods_ready)

    def add_pdb(
        self,
        namespace: str,
        name: str,
        *,
        selector: Mapping[str, Any],
        min_available: int | str | None = None,
        max_unavailable: int | str | None = None,
        unhealthy_pod_eviction_policy: str | None = None,
    ) -> JsonObject:
        """Create a PodDisruptionBudget; selector is a label map or a LabelSelector dict."""
        manifest = pdb_manifest(
            namespace,
            name,
            selector=selector,
            min_available=min_available,
            max_unavailable=max_unavailable,
            unhealthy_pod_eviction_policy=unhealthy_pod_eviction_policy,
        )
        return self.add_object("poddisruptionbudgets", manifest)

    def add_secret(
        self,
        namespace: str,
        name: str,
        *,
        data: Mapping[str, str | bytes] | None = None,
        labels: Mapping[str, str] | None = None,
        secret_type: str | None = None,
    ) -> JsonObject:
        """Create a Secret (type Opaque by default) from plain-text or bytes values.

        The values are stored base64-encoded, as in the API.
        """
        manifest = secret_manifest(
            namespace, name, data=data, labels=labels, secret_type=secret_type or "Opaque"
        )
        return self.add_object("secrets", manifest)

    def add_manifests(self, manifests: Iterable[Mapping[str, Any]]) -> None:
        """Create each manifest as the administrator, its resource found by apiVersion and kind
        (`kubectl create -f` of a multi-document file)."""
        for manifest in manifests:
            self.add_object(resource_of(manifest).plural, manifest)

    def add_object(self, resource: str, manifest: Mapping[str, Any]) -> JsonObject:
        """Create any supported object from a manifest (validated; status kept as given).

        A namespaced manifest without metadata.namespace goes to "default".
        """
        rt = resource_by_plural(resource)
        namespace = (manifest.get("metadata") or {}).get("namespace") or "default"
        return self._cluster.create(
            rt, namespace if rt.namespaced else None, dict(manifest), keep_status=True
        )

    def _add_workload(self, resource: str, manifest: JsonObject, *, pods_ready: bool) -> JsonObject:
        metadata = manifest["metadata"]
        key = (manifest["kind"], metadata["namespace"], metadata["name"])
        unready = self._cluster.controllers.unready_workloads
        if pods_ready:
            unready.discard(key)
        else:
            unready.add(key)
        return self._cluster.create(resource_by_plural(resource), metadata["namespace"], manifest)

    # --- inspection and test-only state ---------------------------------------------------------

    def get(self, resource: str, namespace: str | None, name: str) -> JsonObject | None:
        """A copy of one stored object, or None if there is none."""
        try:
            return self._cluster.get(resource_by_plural(resource), namespace, name)
        except ApiError as error:
            if error.code == 404:
                return None
            raise

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[JsonObject]:
        """Copies of stored objects, optionally in one namespace and matching selectors."""
        return self._cluster.select(
            resource_by_plural(resource),
            namespace,
            label_selector=label_selector,
            field_selector=field_selector,
        )

    def set_pod_status(
        self, namespace: str, name: str, *, phase: str | None = None, ready: bool | None = None
    ) -> JsonObject:
        """Pin a pod's phase and/or readiness (e.g. to make a PDB's budget run out)."""
        return self._cluster.set_pod_status(namespace, name, phase=phase, ready=ready)

    def set_node_ready(self, name: str, ready: bool) -> JsonObject:
        """Mark a node Ready or NotReady; pods on a NotReady node stop being Ready."""
        return self._cluster.set_node_ready(name, ready)

    # --- fault injection ------------------------------------------------------------------------

    def inject(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int,
        times: int | None = 1,
        reason: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next `times` matching requests (None: all) with a Status of that code.

        method is an HTTP method or "*"; path_pattern is a regex searched in the URL path.
        A 429 carries "Retry-After: 1" unless retry_after says otherwise, as the real server's
        throttling does. Note that urllib3 (under the kubernetes client) transparently retries
        idempotent requests (GET, PUT, DELETE) answered 429/503 with a Retry-After header.
        """
        if retry_after is None and status == 429:
            retry_after = 1
        self._frontend.add_fault(
            Fault(
                "status",
                method.upper(),
                re.compile(path_pattern),
                times,
                status=status,
                reason=reason,
                message=message,
                retry_after=retry_after,
            )
        )

    def inject_latency(
        self, method: str, path_pattern: str, seconds: float, *, times: int | None = None
    ) -> None:
        """Delay matching requests by `seconds` before answering them (None: every time)."""
        fault = Fault("latency", method.upper(), re.compile(path_pattern), times, seconds=seconds)
        self._frontend.add_fault(fault)

    def inject_timeout(
        self,
        method: str,
        path_pattern: str,
        *,
        times: int | None = 1,
        hold_seconds: float | None = None,
    ) -> None:
        """Accept matching requests but never answer: hold the connection, then hang up.

        The hold lasts hold_seconds (default: the constructor's), or until stop().
        """
        fault = Fault(
            "timeout", method.upper(), re.compile(path_pattern), times, seconds=hold_seconds or 0.0
        )
        self._frontend.add_fault(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._frontend.clear_faults()

    # --- request log ----------------------------------------------------------------------------

    @property
    def requests(self) -> builtins.list[RequestRecord]:
        """Every request received so far, oldest first."""
        return self._frontend.records()

    def requests_matching(self, method: str, path_pattern: str) -> builtins.list[RequestRecord]:
        """The logged requests with that method ("*": any) whose path matches the regex."""
        pattern = re.compile(path_pattern)
        return [
            record
            for record in self.requests
            if method.upper() in ("*", record.method) and pattern.search(record.path)
        ]

    def clear_requests(self) -> None:
        """Forget the requests logged so far."""
        self._frontend.clear_records()
