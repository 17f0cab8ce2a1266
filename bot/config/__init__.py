"""Settings: one frozen object built from the environment and passed explicitly."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config.compliance_policy import DEFAULT_POLICY, CompliancePolicy, load_policy
from bot.errors import SettingsError

__all__ = [
    "DEFAULT_DATABASE_URL",
    "DEFAULT_K6_IMAGE",
    "DEFAULT_LOCUST_IMAGE",
    "DEFAULT_SLACK_API_URL",
    "EXECUTORS",
    "BlastRadiusLimits",
    "Secret",
    "Settings",
    "load_settings",
    "parse_experiments",
    "settings_env",
]

DEFAULT_DATABASE_URL = "sqlite:///./chaosbot.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The values of bot.catalog.models.Environment (which imports the database layer, so not here).
_ENVIRONMENTS = ("staging", "production")
EXECUTORS = ("local", "kubernetes")
# Where a pod finds its own namespace (the ServiceAccount's mounted token directory).
IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
DEFAULT_NAMESPACE = "chaosbot"
DEFAULT_RUNS_SERVICE_ACCOUNT = "chaosbot-runner"
# The images a suite entry's load profile runs in (CHAOSBOT_LOCUST_IMAGE, CHAOSBOT_K6_IMAGE):
# pinned, so a load test does not change under a team between two game days.
DEFAULT_LOCUST_IMAGE = "locustio/locust:2.47.0"
DEFAULT_K6_IMAGE = "grafana/k6:1.0.0"
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]{0,254}$")


class Secret:
    """A credential that never shows itself in a repr, a log line or an error message."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The credential itself, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, kw_only=True)
