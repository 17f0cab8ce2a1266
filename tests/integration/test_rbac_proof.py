"""The proof of least privilege: every library experiment passes under the RBAC `chaosbot rbac`
generates, every verb it grants is used, and without any one of them an experiment fails
with the API server's "forbidden".

The Kubernetes API test server authorizes the runner's token against the generated Roles (as
the real RBAC authorizer does). Each experiment is played by `chaos run` as in
tests/integration/test_faults.py (rendered for checkout in payments, hold 0, rollbacks twice),
followed by the engine's own calls of a run (preflight's pod count, the pods probe, the
leftover check), all with the runner's token. The server's request log says which calls each
experiment made.

With load profiles (`chaosbot rbac --load-profiles`), a run under an inline Locust profile passes
too, its load's calls all granted, and without any one of the load's permissions (each taken
out of its rule alone) it fails as forbidden, naming that resource and verb.
"""

from __future__ import annotations

import copy
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bot.faults.kube import Kube
from bot.k8s.client import ClientFactory
from bot.k8s.runs import KubeRunCluster
from bot.library.catalogue import ExperimentTemplate, load_catalogue
from bot.library.permissions import LOAD_CREATES, LOAD_RULES, leftover_rules
from bot.library.rbac import BOT_ACCOUNT, RUNNER_ACCOUNT, RbacPlan, rbac_manifests
from bot.library.render import created_kinds
from bot.load.profile import LoadProfile, Tool
from bot.probes.pods import count_ready_pods
from bot.testing.kube.api import KubeApiServer, KubeletConfig
from bot.testing.kube.rbac import request_attributes
from tests.integration.fault_runs import CONTEXT, RUN_ID, Outcome, Scenario, run_scenarios
from tests.integration.payments_cluster import NAMESPACE, SELECTOR, seed_payments

BOT_NAMESPACE = "chaosbot"
RUNNER = (BOT_NAMESPACE, RUNNER_ACCOUNT)
RUNNER_USER = f"system:serviceaccount:{BOT_NAMESPACE}:{RUNNER_ACCOUNT}"
# As in test_faults: the parameters some experiments need on the payments cluster.
PARAMETERS: dict[str, dict[str, Any]] = {
    "pod-kill": {"count": 2},
    "resource-throttling": {"memory_limit": "128Mi"},
    "memory-pressure": {"percent": 50, "size": "1GB"},
    "upstream-latency": {"peer_selector": "app=ledger"},
    "downstream-latency": {"latency_ms": 50},
    "packet-loss": {"external_targets": "db.example.com"},
    "dns-errors": {"domains": "*.example.com,ledger"},
    "io-latency": {"delay_ms": 250},
    "time-skew": {"offset_seconds": -300},
}
# When a verb is taken away, at most this many of the experiments that used it are run again.
RERUNS = 1
# The load proof: this experiment under an inline Locust profile (a ConfigMap and a Job). The
# kubelet runs the Job's `locust` as a sleeping process: the proof is about the API calls the
# load makes, not the traffic (tests/integration/test_load_profiles.py runs Locust itself).
LOAD_EXPERIMENT = "pod-kill"
LOAD = LoadProfile(
    tool=Tool.LOCUST, users=2, ramp_up_seconds=0, script="from locust import HttpUser\n"
)
LOAD_KUBELET = KubeletConfig(
    commands={"locust": (sys.executable, "-c", "import time; time.sleep(120)")}
)
Manifest = dict[str, Any]
# A grant: (role kind, role name, rule index, verb).
Grant = tuple[str, str, int, str]
Call = tuple[str, str, str, str]  # (group, resource[/subresource], verb, namespace)
Permission = tuple[str, str, str]  # (group, resource, verb)


def _plan() -> RbacPlan:
    return RbacPlan(
        namespaces=(NAMESPACE,),
        executor="kubernetes",
        experiments=tuple(load_catalogue(everything=True)),
        bot_namespace=BOT_NAMESPACE,
        certificate_namespaces=(NAMESPACE,),
    )


def _seed(manifests: list[Manifest]) -> Callable[[KubeApiServer], None]:
    """The payments cluster, then the RBAC objects applied by the admin."""

    def seed(kube: KubeApiServer) -> None:
        seed_payments(kube)
        kube.add_namespace(BOT_NAMESPACE)
        kube.add_manifests(manifests)

    return seed


