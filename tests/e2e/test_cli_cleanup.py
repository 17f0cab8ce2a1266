"""`chaosbot cleanup`, the break-glass command: a process with a kubeconfig and no database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.library.catalogue import load_catalogue
from bot.library.rbac import RbacPlan, rbac_manifests
from bot.testing.kube.api import KubeApiServer
from tests.integration.abandoned import kube_secrets, leave_faults, marked
from tests.integration.payments_cluster import NAMESPACE, seed_payments

RUN = "r-abandoned"


@pytest.fixture
def abandoned(
    kube_api: KubeApiServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> list[str]:
    """The payments cluster with a run's faults left in place (held for an hour); their refs."""
    seed_payments(kube_api)
    leave_faults(kube_secrets(kube_api, monkeypatch, tmp_path), RUN, hold_seconds=3600)
    return marked(kube_api)


@pytest.fixture
def cleanup_env(kubeconfig: Path) -> dict[str, str]:
    """No Slack, a database nobody listens on, the test cluster's kubeconfig."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHAOSBOT_", "KUBE"))}
    env.update(
        CHAOSBOT_DATABASE_URL="postgresql+psycopg://chaosbot@127.0.0.1:9/unreachable",
        KUBECONFIG=str(kubeconfig),
        CHAOSBOT_ALLOWED_NAMESPACES=f"{NAMESPACE},staging",
    )
    return env


def _cleanup(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bot", "cleanup", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_cleanup_removes_everything_without_a_database_and_says_what_it_did(
    kube_api: KubeApiServer, abandoned: list[str], cleanup_env: dict[str, str]
) -> None:
    node = next(ref for ref in abandoned if ref.startswith("nodes/"))

    result = _cleanup(cleanup_env)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for ref in abandoned:
        [line] = [line for line in lines if line.startswith(f"{ref} (run {RUN}, expires ")]
        created = "chaosbot-" in ref
        assert line.endswith(": deleted" if created else ": restored"), line
    assert marked(kube_api) == []
    restored = kube_api.get("nodes", None, node.split("/")[-1])
    assert restored is not None and not restored["spec"].get("unschedulable")
    ledger = kube_api.get("deployments", NAMESPACE, "ledger")
    assert ledger is not None and ledger["spec"]["replicas"] == 2

    again = _cleanup(cleanup_env, "--namespace", NAMESPACE)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"nothing carries chaosbot.io/run-id on the nodes or in {NAMESPACE}\n"


def test_a_dry_run_lists_what_it_would_do_and_changes_nothing(
    kube_api: KubeApiServer, abandoned: list[str], cleanup_env: dict[str, str]
) -> None:
    kube_api.clear_requests()

    result = _cleanup(cleanup_env, "--dry-run")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": would delete") == 4  # policy, 2 chaos objects, backup
    assert result.stdout.count(": would restore") == 3  # node, ledger, checkout-tls
    assert result.stdout.endswith("dry run: nothing was changed\n")
    assert {r.method for r in kube_api.requests} == {"GET"}
    assert marked(kube_api) == abandoned


def test_expired_only_leaves_a_fault_still_held(
    kube_api: KubeApiServer, abandoned: list[str], cleanup_env: dict[str, str]
) -> None:
    result = _cleanup(cleanup_env, "--expired-only")  # held for an hour: nothing has expired
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("nothing carries chaosbot.io/run-id")
    assert marked(kube_api) == abandoned


def test_something_that_cannot_be_removed_fails_the_command(
    kube_api: KubeApiServer, abandoned: list[str], cleanup_env: dict[str, str]
) -> None:
    kube_api.inject("DELETE", r"/networkpolicies/", status=500, times=None)

    result = _cleanup(cleanup_env)

    assert result.returncode == 1
    policy = f"{NAMESPACE}/networkpolicies/chaosbot-blackhole-{RUN}"
    assert f"{policy} (run {RUN}, expires " in result.stdout
    assert ": failed: DELETE" in result.stdout and "500" in result.stdout
    assert f"still there: {policy}" in result.stderr
    assert marked(kube_api) == [policy]  # everything else was done all the same


def test_the_cronjob_cleans_up_as_the_runner_under_the_generated_rbac(
    kube_api: KubeApiServer,
    abandoned: list[str],
    cleanup_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """The production overlay's CronJob runs `chaosbot cleanup --expired-only` as
    chaosbot-runner. Under the RBAC `chaosbot rbac` generates (no certificate namespace: no
    Secrets), it removes every expired mark it may see and skips, saying so, the Secrets it may
    not list, which that identity could not have written either."""
    plan = RbacPlan(
        namespaces=(NAMESPACE,),
        executor="kubernetes",
        experiments=tuple(load_catalogue(everything=True)),
    )
    kube_api.add_namespace("chaosbot")
    kube_api.add_manifests(rbac_manifests(plan))
    runner = kube_api.write_kubeconfig(
        tmp_path / "runner.kubeconfig",
        token=kube_api.service_account_token("chaosbot", "chaosbot-runner"),
    )
    env = {**cleanup_env, "KUBECONFIG": str(runner), "CHAOSBOT_ALLOWED_NAMESPACES": NAMESPACE}

    result = _cleanup(env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"skipped secrets in {NAMESPACE}: this identity may not list them" in result.stderr
    left = marked(kube_api)
    assert left and all(f"{NAMESPACE}/secrets/" in ref for ref in left)
    assert sorted(set(abandoned) - set(left)) == sorted(
        ref for ref in abandoned if "/secrets/" not in ref
    )
