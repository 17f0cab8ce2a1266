"""The sweep against the Kubernetes API test server: faults left in place by a run that never
rolled back are deleted (what it created) or restored (what it changed) once expired, and
nothing else is touched. `now` is always built from the objects' own expiry annotations.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from bot.faults import dr, network, workloads
from bot.faults.kube import DEPLOYMENTS, SECRETS, Kube
from bot.faults.marks import EXPIRES_AT, RUN_LABEL, expires_at_of
from bot.k8s.client import ClientFactory
from bot.k8s.runs import KubeRunCluster
from bot.k8s.sweep import Action, SweepRecord, marked_objects, sweep
from bot.testing.kube.api import KubeApiServer
from tests.integration.abandoned import LEDGER, kube_secrets, leave_faults, marked
from tests.integration.payments_cluster import NAMESPACE, SELECTOR, seed_payments

OLD, NEW = "r-old", "r-new"
SECOND = timedelta(seconds=1)
# For the sweeps whose `now` does not matter (expired_only=False, or refused arguments).
ANY_TIME = datetime(2030, 1, 1, tzinfo=UTC)
Snapshot = dict[str, list[dict[str, Any]]]


@pytest.fixture
def secrets(
    kube_api: KubeApiServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    seed_payments(kube_api)
    return kube_secrets(kube_api, monkeypatch, tmp_path)


@pytest.fixture
def api(kubeconfig: Path) -> Iterator[client.ApiClient]:
    """A client built as the janitor builds it: ClientFactory from a kubeconfig."""
    clients = ClientFactory(kubeconfig=str(kubeconfig), default_context=None)
    try:
        yield clients.api_client(None)
    finally:
        clients.close()


@pytest.fixture
def two_runs(kube_api: KubeApiServer, secrets: dict[str, str]) -> Snapshot:
    """OLD held nothing (expires 120 s after its writes), NEW holds an hour; the cluster before."""
    before = _snapshot(kube_api)
    leave_faults(secrets, OLD, hold_seconds=0)
    workloads.throttle_resources(
        NAMESPACE, SELECTOR, NEW, secrets=secrets, configuration={"hold_seconds": 3600}
    )
    network.blackhole(NAMESPACE, LEDGER, NEW, secrets=secrets, configuration={"hold_seconds": 3600})
    return before


def test_expired_faults_are_removed_or_restored_and_live_ones_left_alone(
    kube_api: KubeApiServer, api: client.ApiClient, two_runs: Snapshot
) -> None:
    now = _latest_expiry(kube_api, OLD) + SECOND
    assert now < _earliest_expiry(kube_api, NEW)
    node = next(n for n in marked(kube_api, OLD) if n.startswith("nodes/"))
    new_before = _snapshot(kube_api)

    records = sweep(api, namespaces={NAMESPACE}, now=now, expired_only=True)

    assert _summary(records) == {
        (f"{node}", OLD, "restored"),
        (f"{NAMESPACE}/deployments/ledger", OLD, "restored"),
        (f"{NAMESPACE}/secrets/checkout-tls", OLD, "restored"),
        (f"{NAMESPACE}/secrets/chaosbot-backup-{OLD}-checkout-tls", OLD, "deleted"),
        (f"{NAMESPACE}/networkpolicies/chaosbot-blackhole-{OLD}", OLD, "deleted"),
        (f"{NAMESPACE}/podchaos/chaosbot-container-kill-{OLD}", OLD, "deleted"),
        (f"{NAMESPACE}/stresschaos/chaosbot-cpu-{OLD}", OLD, "deleted"),
    }
    assert all(r.expires_at is not None and r.expires_at < now for r in records)
    assert marked(kube_api, OLD) == []
    after = _snapshot(kube_api)
    for kind, name in (("nodes", node.split("/")[-1]), ("deployments", "ledger")):
        _assert_restored(two_runs, after, kind, name)
    _assert_restored(two_runs, after, "secrets", "checkout-tls")
    # NEW's throttling and blackhole are untouched.
    for kind in ("deployments", "networkpolicies"):
        assert _of_run(after, kind, NEW) == _of_run(new_before, kind, NEW) != []
    assert sweep(api, namespaces={NAMESPACE}, now=now, expired_only=True) == []


def test_a_full_sweep_takes_everything_including_objects_without_an_expiry(
    kube_api: KubeApiServer, api: client.ApiClient, two_runs: Snapshot
) -> None:
    unexpiring = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "left-by-hand",
            "namespace": NAMESPACE,
            "labels": {RUN_LABEL: OLD},
            "annotations": {"chaosbot.io/created": "true"},
        },
    }
    kube_api.add_object("configmaps", unexpiring)
    far_future = _earliest_expiry(kube_api, NEW) + timedelta(days=365)
    expired = sweep(api, namespaces=[NAMESPACE], now=far_future, expired_only=True)
    assert f"{NAMESPACE}/configmaps/left-by-hand" not in {r.ref for r in expired}
    assert marked(kube_api) == [f"{NAMESPACE}/configmaps/left-by-hand"]

    records = sweep(api, namespaces=[NAMESPACE], now=far_future, expired_only=False)

    assert _summary(records) == {(f"{NAMESPACE}/configmaps/left-by-hand", OLD, "deleted")}
    assert marked(kube_api) == []
    after = _snapshot(kube_api)
    for kind, name in (("deployments", "ledger"), ("deployments", "checkout")):
        _assert_restored(two_runs, after, kind, name)


def test_a_dry_run_reports_and_writes_nothing(
    kube_api: KubeApiServer, api: client.ApiClient, two_runs: Snapshot
) -> None:
    now = _latest_expiry(kube_api, OLD) + SECOND
    before = _snapshot(kube_api)
    kube_api.clear_requests()

    records = sweep(api, namespaces={NAMESPACE}, now=now, expired_only=False, dry_run=True)

    actions = {r.ref.split("/")[-1]: r.action for r in records}
    assert actions["ledger"] is actions["checkout"] is Action.WOULD_RESTORE
    assert actions["checkout-tls"] is Action.WOULD_RESTORE
    # Its secret would be restored first, so the backup would go too.
    assert actions[f"chaosbot-backup-{OLD}-checkout-tls"] is Action.WOULD_DELETE
    assert actions[f"chaosbot-blackhole-{NEW}"] is Action.WOULD_DELETE
    assert len(records) == len(marked(kube_api)) == 9
    assert kube_api.requests and {r.method for r in kube_api.requests} == {"GET"}
    assert _snapshot(kube_api) == before


def test_run_key_limits_the_sweep_to_one_run(
    kube_api: KubeApiServer, api: client.ApiClient, two_runs: Snapshot
) -> None:
    now = _earliest_expiry(kube_api, NEW) + timedelta(hours=2)
    records = sweep(api, namespaces={NAMESPACE}, now=now, expired_only=True, run_key=NEW)
    assert {r.run for r in records} == {NEW} and len(records) == 2
    assert marked(kube_api, NEW) == [] and len(marked(kube_api, OLD)) == 7


def test_a_deleted_workload_is_recreated_from_its_snapshot_before_the_snapshot_goes(
    kube_api: KubeApiServer, api: client.ApiClient, secrets: dict[str, str]
) -> None:
    before = _snapshot(kube_api)
    configuration = {"hold_seconds": 0}
    dr.snapshot_workload(NAMESPACE, SELECTOR, OLD, secrets=secrets, configuration=configuration)
    dr.delete_workload(NAMESPACE, OLD, secrets=secrets)
    assert kube_api.get("deployments", NAMESPACE, "checkout") is None
    now = _latest_expiry(kube_api, OLD) + SECOND

    [record] = sweep(api, namespaces={NAMESPACE}, now=now, expired_only=True)

    assert (record.ref, record.action) == (
        f"{NAMESPACE}/configmaps/chaosbot-dr-{OLD}",
        Action.DELETED,
    )
    assert record.reason == "recreated services/checkout, deployments/checkout first"
    after = _snapshot(kube_api)
    assert (
        _get(after, "deployments", "checkout")["spec"]
        == _get(before, "deployments", "checkout")["spec"]
    )
    assert _get(after, "services", "checkout")["spec"]["selector"] == {"app": "checkout"}
    assert marked(kube_api) == []


def test_a_certificate_backup_stays_while_its_secret_still_holds_the_expired_certificate(
    kube_api: KubeApiServer, api: client.ApiClient, secrets: dict[str, str]
) -> None:
    before = _snapshot(kube_api)
    leave_faults(secrets, OLD, hold_seconds=0)
    backup = f"chaosbot-backup-{OLD}-checkout-tls"
    # The secret was swapped later than its backup was written (here: an hour later).
    later = _latest_expiry(kube_api, OLD) + timedelta(hours=1)
    Kube(api=api).change(SECRETS, NAMESPACE, "checkout-tls", lambda s: _set_expiry(s, later))
    now = later - SECOND

    records = sweep(api, namespaces={NAMESPACE}, now=now, expired_only=True)

    kept = next(r for r in records if r.name == backup)
    assert kept.action is Action.KEPT and kept.ok
    assert "checkout-tls still holds the expired certificate" in kept.reason
    assert "checkout-tls" not in {r.name for r in records}
    assert marked(kube_api) == sorted(
        [f"{NAMESPACE}/secrets/{backup}", f"{NAMESPACE}/secrets/checkout-tls"]
    )
    sweep(api, namespaces={NAMESPACE}, now=later + SECOND, expired_only=True)
    assert marked(kube_api) == []
    _assert_restored(before, _snapshot(kube_api), "secrets", "checkout-tls")


def test_conflicts_and_vanished_objects_are_taken_as_they_are_and_errors_recorded(
    kube_api: KubeApiServer, api: client.ApiClient, secrets: dict[str, str]
) -> None:
    leave_faults(secrets, OLD, hold_seconds=0)
    now = _latest_expiry(kube_api, OLD) + SECOND
    kube_api.inject("PUT", r"/deployments/ledger$", status=409)  # once: re-read and retried
    kube_api.inject("DELETE", r"/networkpolicies/", status=404)  # someone deleted it first
    kube_api.inject("DELETE", r"/stresschaos/", status=500, times=None)

    records = {r.name: r for r in sweep(api, namespaces={NAMESPACE}, now=now, expired_only=True)}

    assert records["ledger"].action is Action.RESTORED
    assert (
        records[f"chaosbot-blackhole-{OLD}"].action,
        records[f"chaosbot-blackhole-{OLD}"].reason,
    ) == (
        Action.DELETED,
        "already gone",
    )
    failed = records[f"chaosbot-cpu-{OLD}"]
    assert failed.action is Action.FAILED and not failed.ok and "500" in failed.reason
    assert records[f"chaosbot-container-kill-{OLD}"].action is Action.DELETED
    kube_api.clear_faults()
    again = sweep(api, namespaces={NAMESPACE}, now=now, expired_only=True)
    assert {(r.name, r.action) for r in again} == {
        (f"chaosbot-blackhole-{OLD}", Action.DELETED),  # the injected 404 left it in place
        (f"chaosbot-cpu-{OLD}", Action.DELETED),
    }
    assert marked(kube_api) == []


def test_without_chaos_mesh_the_rest_is_swept(
    kube_api: KubeApiServer, api: client.ApiClient, secrets: dict[str, str]
) -> None:
    leave_faults(secrets, OLD, hold_seconds=0)
    now = _latest_expiry(kube_api, OLD) + SECOND
    kube_api.inject("GET", r"/apis/chaos-mesh\.org/", status=404, times=None)

    records = sweep(api, namespaces={NAMESPACE}, now=now, expired_only=True)

    assert all(r.ok for r in records) and len(records) == 5
    assert {r.kind for r in records} == {"nodes", "deployments", "secrets", "networkpolicies"}


def test_an_object_labelled_without_a_record_is_left_alone_and_reported(
    kube_api: KubeApiServer, api: client.ApiClient, secrets: dict[str, str]
) -> None:
    deployment = kube_api.get("deployments", NAMESPACE, "ledger")
    assert deployment is not None
    Kube(api=api).change(DEPLOYMENTS, NAMESPACE, "ledger", lambda d: _label(d, OLD))

    [record] = sweep(api, namespaces={NAMESPACE}, now=ANY_TIME, expired_only=False)

    assert record.action is Action.FAILED and "left alone" in record.reason
    assert marked(kube_api) == [f"{NAMESPACE}/deployments/ledger"]


def test_the_leftover_check_names_what_the_sweep_finds(
    kube_api: KubeApiServer, kubeconfig: Path, secrets: dict[str, str]
) -> None:
    leave_faults(secrets, OLD, hold_seconds=0)
    clients = ClientFactory(kubeconfig=str(kubeconfig), default_context=None)
    try:
        found = KubeRunCluster(clients, namespaces=[NAMESPACE]).leftovers(OLD, context=None)
        everywhere = marked_objects(clients.api_client(None), namespaces=[NAMESPACE, "default"])
    finally:
        clients.close()
    node = next(n for n in marked(kube_api) if n.startswith("nodes/")).split("/")[-1]
    assert found == [
        f"node/{node}",
        f"{NAMESPACE}/networkpolicy/chaosbot-blackhole-{OLD}",
        f"{NAMESPACE}/deployment/ledger",
        f"{NAMESPACE}/secret/chaosbot-backup-{OLD}-checkout-tls",
        f"{NAMESPACE}/secret/checkout-tls",
        f"{NAMESPACE}/podchaos/chaosbot-container-kill-{OLD}",
        f"{NAMESPACE}/stresschaos/chaosbot-cpu-{OLD}",
    ]
    assert len(everywhere) == len(found)


def test_the_sweep_refuses_a_naive_now_and_a_bare_namespace_string(
    api: client.ApiClient,
) -> None:
    with pytest.raises(ValueError, match="timezone"):
        sweep(api, namespaces=[NAMESPACE], now=datetime(2026, 1, 1), expired_only=True)
    with pytest.raises(TypeError):
        sweep(api, namespaces=NAMESPACE, now=ANY_TIME, expired_only=True)


# --- helpers ------------------------------------------------------------------------------------

KINDS = ("nodes", "deployments", "services", "secrets", "configmaps", "networkpolicies")


def _snapshot(kube: KubeApiServer) -> Snapshot:
    return {kind: kube.list(kind) for kind in (*KINDS, "podchaos", "stresschaos")}


def _expiries(kube: KubeApiServer, run: str) -> list[datetime]:
    objects = [
        obj
        for kind in (*KINDS, "podchaos", "stresschaos")
        for obj in kube.list(kind, label_selector=f"{RUN_LABEL}={run}")
    ]
    found = [expires_at_of(obj) for obj in objects]
    assert found and None not in found
    return [e for e in found if e is not None]


def _latest_expiry(kube: KubeApiServer, run: str) -> datetime:
    return max(_expiries(kube, run))


def _earliest_expiry(kube: KubeApiServer, run: str) -> datetime:
    return min(_expiries(kube, run))


def _summary(records: list[SweepRecord]) -> set[tuple[str, str, str]]:
    assert all(r.ok for r in records), [str(r) for r in records if not r.ok]
    return {(r.ref, r.run, str(r.action)) for r in records}


def _get(snapshot: Snapshot, kind: str, name: str) -> dict[str, Any]:
    found = next((o for o in snapshot[kind] if o["metadata"]["name"] == name), None)
    assert found is not None, f"{kind}/{name} is missing"
    return found


def _of_run(snapshot: Snapshot, kind: str, run: str) -> list[dict[str, Any]]:
    return [o for o in snapshot[kind] if (o["metadata"].get("labels") or {}).get(RUN_LABEL) == run]


def _assert_restored(before: Snapshot, after: Snapshot, kind: str, name: str) -> None:
    """Back to what it was: spec/data, labels and annotations."""
    old, new = _get(before, kind, name), _get(after, kind, name)
    for part in ("spec", "data"):
        assert new.get(part) == old.get(part), part
    for field in ("labels", "annotations"):
        assert new["metadata"].get(field) == old["metadata"].get(field), field


def _set_expiry(obj: dict[str, Any], moment: datetime) -> bool:
    obj["metadata"]["annotations"][EXPIRES_AT] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return True


def _label(obj: dict[str, Any], run: str) -> bool:
    obj["metadata"].setdefault("labels", {})[RUN_LABEL] = run
    return True
