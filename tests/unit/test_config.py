from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.catalog.models import Environment
from bot.cli import main
from bot.config import (
    DEFAULT_DATABASE_URL,
    BlastRadiusLimits,
    Secret,
    load_settings,
    settings_env,
)
from bot.errors import SettingsError

TOKEN = "xoxb-1111-2222-abcdefabcdef"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def test_defaults_need_nothing_but_slack_credentials_for_serving() -> None:
    settings = load_settings({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.http_port == 3000
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.allowed_namespaces == frozenset()
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN"):
        settings.require_slack()


def test_missing_signing_secret_is_named() -> None:
    settings = load_settings({"SLACK_BOT_TOKEN": TOKEN})
    with pytest.raises(SettingsError) as caught:
        settings.require_slack()
    assert caught.value.variable == "SLACK_SIGNING_SECRET"


def test_socket_mode_needs_no_signing_secret() -> None:
    settings = load_settings({"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": "xapp-1-A-1-abc"})
    assert settings.socket_mode
    token, secret = settings.require_slack()
    assert token.reveal() == TOKEN
    assert secret is None


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "starting with 'xoxb-'"),
        ("SLACK_APP_TOKEN", "xoxb-not-an-app-token", "starting with 'xapp-'"),
        ("SLACK_SIGNING_SECRET", "short", "signing secret"),
        ("SLACK_API_URL", "ftp://example", "http(s) URL"),
        ("CHAOSBOT_DATABASE_URL", "mysql://localhost/db", "sqlite:// or postgresql://"),
        ("CHAOSBOT_DATABASE_URL", "not a url", "not a database URL"),
        ("CHAOSBOT_HTTP_PORT", "70000", "port number"),
        ("CHAOSBOT_HTTP_PORT", "http", "port number"),
        ("CHAOSBOT_ALLOWED_NAMESPACES", "payments,Bad_Name", "'Bad_Name'"),
        ("KUBECONFIG", "/nonexistent/kubeconfig", "does not exist"),
        ("CHAOSBOT_LOG_LEVEL", "chatty", "must be one of"),
        ("CHAOSBOT_MAX_BLAST_RADIUS_PERCENT", "0", "got '0'"),
        ("CHAOSBOT_MAX_BLAST_RADIUS_PERCENT", "101", "a percentage 1-100"),
        ("CHAOSBOT_MAX_BLAST_RADIUS_PERCENT", "50%", "got '50%'"),
        ("CHAOSBOT_MAX_BLAST_RADIUS_PERCENT", "production=150", "got 'production=150'"),
        ("CHAOSBOT_MAX_BLAST_RADIUS_PERCENT", "prod=50", "'prod=50' names no environment"),
        (
            "CHAOSBOT_MAX_BLAST_RADIUS_PERCENT",
            "staging=100;production=50",
            "got 'staging=100;production=50'",
        ),
        ("CHAOSBOT_MAX_BLAST_RADIUS_PERCENT", "staging=90,staging=80", "gives staging twice"),
        ("CHAOSBOT_PROBE_ALLOWED_NETWORKS", "10.0.0.0/8,10.1", "got '10.1'"),
        ("CHAOSBOT_PROBE_ALLOWED_NETWORKS", "10.0.0.0/33", "networks like 10.0.0.0/8"),
        ("CHAOSBOT_ALERTMANAGER_URL", "alertmanager:9093", "http(s) base URL"),
        ("CHAOSBOT_ALERTMANAGER_WEBHOOK_TOKEN", "short", "at least 16 printable"),
    ],
)
def test_invalid_values_name_the_variable_and_the_problem(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    assert caught.value.variable == variable
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{variable}: ")


def test_a_rejected_token_is_not_echoed() -> None:
    bad = "xoxp-very-secret-user-token"
    with pytest.raises(SettingsError) as caught:
        load_settings({"SLACK_BOT_TOKEN": bad})
    assert bad not in str(caught.value)


def test_values_are_normalised(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\n")
    settings = load_settings(
        {
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "CHAOSBOT_DATABASE_URL": "postgresql://u:p@db:5432/chaos",
            "CHAOSBOT_ALLOWED_NAMESPACES": " payments , checkout,",
            "KUBECONFIG": str(kubeconfig),
            "CHAOSBOT_LOG_LEVEL": "debug",
        }
    )
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.database_url == "postgresql+psycopg://u:p@db:5432/chaos"
    assert settings.allowed_namespaces == frozenset({"payments", "checkout"})
    assert settings.kubeconfig == str(kubeconfig)
    assert settings.log_level == "DEBUG"


def test_secrets_never_show_in_repr() -> None:
    settings = load_settings({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET})
    assert TOKEN not in repr(settings)
    assert SECRET not in repr(settings)
    assert str(Secret(TOKEN)) == "Secret('***')"
    assert sorted(settings.secrets()) == sorted([TOKEN, SECRET])


def test_the_alertmanager_webhook_token_is_a_secret_the_workers_never_get() -> None:
    token = "am-token-0123456789abcdef"
    settings = load_settings(
        {
            "CHAOSBOT_ALERTMANAGER_URL": "http://alertmanager.monitoring:9093/",
            "CHAOSBOT_ALERTMANAGER_WEBHOOK_TOKEN": token,
        }
    )
    assert settings.alertmanager_url == "http://alertmanager.monitoring:9093"
    assert token not in repr(settings) and settings.secrets() == [token]
    env = settings_env(settings)
    assert env["CHAOSBOT_ALERTMANAGER_URL"] == "http://alertmanager.monitoring:9093"
    assert token not in env.values()  # a worker asks Alertmanager; it receives no webhook


def test_settings_survive_the_trip_to_a_worker_process(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\n")
    original = load_settings(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
            "CHAOSBOT_DATABASE_URL": "postgresql://u@db/chaos",
            "CHAOSBOT_ALLOWED_NAMESPACES": "payments,search",
            "CHAOSBOT_ALLOW_PRODUCTION": "true",
            "CHAOSBOT_MAX_RUNS_PER_CLUSTER": "5",
            "CHAOSBOT_MAX_BLAST_RADIUS_PERCENT": "production=30",
            "CHAOSBOT_PLATFORM_ADMINS": "U0ADMIN",
            "KUBECONFIG": str(kubeconfig),
            "CHAOSBOT_KUBE_CONTEXT": "staging",
        }
    )
    rebuilt = load_settings(settings_env(original))
    assert replace(rebuilt, http_host=original.http_host) == original


@pytest.mark.parametrize(
    ("value", "staging", "production"),
    [
        (None, 100, 50),
        ("", 100, 50),
        ("80", 80, 80),
        ("production=30", 100, 30),
        (" staging = 90 , production=40 ,", 90, 40),
    ],
)
def test_the_blast_radius_maximum_is_one_number_or_one_per_environment(
    value: str | None, staging: int, production: int
) -> None:
    environ = {} if value is None else {"CHAOSBOT_MAX_BLAST_RADIUS_PERCENT": value}
    limits = load_settings(environ).max_blast_radius_percent
    assert limits == BlastRadiusLimits(staging=staging, production=production)
    assert [limits.of(e) for e in Environment] == [staging, production]


def test_probe_allowed_networks_are_cidrs_kept_for_the_workers() -> None:
    settings = load_settings({"CHAOSBOT_PROBE_ALLOWED_NETWORKS": " 10.0.0.0/8, fd00::/8 ,,"})
    assert [str(n) for n in settings.probe_allowed_networks] == ["10.0.0.0/8", "fd00::/8"]
    assert load_settings(settings_env(settings)).probe_allowed_networks == (
        settings.probe_allowed_networks
    )
    assert load_settings({}).probe_allowed_networks == ()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("CHAOSBOT_PROBE_ALLOWED_NETWORKS", "10.0.0.0/8,internal", id="probe-network"),
        pytest.param("CHAOSBOT_MAX_BLAST_RADIUS_PERCENT", "production=150", id="blast-radius-max"),
    ],
)
def test_a_bad_setting_stops_start_up_with_exit_2(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["migrate"]) == 2
    assert f"{variable}: must be" in capsys.readouterr().err


