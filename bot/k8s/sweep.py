"""The sweep: find what chaosbot runs left on a cluster, and delete or restore it.

Every object a fault writes carries the run label and an expiry (see bot/faults/__init__.py).
What a run created (`chaosbot.io/created: "true"`) is deleted; what it changed is put back from
its `chaosbot.io/original` record by the fault module's own restore, then released. Two created
objects hold an original and are handled by their module: a certificate backup is kept while
its secret still holds the expired certificate, and a disaster-recovery snapshot first
recreates whatever of the workload is missing.

Only the cluster is read, never the database: the janitor calls this for expired objects, and
`chaosbot cleanup` (the break-glass command, which must work while the database is down) for
everything.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chaoslib.exceptions import ActivityFailed
from kubernetes import client
from urllib3.exceptions import HTTPError

from bot.faults import certs, dr, nodes, workloads
from bot.faults.args import RUN_ID_PATTERN
from bot.faults.chaosmesh import CHAOS_MESH
from bot.faults.kube import (
    CONFIGMAPS,
    DEPLOYMENTS,
    JOBS,
    NETWORKPOLICIES,
    NODES,
    SECRETS,
    STATEFULSETS,
    Kind,
    Kube,
    KubeError,
    Obj,
)
from bot.faults.marks import ORIGINAL, RUN_LABEL, claimed_by, expires_at_of, is_created
from bot.load.job import LOAD_SELECTOR

log = logging.getLogger(__name__)

__all__ = [
    "MARKED_KINDS",
    "Action",
    "Marked",
    "SweepRecord",
    "kinds_named",
    "marked_objects",
    "sweep",
]

# Every kind a fault, or a run's load (bot.load: a Job and a ConfigMap), creates or changes;
# nodes are the only cluster-wide one.
MARKED_KINDS: tuple[Kind, ...] = (
    NODES,
    NETWORKPOLICIES,
    JOBS,
    DEPLOYMENTS,
    STATEFULSETS,
    SECRETS,
    CONFIGMAPS,
    *CHAOS_MESH.values(),
)


class Action(StrEnum):
    """What the sweep did (or, in a dry run, would do) with one object."""

    DELETED = "deleted"
    RESTORED = "restored"
    WOULD_DELETE = "would delete"
    WOULD_RESTORE = "would restore"
    KEPT = "kept"
    FAILED = "failed"


@dataclass(frozen=True)
class SweepRecord:
    """One object the sweep acted on: which, whose, until when, and what was done."""

    kind: str  # the resource's plural: nodes, deployments, secrets, podchaos, ...
    namespace: str | None
    name: str
    run: str
    expires_at: datetime | None
    action: Action
    reason: str = ""

    @property
    def ok(self) -> bool:
        """False when the object could not be removed or restored."""
        return self.action is not Action.FAILED

    @property
    def ref(self) -> str:
        """`namespace/kind/name`, or `kind/name` for a node."""
        return "/".join(p for p in (self.namespace, self.kind, self.name) if p)

    def __str__(self) -> str:
        outcome = f"{self.action}: {self.reason}" if self.reason else str(self.action)
        expiry = self.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.expires_at else "never"
        return f"{self.ref} (run {self.run}, expires {expiry}): {outcome}"


@dataclass(frozen=True)
class Marked:
    """An object carrying the run label, as listed, with the kind it was listed as."""

    kind: Kind
    obj: Obj

    @property
    def namespace(self) -> str | None:
        namespace = self.obj["metadata"].get("namespace")
        return str(namespace) if namespace else None

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def run(self) -> str:
        return claimed_by(self.obj) or ""

    @property
    def expires_at(self) -> datetime | None:
        return expires_at_of(self.obj)

    def record(self, action: Action, reason: str = "") -> SweepRecord:
        return SweepRecord(
            self.kind.plural, self.namespace, self.name, self.run, self.expires_at, action, reason
        )


def kinds_named(names: Iterable[str]) -> tuple[Kind, ...]:
    """The marked kinds named as `resource.group` (an experiment's `creates`; a bare plural
    such as `networkpolicies` also names its kind), in sweep order. A name that is no marked
    kind gives every kind: better a list too many than a leftover missed."""
    wanted = set(names)
    found = tuple(k for k in MARKED_KINDS if wanted & {_qualified(k), k.plural})
    known = {name for k in MARKED_KINDS for name in (_qualified(k), k.plural)}
    return found if wanted <= known else MARKED_KINDS


def marked_objects(
    api: client.ApiClient,
    *,
    namespaces: Iterable[str],
    nodes: bool = True,
    jobs: bool = True,
    kinds: Iterable[Kind] = MARKED_KINDS,
    run_key: str | None = None,
) -> list[Marked]:
    """Every object carrying the run label (only run_key's, if given).

    The namespaced `kinds` in `namespaces` only, never across the cluster, nodes when asked
    (when node experiments are enabled) and Jobs when asked (when load profiles are): so the
    lists need no cluster-wide permission, nor any the platform did not grant. A kind
    the API does not serve (404: Chaos Mesh is not installed) has nothing of ours, nor has a
    kind this identity may not list there (403): the RBAC `chaosbot rbac` generates lets the runs
    list every kind they may write, so what they may not list they could not have written
    (Secrets outside the certificate experiment's namespaces). Each skip is logged.
    """
    if isinstance(namespaces, str):
        raise TypeError("namespaces must be a collection of names, not one string")
    kube = Kube(api=api)
    selector = RUN_LABEL if run_key is None else f"{RUN_LABEL}={run_key}"
    # Only a load's Jobs: the worker Jobs of the kubernetes executor carry the run label too.
    selectors = {JOBS: f"{selector},{LOAD_SELECTOR}"}
    scopes: Sequence[str] = sorted(set(namespaces))
    listed = set(kinds)
    found = []
    for kind in MARKED_KINDS:
        if kind not in listed or (kind is NODES and not nodes) or (kind is JOBS and not jobs):
            continue
        for scope in scopes if kind.namespaced else (None,):
            try:
                items = kube.list(kind, scope, labels=selectors.get(kind, selector))
            except KubeError as error:
                if error.status == 404:
                    continue
                if error.status == 403:
                    log.warning(
                        "skipped %s%s: this identity may not list them (%s)",
                        kind.plural,
                        f" in {scope}" if scope else "",
                        error,
                    )
                    continue
                raise
            found += [Marked(kind, item) for item in items]
    return found


def sweep(
    api: client.ApiClient,
    *,
    namespaces: Collection[str],
    now: datetime,
    expired_only: bool,
    dry_run: bool = False,
    run_key: str | None = None,
    nodes: bool = True,
    jobs: bool = True,
) -> list[SweepRecord]:
    """Delete what chaosbot runs created and restore what they changed; one record per object.

    Looks at the given namespaces, at nodes unless `nodes` is False (no node experiment is
    enabled, so the identity may not list them), and at Jobs (a run's load) unless `jobs` is
    False (load profiles are not enabled). With expired_only, only objects whose
    `chaosbot.io/expires-at` is before `now` (one without an expiry is never expired); without
    it, everything carrying the run label. dry_run reports and touches nothing; run_key limits
    the sweep to one run. Changed objects are restored before created ones are deleted, so a
    backup or snapshot outlives what it restores. Idempotent: a second sweep finds nothing, and
    objects that vanish or change meanwhile (404, 409) are taken as they are then. An object
    that cannot be handled is recorded as failed and the sweep goes on; only a listing that
    fails raises (KubeError, or urllib3's HTTPError when the API server cannot be reached).
    """
    if isinstance(namespaces, str):
        raise TypeError("namespaces must be a collection of names, not one string")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if run_key is not None and not RUN_ID_PATTERN.match(run_key):
        raise ValueError(f"run_key {run_key!r} is not a run label value")
    due = [
        marked
        for marked in marked_objects(
            api, namespaces=namespaces, nodes=nodes, jobs=jobs, run_key=run_key
        )
        if not expired_only or (marked.expires_at is not None and marked.expires_at < now)
    ]
    kube = Kube(api=api)
    changed = [m for m in due if not is_created(m.obj)]
    restoring = {(m.namespace, m.name) for m in changed if m.kind is SECRETS}
    records = [_restore(kube, m, dry_run=dry_run) for m in changed]
    created = [m for m in due if is_created(m.obj)]
    records += [_remove(kube, m, dry_run=dry_run, restoring=restoring) for m in created]
    return records


def _qualified(kind: Kind) -> str:
    """`resource.group` of a kind ("secrets", "deployments.apps")."""
    group = "" if kind.prefix == "/api/v1" else kind.prefix.split("/")[2]
    return f"{kind.plural}.{group}" if group else kind.plural


def _restore(kube: Kube, marked: Marked, *, dry_run: bool) -> SweepRecord:
    """Put a changed object back with its fault module's restore, which also releases it."""
    if ORIGINAL not in (marked.obj["metadata"].get("annotations") or {}):
        return marked.record(
            Action.FAILED,
            "labelled, but neither created (chaosbot.io/created) nor recorded "
            "(chaosbot.io/original) by chaosbot: left alone",
        )
    if marked.kind not in (NODES, SECRETS, *workloads.WORKLOAD_KINDS):
        return marked.record(Action.FAILED, f"no fault changes {marked.kind.plural}: left alone")
    if dry_run:
        return marked.record(Action.WOULD_RESTORE)
    try:
        if marked.kind is NODES:
            nodes.restore_node(kube, marked.name, marked.run)
        elif marked.kind is SECRETS:
            certs.restore_certificate(kube, marked.obj, marked.run)
        else:
            workloads.restore_workload(
                kube, marked.kind, str(marked.namespace), marked.name, marked.run
            )
    except (ActivityFailed, HTTPError) as error:
        return marked.record(Action.FAILED, str(error))
    return marked.record(Action.RESTORED)


def _remove(
    kube: Kube, marked: Marked, *, dry_run: bool, restoring: set[tuple[str | None, str]]
) -> SweepRecord:
    """Delete a created object; a backup or snapshot restores what it holds first."""
    namespace = str(marked.namespace) if marked.namespace else None
    try:
        target = certs.backed_up_secret(marked.obj) if marked.kind is SECRETS else None
        if target is not None:
            restored_first = dry_run and (namespace, target) in restoring
            if not restored_first and certs.backup_still_needed(kube, marked.obj, marked.run):
                why = f"{target} still holds the expired certificate; this is its original"
                return marked.record(Action.KEPT, why)
            if dry_run:
                return marked.record(Action.WOULD_DELETE)
            recreated = certs.retire_backup(kube, marked.obj)
            return marked.record(Action.DELETED, f"recreated {target} first" if recreated else "")
        if marked.kind is CONFIGMAPS and dr.is_snapshot(marked.obj):
            if dry_run:
                return marked.record(Action.WOULD_DELETE, "after recreating what is missing")
            again = dr.recreate_missing(kube, str(namespace), marked.run)
            kube.delete(marked.kind, namespace, marked.name)
            return marked.record(
                Action.DELETED, f"recreated {', '.join(again)} first" if again else ""
            )
        if dry_run:
            return marked.record(Action.WOULD_DELETE)
        gone = not kube.delete(marked.kind, namespace, marked.name)
        return marked.record(Action.DELETED, "already gone" if gone else "")
    except (ActivityFailed, HTTPError) as error:
        return marked.record(Action.FAILED, str(error))
