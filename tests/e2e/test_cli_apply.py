"""`chaosbot apply` and `chaosbot export` as processes, against the Kubernetes API test server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.audit.models import AuditEvent
from bot.db.engine import Database
from bot.testing.kube.api import KubeApiServer
from tests.e2e.conftest import run_chaosbot
from tests.fixtures.declarations import CHECKOUT_YAML_HEAD

CHAOS_YAML = (
    CHECKOUT_YAML_HEAD
    + """\
  namespace: payments
  workload: {kind: Deployment, name: checkout}
  owners: [U0ALICE, U0BOB]
  probes:
    - url: http://checkout.payments.svc/healthz
"""
)


@pytest.fixture
def env(kube_api: KubeApiServer, kubeconfig: Path, sqlite_url: str) -> dict[str, str]:
    """A migrated SQLite database and a cluster running checkout, as the environment says."""
    kube_api.add_namespace("payments")
    kube_api.add_deployment("payments", "checkout", replicas=2, labels={"app": "checkout"})
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHAOSBOT_"))}
    environment.update(
        CHAOSBOT_DATABASE_URL=sqlite_url,
        CHAOSBOT_ALLOWED_NAMESPACES="payments",
        KUBECONFIG=str(kubeconfig),
        USER="alice",
    )
    migrated = run_chaosbot("migrate", env=environment)
    assert migrated.returncode == 0, migrated.stderr
    return environment


@pytest.fixture
def chaos_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "chaos.yaml"
    path.write_text(CHAOS_YAML)
    return path


def chaosbot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `chaosbot ARGS` in `cwd`; whatever happens, it never prints a traceback."""
    result = run_chaosbot(*args, env=env, cwd=cwd)
    assert "Traceback" not in result.stderr
    return result


def test_apply_creates_then_reports_unchanged_and_export_round_trips(
    env: dict[str, str], chaos_yaml: Path, tmp_path: Path, sqlite_url: str
) -> None:
    created = chaosbot("apply", "-f", str(chaos_yaml), env=env, cwd=tmp_path)
    assert (created.returncode, created.stdout, created.stderr) == (
        0,
        "service checkout created\n",
        "",
    )
    again = chaosbot("apply", "-f", str(chaos_yaml), env=env, cwd=tmp_path)
    assert (again.returncode, again.stdout) == (0, "service checkout unchanged\n")

    exported = tmp_path / "exported.yaml"
    written = chaosbot("export", "checkout", "-o", str(exported), env=env, cwd=tmp_path)
    assert (written.returncode, written.stdout) == (0, f"wrote checkout to {exported}\n")
    printed = chaosbot("export", "checkout", env=env, cwd=tmp_path)
    assert printed.returncode == 0
    assert printed.stdout == exported.read_text()
    assert printed.stdout.startswith("# chaos.yaml")
    assert "  teamChannel: C0PAYMENTS\n" in printed.stdout
    reapplied = chaosbot("apply", "-f", str(exported), env=env, cwd=tmp_path)
    assert (reapplied.returncode, reapplied.stdout) == (0, "service checkout unchanged\n")

    db = Database(sqlite_url)
    try:
        with db.session() as session:
            events = session.execute(select(AuditEvent.action, AuditEvent.actor)).all()
    finally:
        db.dispose()
    assert [tuple(e) for e in events] == [
        ("namespace.claimed", "cli:alice"),
        ("service.onboarded", "cli:alice"),
    ]


def test_a_dry_run_prints_the_difference_and_writes_nothing(
    env: dict[str, str], chaos_yaml: Path, tmp_path: Path
) -> None:
    assert chaosbot("apply", "-f", str(chaos_yaml), env=env, cwd=tmp_path).returncode == 0
    chaos_yaml.write_text(CHAOS_YAML.replace("tier: 2", "tier: 3"))
    dry = chaosbot("apply", "-f", str(chaos_yaml), "--dry-run", env=env, cwd=tmp_path)
    assert (dry.returncode, dry.stdout) == (
        0,
        "service checkout would be updated: tier: 2 -> 3\ndry run: nothing was written\n",
    )
    exported = chaosbot("export", "checkout", env=env, cwd=tmp_path)
    assert "  tier: 2\n" in exported.stdout
    applied = chaosbot(
        "apply", "-f", str(chaos_yaml), "--actor", "ci:deploy", env=env, cwd=tmp_path
    )
    assert applied.stdout == "service checkout updated: tier: 2 -> 3\n"