def test_grafana_needs_its_url_and_its_token_stays_a_secret() -> None:
    token = "glsa_0123456789abcdef0123456789abcdef"
    settings = load_settings(
        {"CHAOSBOT_GRAFANA_URL": "https://grafana.example.com/", "CHAOSBOT_GRAFANA_TOKEN": token}
    )
    assert settings.grafana_url == "https://grafana.example.com"
    assert token not in repr(settings) and token in settings.secrets()
    env = settings_env(settings)
    assert (env["CHAOSBOT_GRAFANA_URL"], env["CHAOSBOT_GRAFANA_TOKEN"]) == (
        "https://grafana.example.com",
        token,
    )
    assert "CHAOSBOT_GRAFANA_TOKEN" not in settings_env(load_settings({}))
    with pytest.raises(SettingsError, match="CHAOSBOT_GRAFANA_URL"):
        load_settings({"CHAOSBOT_GRAFANA_TOKEN": token})
    with pytest.raises(SettingsError, match="CHAOSBOT_GRAFANA_TOKEN") as refused:
        load_settings(
            {"CHAOSBOT_GRAFANA_URL": "https://grafana.example.com", "CHAOSBOT_GRAFANA_TOKEN": "a b"}
        )
    assert "a b" not in str(refused.value)


def test_runs_execute_locally_unless_told() -> None:
    settings = load_settings({})
    assert settings.executor == "local"
    assert settings.runs_service_account == "chaosbot-runner"
    assert settings.worker_image is None