def _engine(
    template: ExperimentTemplate, load: LoadProfile | None = None
) -> Callable[[KubeApiServer, Path], str | None]:
    """A run's own calls beside the experiment's: None when all were answered and clean."""
    kinds = created_kinds(template, load)

    def calls(kube: KubeApiServer, kubeconfig: Path) -> str | None:
        clients = ClientFactory(kubeconfig=str(kubeconfig), default_context=CONTEXT)
        try:
            cluster = KubeRunCluster(clients, namespaces=[NAMESPACE])
            cluster.running_pods(context=None, namespace=NAMESPACE, selector=SELECTOR)
            count_ready_pods(Kube(api=clients.api_client(None)), NAMESPACE, SELECTOR)
            left = cluster.leftovers(RUN_ID, context=None, kinds=kinds)
        except Exception as error:  # the reason is what the test reads
            body = error.body if isinstance(error, ApiException) else ""
            return f"{type(error).__name__}: {error} {body}"
        finally:
            clients.close()
        return f"left behind: {left}" if left else None

    return calls


def _scenarios(
    manifests: list[Manifest],
    templates: Iterable[ExperimentTemplate],
    prefix: str = "",
    *,
    load: LoadProfile | None = None,
) -> list[Scenario]:
    return [
        Scenario(
            f"{prefix}{t.id}",
            t.id,
            PARAMETERS.get(t.id, {}),
            seed=_seed(manifests),
            identity=RUNNER,
            after=_engine(t, load),
            load=load,
            kubelet=LOAD_KUBELET if load is not None else None,
        )
        for t in templates
    ]


def _runner_roles(manifests: list[Manifest]) -> list[Manifest]:
    """The Roles and ClusterRoles bound to the runner."""
    bound = {
        (m["kind"], m["metadata"].get("namespace"), m["roleRef"]["name"])
        for m in manifests
        if m["kind"].endswith("Binding") and any(s["name"] == RUNNER_ACCOUNT for s in m["subjects"])
    }
    return [
        m
        for m in manifests
        if (f"{m['kind']}Binding", m["metadata"].get("namespace"), m["metadata"]["name"]) in bound
    ]


def _refused(outcome: Outcome) -> set[Permission]:
    """The runner's calls the API server refused (403)."""
    refused = set()
    for record in outcome.requests:
        if record.status == 403:
            attributes = request_attributes(record.method, record.path, record.query)
            refused.add((attributes.group, attributes.combined_resource, attributes.verb))
    return refused


def _calls(outcome: Outcome) -> set[Call]:
    found = set()
    for record in outcome.requests:
        attributes = request_attributes(record.method, record.path, record.query)
        if attributes.resource_request and record.status != 403:
            found.add(
                (
                    attributes.group,
                    attributes.combined_resource,
                    attributes.verb,
                    attributes.namespace,
                )
            )
    return found


def _grants(role: Manifest, call: Call) -> list[Grant]:
    """The grants of a role that allow this call."""
    group, resource, verb, namespace = call
    if role["kind"] == "Role" and namespace != role["metadata"]["namespace"]:
        return []
    return [
        (role["kind"], role["metadata"]["name"], index, verb)
        for index, rule in enumerate(role["rules"])
        if group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
    ]


def _without(manifests: list[Manifest], grant: Grant) -> list[Manifest]:
    """The manifests with one verb taken out of one rule (an empty rule is dropped)."""
    kind, name, index, verb = grant
    changed = copy.deepcopy(manifests)
    for manifest in changed:
        if manifest["kind"] == kind and manifest["metadata"]["name"] == name:
            rule = manifest["rules"][index]
            rule["verbs"] = [v for v in rule["verbs"] if v != verb]
            if not rule["verbs"]:
                manifest["rules"] = [r for r in manifest["rules"] if r is not rule]
    return changed


