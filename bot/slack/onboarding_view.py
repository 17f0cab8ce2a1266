"""The onboarding (and edit) modal: building it, reading its state, placing field errors.

Pure functions: the view is a dict, the state is Slack's `view.state.values`, the output is the
raw declaration that `parse_service_spec` validates (the same shape as chaos.yaml's `spec`).
The steady-state and alerting fields live in bot/slack/onboarding_steady.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.catalog.spec import (
    DEFAULT_BLAST_RADIUS_PERCENT,
    DEFAULT_DURATION_MINUTES,
    DEFAULT_MEAN_DAYS_BETWEEN,
    DEFAULT_MIN_SPACING_HOURS,
    WEEKDAYS,
    BlindWindow,
    CatalogPolicy,
    FieldError,
    ServiceSpec,
    SpecInvalid,
    window_text,
)
from bot.catalog.spec_parse import parse_service_spec
from bot.config import BlastRadiusLimits
from bot.slack import views
from bot.slack.blockkit import MAX_OPTIONS, section
from bot.slack.blockkit import input_block as _input
from bot.slack.blockkit import option as _option
from bot.slack.blockkit import plain_text as _text
from bot.slack.ids import CallbackId, OnboardBlock
from bot.slack.mrkdwn import escape
from bot.slack.onboarding_state import FormState
from bot.slack.onboarding_steady import (
    FIELD_BLOCKS,
    alerting_blocks,
    read_alerting,
    read_steady_state,
    steady_state_blocks,
)
from bot.slack.views import ServiceModal, problem_sentence

__all__ = ["block_errors", "onboarding_modal", "parse_form", "read_declaration"]

B = OnboardBlock
NEW_TEAM = "__new__"
_TIERS = {
    1: "Tier 1: critical",
    2: "Tier 2: important",
    3: "Tier 3: standard",
    4: "Tier 4: best effort",
}
_DAY_NAMES = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))

# Where each declaration field's error is shown. Longest prefix wins ("probes[0].url").
_FIELD_BLOCKS: list[tuple[str, OnboardBlock]] = [
    ("name", B.NAME),
    ("teamChannel", B.TEAM_CHANNEL),
    ("teamTimezone", B.TEAM_TIMEZONE),
    ("team", B.TEAM),
    ("tier", B.TIER),
    ("environment", B.ENVIRONMENT),
    ("cluster", B.CLUSTER),
    ("namespace", B.NAMESPACE),
    ("workload", B.WORKLOAD),
    ("selector", B.SELECTOR),
    ("blastRadiusPercent", B.BLAST_RADIUS),
    ("owners", B.OWNERS),
    ("approvers", B.APPROVERS),
    ("probes[0].url", B.PROBE_URL),
    ("probes[0].expectedStatus", B.PROBE_STATUS),
    ("probes[0].latencyBudgetMs", B.PROBE_LATENCY),
    ("probes", B.PROBE_URL),
    ("blindDrills.weekdays", B.BLIND_DAYS),
    ("blindDrills.hours", B.BLIND_HOURS),
    ("blindDrills.timezone", B.BLIND_TIMEZONE),
    ("blindDrills.experiments", B.BLIND_EXPERIMENTS),
    ("blindDrills.meanDaysBetween", B.BLIND_MEAN_DAYS),
    ("blindDrills.minSpacingHours", B.BLIND_MIN_SPACING),
    ("blindDrills.holidayCountry", B.BLIND_HOLIDAY_COUNTRY),
    ("blindDrills.durationMinutes", B.BLIND_DURATION),
    ("blindDrills.freezeWindows", B.BLIND_FREEZE_WINDOWS),
    ("blindDrills", B.BLIND_ENABLED),
    *FIELD_BLOCKS,
]
# A steady-state probe's index: the form finds its probes by kind.
_STEADY_INDEX = re.compile(r"^steadyState\.probes\[\d+\]")


def _plain(initial: str | None = None, placeholder: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input"}
    if initial:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = _text(placeholder)
    return element


def _whole_number(
    initial: int, *, minimum: int | None = None, maximum: int | None = None
) -> dict[str, Any]:
    """A number input that takes whole numbers only, starting at `initial`."""
    element: dict[str, Any] = {"type": "number_input", "is_decimal_allowed": False}
    if minimum is not None:
        element["min_value"] = str(minimum)
    if maximum is not None:
        element["max_value"] = str(maximum)
    element["initial_value"] = str(initial)
    return element


def onboarding_modal(
    *,
    teams: Sequence[str],
    allowed_namespaces: Sequence[str],
    allow_production: bool,
    max_blast_radius: BlastRadiusLimits,
    timezone: str,
    requester: str,
    library: Sequence[tuple[str, str]],
    every_pod: Sequence[str] = (),
    editing: ServiceSpec | None = None,
) -> dict[str, Any]:
    """The modal: empty for onboarding, filled in with `editing`'s values for an edit.

    `timezone` (the requester's) is where the timezones start unless `editing` has its own.
    `library` lists the experiments that may be picked to run blind, as (id, title);
    `every_pod` the ids of those that disrupt every pod (which need a cap of 100).
    """
    spec = editing
    blocks: list[dict[str, Any]] = []
    if spec is None:
        blocks.append(_input(B.NAME, "Service name", _plain(placeholder="checkout")))
    else:
        blocks.append(section(f"*Service:* `{escape(spec.name)}`"))
    team_options = [*(_option(t, t) for t in teams[:99]), _option(NEW_TEAM, "A new team…")]
    team_select: dict[str, Any] = {"type": "static_select", "options": team_options}
    if spec is not None and spec.team in teams:
        team_select["initial_option"] = _option(spec.team, spec.team)
    blocks += [
        _input(B.TEAM, "Team", team_select),
        _input(B.NEW_TEAM, "New team's name", _plain(), optional=True, hint="Only for a new team."),
        _input(
            B.TEAM_CHANNEL,
            "New team's channel",
            {"type": "conversations_select", "filter": {"include": ["public", "private"]}},
            optional=True,
            hint="Where chaosbot posts the team's runs, drills and digests.",
        ),
        _input(
            B.TEAM_TIMEZONE,
            "Team timezone",
            _plain(spec.team_timezone if spec and spec.team_timezone else timezone),
            optional=True,
            hint=(
                "The team's game days are planned in it. A change applies to all its services."
                if spec
                else "Only for a new team: its game days are planned in it. A known team keeps "
                "its own."
            ),
        ),
    ]
    tier_select: dict[str, Any] = {
        "type": "static_select",
        "options": [_option(str(t), label) for t, label in _TIERS.items()],
    }
    if spec is not None:
        tier_select["initial_option"] = _option(str(spec.tier), _TIERS[spec.tier])
    blocks.append(_input(B.TIER, "Tier", tier_select))
    environments = [_option("staging", "Staging")]
    if allow_production:
        environments.append(_option("production", "Production"))
    current = spec.environment.value if spec else "staging"
    blocks.append(
        _input(
            B.ENVIRONMENT,
            "Environment",
            {
                "type": "radio_buttons",
                "options": environments,
                "initial_option": next(
                    (o for o in environments if o["value"] == current), environments[0]
                ),
            },
        )
    )
    blocks += [
        _input(
            B.CLUSTER,
            "Cluster context",
            _plain(spec.cluster if spec else None, "the platform's default"),
            optional=True,
        ),
        _input(
            B.NAMESPACE,
            "Namespace",
            _plain(spec.namespace if spec else None),
            hint=f"Namespaces chaosbot may disrupt: {', '.join(allowed_namespaces) or 'none yet'}.",
        ),
        _input(
            B.WORKLOAD,
            "Workload",
            _workload_select(spec),
            optional=True,
            hint="A Deployment or StatefulSet found in the namespace; or give a selector below.",
        ),
        _input(
            B.SELECTOR,
            "Label selector",
            _plain(spec.selector if spec else None, "app=checkout"),
            optional=True,
        ),
        _blast_radius_block(spec, max_blast_radius, allow_production, every_pod),
        _input(
            B.OWNERS,
            "Owners",
            {
                "type": "multi_users_select",
                "initial_users": list(spec.owners) if spec else [requester],
            },
            hint="Tier-1 services need at least two.",
        ),
        _input(
            B.APPROVERS,
            "Approvers",
            _approvers_select(spec),
            optional=True,
            hint="Besides the owners, the people who may approve its game days.",
        ),
    ]
    probe = spec.probes[0] if spec and spec.probes else None
    more = len(spec.probes) - 1 if spec else 0
    blocks += [
        _input(
            B.PROBE_URL,
            "Steady-state probe URL",
            _plain(probe.url if probe else None, "http://checkout.payments.svc/healthz"),
            optional=True,
            hint=(
                f"This service has {more + 1} HTTP probes from chaos.yaml: the form shows the "
                "first; saving keeps the others as they are."
                if more > 0
                else None
            ),
        ),
        _input(
            B.PROBE_STATUS,
            "Expected status",
            _whole_number(probe.expected_status if probe else 200),
            optional=True,
        ),
        _input(
            B.PROBE_LATENCY,
            "Latency budget (ms)",
            _whole_number(probe.latency_budget_ms if probe else 1000),
            optional=True,
        ),
    ]
    blocks += steady_state_blocks(spec)
    blocks += alerting_blocks(spec)
    blocks += _blind_blocks(spec.blind if spec else None, timezone, library)
    callback = CallbackId.EDIT_SERVICE if spec else CallbackId.ONBOARD
    return {
        "type": "modal",
        "callback_id": callback.value,
        "title": _text("Edit service" if spec else "Onboard a service"),
        "submit": _text("Save" if spec else "Onboard"),
        "close": _text("Cancel"),
        "private_metadata": ServiceModal(spec.name if spec else None).dump(),
        "blocks": blocks,
    }


def _blast_radius_block(
    spec: ServiceSpec | None,
    limits: BlastRadiusLimits,
    allow_production: bool,
    every_pod: Sequence[str],
) -> dict[str, Any]:
    """The cap, starting at chaos.yaml's default (lowered to the smallest maximum of the
    environments offered, so an untouched field is never an error)."""
    maxima = [limits.staging, limits.production] if allow_production else [limits.staging]
    initial = spec.blast_radius_percent if spec else min(DEFAULT_BLAST_RADIUS_PERCENT, *maxima)
    allowed = limits.describe() if allow_production else f"{limits.staging}% in staging"
    hint = (
        "The largest share of its pods one experiment may disrupt. This platform allows at "
        f"most {allowed}."
    )
    if every_pod:
        hint += f" Experiments that disrupt every pod ({', '.join(every_pod)}) need 100."
    return _input(
        B.BLAST_RADIUS,
        "Blast radius cap (% of pods)",
        _whole_number(initial, minimum=1, maximum=100),
        hint=hint,
    )


def _workload_select(spec: ServiceSpec | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "external_select",
        "min_query_length": 0,
        "placeholder": _text("Pick from the namespace"),
    }
    if spec is not None and spec.workload is not None:
        value = f"{spec.workload.kind}/{spec.workload.name}"
        element["initial_option"] = _option(value, value)
    return element


def _approvers_select(spec: ServiceSpec | None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "multi_users_select"}
    if spec is not None and spec.approvers:
        element["initial_users"] = list(spec.approvers)
    return element


# The blind-drill inputs (all optional: they count only when blind drills are allowed).
_BLIND_FIELDS: dict[OnboardBlock, tuple[str, str | None]] = {
    B.BLIND_ENABLED: ("Blind drills", None),
    B.BLIND_DAYS: ("Drill days", None),
    B.BLIND_HOURS: ("Drill hours", None),
    B.BLIND_TIMEZONE: ("Timezone", None),
    B.BLIND_EXPERIMENTS: (
        "Experiments that may run blind",
        "A drill runs one of them. At least one when blind drills are allowed.",
    ),
    B.BLIND_MEAN_DAYS: (
        "Mean workdays between drills",
        "1 to 365: on average one drill every this many drill days.",
    ),
    B.BLIND_MIN_SPACING: ("Minimum hours between drills", "0 to 2160."),
    B.BLIND_HOLIDAY_COUNTRY: (
        "Skip the public holidays of",
        "A two-letter country code such as DE or US. Empty: no holidays are skipped.",
    ),
    B.BLIND_DURATION: (
        "Drill duration (minutes)",
        "5 to 240: the fault is rolled back then, even if nobody responds.",
    ),
    B.BLIND_FREEZE_WINDOWS: (
        "Freeze windows (no drills)",
        "One per line: a day (2026-12-24) or days (2026-12-21..2027-01-03), both included.",
    ),
}


def _blind_input(block: OnboardBlock, element: dict[str, Any]) -> dict[str, Any]:
    label, hint = _BLIND_FIELDS[block]
    return _input(block, label, element, optional=True, hint=hint)


def _blind_blocks(
    blind: BlindWindow | None, timezone: str, library: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    enabled_option = _option("enabled", "Allow blind drills for this service")
    checkbox: dict[str, Any] = {"type": "checkboxes", "options": [enabled_option]}
    if blind is not None:
        checkbox["initial_options"] = [enabled_option]
    days = blind.weekdays if blind else WEEKDAYS[:5]
    day_select = {
        "type": "multi_static_select",
        "options": [_option(d, n) for d, n in _DAY_NAMES.items()],
        "initial_options": [_option(d, _DAY_NAMES[d]) for d in days],
    }
    freeze_windows = (
        "\n".join(window_text(a, b) for a, b in blind.freeze_windows) if blind else None
    )
    return [
        _blind_input(B.BLIND_ENABLED, checkbox),
        _blind_input(B.BLIND_DAYS, day_select),
        _blind_input(B.BLIND_HOURS, _plain(blind.hours if blind else "10:00-16:00")),
        _blind_input(B.BLIND_TIMEZONE, _plain(blind.timezone if blind else timezone)),
        _blind_input(B.BLIND_EXPERIMENTS, _experiments_select(blind, library)),
        _blind_input(
            B.BLIND_MEAN_DAYS,
            _plain(str(blind.mean_days_between if blind else DEFAULT_MEAN_DAYS_BETWEEN)),
        ),
        _blind_input(
            B.BLIND_MIN_SPACING,
            _plain(str(blind.min_spacing_hours if blind else DEFAULT_MIN_SPACING_HOURS)),
        ),
        _blind_input(
            B.BLIND_HOLIDAY_COUNTRY, _plain(blind.holiday_country if blind else None, "none")
        ),
        _blind_input(
            B.BLIND_DURATION,
            _plain(str(blind.duration_minutes if blind else DEFAULT_DURATION_MINUTES)),
        ),
        _blind_input(
            B.BLIND_FREEZE_WINDOWS,
            {**_plain(freeze_windows, "2026-12-21..2027-01-03"), "multiline": True},
        ),
    ]


def _experiments_select(
    blind: BlindWindow | None, library: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    options = [_option(ident, f"{ident}: {title}") for ident, title in library[:MAX_OPTIONS]]
    element: dict[str, Any] = {
        "type": "multi_static_select",
        "placeholder": _text("From the experiment library"),
        "options": options,
    }
    # Slack refuses initial options that are not options: one gone from the library is left out.
    chosen = [o for o in options if blind and o["value"] in blind.experiments]
    if chosen:
        element["initial_options"] = chosen
    return element


def parse_form(
    values: Mapping[str, Any], *, editing: ServiceSpec | None, policy: CatalogPolicy
) -> ServiceSpec:
    """The declaration a submitted modal makes (`editing`: the stored service an Edit saves),
    validated; SpecInvalid lists every problem, the form's own (labels that are not
    label=value) and the validator's."""
    raw, problems = read_form(values, editing=editing)
    try:
        spec = parse_service_spec(raw, policy=policy)
    except SpecInvalid as invalid:
        raise SpecInvalid([*problems, *invalid.errors]) from None
    if problems:
        raise SpecInvalid(problems)
    return spec