def test_runs_as_jobs_need_the_worker_image() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"CHAOSBOT_EXECUTOR": "kubernetes"})
    assert caught.value.variable == "CHAOSBOT_WORKER_IMAGE"
    with pytest.raises(SettingsError) as caught:
        load_settings({"CHAOSBOT_EXECUTOR": "lambda"})
    assert caught.value.variable == "CHAOSBOT_EXECUTOR"


def test_runs_as_jobs_go_to_the_bots_namespace() -> None:
    settings = load_settings(
        {
            "CHAOSBOT_EXECUTOR": "Kubernetes",
            "CHAOSBOT_WORKER_IMAGE": "ghcr.io/example/chaosbot:1.2.3",
            "CHAOSBOT_NAMESPACE": "platform-chaos",
            "CHAOSBOT_RUNS_SERVICE_ACCOUNT": "runner",
        }
    )
    assert (settings.executor, settings.namespace) == ("kubernetes", "platform-chaos")
    assert settings.runs_service_account == "runner"
    assert settings.worker_image == "ghcr.io/example/chaosbot:1.2.3"
    assert load_settings(settings_env(settings)) == settings
    with pytest.raises(SettingsError) as caught:
        load_settings({"CHAOSBOT_NAMESPACE": "Not_A_Namespace"})
    assert caught.value.variable == "CHAOSBOT_NAMESPACE"


def test_the_bots_namespace_defaults_to_its_pods(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a pod, the namespace is the ServiceAccount's mounted one; elsewhere `chaosbot`."""
    import bot.config as config

    assert load_settings({}).namespace == (
        config.IN_CLUSTER_NAMESPACE.read_text().strip()
        if config.IN_CLUSTER_NAMESPACE.exists()
        else "chaosbot"
    )
    mounted = tmp_path / "namespace"
    mounted.write_text("tools\n")
    monkeypatch.setattr(config, "IN_CLUSTER_NAMESPACE", mounted)
    assert load_settings({}).namespace == "tools"
    assert load_settings({"CHAOSBOT_NAMESPACE": "other"}).namespace == "other"


def test_warm_workers_are_a_setting_of_the_bot_on_by_default() -> None:
    assert load_settings({}).warm_workers is True
    assert load_settings({"CHAOSBOT_WARM_WORKERS": "false"}).warm_workers is False
    warm = load_settings({"CHAOSBOT_WARM_WORKERS": "true"})
    assert warm.warm_workers is True
    # The bot's own choice: a worker started with its settings does not start templates.
    assert "CHAOSBOT_WARM_WORKERS" not in settings_env(warm)
    with pytest.raises(SettingsError) as refused:
        load_settings({"CHAOSBOT_WARM_WORKERS": "sometimes"})
    assert "CHAOSBOT_WARM_WORKERS" in str(refused.value)