def _permissions(manifests: list[Manifest]) -> set[tuple[str, str, Permission]]:
    """Every (role kind, role name, permission) the runner's roles grant."""
    return {
        (role["kind"], role["metadata"]["name"], (group, resource, verb))
        for role in _runner_roles(manifests)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _without_permission(manifests: list[Manifest], permission: Permission) -> list[Manifest]:
    """The manifests with one permission taken out of every runner rule that grants it, the
    rest of each such rule kept (split in two: its other resources, and this one's other verbs)."""
    group, resource, verb = permission
    runner = {(m["kind"], m["metadata"]["name"]) for m in _runner_roles(manifests)}
    changed = copy.deepcopy(manifests)
    for manifest in changed:
        if (manifest["kind"], manifest["metadata"]["name"]) not in runner:
            continue
        rules = []
        for rule in manifest["rules"]:
            granting = rule["apiGroups"] == [group] and resource in rule["resources"]
            if not granting or verb not in rule["verbs"]:
                rules.append(rule)
                continue
            others = [r for r in rule["resources"] if r != resource]
            if others:
                rules.append({**rule, "resources": others})
            verbs = [v for v in rule["verbs"] if v != verb]
            if verbs:
                rules.append({**rule, "resources": [resource], "verbs": verbs})
        manifest["rules"] = rules
    return changed


def _failure(outcome: Outcome) -> str | None:
    """Why a run did not pass (its failed activities and the engine's calls), or None."""
    reasons = [
        f"{run['activity']['name']}: {' '.join(run.get('exception') or [])}"
        for part in ("run", "rollbacks")
        for run in outcome.journal.get(part) or []
        if run.get("status") == "failed"
    ]
    if outcome.after_result:
        reasons.append(f"engine: {outcome.after_result}")
    # A refusal the run shrugged off is a failure too: the leftover check skips a kind it may
    # not list (it would not see what the run left of it).
    for group, resource, verb in sorted(_refused(outcome)):
        reasons.append(f'User "{RUNNER_USER}" cannot {verb} resource "{resource}" ({group!r})')
    if outcome.journal.get("status") != "completed" and not reasons:
        reasons.append(f"journal {outcome.journal.get('status')}: {outcome.output[-1500:]}")
    return "; ".join(reasons) or None


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    return rbac_manifests(_plan())


@pytest.fixture(scope="module")
def load_manifests() -> list[Manifest]:
    return rbac_manifests(replace(_plan(), load=True))


# Each permission a load needs (bot.library.permissions: the load's rules, its leftover lists).
LOAD_PERMISSIONS = sorted(
    {
        (rule.api_group, resource, verb)
        for rule in (*LOAD_RULES, *leftover_rules(LOAD_CREATES))
        for resource in rule.resources
        for verb in rule.verbs
    }
)


@pytest.fixture(scope="module")
def load_outcomes(
    load_manifests: list[Manifest], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    """The load run under the generated RBAC (`granted`), and without each load permission
    (named by its index in LOAD_PERMISSIONS), all at once."""
    template = load_catalogue().get(LOAD_EXPERIMENT)
    variants = {"granted": load_manifests} | {
        f"without-{number}": _without_permission(load_manifests, permission)
        for number, permission in enumerate(LOAD_PERMISSIONS)
    }
    scenarios = [
        scenario
        for prefix, manifests in variants.items()
        for scenario in _scenarios(manifests, [template], f"{prefix}-", load=LOAD)
    ]
    outcomes = run_scenarios(scenarios, tmp_path_factory.mktemp("load"))
    return {name.removesuffix(f"-{LOAD_EXPERIMENT}"): o for name, o in outcomes.items()}


@pytest.fixture(scope="module")
def outcomes(
    manifests: list[Manifest], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    catalogue = load_catalogue(everything=True)
    return run_scenarios(_scenarios(manifests, catalogue), tmp_path_factory.mktemp("granted"))


@pytest.fixture(scope="module")
def users(manifests: list[Manifest], outcomes: dict[str, Outcome]) -> dict[Grant, list[str]]:
    """Every grant of the runner's roles, with the experiments whose calls it allowed."""
    found: dict[Grant, list[str]] = {
        (role["kind"], role["metadata"]["name"], index, verb): []
        for role in _runner_roles(manifests)
        for index, rule in enumerate(role["rules"])
        for verb in rule["verbs"]
    }
    for name, outcome in sorted(outcomes.items()):
        for call in _calls(outcome):
            for role in _runner_roles(manifests):
                for grant in _grants(role, call):
                    if name not in found[grant]:
                        found[grant].append(name)
    return found


def test_every_experiment_passes_under_the_generated_rbac(outcomes: dict[str, Outcome]) -> None:
    assert set(outcomes) == {t.id for t in load_catalogue(everything=True)}
    failed = {name: _failure(o) for name, o in outcomes.items() if _failure(o)}
    assert failed == {}
    for name, outcome in outcomes.items():
        assert outcome.journal["status"] == "completed", name
        assert outcome.requests, f"{name} made no request as the runner"
        assert all(r.user == RUNNER_USER for r in outcome.requests)


def test_every_granted_verb_is_used_by_an_experiment(
    users: dict[Grant, list[str]], outcomes: dict[str, Outcome], manifests: list[Manifest]
) -> None:
    unused = sorted(grant for grant, experiments in users.items() if not experiments)
    assert unused == [], "granted but never called: declared in excess"
    # And nothing was called that no grant allowed (the runs passed, so nothing was refused).
    for name, outcome in outcomes.items():
        for call in _calls(outcome):
            assert any(_grants(role, call) for role in _runner_roles(manifests)), (name, call)


def test_without_any_one_verb_an_experiment_fails_as_forbidden(
    users: dict[Grant, list[str]],
    manifests: list[Manifest],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    catalogue = load_catalogue(everything=True)
    scenarios: list[Scenario] = []
    variants: dict[Grant, list[str]] = defaultdict(list)
    for number, (grant, experiments) in enumerate(sorted(users.items())):
        reduced = _without(manifests, grant)
        chosen = [catalogue.get(e) for e in experiments[:RERUNS]]
        for scenario in _scenarios(reduced, chosen, prefix=f"{number}-"):
            scenarios.append(scenario)
            variants[grant].append(scenario.name)
    outcomes = run_scenarios(scenarios, tmp_path_factory.mktemp("reduced"))
    survivors = []
    for grant, names in variants.items():
        reasons = [r for r in (_failure(outcomes[n]) for n in names) if r]
        forbidden = [
            r
            for r in reasons
            if f'User \\"{RUNNER_USER}\\" cannot' in r or (f'User "{RUNNER_USER}" cannot' in r)
        ]
        if not forbidden:
            survivors.append((grant, names, reasons))
    assert survivors == [], "a verb whose removal no experiment noticed"


def test_with_load_profiles_a_run_under_load_passes_and_the_rbac_adds_only_the_loads_grants(
    manifests: list[Manifest],
    load_manifests: list[Manifest],
    load_outcomes: dict[str, Outcome],
) -> None:
    granted = load_outcomes["granted"]
    assert _failure(granted) is None
    assert granted.journal["status"] == "completed"
    assert granted.journal["load"]["started"] is True and granted.journal["load"]["error"] is None
    assert all(r.user == RUNNER_USER for r in granted.requests)
    called = {(group, resource, verb) for group, resource, verb, _ns in _calls(granted)}
    # The load made every call its permissions allow (the Job and the ConfigMap created, read,
    # deleted and listed by the leftover check), each granted to the runner.
    assert set(LOAD_PERMISSIONS) <= called
    roles = _runner_roles(load_manifests)
    for call in _calls(granted):
        assert any(_grants(role, call) for role in roles), call
    # And --load-profiles adds nothing else: what it adds is the load's permissions.
    added = {p for _kind, _name, p in _permissions(load_manifests) - _permissions(manifests)}
    assert added
    assert added <= set(LOAD_PERMISSIONS)


@pytest.mark.parametrize(
    ("number", "permission"),
    list(enumerate(LOAD_PERMISSIONS)),
    ids=[f"{verb}-{resource}" for _group, resource, verb in LOAD_PERMISSIONS],
)
def test_without_any_one_load_permission_the_run_under_load_fails_as_forbidden(
    load_outcomes: dict[str, Outcome], number: int, permission: Permission
) -> None:
    outcome = load_outcomes[f"without-{number}"]
    assert _failure(outcome) is not None, "the run passed without it"
    # It failed for that permission: the API refused the runner that very call.
    assert permission in _refused(outcome), _failure(outcome)


def test_the_bots_own_account_cannot_delete_pods_or_read_secrets(
    manifests: list[Manifest], tmp_path: Path
) -> None:
    with KubeApiServer() as kube:
        _seed(manifests)(kube)
        token = kube.service_account_token(BOT_NAMESPACE, BOT_ACCOUNT)
        clients = ClientFactory(
            kubeconfig=str(kube.write_kubeconfig(tmp_path / "bot", token=token)),
            default_context=None,
        )
        api = clients.api_client(None)
        core = client.CoreV1Api(api)
        try:
            pods = core.list_namespaced_pod(NAMESPACE, label_selector=SELECTOR).items
            assert pods, "the bot reads pods for onboarding and previews"
            pod = kube.list("pods", NAMESPACE)[0]["metadata"]["name"]
            client.AppsV1Api(api).read_namespaced_deployment("checkout", NAMESPACE)
            refusals: dict[str, Callable[[], object]] = {
                "delete pod": lambda: core.delete_namespaced_pod(pod, NAMESPACE),
                "list secrets": lambda: core.list_namespaced_secret(NAMESPACE),
                "get secret": lambda: core.read_namespaced_secret("checkout-tls", NAMESPACE),
                "list secrets everywhere": lambda: core.list_secret_for_all_namespaces(),
                "update node": lambda: core.patch_node("node-1", {"spec": {"unschedulable": True}}),
            }
            for what, call in refusals.items():
                with pytest.raises(ApiException) as refused:
                    call()
                assert refused.value.status == 403, what
                assert (
                    f'User \\"system:serviceaccount:{BOT_NAMESPACE}:{BOT_ACCOUNT}\\" cannot'
                    in str(refused.value.body)
                ), what
        finally:
            clients.close()
