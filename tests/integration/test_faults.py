"""Every library experiment end to end: rendered, run by `chaos run`, against the Kubernetes API
test server. Each test checks the fault was in place while held and that the rollbacks left
nothing labelled with the run and restored what was changed; injected API errors must fail the
run and still leave a clean cluster. (The runs happen once, concurrently, in `outcomes`.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.faults.certs import not_after
from bot.faults.chaosmesh import CHAOS_KINDS
from bot.faults.marks import CREATED, EXPIRES_AT, GRACE_SECONDS, ORIGINAL, expires_at_of
from bot.library.catalogue import load_catalogue
from tests.integration.fault_runs import (
    RUN_ID,
    Outcome,
    Scenario,
    Snapshot,
    activity,
    labelled,
    run_scenarios,
)
from tests.integration.payments_cluster import NAMESPACE, secret_text, seed_with_budget

RUN_LABEL = "chaosbot.io/run-id"
CHECKOUT = {"namespaces": [NAMESPACE], "labelSelectors": {"app": "checkout"}}
QUALIFIED = {
    "nodes": "nodes",
    "secrets": "secrets",
    "configmaps": "configmaps",
    "deployments": "deployments.apps",
    "statefulsets": "statefulsets.apps",
    "networkpolicies": "networkpolicies.networking.k8s.io",
    **{plural: f"{plural}.chaos-mesh.org" for plural in CHAOS_KINDS},
}


SCENARIOS = [
    Scenario("pod-kill", "pod-kill", {"count": 2}),
    Scenario("pod-kill-percent", "pod-kill", {"percent": 100}),
    Scenario("container-kill", "container-kill"),
    Scenario("scale-to-zero", "scale-to-zero"),
    Scenario("resource-throttling", "resource-throttling", {"memory_limit": "128Mi"}),
    Scenario("node-drain", "node-drain"),
    Scenario("node-drain-budget", "node-drain", seed=seed_with_budget),
    Scenario("node-loss", "node-loss", seed=seed_with_budget),
    Scenario("zone-outage", "zone-outage"),
    Scenario("cpu-pressure", "cpu-pressure"),
    Scenario("memory-pressure", "memory-pressure", {"percent": 50, "size": "1GB"}),
    Scenario("upstream-latency", "upstream-latency", {"peer_selector": "app=ledger"}),
    Scenario("downstream-latency", "downstream-latency", {"latency_ms": 50}),
    Scenario("packet-loss", "packet-loss", {"external_targets": "db.example.com"}),
    Scenario("blackhole", "blackhole"),
    Scenario("dns-errors", "dns-errors", {"domains": "*.example.com,ledger"}),
    Scenario("io-latency", "io-latency", {"delay_ms": 250}),
    Scenario("time-skew", "time-skew", {"offset_seconds": -300}),
    Scenario("certificate-expiry", "certificate-expiry"),
    Scenario("disaster-recovery", "disaster-recovery"),
    Scenario("blackhole-by-hand", "blackhole", {"direction": "ingress"}, manual=True),
    # The API server fails while the fault is injected.
    Scenario(
        "blackhole-500",
        "blackhole",
        inject=lambda kube: kube.inject("POST", "networkpolicies", status=500),
    ),
    Scenario(
        "scale-to-zero-409",
        "scale-to-zero",
        inject=lambda kube: kube.inject("PUT", "deployments/checkout$", status=409, times=None),
    ),
    Scenario(
        "cpu-pressure-429",
        "cpu-pressure",
        inject=lambda kube: kube.inject("POST", "stresschaos", status=429),
    ),
    Scenario(
        "zone-outage-half-done",
        "zone-outage",
        inject=lambda kube: kube.inject("PUT", "/nodes/node-2$", status=500),
    ),
]
FAILING = {"blackhole-500", "scale-to-zero-409", "cpu-pressure-429", "zone-outage-half-done"}
OBSERVED = [s.name for s in SCENARIOS if s.name not in FAILING and not s.manual]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    return run_scenarios(SCENARIOS, tmp_path_factory.mktemp("runs"))


# --- every run ----------------------------------------------------------------------------------


def test_every_library_experiment_is_run() -> None:
    assert {t.id for t in load_catalogue()} <= {s.experiment for s in SCENARIOS}


@pytest.mark.parametrize("name", OBSERVED)
def test_run_completes_and_leaves_nothing_behind(name: str, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[name]
    assert outcome.journal.get("status") == "completed", outcome.output[-2000:]
    assert not outcome.journal["deviated"]
    assert outcome.during is not None, "the observation step did not run"
    assert all(r["status"] == "succeeded" for r in outcome.journal["rollbacks"])
    assert labelled(outcome.after) == []


@pytest.mark.parametrize("name", OBSERVED)
def test_what_the_fault_labels_is_what_the_catalogue_declares(
    name: str, outcomes: dict[str, Outcome]
) -> None:
    """The leftover check lists the `creates` kinds: a kind missing there would go unchecked."""
    experiment = next(s.experiment for s in SCENARIOS if s.name == name)
    declared = set(load_catalogue().get(experiment).creates)
    kinds = {QUALIFIED[ref.split("/")[0]] for ref in labelled(_seen(outcomes[name]))}
    assert kinds <= declared
    assert bool(kinds) == bool(declared)


@pytest.mark.parametrize("name", OBSERVED)
def test_everything_the_fault_writes_is_marked_with_its_expiry(
    name: str, outcomes: dict[str, Outcome]
) -> None:
    """Run label, created or original, and expires-at = the write + the hold (0) + the grace."""
    outcome = outcomes[name]
    written = [
        obj
        for objects in _seen(outcome).values()
        for obj in objects
        if RUN_LABEL in (obj["metadata"].get("labels") or {})
    ]
    for obj in written:
        annotations = obj["metadata"]["annotations"]
        assert (annotations.get(CREATED) == "true") != (ORIGINAL in annotations), annotations
        expires = expires_at_of(obj)
        assert expires is not None, annotations.get(EXPIRES_AT)
        # Rounded up to the second: between the write and a second after it.
        written_at = expires - timedelta(seconds=GRACE_SECONDS)
        latest = outcome.ended + timedelta(seconds=1)
        assert outcome.started <= written_at <= latest, (outcome.started, expires, outcome.ended)
    experiment = next(s.experiment for s in SCENARIOS if s.name == name)
    assert bool(written) == bool(load_catalogue().get(experiment).creates)


@pytest.mark.parametrize("name", sorted(FAILING))
def test_api_error_while_injecting_fails_the_run_and_rolls_back(
    name: str, outcomes: dict[str, Outcome]
) -> None:
    outcome = outcomes[name]
    assert outcome.journal.get("status") == "failed", outcome.output[-2000:]
    fault = outcome.journal["run"][0]
    assert fault["activity"]["type"] == "action"
    assert fault["status"] == "failed"
    assert outcome.journal["rollbacks"]
    assert all(r["status"] == "succeeded" for r in outcome.journal["rollbacks"])
    assert labelled(outcome.after) == []


def test_a_template_runs_as_it_stands_with_vars_and_the_environment_context(
    outcomes: dict[str, Outcome],
) -> None:
    outcome = outcomes["blackhole-by-hand"]
    assert outcome.journal.get("status") == "completed", outcome.output[-2000:]
    created = activity(outcome.journal, "blackhole-traffic")
    assert created["output"] == {
        "networkpolicy": f"chaosbot-blackhole-{RUN_ID}",
        "policyTypes": ["Ingress"],
    }
    assert activity(outcome.journal, "remove-network-policies", part="rollbacks")["output"] == [
        f"chaosbot-blackhole-{RUN_ID}"
    ]
    assert labelled(outcome.after) == []


def test_half_done_zone_outage_is_undone(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["zone-outage-half-done"]
    assert "node-2" in "".join(outcome.journal["run"][0]["exception"])
    assert activity(outcome.journal, "restore-nodes", part="rollbacks")["output"] == ["node-1"]
    _assert_restored(outcome, "nodes", "node-1")


# --- pods and workloads -------------------------------------------------------------------------


def test_pod_kill_replaces_count_pods(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["pod-kill"]
    killed = activity(outcome.journal, "kill-pods")["output"]
    assert len(killed) == 2 and set(killed) <= _names(_checkout_pods(outcome.before))
    during = _names(_checkout_pods(_seen(outcome)))
    assert len(during) == 3 and not set(killed) & during
    assert (
        activity(outcome.journal, "wait-for-pods-ready", part="rollbacks")["output"]["ready"] == 3
    )


def test_pod_kill_percent_replaces_that_share(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["pod-kill-percent"]
    assert len(activity(outcome.journal, "kill-pods")["output"]) == 3
    assert not _names(_checkout_pods(outcome.before)) & _names(_checkout_pods(_seen(outcome)))


def test_container_kill_creates_a_pod_chaos(outcomes: dict[str, Outcome]) -> None:
    spec = _only_chaos(outcomes["container-kill"], "podchaos")
    assert spec == {
        "action": "container-kill",
        "containerNames": ["app"],
        "selector": CHECKOUT,
        "mode": "fixed",
        "value": "1",
        "duration": "120s",  # the kill happens once; the duration ends Chaos Mesh's record
    }


def test_scale_to_zero_holds_zero_and_restores_replicas(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["scale-to-zero"]
    held = _get(_seen(outcome), "deployments", "checkout")
    assert held["spec"]["replicas"] == 0 and not _checkout_pods(_seen(outcome))
    assert held["metadata"]["labels"][RUN_LABEL] == RUN_ID
    assert json.loads(held["metadata"]["annotations"][ORIGINAL]) == {"replicas": 3}
    assert _get(_seen(outcome), "deployments", "ledger")["spec"]["replicas"] == 2
    _assert_restored(outcome, "deployments", "checkout")
    assert len(_checkout_pods(outcome.after)) == 3


def test_resource_throttling_lowers_limits_and_restores_them(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["resource-throttling"]
    held = _get(_seen(outcome), "deployments", "checkout")
    resources = held["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {
        "limits": {"cpu": "100m", "memory": "128Mi"},
        "requests": {"cpu": "100m", "memory": "128Mi"},  # capped at the new limits
    }
    _assert_restored(outcome, "deployments", "checkout")


# --- nodes and zones ----------------------------------------------------------------------------


def test_node_drain_cordons_and_evicts(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["node-drain"]
    node = _the_labelled_node(outcome)
    assert node["spec"]["unschedulable"] is True
    assert not [p for p in _checkout_pods(_seen(outcome)) if p["spec"]["nodeName"] == _name(node)]
    report = activity(outcome.journal, "drain-nodes")["output"]
    assert report["nodes"] == [_name(node)] and report["removed"] and not report["blocked"]
    _assert_restored(outcome, "nodes", _name(node))


def test_node_drain_reports_a_budget_refusal_instead_of_forcing(
    outcomes: dict[str, Outcome],
) -> None:
    outcome = outcomes["node-drain-budget"]
    node = _the_labelled_node(outcome)
    on_node = [p for p in _checkout_pods(_seen(outcome)) if p["spec"]["nodeName"] == _name(node)]
    assert node["spec"]["unschedulable"] is True and len(on_node) == 1
    report = activity(outcome.journal, "drain-nodes")
    assert report["status"] == "succeeded"
    assert report["output"]["removed"] == []
    [blocked] = report["output"]["blocked"]
    assert blocked["pod"] == f"{NAMESPACE}/{_name(on_node[0])}"
    assert "disruption budget" in blocked["reason"]
    _assert_restored(outcome, "nodes", _name(node))


def test_node_loss_deletes_pods_despite_the_budget(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["node-loss"]
    node = _the_labelled_node(outcome)
    assert node["spec"]["unschedulable"] is True
    assert not [p for p in _checkout_pods(_seen(outcome)) if p["spec"]["nodeName"] == _name(node)]
    assert activity(outcome.journal, "lose-nodes")["output"]["removed"]
    assert len(_checkout_pods(_seen(outcome))) == 3  # replaced elsewhere
    _assert_restored(outcome, "nodes", _name(node))


def test_zone_outage_takes_the_whole_zone_out(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["zone-outage"]
    zone_a = {"node-1", "node-2"}
    held = {_name(n) for n in _seen(outcome)["nodes"] if n["spec"].get("unschedulable")}
    assert held == zone_a
    assert activity(outcome.journal, "take-zone-out")["output"]["zone"] == "zone-a"
    assert not [p for p in _checkout_pods(_seen(outcome)) if p["spec"]["nodeName"] in zone_a]
    for name in zone_a:
        _assert_restored(outcome, "nodes", name)
    again = activity(outcome.journal, "restore-nodes (again)", part="rollbacks")
    assert again["status"] == "succeeded" and again["output"] == []


# --- Chaos Mesh kinds and network policies ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "plural", "expected"),
    [
        ("cpu-pressure", "stresschaos", {"stressors": {"cpu": {"workers": 1, "load": 80}}}),
        (
            "memory-pressure",
            "stresschaos",
            {
                "mode": "fixed-percent",
                "value": "50",
                "stressors": {"memory": {"workers": 1, "size": "1GB"}},
            },
        ),
        (
            "upstream-latency",
            "networkchaos",
            {
                "action": "delay",
                "direction": "to",
                "delay": {"latency": "200ms", "jitter": "0ms"},
                "target": {
                    "selector": {"namespaces": [NAMESPACE], "labelSelectors": {"app": "ledger"}},
                    "mode": "all",
                },
            },
        ),
        (
            "downstream-latency",
            "networkchaos",
            {
                "action": "delay",
                "direction": "from",
                "delay": {"latency": "50ms", "jitter": "0ms"},
                "target": {"selector": {"namespaces": [NAMESPACE]}, "mode": "all"},
            },
        ),
        (
            "packet-loss",
            "networkchaos",
            {
                "action": "loss",
                "direction": "to",
                "loss": {"loss": "30", "correlation": "0"},
                "externalTargets": ["db.example.com"],
            },
        ),
        ("dns-errors", "dnschaos", {"action": "error", "patterns": ["*.example.com", "ledger"]}),
        (
            "io-latency",
            "iochaos",
            {"action": "latency", "volumePath": "/data", "delay": "250ms", "percent": 100},
        ),
        ("time-skew", "timechaos", {"timeOffset": "-300s", "clockIds": ["CLOCK_REALTIME"]}),
    ],
)
def test_chaos_mesh_object_is_held_then_removed(
    name: str, plural: str, expected: dict[str, Any], outcomes: dict[str, Outcome]
) -> None:
    spec = _only_chaos(outcomes[name], plural)
    # Every chaos object targets the service and lifts itself 120 s after the (zero) hold.
    common = {"selector": CHECKOUT, "mode": "all", "duration": "120s"}
    assert spec == {**common, **expected}


def test_blackhole_denies_all_traffic_of_the_pods(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["blackhole"]
    [policy] = _seen(outcome)["networkpolicies"]
    assert policy["metadata"]["labels"] == {RUN_LABEL: RUN_ID}
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"app": "checkout"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [],
        "egress": [],
    }
    assert outcome.after["networkpolicies"] == []


# --- certificates and disaster recovery ---------------------------------------------------------


def test_certificate_expiry_swaps_in_an_expired_certificate_and_restores_it(
    outcomes: dict[str, Outcome],
) -> None:
    outcome = outcomes["certificate-expiry"]
    original = _get(outcome.before, "secrets", "checkout-tls")
    held = _get(_seen(outcome), "secrets", "checkout-tls")
    expires = not_after(secret_text(held, "tls.crt"))
    assert expires is not None and expires < datetime.now(UTC)
    assert secret_text(held, "tls.key") == secret_text(original, "tls.key")
    backup = _get(_seen(outcome), "secrets", f"chaosbot-backup-{RUN_ID}-checkout-tls")
    assert backup["data"] == original["data"] and backup["metadata"]["labels"][RUN_LABEL] == RUN_ID
    assert ORIGINAL in held["metadata"]["annotations"]
    assert "tls.key" not in held["metadata"]["annotations"][ORIGINAL]  # no key material there
    before_probe = activity(outcome.journal, "certificates-expiring-before")["output"]
    during_probe = activity(outcome.journal, "certificates-expiring-during")["output"]
    assert [e["secret"] for e in before_probe] == ["checkout-tls"] and before_probe[0][
        "days_left"
    ] > 9
    assert during_probe[0]["days_left"] < 0
    _assert_restored(outcome, "secrets", "checkout-tls")
    assert {_name(s) for s in outcome.after["secrets"]} == {
        _name(s) for s in outcome.before["secrets"]
    }


def test_disaster_recovery_deletes_then_restores_the_workload(
    outcomes: dict[str, Outcome],
) -> None:
    outcome = outcomes["disaster-recovery"]
    seen = _seen(outcome)
    assert _find(seen, "deployments", "checkout") is None
    assert _find(seen, "services", "checkout") is None
    assert _find(seen, "configmaps", "checkout-config") is not None  # kept by default
    assert _find(seen, "configmaps", f"chaosbot-dr-{RUN_ID}") is not None
    restore = activity(outcome.journal, "restore-and-time-to-ready")["output"]
    assert sorted(restore["recreated"]) == ["deployments/checkout", "services/checkout"]
    assert isinstance(restore["seconds_to_ready"], float)
    before, after = (_get(s, "deployments", "checkout") for s in (outcome.before, outcome.after))
    assert (
        after["spec"] == before["spec"]
        and after["metadata"]["labels"] == before["metadata"]["labels"]
    )
    assert _get(outcome.after, "services", "checkout")["spec"]["selector"] == {"app": "checkout"}
    assert len(_checkout_pods(outcome.after)) == 3
    assert _find(outcome.after, "configmaps", f"chaosbot-dr-{RUN_ID}") is None


# --- helpers ------------------------------------------------------------------------------------


def _seen(outcome: Outcome) -> Snapshot:
    assert outcome.during is not None, outcome.output[-2000:]
    return outcome.during


def _find(snapshot: Snapshot, kind: str, name: str) -> dict[str, Any] | None:
    return next((o for o in snapshot[kind] if o["metadata"]["name"] == name), None)


def _get(snapshot: Snapshot, kind: str, name: str) -> dict[str, Any]:
    found = _find(snapshot, kind, name)
    assert found is not None, f"{kind}/{name} is missing"
    return found


def _name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def _names(objects: list[dict[str, Any]]) -> set[str]:
    return {_name(o) for o in objects}


def _checkout_pods(snapshot: Snapshot) -> list[dict[str, Any]]:
    return [p for p in snapshot["pods"] if p["metadata"].get("labels", {}).get("app") == "checkout"]


def _the_labelled_node(outcome: Outcome) -> dict[str, Any]:
    [node] = [n for n in _seen(outcome)["nodes"] if RUN_LABEL in n["metadata"].get("labels", {})]
    assert ORIGINAL in node["metadata"]["annotations"]
    hosts = {p["spec"]["nodeName"] for p in _checkout_pods(outcome.before)}
    assert _name(node) in hosts
    return node


def _only_chaos(outcome: Outcome, plural: str) -> dict[str, Any]:
    [held] = _seen(outcome)[plural]
    assert held["metadata"]["labels"] == {RUN_LABEL: RUN_ID}
    assert outcome.after[plural] == []
    spec: dict[str, Any] = held["spec"]
    return spec


def _assert_restored(outcome: Outcome, kind: str, name: str) -> None:
    """The object is back to what it was: spec/data, labels and annotations."""
    before, after = _get(outcome.before, kind, name), _get(outcome.after, kind, name)
    for part in ("spec", "data"):
        assert after.get(part) == before.get(part), part
    for field in ("labels", "annotations"):
        assert after["metadata"].get(field) == before["metadata"].get(field), field
