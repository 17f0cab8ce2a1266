"""`chaosbot run` for CI pipelines: a library experiment against a service, exit code by outcome."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db.engine import Database
from bot.reports.junit import TESTCASES
from bot.runs.models import Run
from bot.runs.states import RunStatus
from bot.testing.kube.api import KubeApiServer
from tests.fixtures.services import Checkout, register_checkout


@pytest.fixture
def cli_env(
    db: Database, database_url: str, kubeconfig: Path, checkout: Checkout
) -> dict[str, str]:
    register_checkout(db, probe_url=checkout.url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHAOSBOT_", "KUBE"))}
    env.update(
        CHAOSBOT_DATABASE_URL=database_url,
        KUBECONFIG=str(kubeconfig),
        CHAOSBOT_ALLOWED_NAMESPACES="payments",
    )
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bot", "run", "--service", "checkout", *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _last_run(db: Database) -> Run:
    with db.session() as session:
        return session.scalars(select(Run).order_by(Run.id.desc())).first()  # type: ignore[return-value]


def _junit(path: Path) -> tuple[ET.Element, dict[str, ET.Element]]:
    """The one testsuite of a JUnit result, and its testcases by name."""
    root = ET.fromstring(path.read_bytes())  # noqa: S314 - chaosbot's own output
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    return suite, {case.get("name", ""): case for case in suite.findall("testcase")}


def test_a_resilient_service_passes_with_exit_0(
    cli_env: dict[str, str], db: Database, kube_api: KubeApiServer, tmp_path: Path
) -> None:
    junit = tmp_path / "chaos.xml"
    result = _run(
        cli_env,
        "--experiment",
        "blackhole",
        "--set",
        "direction=ingress",
        "--hold-seconds",
        "0.5",
        "--junit",
        str(junit),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed: the steady state held" in result.stdout
    run = _last_run(db)
    assert run.status is RunStatus.COMPLETED and run.leftovers == []
    assert kube_api.list("networkpolicies", "payments") == []
    assert f"run {run.key}: JUnit result written to {junit}" in result.stdout
    suite, cases = _junit(junit)
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0")
    assert list(cases) == list(TESTCASES)
    # The hold is the method's second activity: the method took at least the half second.
    assert float(cases["method"].get("time") or 0) >= 0.5
    assert "action blackhole-traffic" in (cases["method"].findtext("system-out") or "")


def test_a_deviation_fails_the_pipeline_with_exit_3(
    cli_env: dict[str, str],
    db: Database,
    checkout: Checkout,
    kube_api: KubeApiServer,
    tmp_path: Path,
) -> None:
    checkout.fragile = True
    junit = tmp_path / "chaos.xml"
    result = _run(
        cli_env, "--experiment", "blackhole", "--hold-seconds", "0.5", "--junit", str(junit)
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "deviated: the steady state did not hold" in result.stdout
    suite, cases = _junit(junit)
    failed = [name for name, case in cases.items() if case.find("failure") is not None]
    assert failed == ["steady state after the fault", "outcome"]
    assert suite.get("failures") == "2"
    failure = cases["outcome"].find("failure")
    assert failure is not None and failure.get("type") == "deviated"
    assert (failure.get("message") or "").startswith("deviated: the steady state did not hold")
    assert kube_api.list("networkpolicies", "payments") == []  # rolled back all the same


def test_a_dry_run_asks_the_api_server_and_changes_nothing(
    cli_env: dict[str, str], kube_api: KubeApiServer
) -> None:
    pods = sorted(p["metadata"]["name"] for p in kube_api.list("pods", "payments"))
    result = _run(cli_env, "--experiment", "pod-kill", "--set", "count=1", "--dry-run")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "dry run: would delete pods payments/checkout-" in result.stdout
    deletes = kube_api.requests_matching("DELETE", r"/pods/")
    assert deletes, "the dry run never asked the API server"
    assert all(r.query.get("dryRun") == "All" for r in deletes)
    assert sorted(p["metadata"]["name"] for p in kube_api.list("pods", "payments")) == pods


def test_a_dry_run_of_a_created_fault_names_the_object(
    cli_env: dict[str, str], kube_api: KubeApiServer
) -> None:
    result = _run(cli_env, "--experiment", "blackhole", "--dry-run")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "would create networkpolicies payments/chaosbot-blackhole-r-" in result.stdout
    assert kube_api.list("networkpolicies", "payments") == []