def read_declaration(values: Mapping[str, Any]) -> dict[str, Any]:
    """The raw declaration from a submitted modal's `state.values` (what the form says as
    far as it can be read: for the workload picker and the announcement)."""
    return read_form(values, editing=None)[0]


def read_form(
    values: Mapping[str, Any], *, editing: ServiceSpec | None
) -> tuple[dict[str, Any], list[FieldError]]:
    """The raw declaration from a submitted modal's `state.values`, and the problems of what
    cannot be put into it. An Edit (`editing`) keeps the stored probes the form does not show."""
    state = FormState(values)
    team = state.selected(B.TEAM)
    new_team = team in (None, NEW_TEAM)
    raw: dict[str, Any] = {
        "name": editing.name if editing is not None else state.text(B.NAME),
        "team": state.text(B.NEW_TEAM) if new_team else team,
        "teamChannel": state.raw(B.TEAM_CHANNEL).get("selected_conversation"),
        "tier": state.selected(B.TIER),
        "environment": state.selected(B.ENVIRONMENT) or "staging",
        "cluster": state.text(B.CLUSTER),
        "namespace": state.text(B.NAMESPACE),
        "selector": state.text(B.SELECTOR),
        "owners": list(state.raw(B.OWNERS).get("selected_users") or []),
        "approvers": list(state.raw(B.APPROVERS).get("selected_users") or []),
        # Left empty, the validator's default (chaos.yaml's).
        "blastRadiusPercent": state.text(B.BLAST_RADIUS),
    }
    # Onboarding starts the field at the requester's timezone: for a known team that is no
    # decision to change the team's, so there it only counts in the edit modal.
    if new_team or editing is not None:
        raw["teamTimezone"] = state.text(B.TEAM_TIMEZONE)
    workload = state.selected(B.WORKLOAD)
    if workload:
        kind, _, name = workload.partition("/")
        raw["workload"] = {"kind": kind, "name": name}
    url = state.text(B.PROBE_URL)
    probes = [p.as_document() for p in editing.probes[1:]] if editing is not None else []
    if url:
        probes.insert(
            0,
            {
                "url": url,
                "expectedStatus": state.text(B.PROBE_STATUS) or 200,
                "latencyBudgetMs": state.text(B.PROBE_LATENCY) or 1000,
            },
        )
    if probes:
        raw["probes"] = probes
    problems: list[FieldError] = []
    steady_state, steady_problems = read_steady_state(state, editing)
    alerting, alerting_problems = read_alerting(state)
    if steady_state is not None:
        raw["steadyState"] = steady_state
    if alerting is not None:
        raw["alerting"] = alerting
    problems += steady_problems + alerting_problems
    if state.raw(B.BLIND_ENABLED).get("selected_options"):
        raw["blindDrills"] = {
            "enabled": True,
            "weekdays": state.values(B.BLIND_DAYS),
            "hours": state.text(B.BLIND_HOURS) or "",
            "timezone": state.text(B.BLIND_TIMEZONE) or "",
            "experiments": state.values(B.BLIND_EXPERIMENTS),
            # Left empty, a number is its default.
            "meanDaysBetween": state.text(B.BLIND_MEAN_DAYS),
            "minSpacingHours": state.text(B.BLIND_MIN_SPACING),
            "holidayCountry": state.text(B.BLIND_HOLIDAY_COUNTRY),
            "durationMinutes": state.text(B.BLIND_DURATION),
            "freezeWindows": [
                line.strip()
                for line in (state.text(B.BLIND_FREEZE_WINDOWS) or "").splitlines()
                if line.strip()
            ],
        }
    if team == NEW_TEAM and not raw["team"]:
        raw["team"] = None
    return raw, problems


