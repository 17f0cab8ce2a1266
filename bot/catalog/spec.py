"""A service's declaration, as written in chaos.yaml or entered in the onboarding modal.

`parse_service_spec` is the one validator: the modal and chaos.yaml both build the same raw
mapping (chaos.yaml's `spec` shape) and get back a ServiceSpec or every problem at once, each
named by its field path ("probes[0].url") so the modal can put it on the right block and
chaos.yaml on the right line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from bot.catalog.models import Environment
from bot.config import BlastRadiusLimits, Settings
from bot.errors import ChaosbotError
from bot.k8s.selectors import SelectorError, parse_label_selector
from bot.probes.target import ProbePolicy, ProbeRefused, check_probe_url

__all__ = [
    "DEFAULT_BLAST_RADIUS_PERCENT",
    "DEFAULT_DURATION_MINUTES",
    "DEFAULT_MEAN_DAYS_BETWEEN",
    "DEFAULT_MIN_SPACING_HOURS",
    "SLACK_USER",
    "WEEKDAYS",
    "BlindWindow",
    "CatalogPolicy",
    "FieldError",
    "HttpProbe",
    "ServiceSpec",
    "SpecInvalid",
    "SuiteEntry",
    "WorkloadRef",
    "catalog_policy",
    "parse_service_spec",
    "probe_url_problem",
    "to_document",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A declaration without blastRadiusPercent gets this, or its environment's maximum when lower.
DEFAULT_BLAST_RADIUS_PERCENT = 50
DEFAULT_MEAN_DAYS_BETWEEN = 10
DEFAULT_MIN_SPACING_HOURS = 24
DEFAULT_DURATION_MINUTES = 30
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
MAX_SELECTOR = 1024  # the column's size
MAX_TIMEZONE = 64  # the teams column's size; no IANA name is longer
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,31}$")
_SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,31}$")
_EXPERIMENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, named by its path in chaos.yaml's `spec`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecInvalid(ChaosbotError):
    """A service declaration with one or more field errors."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


@dataclass(frozen=True, kw_only=True)
class CatalogPolicy:
    """The platform's rules a declaration is checked against."""

    allowed_namespaces: frozenset[str]
    allow_production: bool = False
    # The largest blast-radius cap a service may declare, per environment.
    max_blast_radius: BlastRadiusLimits = field(default_factory=BlastRadiusLimits)
    # Where probes may not go: chaosbot itself, metadata, outside the allowed networks.
    probes: ProbePolicy = field(default_factory=ProbePolicy)


@dataclass(frozen=True, kw_only=True)
class WorkloadRef:
    kind: str
    name: str


@dataclass(frozen=True, kw_only=True)
class HttpProbe:
    """A steady-state probe: GET url answers expected_status within latency_budget_ms."""

    url: str
    expected_status: int = 200
    latency_budget_ms: int = 1000

    def as_document(self) -> dict[str, Any]:
        """The probe as chaos.yaml (and the services table) writes it."""
        return {
            "url": self.url,
            "expectedStatus": self.expected_status,
            "latencyBudgetMs": self.latency_budget_ms,
        }


@dataclass(frozen=True, kw_only=True)
class BlindWindow:
    """A service's blind-drill opt-in: when drills may happen, how often, and which experiments.

    Drills fall on these weekdays between these hours in this timezone, except on the public
    holidays of `holiday_country`; on average one every `mean_days_between` such days, at least
    `min_spacing_hours` apart. Each holds one of `experiments` for `duration_minutes`.
    """

    weekdays: tuple[str, ...]
    start: time
    end: time
    timezone: str
    experiments: tuple[str, ...]
    mean_days_between: int = DEFAULT_MEAN_DAYS_BETWEEN
    min_spacing_hours: int = DEFAULT_MIN_SPACING_HOURS
    holiday_country: str | None = None
    duration_minutes: int = DEFAULT_DURATION_MINUTES
    # Days (first and last, inclusive, on the window's clock) without drills: release weeks,
    # the end of the year.
    freeze_windows: tuple[tuple[date, date], ...] = ()

    @property
    def hours(self) -> str:
        end = "24:00" if self.end == time.max else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"

    def as_document(self) -> dict[str, Any]:
        """The opt-in as chaos.yaml's `blindDrills` (without `enabled`) and the services table
        write it."""
        return {
            "weekdays": list(self.weekdays),
            "hours": self.hours,
            "timezone": self.timezone,
            "experiments": list(self.experiments),
            "meanDaysBetween": self.mean_days_between,
            "minSpacingHours": self.min_spacing_hours,
            "holidayCountry": self.holiday_country,
            "durationMinutes": self.duration_minutes,
            "freezeWindows": [window_text(first, last) for first, last in self.freeze_windows],
        }


