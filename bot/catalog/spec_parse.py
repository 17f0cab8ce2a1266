"""Parsing a service's declaration: chaos.yaml's `spec` mapping, or the onboarding modal's values
built into the same mapping, into a ServiceSpec.

`parse_service_spec` is the one validator: the modal and chaos.yaml both get back a ServiceSpec
or every problem at once, each named by its field path ("probes[0].url") so the modal can put it
on the right block and chaos.yaml on the right line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, time
from typing import Any, Literal

from bot.catalog.models import Environment
from bot.catalog.spec import (
    DEFAULT_BLAST_RADIUS_PERCENT,
    DEFAULT_DURATION_MINUTES,
    DEFAULT_MEAN_DAYS_BETWEEN,
    DEFAULT_MIN_SPACING_HOURS,
    WEEKDAYS,
    Alerting,
    BlindWindow,
    CatalogPolicy,
    FieldError,
    HttpProbe,
    PodsProbe,
    PrometheusProbe,
    ServiceSpec,
    SpecInvalid,
    SteadyProbe,
    SteadyStateWatch,
    SuiteEntry,
    WorkloadRef,
    parse_freeze_window,
)
from bot.catalog.spec_fields import MAX_SELECTOR, FieldChecker, has_error
from bot.catalog.spec_load import parse_load
from bot.config import BlastRadiusLimits
from bot.probes.target import ProbeRefused, check_probe_url
from bot.selectors import SelectorError, parse_label_selector

__all__ = ["parse_service_spec"]

WORKLOAD_KINDS = ("Deployment", "StatefulSet")
MAX_FREEZE_WINDOWS = 50
MAX_QUERY = 2000
STEADY_PROBE_KINDS = ("http", "prometheus", "pods")
_SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,31}$")
_EXPERIMENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# The library's parameter names are identifiers (count, delay_ms); anything else is a mistake,
# and a name with control characters would not even survive a YAML round trip.
_PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def parse_service_spec(raw: Mapping[str, Any], *, policy: CatalogPolicy) -> ServiceSpec:
    """Validate a raw declaration; raises SpecInvalid listing every problem found."""
    errors: list[FieldError] = []
    checker = FieldChecker(raw, errors)
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
    if workload is None and selector is None and not has_error(errors, "workload", "selector"):
        errors.append(
            FieldError("workload", "name a Deployment or StatefulSet, or give a label selector")
        )
    owners = _owners(checker)
    if tier == 1 and owners is not None and len(owners) < 2:
        errors.append(FieldError("owners", "a tier-1 service needs at least two owners"))
    approvers = _approvers(checker, owners or ())
    probes = _probes(checker, policy)
    steady_state = _steady_state(checker, policy) if "steadyState" in raw else None
    alerting = _alerting(checker) if "alerting" in raw else None
    blast_radius = _blast_radius(checker, policy, environment)
    blind = _blind(checker)
    suite = _suite(checker, policy) if "suite" in raw else None
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
        steady_state=steady_state,
        alerting=alerting,
        blast_radius_percent=blast_radius or DEFAULT_BLAST_RADIUS_PERCENT,
        blind=blind,
        suite=suite,
    )


def _environment(checker: FieldChecker, policy: CatalogPolicy) -> Environment | None:
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
    checker: FieldChecker, policy: CatalogPolicy, environment: Environment | None
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


def _workload(checker: FieldChecker) -> WorkloadRef | None:
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


def _selector(checker: FieldChecker) -> str | None:
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


def _owners(checker: FieldChecker) -> tuple[str, ...] | None:
    items = checker.items("owners")
    if not items and "owners" not in {e.path for e in checker.errors}:
        checker.fail("owners", "name at least one owner")
        return None
    owners: list[str] = []
    for index, value in items:
        user = checker.user_id(f"owners[{index}]", value)
        if user is not None and user not in owners:
            owners.append(user)
    return tuple(owners)


def _approvers(checker: FieldChecker, owners: tuple[str, ...]) -> tuple[str, ...]:
    approvers: list[str] = []
    for index, value in checker.items("approvers"):
        path = f"approvers[{index}]"
        user = checker.user_id(path, value)
        if user is None:
            continue
        if user in approvers:
            checker.fail(path, f"{user} is listed twice")
        elif user in owners:
            checker.fail(path, f"{user} is already an owner")
        else:
            approvers.append(user)
    return tuple(approvers)


def _probes(checker: FieldChecker, policy: CatalogPolicy) -> tuple[HttpProbe, ...]:
    probes: list[HttpProbe] = []
    for index, value in checker.items("probes"):
        if not isinstance(value, Mapping):
            checker.fail(f"probes[{index}]", "must be a mapping with a url")
            continue
        probe = _http_probe(FieldChecker(value, checker.errors, f"probes[{index}]."), policy)
        if probe is not None:
            probes.append(probe)
    return tuple(probes)


def _http_probe(sub: FieldChecker, policy: CatalogPolicy) -> HttpProbe | None:
    url = sub.raw.get("url")
    problem = _probe_url_problem(url, policy)
    if problem:
        sub.fail("url", problem)
    status = sub.integer("expectedStatus", 100, 599, default=200)
    budget = sub.integer("latencyBudgetMs", 1, 60_000, default=1000)
    if problem or not status or not budget:
        return None
    return HttpProbe(url=str(url), expected_status=status, latency_budget_ms=budget)


def _steady_state(checker: FieldChecker, policy: CatalogPolicy) -> SteadyStateWatch | None:
    default = SteadyStateWatch()
    sub = checker.child("steadyState")
    if sub is None:
        return default if checker.raw.get("steadyState") is None else None
    interval = sub.integer("intervalSeconds", 1, 300, default=default.interval_seconds)
    fail_after = sub.integer("failAfter", 1, 20, default=default.fail_after)
    probes = _steady_probes(sub, policy)
    if interval is None or fail_after is None or probes is None:
        return None
    return SteadyStateWatch(interval_seconds=interval, fail_after=fail_after, probes=probes)


def _steady_probes(sub: FieldChecker, policy: CatalogPolicy) -> tuple[SteadyProbe, ...] | None:
    """`steadyState.probes`: each item one `http`, `prometheus` or `pods` mapping."""
    probes: list[SteadyProbe] = []
    failed = False
    for index, value in sub.items("probes"):
        path = f"probes[{index}]"
        kinds = [k for k in STEADY_PROBE_KINDS if isinstance(value, Mapping) and k in value]
        if not isinstance(value, Mapping) or len(kinds) != 1 or len(value) != 1:
            sub.fail(
                path, f"must be one of {', '.join(STEADY_PROBE_KINDS)}, such as http: {{url: ...}}"
            )
            failed = True
            continue
        kind = kinds[0]
        body = value[kind] if value[kind] is not None else {}
        if not isinstance(body, Mapping):
            sub.fail(f"{path}.{kind}", "must be a mapping")
            failed = True
            continue
        probe_checker = FieldChecker(body, sub.errors, f"{sub.path(path)}.{kind}.")
        probe: SteadyProbe | None
        if kind == "http":
            probe = _http_probe(probe_checker, policy)
        elif kind == "prometheus":
            probe = _prometheus_probe(probe_checker, policy)
        else:
            probe = _pods_probe(probe_checker)
        if probe is None:
            failed = True
        else:
            probes.append(probe)
    return None if failed else tuple(probes)


def _prometheus_probe(sub: FieldChecker, policy: CatalogPolicy) -> PrometheusProbe | None:
    query = sub.raw.get("query")
    query_ok = False
    if not isinstance(query, str) or not query.strip():
        sub.fail("query", "is required: a PromQL query that returns one number")
    elif len(query) > MAX_QUERY:
        sub.fail("query", f"must be at most {MAX_QUERY} characters long")
    elif not policy.prometheus:
        sub.fail(
            "query",
            "this platform has no Prometheus to ask (CHAOSBOT_PROMETHEUS_URL is not set)",
        )
    else:
        query_ok = True
    high, low = _number(sub, "max"), _number(sub, "min")
    if high is False or low is False:
        return None
    if high is None and low is None:
        sub.fail("max", "give max, min or both: the values a healthy service's query returns")
        return None
    if high is not None and low is not None and low > high:
        sub.fail("min", f"must not be above max ({low:g} > {high:g})")
        return None
    if not query_ok:
        return None
    assert isinstance(query, str)
    return PrometheusProbe(query=query.strip(), max=high, min=low)


def _number(sub: FieldChecker, key: str) -> float | Literal[False] | None:
    """A finite number, None when left out, or False (recorded as an error) when not one."""
    value = sub.raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        sub.fail(key, f"{value!r} is not a number")
        return False
    return value


def _pods_probe(sub: FieldChecker) -> PodsProbe | None:
    value = sub.raw.get("minReadyPercent", PodsProbe().min_ready_percent)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 1 <= value <= 100
    ):
        sub.fail("minReadyPercent", f"must be a number between 1 and 100, got {value!r}")
        return None
    return PodsProbe(min_ready_percent=value)


_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,99}")
MAX_MATCHERS = 10


def _alerting(checker: FieldChecker) -> Alerting | None:
    """`alerting: {matchers: {label: value}, announceAfterMinutes}`; empty matchers name none."""
    sub = checker.child("alerting")
    if sub is None:
        return Alerting() if checker.raw.get("alerting") is None else None
    raw = sub.raw.get("matchers")
    if not isinstance(raw, Mapping):
        sub.fail("matchers", "must be a mapping of label to value, like {service: checkout}")
        return None
    if len(raw) > MAX_MATCHERS:
        sub.fail("matchers", f"at most {MAX_MATCHERS} labels")
        return None
    matchers: dict[str, str] = {}
    for label, value in raw.items():
        if not isinstance(label, str) or not _LABEL_NAME.fullmatch(label):
            sub.fail("matchers", f"{label!r} is not a Prometheus label name")
        elif not isinstance(value, str) or not 1 <= len(value) <= 200:
            sub.fail(f"matchers.{label}", "must be a label value of 1 to 200 characters")
        else:
            matchers[label] = value
    after = None
    if sub.raw.get("announceAfterMinutes") is not None:
        after = sub.integer("announceAfterMinutes", 1, 120)
        if after is not None and not raw:
            sub.fail("announceAfterMinutes", "needs matchers: which alerts are the service's")
    return Alerting(matchers=matchers, announce_after_minutes=after)


def _probe_url_problem(url: object, policy: CatalogPolicy) -> str | None:
    """Why a probe URL is refused, or None when it is acceptable (its host name, if any, is
    resolved and checked again at every probe)."""
    try:
        check_probe_url(url, policy.probes, resolve=False)
    except ProbeRefused as refused:
        return refused.reason
    return None


def _blind(checker: FieldChecker) -> BlindWindow | None:
    sub = checker.child("blindDrills")
    if sub is None or not sub.raw.get("enabled", False):
        return None
    days: list[str] = []
    for index, day in sub.items("weekdays"):
        if not isinstance(day, str) or day.lower()[:3] not in WEEKDAYS:
            sub.fail(f"weekdays[{index}]", f"{day!r} is not a weekday (mon..sun)")
        elif day.lower()[:3] not in days:
            days.append(day.lower()[:3])
    if not days and not has_error(checker.errors, sub.path("weekdays")):
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
    country = sub.holiday_country("holidayCountry")
    duration = sub.integer("durationMinutes", 5, 240, default=DEFAULT_DURATION_MINUTES)
    freeze_windows = _freeze_windows(sub)
    if has_error(checker.errors, sub.prefix):
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


def _freeze_windows(sub: FieldChecker) -> tuple[tuple[date, date], ...]:
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


def _blind_experiments(sub: FieldChecker) -> tuple[str, ...]:
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
    if not experiments and not has_error(sub.errors, sub.path("experiments")):
        sub.fail("experiments", "name at least one experiment of the library that may run blind")
    return tuple(experiments)


def _suite(checker: FieldChecker, policy: CatalogPolicy) -> tuple[SuiteEntry, ...]:
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
        odd = [name for name in parameters if not _PARAMETER_NAME.fullmatch(str(name))]
        if odd:
            checker.fail(
                f"suite[{index}].parameters",
                f"{str(odd[0])!r} is not a parameter name (letters, digits and _)",
            )
            continue
        seen.add(experiment)
        entry = FieldChecker(value, checker.errors, f"suite[{index}].")
        load = parse_load(entry, "load", policy)
        entries.append(SuiteEntry(experiment=experiment, parameters=dict(parameters), load=load))
    return tuple(entries)
