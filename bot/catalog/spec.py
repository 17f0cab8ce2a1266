"""A service's declaration, as written in chaos.yaml or entered in the onboarding modal: the
data types, the platform's policy it is checked against, and chaos.yaml's `spec` shape of it.

`bot.catalog.spec_parse.parse_service_spec` turns a raw mapping into a ServiceSpec (with the
field checks of `bot.catalog.spec_fields`); `to_document` here is its inverse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from bot.catalog.models import Environment
from bot.config import BlastRadiusLimits, Settings
from bot.errors import ChaosbotError
from bot.load.profile import LoadProfile
from bot.probes.target import ProbePolicy

__all__ = [
    "DEFAULT_BLAST_RADIUS_PERCENT",
    "DEFAULT_DURATION_MINUTES",
    "DEFAULT_MEAN_DAYS_BETWEEN",
    "DEFAULT_MIN_SPACING_HOURS",
    "SLACK_USER",
    "WEEKDAYS",
    "Alerting",
    "BlindWindow",
    "CatalogPolicy",
    "FieldError",
    "HttpProbe",
    "PodsProbe",
    "PrometheusProbe",
    "ServiceSpec",
    "SpecInvalid",
    "SteadyProbe",
    "SteadyStateWatch",
    "SuiteEntry",
    "WorkloadRef",
    "catalog_policy",
    "kind_of",
    "parse_freeze_window",
    "probe_from_stored",
    "stored_probes",
    "to_document",
    "window_text",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A declaration without blastRadiusPercent gets this, or its environment's maximum when lower.
DEFAULT_BLAST_RADIUS_PERCENT = 50
DEFAULT_MEAN_DAYS_BETWEEN = 10
DEFAULT_MIN_SPACING_HOURS = 24
DEFAULT_DURATION_MINUTES = 30
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,31}$")
_FREEZE_WINDOW = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s*\.\.\s*(\d{4}-\d{2}-\d{2}))?$")


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
    # Whether the platform has a Prometheus (CHAOSBOT_PROMETHEUS_URL) for `prometheus` probes.
    prometheus: bool = False
    # Whether suite entries may run a load profile (CHAOSBOT_LOAD_PROFILES).
    load_profiles: bool = False


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
class PrometheusProbe:
    """A steady-state probe: an instant query against the platform's Prometheus returns one
    number, at most `max` and at least `min` (one or both are given)."""

    query: str
    max: float | None = None
    min: float | None = None

    def as_document(self) -> dict[str, Any]:
        """The probe as chaos.yaml (and the services table) writes it."""
        document: dict[str, Any] = {"query": self.query}
        if self.max is not None:
            document["max"] = self.max
        if self.min is not None:
            document["min"] = self.min
        return document


@dataclass(frozen=True, kw_only=True)
class PodsProbe:
    """A steady-state probe: at least min_ready_percent of the service's desired replicas are
    ready pods."""

    min_ready_percent: float = 66

    def as_document(self) -> dict[str, Any]:
        """The probe as chaos.yaml (and the services table) writes it."""
        return {"minReadyPercent": self.min_ready_percent}


SteadyProbe = HttpProbe | PrometheusProbe | PodsProbe
# How chaos.yaml's `steadyState.probes` and the services table name each kind.
_KINDS: dict[str, type[HttpProbe] | type[PrometheusProbe] | type[PodsProbe]] = {
    "http": HttpProbe,
    "prometheus": PrometheusProbe,
    "pods": PodsProbe,
}
# The mark of a stored probe declared under `steadyState.probes` rather than `probes`.
_STEADY_STATE = "steadyState"


def kind_of(probe: SteadyProbe) -> str:
    """`http`, `prometheus` or `pods`."""
    return next(kind for kind, cls in _KINDS.items() if isinstance(probe, cls))


@dataclass(frozen=True, kw_only=True)
class SteadyStateWatch:
    """How the probes are watched while the fault is in place: every interval_seconds; after
    fail_after failed checks in a row the run halts (bot.probes.watch). probes are the ones
    declared under `steadyState` (besides the service's `probes`)."""

    interval_seconds: int = 10
    fail_after: int = 2
    probes: tuple[SteadyProbe, ...] = ()

    def as_document(self) -> dict[str, Any]:
        """The watch as chaos.yaml's `steadyState` writes it."""
        document = self.settings_document()
        if self.probes:
            document["probes"] = [{kind_of(p): p.as_document()} for p in self.probes]
        return document

    def settings_document(self) -> dict[str, Any]:
        """The interval and threshold, as the services table's `steady_state` keeps them (the
        probes live in its `probes`, with the others)."""
        return {"intervalSeconds": self.interval_seconds, "failAfter": self.fail_after}

    @classmethod
    def from_document(
        cls, document: Mapping[str, Any] | None, *, probes: Sequence[SteadyProbe] = ()
    ) -> SteadyStateWatch:
        """The stored watch; a service stored before it existed gets the defaults."""
        document = document or {}
        default = cls()
        return cls(
            interval_seconds=int(document.get("intervalSeconds", default.interval_seconds)),
            fail_after=int(document.get("failAfter", default.fail_after)),
            probes=tuple(probes),
        )


def stored_probes(
    probes: Sequence[HttpProbe], steady_state: Sequence[SteadyProbe]
) -> list[dict[str, Any]]:
    """The services table's `probes`: every probe of the service's steady state with its
    `kind`, those declared under `steadyState.probes` marked so the declaration round-trips."""
    return [{"kind": "http", **p.as_document()} for p in probes] + [
        {"kind": kind_of(p), "declared": _STEADY_STATE, **p.as_document()} for p in steady_state
    ]


def probe_from_stored(entry: Mapping[str, Any]) -> tuple[SteadyProbe, bool]:
    """A stored probe (an entry without `kind` is HTTP: rows stored before there were kinds),
    and whether it was declared under `steadyState.probes`."""
    kind = entry.get("kind", "http")
    probe: SteadyProbe
    if kind == "prometheus":
        probe = PrometheusProbe(query=entry["query"], max=entry.get("max"), min=entry.get("min"))
    elif kind == "pods":
        probe = PodsProbe(min_ready_percent=entry["minReadyPercent"])
    else:
        probe = HttpProbe(
            url=entry["url"],
            expected_status=entry.get("expectedStatus", 200),
            latency_budget_ms=entry.get("latencyBudgetMs", 1000),
        )
    return probe, entry.get("declared") == _STEADY_STATE


@dataclass(frozen=True, kw_only=True)
class Alerting:
    """Which of the team's own Alertmanager alerts are the service's: those carrying every
    matcher's label with its value. While one fires no run starts; a blind drill measures
    whether one fired, and with announce_after_minutes chaosbot raises its own alert only if
    none did that long after the fault."""

    matchers: Mapping[str, str] = field(default_factory=dict)
    announce_after_minutes: int | None = None

    def as_document(self) -> dict[str, Any] | None:
        """As chaos.yaml's `alerting` (and the services table) writes it; None names none."""
        if not self.matchers:
            return None
        document: dict[str, Any] = {"matchers": dict(sorted(self.matchers.items()))}
        if self.announce_after_minutes is not None:
            document["announceAfterMinutes"] = self.announce_after_minutes
        return document

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> Alerting:
        """The stored alerting; a service that names no alerts gets no matchers."""
        document = document or {}
        after = document.get("announceAfterMinutes")
        return cls(
            matchers={str(k): str(v) for k, v in (document.get("matchers") or {}).items()},
            announce_after_minutes=None if after is None else int(after),
        )


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
    """An experiment of the library the owners chose for this service, with its parameters and
    the load it runs under (None: none)."""

    experiment: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    load: LoadProfile | None = None

    def as_document(self) -> dict[str, Any]:
        """The entry as chaos.yaml's `suite` lists it."""
        document: dict[str, Any] = {
            "experiment": self.experiment,
            "parameters": dict(self.parameters),
        }
        if self.load is not None:
            document["load"] = self.load.as_document()
        return document


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
    # None: the declaration says nothing about it (the onboarding form), so saving it keeps
    # the stored one (or the defaults for a new service).
    steady_state: SteadyStateWatch | None = None
    # None: the declaration says nothing about it (the onboarding form): saving keeps it.
    alerting: Alerting | None = None
    blast_radius_percent: int = DEFAULT_BLAST_RADIUS_PERCENT
    blind: BlindWindow | None = None
    # None: the declaration says nothing about the suite (the onboarding form), so saving it
    # keeps the stored one; a tuple (even empty) replaces it (chaos.yaml's `suite:`).
    suite: tuple[SuiteEntry, ...] | None = None


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
    if spec.steady_state is not None:
        document["steadyState"] = spec.steady_state.as_document()
    if spec.alerting is not None:
        document["alerting"] = spec.alerting.as_document() or {"matchers": {}}
    document["blastRadiusPercent"] = spec.blast_radius_percent
    if spec.blind is not None:
        blind = {"enabled": True, **spec.blind.as_document()}
        if not blind["freezeWindows"]:
            del blind["freezeWindows"]  # a file says nothing of what it does not use
        document["blindDrills"] = blind
    else:
        document["blindDrills"] = {"enabled": False}
    if spec.suite is not None:
        document["suite"] = [e.as_document() for e in spec.suite]
    return document


def catalog_policy(settings: Settings) -> CatalogPolicy:
    """The platform's rules, from its settings."""
    return CatalogPolicy(
        allowed_namespaces=settings.allowed_namespaces,
        allow_production=settings.allow_production,
        max_blast_radius=settings.max_blast_radius_percent,
        probes=ProbePolicy.from_settings(settings),
        prometheus=settings.prometheus_url is not None,
        load_profiles=settings.load_profiles,
    )