@dataclass(frozen=True, kw_only=True)
class SuiteEntry:
    """An experiment of the library the owners chose for this service, with its parameters."""

    experiment: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """A validated service declaration."""

    name: str
    team: str
    team_channel: str | None
    # None: the declaration says nothing about the team's timezone (a known team keeps its own).
    team_timezone: str | None = None
    tier: int
    environment: Environment
    cluster: str | None
    namespace: str
    workload: WorkloadRef | None
    selector: str | None
    owners: tuple[str, ...]
    # The people besides the owners who may approve the service's game days.
    approvers: tuple[str, ...] = ()
    probes: tuple[HttpProbe, ...]
    blast_radius_percent: int = DEFAULT_BLAST_RADIUS_PERCENT
    blind: BlindWindow | None = None
    # None: the declaration says nothing about the suite (the onboarding form), so saving it
    # keeps the stored one; a tuple (even empty) replaces it (chaos.yaml's `suite:`).
    suite: tuple[SuiteEntry, ...] | None = None


def parse_service_spec(raw: Mapping[str, Any], *, policy: CatalogPolicy) -> ServiceSpec:
    """Validate a raw declaration; raises SpecInvalid listing every problem found."""
    errors: list[FieldError] = []
    checker = _Checker(raw, errors)
    name = checker.dns_label("name")
    team = checker.dns_label("team")
    team_channel = checker.optional_str(
        "teamChannel", _SLACK_CHANNEL, "a Slack channel id like C0123ABCD"
    )
    team_timezone = checker.timezone("teamTimezone", required=False)
    tier = checker.integer("tier", 1, 4)
    environment = _environment(checker, policy)
    cluster = checker.optional_str(
        "cluster", re.compile(r"^\S{1,253}$"), "a kubeconfig context name"
    )
    namespace = checker.dns_label("namespace")
    if (
        namespace
        and policy.allowed_namespaces is not None
        and namespace not in policy.allowed_namespaces
    ):
        allowed = ", ".join(sorted(policy.allowed_namespaces)) or "none"
        errors.append(
            FieldError(
                "namespace",
                f"{namespace} is not a namespace chaosbot may disrupt (allowed: {allowed})",
            )
        )
    workload = _workload(checker)
    selector = _selector(checker)
    if workload is None and selector is None and not _has_error(errors, "workload", "selector"):
        errors.append(
            FieldError("workload", "name a Deployment or StatefulSet, or give a label selector")
        )
    owners = _owners(checker)
    if tier == 1 and owners is not None and len(owners) < 2:
        errors.append(FieldError("owners", "a tier-1 service needs at least two owners"))
    approvers = _approvers(checker, owners or ())
    probes = _probes(checker, policy)
    blast_radius = _blast_radius(checker, policy, environment)
    blind = _blind(checker)
    suite = _suite(checker) if "suite" in raw else None
    if errors:
        raise SpecInvalid(errors)
    assert name and team and tier and environment and namespace
    assert owners is not None
    return ServiceSpec(
        name=name,
        team=team,
        team_channel=team_channel,
        team_timezone=team_timezone,
        tier=tier,
        environment=environment,
        cluster=cluster,
        namespace=namespace,
        workload=workload,
        selector=selector,
        owners=owners,
        approvers=approvers,
        probes=probes,
        blast_radius_percent=blast_radius or DEFAULT_BLAST_RADIUS_PERCENT,
        blind=blind,
        suite=suite,
    )