def block_errors(errors: Sequence[FieldError]) -> dict[str, str]:
    """Field errors keyed by the block that shows them (first error per block wins)."""
    return views.block_errors(
        (_block_for(error.path).value, problem_sentence(error.message)) for error in errors
    )


def _block_for(path: str) -> OnboardBlock:
    path = _STEADY_INDEX.sub("steadyState.probes[]", path)
    for prefix, block in _FIELD_BLOCKS:
        if path == prefix or path.startswith((f"{prefix}.", f"{prefix}[")):
            return block
    return B.NAME


REFUSED_LATE = "The cluster answered after the form was sent; it could not be saved as it is:"


def checking_modal(submitted: dict[str, Any], name: str) -> dict[str, Any]:
    """What a submission whose checks outlast the ack shows while they go on."""
    return views.notice_modal(
        submitted["callback_id"],
        "Checking the cluster",
        f":hourglass_flowing_sand: *{escape(name)}* was received and is being checked against "
        "the cluster, which is slow to answer. The result shows here in a moment; if you close "
        "this, it comes as a direct message.",
    )


def stored_modal(callback_id: str, name: str) -> tuple[dict[str, Any], str]:
    """The modal (and the same as a message) once a late-checked submission is saved."""
    text = f":white_check_mark: *{escape(name)}* is saved; its team's channel has the details."
    return views.notice_modal(callback_id, "Saved", text), text
