"""The onboarding modal's steady-state and alerting fields: built from a stored service, read
into the declaration's `steadyState` and `alerting`, and where their errors are shown.

The form shows one `prometheus` and one `pods` probe. A service whose chaos.yaml declares more
under `steadyState.probes` (or `http` ones there) gets those fields empty with a hint saying so,
and its Edit carries the stored probes into the declaration unchanged: saving the form never
drops what it cannot show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from bot.catalog.spec import (
    Alerting,
    FieldError,
    PodsProbe,
    PrometheusProbe,
    ServiceSpec,
    SteadyProbe,
    SteadyStateWatch,
    kind_of,
)
from bot.slack.blockkit import input_block, plain_text
from bot.slack.ids import OnboardBlock
from bot.slack.onboarding_state import FormState

__all__ = [
    "FIELD_BLOCKS",
    "alerting_blocks",
    "form_shows",
    "matchers_text",
    "read_alerting",
    "read_matchers",
    "read_steady_state",
    "steady_state_blocks",
]

B = OnboardBlock
# The kinds of steady-state probe the form has fields for, in the form's order.
_FORM_KINDS = ("prometheus", "pods")

# Where the errors of these fields are shown; `steadyState.probes[]` stands for any index (the
# form's probes are found by their kind, not their place in the list).
FIELD_BLOCKS: list[tuple[str, OnboardBlock]] = [
    ("steadyState.intervalSeconds", B.WATCH_INTERVAL),
    ("steadyState.failAfter", B.WATCH_FAIL_AFTER),
    ("steadyState.probes[].prometheus.max", B.PROMETHEUS_MAX),
    ("steadyState.probes[].prometheus.min", B.PROMETHEUS_MIN),
    ("steadyState.probes[].prometheus", B.PROMETHEUS_QUERY),
    ("steadyState.probes[].pods", B.PODS_MIN_READY),
    ("steadyState", B.PROMETHEUS_QUERY),
    ("alerting.announceAfterMinutes", B.ANNOUNCE_AFTER),
    ("alerting", B.ALERT_MATCHERS),
]

_QUERY_EXAMPLE = (
    'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))'
)


def form_shows(probes: Sequence[SteadyProbe]) -> bool:
    """Whether the form's fields can show all of these steady-state probes: at most one
    `prometheus` and one `pods`."""
    kinds = [kind_of(p) for p in probes]
    return set(kinds) <= set(_FORM_KINDS) and len(kinds) == len(set(kinds))


def _kept_hint(probes: Sequence[SteadyProbe]) -> str:
    return (
        f"This service has {len(probes)} steady-state probes from chaos.yaml, more than this "
        "form shows: saving keeps them as they are. Change them in chaos.yaml."
    )


def steady_state_blocks(spec: ServiceSpec | None) -> list[dict[str, Any]]:
    """The prometheus and pods probes and the watch's interval and threshold, filled in with
    `spec`'s (a new service: the defaults)."""
    watch = spec.steady_state if spec is not None and spec.steady_state else SteadyStateWatch()
    shown = form_shows(watch.probes)
    kept = None if shown else _kept_hint(watch.probes)
    prometheus = next((p for p in watch.probes if isinstance(p, PrometheusProbe)), None)
    pods = next((p for p in watch.probes if isinstance(p, PodsProbe)), None)
    if not shown:
        prometheus = pods = None
    query: dict[str, Any] = {"type": "plain_text_input", "multiline": True}
    if prometheus is not None:
        query["initial_value"] = prometheus.query
    else:
        query["placeholder"] = plain_text(_QUERY_EXAMPLE)
    return [
        input_block(
            B.PROMETHEUS_QUERY,
            "Prometheus query",
            query,
            optional=True,
            hint=kept
            or "PromQL that returns one number, such as the error ratio. It is run on the "
            "platform's Prometheus when you save; give max, min or both below.",
        ),
        input_block(
            B.PROMETHEUS_MAX,
            "Query healthy at most (max)",
            _number(prometheus.max if prometheus else None, decimal=True),
            optional=True,
        ),
        input_block(
            B.PROMETHEUS_MIN,
            "Query healthy at least (min)",
            _number(prometheus.min if prometheus else None, decimal=True),
            optional=True,
        ),
        input_block(
            B.PODS_MIN_READY,
            "Ready pods at least (% of desired replicas)",
            _number(pods.min_ready_percent if pods else None, decimal=True, low=1, high=100),
            optional=True,
            hint=kept or "1 to 100. Empty: ready pods are not a probe.",
        ),
        input_block(
            B.WATCH_INTERVAL,
            "Check the probes every (seconds)",
            _number(watch.interval_seconds, low=1, high=300),
            optional=True,
            hint="1 to 300: how often the probes run while the fault is in place.",
        ),
        input_block(
            B.WATCH_FAIL_AFTER,
            "Failed checks in a row that halt the run",
            _number(watch.fail_after, low=1, high=20),
            optional=True,
            hint="1 to 20: the run is halted then and its fault rolled back.",
        ),
    ]


def alerting_blocks(spec: ServiceSpec | None) -> list[dict[str, Any]]:
    """Which of the team's alerts are the service's, and when a blind drill raises its own."""
    alerting = spec.alerting if spec is not None and spec.alerting else Alerting()
    matchers: dict[str, Any] = {
        "type": "plain_text_input",
        "placeholder": plain_text("service=checkout, team=payments"),
    }
    if alerting.matchers:
        matchers["initial_value"] = matchers_text(alerting.matchers)
    return [
        input_block(
            B.ALERT_MATCHERS,
            "Your alerts' labels",
            matchers,
            optional=True,
            hint="label=value pairs, comma-separated: your Alertmanager alerts carrying all of "
            "them are this service's. No run starts while one fires; a blind drill measures "
            "whether one fired.",
        ),
        input_block(
            B.ANNOUNCE_AFTER,
            "Blind drill: alert after (minutes)",
            _number(alerting.announce_after_minutes, low=1, high=120),
            optional=True,
            hint="1 to 120, with labels above: chaosbot raises its own drill alert only if "
            "none of yours fired this long after the fault. Empty: at once.",
        ),
    ]