class _Checker:
    """Reads fields of a raw mapping, recording a FieldError for each bad one."""

    def __init__(self, raw: Mapping[str, Any], errors: list[FieldError], prefix: str = "") -> None:
        self.raw = raw
        self.errors = errors
        self.prefix = prefix

    def path(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, message: str) -> None:
        self.errors.append(FieldError(self.path(key), message))

    def dns_label(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None or value == "":
            self.fail(key, "is required")
            return None
        if not isinstance(value, str) or not _DNS_LABEL.fullmatch(value):
            self.fail(
                key,
                f"{value!r} is not a valid name: use at most 63 lowercase letters, digits and "
                "'-', starting and ending with a letter or digit (RFC 1123)",
            )
            return None
        return value

    def optional_str(self, key: str, pattern: re.Pattern[str], what: str) -> str | None:
        value = self.raw.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not pattern.fullmatch(value):
            self.fail(key, f"{value!r} is not {what}")
            return None
        return value

    def timezone(self, key: str, *, required: bool) -> str | None:
        """An IANA timezone name; left out (or empty) is an error only when `required`."""
        value = self.raw.get(key)
        if not required and (value is None or value == ""):
            return None
        name = "" if value is None else str(value).strip()
        if not _is_timezone(name):
            self.fail(key, f"{name!r} is not an IANA timezone such as Europe/Berlin")
            return None
        return name

    def integer(self, key: str, low: int, high: int, *, default: int | None = None) -> int | None:
        """A whole number in low..high; left out (or null) it is `default`, or an error."""
        value = self.raw.get(key)
        if value is None:
            value = default
        if value is None:
            self.fail(key, "is required")
            return None
        if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"{value!r} is not a whole number")
            return None
        if not low <= value <= high:
            self.fail(key, f"must be between {low} and {high}, got {value}")
            return None
        return value

    def child(self, key: str) -> _Checker | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail(key, "must be a mapping")
            return None
        return _Checker(value, self.errors, f"{self.path(key)}.")

    def items(self, key: str) -> list[tuple[int, Any]]:
        value = self.raw.get(key)
        if value is None:
            return []
        if isinstance(value, str) or not isinstance(value, Sequence):
            self.fail(key, "must be a list")
            return []
        return list(enumerate(value))


def _has_error(errors: list[FieldError], *prefixes: str) -> bool:
    return any(e.path.startswith(prefixes) for e in errors)


def _environment(checker: _Checker, policy: CatalogPolicy) -> Environment | None:
    value = checker.raw.get("environment") or Environment.STAGING.value
    try:
        environment = Environment(value)
    except ValueError:
        checker.fail("environment", f"{value!r} is not staging or production")
        return None
    if environment is Environment.PRODUCTION and not policy.allow_production:
        checker.fail(
            "environment", "production is not enabled on this platform (CHAOSBOT_ALLOW_PRODUCTION)"
        )
        return None
    return environment


def _blast_radius(
    checker: _Checker, policy: CatalogPolicy, environment: Environment | None
) -> int | None:
    """The service's cap: 1 to 100, and not above the platform's maximum for its environment."""
    maximum = policy.max_blast_radius.of(environment or Environment.STAGING)
    default = min(DEFAULT_BLAST_RADIUS_PERCENT, maximum)
    value = checker.integer("blastRadiusPercent", 1, 100, default=default)
    if value is not None and environment is not None and value > maximum:
        checker.fail(
            "blastRadiusPercent",
            f"must be at most {maximum} in {environment.value}, the platform's maximum "
            f"({BlastRadiusLimits.SETTING}), got {value}",
        )
        return None
    return value


def _workload(checker: _Checker) -> WorkloadRef | None:
    sub = checker.child("workload")
    if sub is None:
        return None
    kind = sub.raw.get("kind")
    if kind not in WORKLOAD_KINDS:
        sub.fail("kind", f"{kind!r} is not one of {', '.join(WORKLOAD_KINDS)}")
    name = sub.raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", name):
        sub.fail("name", f"{name!r} is not a valid {kind or 'workload'} name")
        return None
    return WorkloadRef(kind=str(kind), name=name) if kind in WORKLOAD_KINDS else None


def _selector(checker: _Checker) -> str | None:
    value = checker.raw.get("selector")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_SELECTOR:
        checker.fail(
            "selector",
            f"must be a label selector string such as app=checkout (at most {MAX_SELECTOR} characters)",
        )
        return None
    try:
        requirements = parse_label_selector(value)
    except SelectorError as exc:
        checker.fail("selector", f"is not a valid label selector: {exc}")
        return None
    if not requirements:
        checker.fail("selector", "an empty selector would match every pod in the namespace")
        return None
    return value.strip()


def _owners(checker: _Checker) -> tuple[str, ...] | None:
    items = checker.items("owners")
    if not items and "owners" not in {e.path for e in checker.errors}:
        checker.fail("owners", "name at least one owner")
        return None
    owners: list[str] = []
    for index, value in items:
        user = _user_id(checker, f"owners[{index}]", value)
        if user is not None and user not in owners:
            owners.append(user)
    return tuple(owners)


def _approvers(checker: _Checker, owners: tuple[str, ...]) -> tuple[str, ...]:
    approvers: list[str] = []
    for index, value in checker.items("approvers"):
        path = f"approvers[{index}]"
        user = _user_id(checker, path, value)
        if user is None:
            continue
        if user in approvers:
            checker.fail(path, f"{user} is listed twice")
        elif user in owners:
            checker.fail(path, f"{user} is already an owner")
        else:
            approvers.append(user)
    return tuple(approvers)