def test_an_invalid_file_lists_every_error_on_its_own_line(
    env: dict[str, str], chaos_yaml: Path, tmp_path: Path
) -> None:
    chaos_yaml.write_text(
        CHAOS_YAML.replace("tier: 2", "tier: 5")
        .replace("http://checkout", "checkout")
        .replace("name: checkout}", "name: basket}")
        + "---\n"
        + CHAOS_YAML.replace("name: checkout\n", "name: ledger\n").replace(
            "  teamChannel: C0PAYMENTS\n", "  colour: blue\n"
        )
    )
    result = chaosbot("apply", "-f", str(chaos_yaml), env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{chaos_yaml}:8: spec.tier: must be between 1 and 4, got 5",
        f"{chaos_yaml}:13: spec.probes[0].url: must be an http:// or https:// URL, "
        "got 'checkout.payments.svc/healthz'",
        f"{chaos_yaml}:21: spec.colour: unknown field (expected one of: alerting, approvers, "
        "blastRadiusPercent, blindDrills, cluster, environment, namespace, owners, probes, "
        "selector, steadyState, suite, team, teamChannel, teamTimezone, tier, workload)",
        f"chaosbot: {chaos_yaml} was not applied",
    ]


def test_a_workload_missing_from_the_cluster_is_an_error_on_its_line(
    env: dict[str, str], chaos_yaml: Path, tmp_path: Path
) -> None:
    chaos_yaml.write_text(CHAOS_YAML.replace("name: checkout}", "name: basket}"))
    result = chaosbot("apply", "-f", str(chaos_yaml), env=env, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"{chaos_yaml}:10: spec.workload: there is no Deployment called basket in payments",
        f"chaosbot: {chaos_yaml} was not applied",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["export", "nope"],
            "chaosbot: There is no service called `nope`. `/chaos services` lists them.",
        ),
        (
            ["apply", "-f", "missing.yaml"],
            "chaosbot: cannot read missing.yaml: No such file or directory",
        ),
    ],
)
def test_failures_are_one_line_and_exit_1(
    env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    result = chaosbot(*args, env=env, cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"{message}\n")


def test_a_file_that_cannot_be_written_is_one_line_and_exit_1(
    env: dict[str, str], chaos_yaml: Path, tmp_path: Path
) -> None:
    assert chaosbot("apply", "-f", str(chaos_yaml), env=env, cwd=tmp_path).returncode == 0
    target = tmp_path / "no" / "such" / "chaos.yaml"
    result = chaosbot("export", "checkout", "-o", str(target), env=env, cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"chaosbot: cannot write {target}: No such file or directory\n",
    )


def test_bad_settings_exit_2_in_one_line(
    env: dict[str, str], chaos_yaml: Path, tmp_path: Path
) -> None:
    bad = {**env, "CHAOSBOT_ALLOWED_NAMESPACES": "Payments"}
    result = chaosbot("apply", "-f", str(chaos_yaml), env=bad, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "chaosbot: CHAOSBOT_ALLOWED_NAMESPACES: 'Payments' is not a valid namespace name\n"
    )


def test_an_unmigrated_database_is_refused_before_writing(
    env: dict[str, str], chaos_yaml: Path, tmp_path: Path
) -> None:
    fresh = {**env, "CHAOSBOT_DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db"}
    result = chaosbot("apply", "-f", str(chaos_yaml), env=fresh, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.endswith("run `chaosbot migrate` first\n")


def test_help_explains_both_commands(env: dict[str, str], tmp_path: Path) -> None:
    apply_help = chaosbot("apply", "--help", env=env, cwd=tmp_path)
    assert apply_help.returncode == 0
    assert "-f FILE" in apply_help.stdout
    assert "--dry-run" in apply_help.stdout
    assert "FILE:LINE: FIELD: MESSAGE" in apply_help.stdout
    assert "(default: cli:alice)" in apply_help.stdout
    export_help = chaosbot("export", "--help", env=env, cwd=tmp_path)
    assert "-o FILE" in export_help.stdout