def _number(
    initial: float | None, *, decimal: bool = False, low: int | None = None, high: int | None = None
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "number_input", "is_decimal_allowed": decimal}
    if low is not None:
        element["min_value"] = str(low)
    if high is not None:
        element["max_value"] = str(high)
    if initial is not None:
        element["initial_value"] = _number_text(initial)
    return element


def _number_text(value: float) -> str:
    """The number as Slack's number_input takes it: no exponent (1e-05 is 0.00001)."""
    if isinstance(value, int):
        return str(value)
    return format(Decimal(repr(value)), "f")


def _read_number(text: str) -> int | float | str:
    """A typed number (an int when whole), or the text itself for the validator to refuse."""
    try:
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
    except ValueError:
        return text


def _typed_probes(state: FormState) -> dict[str, dict[str, Any]]:
    """The form's probes by kind, as `steadyState.probes` items' bodies; a bound without a
    query is one too, so the validator asks for the query."""
    typed: dict[str, dict[str, Any]] = {}
    query = state.text(B.PROMETHEUS_QUERY)
    high, low = state.text(B.PROMETHEUS_MAX), state.text(B.PROMETHEUS_MIN)
    if query or high or low:
        body: dict[str, Any] = {"query": query}
        if high:
            body["max"] = _read_number(high)
        if low:
            body["min"] = _read_number(low)
        typed["prometheus"] = body
    ready = state.text(B.PODS_MIN_READY)
    if ready:
        typed["pods"] = {"minReadyPercent": _read_number(ready)}
    return typed


def read_steady_state(
    state: FormState, editing: ServiceSpec | None
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """The declaration's `steadyState` and the form's own problems with it; None when the
    submitted modal had no such fields (one opened before they existed): the stored one stays.
    """
    if not state.has(B.WATCH_INTERVAL):
        return None, []
    document: dict[str, Any] = {
        # Left empty, the validator's defaults (chaos.yaml's).
        "intervalSeconds": state.text(B.WATCH_INTERVAL),
        "failAfter": state.text(B.WATCH_FAIL_AFTER),
    }
    stored = editing.steady_state.probes if editing and editing.steady_state else ()
    typed = _typed_probes(state)
    if form_shows(stored):
        # In the stored order, so an untouched Edit changes nothing.
        order = [kind_of(p) for p in stored]
        order += [k for k in _FORM_KINDS if k not in order]
        document["probes"] = [{kind: typed[kind]} for kind in order if kind in typed]
        return document, []
    document["probes"] = [{kind_of(p): p.as_document()} for p in stored]
    problem = (
        f"this service's {len(stored)} steady-state probes come from chaos.yaml, more than this "
        "form shows: change them there (leave this empty to keep them)"
    )
    fields = {"prometheus": "prometheus.query", "pods": "pods.minReadyPercent"}
    return document, [FieldError(f"steadyState.probes[].{fields[k]}", problem) for k in typed]


def read_alerting(state: FormState) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """The declaration's `alerting` and the form's own problems with it (labels that are not
    label=value); None when the submitted modal had no such fields."""
    if not state.has(B.ALERT_MATCHERS):
        return None, []
    matchers, problems = read_matchers(state.text(B.ALERT_MATCHERS) or "")
    document = {"matchers": matchers, "announceAfterMinutes": state.text(B.ANNOUNCE_AFTER)}
    return document, [FieldError("alerting.matchers", p) for p in problems]


# A value written bare: anything but commas, quotes, backslashes and surrounding spaces.
_BARE_VALUE = re.compile(r'[^,"\\\s](?:[^,"\\]*[^,"\\\s])?')
_PAIR = re.compile(
    r'(?P<label>[^=,"]*?)\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^,"]*?))\s*(?:,|\Z)',
    re.DOTALL,
)


def matchers_text(matchers: Mapping[str, str]) -> str:
    """`service=checkout, team=payments` (by label): a value with a comma, a quote, a backslash
    or surrounding spaces in double quotes (`read_matchers` reads it back the same)."""
    return ", ".join(
        f"{label}={value}" if _BARE_VALUE.fullmatch(value) else f'{label}="{_quoted(value)}"'
        for label, value in sorted(matchers.items())  # as stored: PostgreSQL's JSONB reorders
    )


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def read_matchers(text: str) -> tuple[dict[str, str], list[str]]:
    """The label=value pairs of `text` (comma-separated, a value optionally in double quotes),
    and a problem for each part that is not one; the validator checks the names and values."""
    matchers: dict[str, str] = {}
    problems: list[str] = []
    position = 0
    while True:
        while position < len(text) and (text[position] == "," or text[position].isspace()):
            position += 1
        if position >= len(text):
            return matchers, problems
        match = _PAIR.match(text, position)
        if match is None:
            end = text.find(",", position)
            part = text[position : end if end >= 0 else len(text)].strip()
            problems.append(
                f"{part!r} is not label=value: write pairs like service=checkout, team=payments"
            )
            if end < 0:
                return matchers, problems
            position = end + 1
            continue
        label = match["label"]
        quoted = match["quoted"]
        value = (
            re.sub(r"\\(.)", r"\1", quoted, flags=re.DOTALL)
            if quoted is not None
            else match["bare"]
        )
        if label in matchers:
            problems.append(f"label {label} is given twice")
        else:
            matchers[label] = value
        position = match.end()