def _user_id(checker: _Checker, path: str, value: object) -> str | None:
    if isinstance(value, str) and SLACK_USER.fullmatch(value):
        return value
    checker.fail(path, f"{value!r} is not a Slack user id like U0123ABCD")
    return None


def _probes(checker: _Checker, policy: CatalogPolicy) -> tuple[HttpProbe, ...]:
    probes: list[HttpProbe] = []
    for index, value in checker.items("probes"):
        if not isinstance(value, Mapping):
            checker.fail(f"probes[{index}]", "must be a mapping with a url")
            continue
        sub = _Checker(value, checker.errors, f"probes[{index}].")
        url = value.get("url")
        problem = probe_url_problem(url, policy)
        if problem:
            sub.fail("url", problem)
        status = sub.integer("expectedStatus", 100, 599, default=200)
        budget = sub.integer("latencyBudgetMs", 1, 60_000, default=1000)
        if not problem and status and budget:
            probes.append(HttpProbe(url=str(url), expected_status=status, latency_budget_ms=budget))
    return tuple(probes)


def probe_url_problem(url: object, policy: CatalogPolicy) -> str | None:
    """Why a probe URL is refused, or None when it is acceptable (its host name, if any, is
    resolved and checked again at every probe)."""
    try:
        check_probe_url(url, policy.probes, resolve=False)
    except ProbeRefused as refused:
        return refused.reason
    return None


def _blind(checker: _Checker) -> BlindWindow | None:
    sub = checker.child("blindDrills")
    if sub is None or not sub.raw.get("enabled", False):
        return None
    days: list[str] = []
    for index, day in sub.items("weekdays"):
        if not isinstance(day, str) or day.lower()[:3] not in WEEKDAYS:
            sub.fail(f"weekdays[{index}]", f"{day!r} is not a weekday (mon..sun)")
        elif day.lower()[:3] not in days:
            days.append(day.lower()[:3])
    if not days and not _has_error(checker.errors, sub.path("weekdays")):
        sub.fail("weekdays", "name at least one weekday")
    hours = str(sub.raw.get("hours", "")).strip()
    match = _HOURS.fullmatch(hours)
    start = end = None
    if match is None:
        sub.fail("hours", f"{hours!r} is not a window like 10:00-16:00")
    else:
        start = time(int(match[1]), int(match[2]))
        end = time.max if match[3] == "24" else time(int(match[3]), int(match[4]))
        if end <= start:
            sub.fail("hours", "the window must end after it starts")
    timezone = sub.timezone("timezone", required=True)
    experiments = _blind_experiments(sub)
    mean_days = sub.integer("meanDaysBetween", 1, 365, default=DEFAULT_MEAN_DAYS_BETWEEN)
    spacing = sub.integer("minSpacingHours", 0, 2160, default=DEFAULT_MIN_SPACING_HOURS)
    country = _holiday_country(sub)
    duration = sub.integer("durationMinutes", 5, 240, default=DEFAULT_DURATION_MINUTES)
    freeze_windows = _freeze_windows(sub)
    if _has_error(checker.errors, sub.prefix):
        return None
    assert start is not None and end is not None and timezone is not None
    assert mean_days is not None and spacing is not None and duration is not None
    order = {d: i for i, d in enumerate(WEEKDAYS)}
    return BlindWindow(
        weekdays=tuple(sorted(days, key=order.__getitem__)),
        start=start,
        end=end,
        timezone=timezone,
        experiments=experiments,
        mean_days_between=mean_days,
        min_spacing_hours=spacing,
        holiday_country=country,
        duration_minutes=duration,
        freeze_windows=freeze_windows,
    )


MAX_FREEZE_WINDOWS = 50
_FREEZE_WINDOW = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s*\.\.\s*(\d{4}-\d{2}-\d{2}))?$")


def window_text(first: date, last: date) -> str:
    """`2026-12-21..2027-01-03`, or one date when the window is one day."""
    return first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"


def parse_freeze_window(text: str) -> tuple[date, date]:
    """`2026-12-21..2027-01-03` (both days included) or `2026-12-24`; ValueError says why not."""
    match = _FREEZE_WINDOW.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not a day like 2026-12-24 or days like 2026-12-21..2027-01-03"
        )
    first = date.fromisoformat(match[1])
    last = date.fromisoformat(match[2]) if match[2] else first
    if last < first:
        raise ValueError(f"{text!r} ends before it starts")
    if (last - first).days > 366:
        raise ValueError(f"{text!r} is longer than a year")
    return first, last