class BlastRadiusLimits:
    """The platform's largest blast-radius cap per environment (CHAOSBOT_MAX_BLAST_RADIUS_PERCENT).

    A service's own cap may not be set above its environment's maximum, and preflight applies
    the smaller of the two, so lowering a maximum takes effect for services already registered.
    """

    SETTING: ClassVar[str] = "CHAOSBOT_MAX_BLAST_RADIUS_PERCENT"

    staging: int = 100
    production: int = 50

    def __post_init__(self) -> None:
        for environment in _ENVIRONMENTS:
            if not 1 <= getattr(self, environment) <= 100:
                raise ValueError(f"the maximum for {environment} must be between 1 and 100")

    def of(self, environment: str) -> int:
        """The maximum for an environment ("staging" or "production")."""
        if environment not in _ENVIRONMENTS:
            raise ValueError(f"{environment!r} is not staging or production")
        value: int = getattr(self, environment)
        return value

    def as_setting(self) -> str:
        """The value of CHAOSBOT_MAX_BLAST_RADIUS_PERCENT that gives these limits."""
        return ",".join(f"{e}={self.of(e)}" for e in _ENVIRONMENTS)

    def describe(self) -> str:
        """The limits in words: "100% in staging, 50% in production"."""
        return ", ".join(f"{self.of(e)}% in {e}" for e in _ENVIRONMENTS)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything chaosbot reads from its environment, validated once at start-up."""

    slack_bot_token: Secret | None = None
    slack_signing_secret: Secret | None = None
    slack_app_token: Secret | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    http_host: str = "0.0.0.0"  # noqa: S104 - a server in a container listens on all interfaces
    http_port: int = 3000
    allowed_namespaces: frozenset[str] = field(default_factory=frozenset)
    # The library's experiments this installation offers and runs (CHAOSBOT_EXPERIMENTS);
    # None: every one. `chaosbot rbac` grants only what these call.
    experiments: frozenset[str] | None = None
    allow_production: bool = False
    max_runs_per_cluster: int = 2
    max_blast_radius_percent: BlastRadiusLimits = field(default_factory=BlastRadiusLimits)
    # Game days: how long a request may wait for its approvals, and how late a game day whose
    # start was missed (the bot was down) may still begin.
    gameday_approval_ttl_hours: int = 72
    gameday_grace_minutes: int = 30
    # The janitor: how often it looks for runs whose worker is gone, stuck runs and expired
    # objects, and after how long a fault it cannot remove is escalated to people.
    janitor_seconds: float = 5.0
    # How long, in all, a Slack listener may wait on the cluster inside its ack; after that the
    # form is answered "checking the cluster" and the result follows (bot/slack/budget.py).
    ack_budget_seconds: float = 1.5
    cleanup_alert_minutes: int = 10
    platform_admins: frozenset[str] = field(default_factory=frozenset)
    # The platform team's channel: `/chaos drills` answers only there (when set), and the
    # organisation's weekly digest goes there.
    admin_channel: str | None = None
    compliance_policy: CompliancePolicy = DEFAULT_POLICY
    public_url: str | None = None
    # Probes may reach only these networks when set (CHAOSBOT_PROBE_ALLOWED_NETWORKS).
    probe_allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # The platform's Prometheus, which steady-state `prometheus` probes query (teams give
    # queries, never URLs). Unset: such probes are refused.
    prometheus_url: str | None = None
    kubeconfig: str | None = None
    kube_context: str | None = None
    log_level: str = "INFO"
    # The team's own alerts (CHAOSBOT_ALERTMANAGER_URL): the gate asks Alertmanager's API
    # whether any alert of a service fires before a run injects. The webhook token
    # authenticates Alertmanager's POST /alertmanager (drills measure detection with it).
    alertmanager_url: str | None = None
    alertmanager_webhook_token: Secret | None = None
    # Log lines as text or as one JSON object each (CHAOSBOT_LOG_FORMAT).
    log_format: str = "text"
    # Grafana (CHAOSBOT_GRAFANA_URL, CHAOSBOT_GRAFANA_TOKEN: a service account's token): game
    # days' experiment runs are annotated on the dashboards. Unset: no annotations.
    grafana_url: str | None = None
    grafana_token: Secret | None = None
    # Where runs execute (CHAOSBOT_EXECUTOR): "local", a child process of the bot, or
    # "kubernetes", a Job per run in the bot's own namespace, under the runs' ServiceAccount,
    # from the worker image (required then).
    executor: str = "local"
    namespace: str = DEFAULT_NAMESPACE
    runs_service_account: str = DEFAULT_RUNS_SERVICE_ACCOUNT
    worker_image: str | None = None
    # Warm workers (CHAOSBOT_WARM_WORKERS, local executor, on unless turned off): runs are
    # forked by a template process that has imported everything, instead of each starting
    # Python afresh.
    warm_workers: bool = True
    # Load profiles (CHAOSBOT_LOAD_PROFILES): a suite entry may run a k6 script or a Locust file
    # as a Job in the service's namespace while it runs. Off unless the platform turns it on:
    # the runs may then create Jobs there (`chaosbot rbac` grants it only then).
    load_profiles: bool = False
    locust_image: str = DEFAULT_LOCUST_IMAGE
    k6_image: str = DEFAULT_K6_IMAGE

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise SettingsError("CHAOSBOT_EXECUTOR", f"must be one of {', '.join(EXECUTORS)}")
        if self.executor == "kubernetes" and not self.worker_image:
            raise SettingsError(
                "CHAOSBOT_WORKER_IMAGE",
                "is required with CHAOSBOT_EXECUTOR=kubernetes (the image runs' Jobs start)",
            )

    @property
    def socket_mode(self) -> bool:
        """Whether to talk to Slack over Socket Mode instead of receiving HTTP requests."""
        return self.slack_app_token is not None

    def secrets(self) -> list[str]:
        """The credential values, so log output can be scrubbed of them."""
        found = (
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.alertmanager_webhook_token,
            self.grafana_token,
        )
        return [s.reveal() for s in found if s is not None]

    def require_slack(self) -> tuple[Secret, Secret | None]:
        """The bot token and signing secret, or a SettingsError naming the one that is missing.

        Socket Mode needs no signing secret: the app-level token authenticates the connection.
        """
        if self.slack_bot_token is None:
            raise SettingsError("SLACK_BOT_TOKEN", "is required (the app's xoxb- bot token)")
        if self.slack_signing_secret is None and not self.socket_mode:
            raise SettingsError(
                "SLACK_SIGNING_SECRET",
                "is required (Basic Information > App Credentials > Signing Secret)",
            )
        return self.slack_bot_token, self.slack_signing_secret


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that rebuilds these settings in a child process (the run workers)."""
    env = {
        "SLACK_API_URL": settings.slack_api_url,
        "CHAOSBOT_DATABASE_URL": settings.database_url,
        "CHAOSBOT_ALLOWED_NAMESPACES": ",".join(sorted(settings.allowed_namespaces)),
        **(
            {"CHAOSBOT_EXPERIMENTS": ",".join(sorted(settings.experiments))}
            if settings.experiments is not None
            else {}
        ),
        "CHAOSBOT_ALLOW_PRODUCTION": "true" if settings.allow_production else "false",
        "CHAOSBOT_MAX_RUNS_PER_CLUSTER": str(settings.max_runs_per_cluster),
        BlastRadiusLimits.SETTING: settings.max_blast_radius_percent.as_setting(),
        "CHAOSBOT_GAMEDAY_APPROVAL_TTL_HOURS": str(settings.gameday_approval_ttl_hours),
        "CHAOSBOT_GAMEDAY_GRACE_MINUTES": str(settings.gameday_grace_minutes),
        "CHAOSBOT_JANITOR_SECONDS": str(settings.janitor_seconds),
        "CHAOSBOT_CLEANUP_ALERT_MINUTES": str(settings.cleanup_alert_minutes),
        "CHAOSBOT_PLATFORM_ADMINS": ",".join(sorted(settings.platform_admins)),
        "CHAOSBOT_LOG_LEVEL": settings.log_level,
        "CHAOSBOT_LOG_FORMAT": settings.log_format,
        # The probes a worker runs check these: loopback on the bot's port is the bot.
        "CHAOSBOT_HTTP_PORT": str(settings.http_port),
        "CHAOSBOT_PROBE_ALLOWED_NETWORKS": ",".join(map(str, settings.probe_allowed_networks)),
        "CHAOSBOT_EXECUTOR": settings.executor,
        "CHAOSBOT_NAMESPACE": settings.namespace,
        "CHAOSBOT_RUNS_SERVICE_ACCOUNT": settings.runs_service_account,
        # A run's load control (bot.load.control) reads the images from its environment.
        "CHAOSBOT_LOAD_PROFILES": "true" if settings.load_profiles else "false",
        "CHAOSBOT_LOCUST_IMAGE": settings.locust_image,
        "CHAOSBOT_K6_IMAGE": settings.k6_image,
    }
    optional = {
        "SLACK_BOT_TOKEN": settings.slack_bot_token.reveal() if settings.slack_bot_token else None,
        "SLACK_SIGNING_SECRET": (
            settings.slack_signing_secret.reveal() if settings.slack_signing_secret else None
        ),
        "KUBECONFIG": settings.kubeconfig,
        "CHAOSBOT_KUBE_CONTEXT": settings.kube_context,
        "CHAOSBOT_PUBLIC_URL": settings.public_url,
        "CHAOSBOT_ADMIN_CHANNEL": settings.admin_channel,
        "CHAOSBOT_PROMETHEUS_URL": settings.prometheus_url,
        # The worker's preflight asks Alertmanager; it receives no webhook, so no token.
        "CHAOSBOT_ALERTMANAGER_URL": settings.alertmanager_url,
        # A worker usually ends its run, and the end of a game day's run is what is annotated.
        "CHAOSBOT_GRAFANA_URL": settings.grafana_url if settings.grafana_token else None,
        "CHAOSBOT_GRAFANA_TOKEN": (
            settings.grafana_token.reveal()
            if settings.grafana_token and settings.grafana_url
            else None
        ),
        "CHAOSBOT_WORKER_IMAGE": settings.worker_image,
    }
    env.update({k: v for k, v in optional.items() if v})
    return env


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment, raising SettingsError on the first bad variable."""
    env = os.environ if environ is None else environ
    return Settings(
        slack_bot_token=_token(env, "SLACK_BOT_TOKEN", "xoxb-"),
        slack_signing_secret=_signing_secret(env),
        slack_app_token=_token(env, "SLACK_APP_TOKEN", "xapp-"),
        slack_api_url=_slack_api_url(env),
        database_url=_database_url(env),
        http_host=_get(env, "CHAOSBOT_HTTP_HOST") or "0.0.0.0",  # noqa: S104
        http_port=_port(env),
        allowed_namespaces=_namespaces(env),
        experiments=parse_experiments(env),
        allow_production=_flag(env, "CHAOSBOT_ALLOW_PRODUCTION"),
        max_runs_per_cluster=_positive(env, "CHAOSBOT_MAX_RUNS_PER_CLUSTER", 2),
        max_blast_radius_percent=_blast_radius_limits(env),
        gameday_approval_ttl_hours=_positive(env, "CHAOSBOT_GAMEDAY_APPROVAL_TTL_HOURS", 72),
        gameday_grace_minutes=_positive(env, "CHAOSBOT_GAMEDAY_GRACE_MINUTES", 30),
        janitor_seconds=_seconds(env, "CHAOSBOT_JANITOR_SECONDS", 5.0),
        ack_budget_seconds=_seconds(env, "CHAOSBOT_ACK_BUDGET_SECONDS", 1.5),
        cleanup_alert_minutes=_positive(env, "CHAOSBOT_CLEANUP_ALERT_MINUTES", 10),
        platform_admins=_user_ids(env, "CHAOSBOT_PLATFORM_ADMINS"),
        admin_channel=_channel_id(env, "CHAOSBOT_ADMIN_CHANNEL"),
        compliance_policy=load_policy(env),
        public_url=_http_url(env, "CHAOSBOT_PUBLIC_URL"),
        probe_allowed_networks=_networks(env, "CHAOSBOT_PROBE_ALLOWED_NETWORKS"),
        prometheus_url=(_http_url(env, "CHAOSBOT_PROMETHEUS_URL") or "").rstrip("/") or None,
        kubeconfig=_kubeconfig(env),
        kube_context=_get(env, "CHAOSBOT_KUBE_CONTEXT"),
        log_level=_log_level(env),
        alertmanager_url=_service_url(env, "CHAOSBOT_ALERTMANAGER_URL"),
        alertmanager_webhook_token=_webhook_token(env, "CHAOSBOT_ALERTMANAGER_WEBHOOK_TOKEN"),
        log_format=_log_format(env),
        grafana_url=_service_url(env, "CHAOSBOT_GRAFANA_URL"),
        grafana_token=_grafana_token(env),
        executor=_executor(env),
        namespace=_own_namespace(env),
        runs_service_account=_dns_name(
            env, "CHAOSBOT_RUNS_SERVICE_ACCOUNT", DEFAULT_RUNS_SERVICE_ACCOUNT
        ),
        worker_image=_get(env, "CHAOSBOT_WORKER_IMAGE"),
        warm_workers=_flag(env, "CHAOSBOT_WARM_WORKERS", default=True),
        load_profiles=_flag(env, "CHAOSBOT_LOAD_PROFILES"),
        locust_image=_image(env, "CHAOSBOT_LOCUST_IMAGE", DEFAULT_LOCUST_IMAGE),
        k6_image=_image(env, "CHAOSBOT_K6_IMAGE", DEFAULT_K6_IMAGE),
    )


def _executor(env: Mapping[str, str]) -> str:
    value = (_get(env, "CHAOSBOT_EXECUTOR") or "local").lower()
    if value not in EXECUTORS:
        raise SettingsError("CHAOSBOT_EXECUTOR", f"must be local or kubernetes, got {value!r}")
    return value


def _own_namespace(env: Mapping[str, str]) -> str:
    """CHAOSBOT_NAMESPACE, else the namespace of the pod the bot runs in, else `chaosbot`."""
    value = _get(env, "CHAOSBOT_NAMESPACE")
    if value is None:
        try:
            value = IN_CLUSTER_NAMESPACE.read_text(encoding="utf-8").strip() or None
        except OSError:
            value = None
    value = value or DEFAULT_NAMESPACE
    if not _DNS_LABEL.match(value):
        raise SettingsError("CHAOSBOT_NAMESPACE", f"{value!r} is not a valid namespace name")
    return value


def _dns_name(env: Mapping[str, str], name: str, default: str) -> str:
    value = _get(env, name) or default
    if len(value) > 253 or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", value):
        raise SettingsError(name, f"{value!r} is not a valid object name")
    return value


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _token(env: Mapping[str, str], name: str, prefix: str) -> Secret | None:
    value = _get(env, name)
    if value is None:
        return None
    if not value.startswith(prefix):
        # Say what the value looks like without echoing any of it.
        raise SettingsError(name, f"must be a Slack token starting with {prefix!r}")
    return Secret(value)


def _signing_secret(env: Mapping[str, str]) -> Secret | None:
    value = _get(env, "SLACK_SIGNING_SECRET")
    if value is None:
        return None
    if len(value) < 8 or any(c.isspace() for c in value):
        raise SettingsError("SLACK_SIGNING_SECRET", "must be the app's signing secret (no spaces)")
    return Secret(value)


def _slack_api_url(env: Mapping[str, str]) -> str:
    value = _get(env, "SLACK_API_URL") or DEFAULT_SLACK_API_URL
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError("SLACK_API_URL", f"must be an http(s) URL, got {value!r}")
    return value if value.endswith("/") else value + "/"


def _database_url(env: Mapping[str, str]) -> str:
    value = _get(env, "CHAOSBOT_DATABASE_URL") or DEFAULT_DATABASE_URL
    try:
        url = make_url(value)
    except ArgumentError:
        raise SettingsError("CHAOSBOT_DATABASE_URL", "is not a database URL") from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend != "sqlite":
        raise SettingsError(
            "CHAOSBOT_DATABASE_URL", f"must be sqlite:// or postgresql://, got {backend}://"
        )
    return value


def _port(env: Mapping[str, str]) -> int:
    value = _get(env, "CHAOSBOT_HTTP_PORT") or "3000"
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise SettingsError("CHAOSBOT_HTTP_PORT", f"must be a port number 0-65535, got {value!r}")
    return int(value)


def _namespaces(env: Mapping[str, str]) -> frozenset[str]:
    value = _get(env, "CHAOSBOT_ALLOWED_NAMESPACES") or ""
    names = [n.strip() for n in value.split(",") if n.strip()]
    for name in names:
        if not _DNS_LABEL.match(name):
            raise SettingsError(
                "CHAOSBOT_ALLOWED_NAMESPACES", f"{name!r} is not a valid namespace name"
            )
    return frozenset(names)


def parse_experiments(env: Mapping[str, str]) -> frozenset[str] | None:
    """CHAOSBOT_EXPERIMENTS: the enabled experiment ids (comma list), or None for all."""
    value = _get(env, "CHAOSBOT_EXPERIMENTS")
    if value is None:
        return None
    names = frozenset(n.strip() for n in value.split(",") if n.strip())
    for name in names:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", name):
            raise SettingsError("CHAOSBOT_EXPERIMENTS", f"{name!r} is not an experiment id")
    return names


def _user_ids(env: Mapping[str, str], name: str) -> frozenset[str]:
    ids = [u.strip() for u in (_get(env, name) or "").split(",") if u.strip()]
    for user in ids:
        if not re.fullmatch(r"[UW][A-Z0-9]{2,}", user):
            raise SettingsError(name, f"{user!r} is not a Slack user id like U0123ABCD")
    return frozenset(ids)


def _channel_id(env: Mapping[str, str], name: str) -> str | None:
    channel = _get(env, name)
    if channel is not None and not re.fullmatch(r"[CG][A-Z0-9]{2,}", channel):
        raise SettingsError(name, f"{channel!r} is not a Slack channel id like C0123ABCD")
    return channel


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _get(env, name) or str(default)
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(name, f"must be a whole number of at least 1, got {value!r}")
    return int(value)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    value = _get(env, name) or str(default)
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0.1 <= seconds <= 3600:
        raise SettingsError(name, f"must be a number of seconds from 0.1 to 3600, got {value!r}")
    return seconds


def _blast_radius_limits(env: Mapping[str, str]) -> BlastRadiusLimits:
    """`staging=100,production=50` (an environment left out keeps its default), or one
    percentage for both."""
    name = BlastRadiusLimits.SETTING
    value = _get(env, name)
    if value is None:
        return BlastRadiusLimits()
    form = "a percentage 1-100, or one per environment like staging=100,production=50"
    if "=" not in value:
        maximum = _percentage(name, value, form, shown=value)
        return BlastRadiusLimits(**dict.fromkeys(_ENVIRONMENTS, maximum))
    limits: dict[str, int] = {}
    for item in filter(str.strip, value.split(",")):
        environment, equals, number = (part.strip() for part in item.partition("="))
        if not equals or environment not in _ENVIRONMENTS:
            raise SettingsError(name, f"must be {form}; {item.strip()!r} names no environment")
        if environment in limits:
            raise SettingsError(name, f"gives {environment} twice")
        limits[environment] = _percentage(name, number, form, shown=item.strip())
    return BlastRadiusLimits(**limits)


def _percentage(name: str, value: str, form: str, *, shown: str) -> int:
    if not (value.isdecimal() and value.isascii()) or not 1 <= int(value) <= 100:
        raise SettingsError(name, f"must be {form}, got {shown!r}")
    return int(value)


def _image(env: Mapping[str, str], name: str, default: str) -> str:
    value = _get(env, name) or default
    if not _IMAGE.fullmatch(value):
        raise SettingsError(name, f"{value!r} is not a container image reference")
    return value


def _flag(env: Mapping[str, str], name: str, *, default: bool = False) -> bool:
    value = (_get(env, name) or str(default)).lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise SettingsError(name, f"must be true or false, got {value!r}")
    return value in ("true", "1", "yes")


def _http_url(env: Mapping[str, str], name: str) -> str | None:
    value = _get(env, name)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(name, f"must be an http(s) URL, got {value!r}")
    return value


def _service_url(env: Mapping[str, str], name: str) -> str | None:
    """The base URL of a platform service (Alertmanager), without a trailing slash."""
    value = _get(env, name)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise SettingsError(name, f"must be an http(s) base URL, got {value!r}")
    return value.rstrip("/")


def _webhook_token(env: Mapping[str, str], name: str) -> Secret | None:
    value = _get(env, name)
    if value is None:
        return None
    # Alertmanager sends it in an Authorization header: printable ASCII without spaces. Say
    # what is wrong without echoing any of it.
    if len(value) < 16 or not all(33 <= ord(c) < 127 for c in value):
        raise SettingsError(name, "must be at least 16 printable ASCII characters, no spaces")
    return Secret(value)


def _networks(
    env: Mapping[str, str], name: str
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for item in filter(None, (part.strip() for part in (_get(env, name) or "").split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(
                name, f"must be comma-separated networks like 10.0.0.0/8,fd00::/8, got {item!r}"
            ) from None
    return tuple(networks)


def _kubeconfig(env: Mapping[str, str]) -> str | None:
    value = _get(env, "KUBECONFIG")
    if value is None:
        return None
    for path in value.split(os.pathsep):
        if path and not Path(path).expanduser().is_file():
            raise SettingsError("KUBECONFIG", f"{path} does not exist")
    return value


def _log_level(env: Mapping[str, str]) -> str:
    value = (_get(env, "CHAOSBOT_LOG_LEVEL") or "INFO").upper()
    if value not in _LOG_LEVELS:
        raise SettingsError("CHAOSBOT_LOG_LEVEL", f"must be one of {', '.join(_LOG_LEVELS)}")
    return value


def _log_format(env: Mapping[str, str]) -> str:
    value = (_get(env, "CHAOSBOT_LOG_FORMAT") or "text").lower()
    if value not in ("text", "json"):
        raise SettingsError("CHAOSBOT_LOG_FORMAT", "must be text or json")
    return value


def _grafana_token(env: Mapping[str, str]) -> Secret | None:
    """A service account token, sent as a bearer token; only with CHAOSBOT_GRAFANA_URL."""
    value = _get(env, "CHAOSBOT_GRAFANA_TOKEN")
    if value is None:
        return None
    if _get(env, "CHAOSBOT_GRAFANA_URL") is None:
        raise SettingsError("CHAOSBOT_GRAFANA_TOKEN", "needs CHAOSBOT_GRAFANA_URL")
    # Sent in an Authorization header: printable ASCII without spaces. Say what is wrong
    # without echoing any of it.
    if len(value) < 16 or not all(33 <= ord(c) < 127 for c in value):
        raise SettingsError(
            "CHAOSBOT_GRAFANA_TOKEN", "must be at least 16 printable ASCII characters, no spaces"
        )
    return Secret(value)