def _freeze_windows(sub: _Checker) -> tuple[tuple[date, date], ...]:
    windows: list[tuple[date, date]] = []
    items = sub.items("freezeWindows")
    if len(items) > MAX_FREEZE_WINDOWS:
        sub.fail("freezeWindows", f"at most {MAX_FREEZE_WINDOWS} freeze windows")
        return ()
    for index, value in items:
        try:
            windows.append(parse_freeze_window(str(value)))
        except ValueError as exc:
            sub.fail(f"freezeWindows[{index}]", str(exc))
    return tuple(sorted(windows))


def _blind_experiments(sub: _Checker) -> tuple[str, ...]:
    """The ids of the experiments that may run blind (whether the library has them is
    `check_experiments`'s to say)."""
    experiments: list[str] = []
    for index, value in sub.items("experiments"):
        path = f"experiments[{index}]"
        if not isinstance(value, str) or not _EXPERIMENT_ID.fullmatch(value):
            sub.fail(path, f"{value!r} is not an experiment id")
        elif value in experiments:
            sub.fail(path, f"{value} is listed twice")
        else:
            experiments.append(value)
    if not experiments and not _has_error(sub.errors, sub.path("experiments")):
        sub.fail("experiments", "name at least one experiment of the library that may run blind")
    return tuple(experiments)


def _holiday_country(sub: _Checker) -> str | None:
    value = sub.raw.get("holidayCountry")
    if value is None or value == "":
        return None
    code = value.strip().upper() if isinstance(value, str) else ""
    if code not in _holiday_countries():
        sub.fail(
            "holidayCountry",
            f"{value!r} is not a country whose public holidays chaosbot knows: give its "
            "two-letter ISO 3166-1 code, such as DE or US",
        )
        return None
    return code


@cache
def _holiday_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes of the countries the holidays package has calendars of."""
    return frozenset(holidays.list_supported_countries(include_aliases=False))


def _is_timezone(name: str) -> bool:
    if not name or len(name) > MAX_TIMEZONE:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # No such zone, not a plain relative name ("../x"), a folder ("Europe") or not a zone file.
        return False
    return True


def _suite(checker: _Checker) -> tuple[SuiteEntry, ...]:
    entries: list[SuiteEntry] = []
    seen: set[str] = set()
    for index, value in checker.items("suite"):
        experiment = value.get("experiment") if isinstance(value, Mapping) else None
        if not isinstance(experiment, str) or not _EXPERIMENT_ID.fullmatch(experiment):
            checker.fail(f"suite[{index}].experiment", f"{experiment!r} is not an experiment id")
            continue
        if experiment in seen:
            checker.fail(f"suite[{index}].experiment", f"{experiment} is listed twice")
            continue
        parameters = value.get("parameters") or {}
        if not isinstance(parameters, Mapping):
            checker.fail(f"suite[{index}].parameters", "must be a mapping")
            continue
        seen.add(experiment)
        entries.append(SuiteEntry(experiment=experiment, parameters=dict(parameters)))
    return tuple(entries)


def to_document(spec: ServiceSpec) -> dict[str, Any]:
    """The declaration in chaos.yaml's `spec` shape (the inverse of parse_service_spec)."""
    document: dict[str, Any] = {"name": spec.name, "team": spec.team}
    if spec.team_channel:
        document["teamChannel"] = spec.team_channel
    if spec.team_timezone:
        document["teamTimezone"] = spec.team_timezone
    document["tier"] = spec.tier
    document["environment"] = spec.environment.value
    if spec.cluster:
        document["cluster"] = spec.cluster
    document["namespace"] = spec.namespace
    if spec.workload is not None:
        document["workload"] = {"kind": spec.workload.kind, "name": spec.workload.name}
    else:
        document["selector"] = spec.selector
    document["owners"] = list(spec.owners)
    document["approvers"] = list(spec.approvers)
    document["probes"] = [p.as_document() for p in spec.probes]
    document["blastRadiusPercent"] = spec.blast_radius_percent
    if spec.blind is not None:
        blind = {"enabled": True, **spec.blind.as_document()}
        if not blind["freezeWindows"]:
            del blind["freezeWindows"]  # a file says nothing of what it does not use
        document["blindDrills"] = blind
    else:
        document["blindDrills"] = {"enabled": False}
    if spec.suite is not None:
        document["suite"] = [
            {"experiment": e.experiment, "parameters": dict(e.parameters)} for e in spec.suite
        ]
    return document


def catalog_policy(settings: Settings) -> CatalogPolicy:
    """The platform's rules, from its settings."""
    return CatalogPolicy(
        allowed_namespaces=settings.allowed_namespaces,
        allow_production=settings.allow_production,
        max_blast_radius=settings.max_blast_radius_percent,
        probes=ProbePolicy.from_settings(settings),
    )
