"""Rendering a library template for one service, ready for chaostoolkit-lib's run_experiment.

The rendered experiment is the template with its configuration filled in (the service's
namespace and selector, the run id, the hold, the parameters) and its steady-state hypothesis
replaced by the service's own probes. Activities keep their `${...}` references: chaostoolkit-lib
substitutes them from the configuration when the run starts, exactly as for a manual `chaos run`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from chaoslib import substitute

from bot.errors import ChaosbotError
from bot.faults.args import RUN_ID_PATTERN
from bot.library.catalogue import PROBE_FUNC, PROBE_MODULE, ExperimentTemplate
from bot.library.parameters import Parameter
from bot.load.experiment import add_load
from bot.load.experiment import created_kinds as load_kinds
from bot.load.profile import LoadProfile
from bot.probes import prometheus, tolerance, watch
from bot.selectors import SelectorError, parse_label_selector

__all__ = [
    "MAX_HOLD_SECONDS",
    "ParameterInvalid",
    "RenderInvalid",
    "coerce_parameter",
    "created_kinds",
    "hypothesis",
    "render",
    "resolve_parameters",
    "rollback_plan",
]

MAX_HOLD_SECONDS = 3600
# The pods probe (bot/probes/pods.py): ready pods of the service against its desired replicas.
PODS_MODULE = "bot.probes.pods"
PODS_FUNC = "probe_pods"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class ParameterInvalid(ChaosbotError):
    """A parameter value the experiment does not accept (unknown, wrong type, out of bounds)."""

    def __init__(self, experiment: str, name: str, problem: str) -> None:
        self.experiment = experiment
        self.name = name
        self.problem = problem
        super().__init__(f"{experiment}: parameter {name} {problem}")


class RenderInvalid(ChaosbotError):
    """A service setting the experiment cannot be rendered with."""

    def __init__(self, experiment: str, field: str, problem: str) -> None:
        self.experiment = experiment
        self.field = field
        super().__init__(f"{experiment}: {field} {problem}")


def render(
    template: ExperimentTemplate,
    *,
    namespace: str,
    label_selector: str,
    probes: Sequence[Mapping[str, Any]],
    run_id: str,
    hold_seconds: float,
    parameters: Mapping[str, Any] | None = None,
    context: str | None = None,
    interval_seconds: int = watch.DEFAULT_INTERVAL_SECONDS,
    fail_after: int = watch.DEFAULT_FAIL_AFTER,
    load: LoadProfile | None = None,
) -> dict[str, Any]:
    """The template as one service's experiment, with parameters checked against their bounds.

    probes are the service's steady-state probes as the services table keeps them (see
    `hypothesis`). They are checked before and after
    the method as usual, and every interval_seconds while the fault is in place: fail_after
    failed checks in a row halt the run (the bot.probes.watch control). context pins the
    kubeconfig context (as the `kubernetes` secret every cluster-touching provider reads).
    load: the suite entry's load profile, run from before the first steady-state check until
    after the rollbacks (the bot.load control).
    """
    _check_target(template.id, namespace, label_selector, run_id, hold_seconds)
    steady_state = hypothesis(
        template.id, probes, namespace=namespace, label_selector=label_selector
    )
    values = resolve_parameters(template, parameters or {})
    document = copy.deepcopy(dict(template.document))
    document["configuration"].update(
        namespace=namespace,
        label_selector=label_selector,
        run_id=run_id,
        hold_seconds=hold_seconds,
        **_first_http_probe(template, steady_state),
        **values,
    )
    document["steady-state-hypothesis"] = steady_state
    document["controls"] = [
        *(document.get("controls") or []),
        watch.control(interval_seconds=interval_seconds, fail_after=fail_after),
    ]
    if load is not None:
        add_load(document, load)
    if context:
        document["secrets"] = {"kubernetes": {"KUBERNETES_CONTEXT": context}}
    return document


def resolve_parameters(
    template: ExperimentTemplate, parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """Every parameter's value: the given ones (checked) over the defaults."""
    values = {name: parameter.default for name, parameter in template.parameters.items()}
    for name, value in parameters.items():
        parameter = template.parameters.get(name)
        if parameter is None:
            known = ", ".join(template.parameters) or "none"
            raise ParameterInvalid(template.id, name, f"does not exist (parameters: {known})")
        problem = parameter.problem(value)
        if problem:
            raise ParameterInvalid(template.id, name, f"{problem} (got {value!r})")
        values[name] = value
    return values


def coerce_parameter(template: ExperimentTemplate, name: str, text: str) -> Any:
    """A parameter value typed from text (`--set name=value`), as its declaration says."""
    parameter: Parameter | None = template.parameters.get(name)
    if parameter is None:
        known = ", ".join(template.parameters) or "none"
        raise ParameterInvalid(template.id, name, f"does not exist (parameters: {known})")
    try:
        return parameter.coerce(text)
    except ValueError:
        raise ParameterInvalid(
            template.id, name, f"must be {parameter.kind}{parameter.bounds} (got {text!r})"
        ) from None


def rollback_plan(rendered: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rendered experiment's rollbacks with every `${...}` resolved (for the run row)."""
    rollbacks = copy.deepcopy(list(rendered.get("rollbacks") or []))
    resolved: list[dict[str, Any]] = substitute(rollbacks, rendered.get("configuration"), None)
    return resolved


def created_kinds(template: ExperimentTemplate, load: LoadProfile | None = None) -> tuple[str, ...]:
    """The kinds of objects the experiment, and its load, create or change (`resource.group`)."""
    extra = load_kinds(load) if load is not None else ()
    return (*template.creates, *(k for k in extra if k not in template.creates))


def _check_target(
    experiment: str, namespace: str, label_selector: str, run_id: str, hold_seconds: float
) -> None:
    if not isinstance(namespace, str) or not _DNS_LABEL.match(namespace):
        raise RenderInvalid(experiment, "namespace", f"{namespace!r} is not a namespace name")
    try:
        requirements = parse_label_selector(label_selector)
    except SelectorError as error:
        raise RenderInvalid(experiment, "label selector", str(error)) from None
    if not requirements:
        raise RenderInvalid(experiment, "label selector", "is empty: it would select every pod")
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
        raise RenderInvalid(
            experiment, "run id", f"{run_id!r} must be 1-40 lower-case letters, digits and '-'"
        )
    if (
        isinstance(hold_seconds, bool)
        or not isinstance(hold_seconds, int | float)
        or not 0 <= hold_seconds <= MAX_HOLD_SECONDS
    ):
        raise RenderInvalid(experiment, "hold", f"must be between 0 and {MAX_HOLD_SECONDS} seconds")


def hypothesis(
    experiment: str,
    probes: Sequence[Mapping[str, Any]],
    *,
    namespace: str,
    label_selector: str,
) -> dict[str, Any]:
    """The steady-state hypothesis of a service's probes, as the services table keeps them
    (each with its `kind`; one without is HTTP), each with a tolerance chaostoolkit-lib checks:

    - http {url, expectedStatus, latencyBudgetMs}: bot.probes.http (which checks where it may
      go and keeps only the status and latency), its timeout the latency budget, tolerating the
      status;
    - prometheus {query, max, min}: bot.probes.prometheus, the one number the query returns,
      within a `range` tolerance (both bounds) or a probe tolerance (one bound);
    - pods {minReadyPercent}: bot.probes.pods, the ready pods of the service against its desired
      replicas, within a `range` tolerance on the percentage.

    Each probe's name says what it watches ("GET ... answers 200 within 300 ms", "prometheus
    sum(rate(...", "pods ready >= 66%"): the watch quotes it, with what it got and what it
    expected, when the steady state breaks.
    """
    if not probes:
        raise RenderInvalid(experiment, "probes", "are missing: a service needs a steady state")
    rendered = []
    for index, probe in enumerate(probes):
        kind = probe.get("kind", "http")
        if kind == "prometheus":
            rendered.append(_prometheus_probe(experiment, index, probe))
        elif kind == "pods":
            rendered.append(_pods_probe(experiment, index, probe, namespace, label_selector))
        elif kind == "http":
            rendered.append(_http_probe(experiment, index, probe))
        else:
            raise RenderInvalid(
                experiment, f"probes[{index}].kind", f"{kind!r} is not a probe kind"
            )
    return {"title": "The service's steady state holds", "probes": rendered}


def _http_probe(experiment: str, index: int, probe: Mapping[str, Any]) -> dict[str, Any]:
    url = probe.get("url")
    status = probe.get("expectedStatus", 200)
    budget = probe.get("latencyBudgetMs", 1000)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise RenderInvalid(experiment, f"probes[{index}].url", f"{url!r} is not an http URL")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise RenderInvalid(experiment, f"probes[{index}].expectedStatus", "must be 100-599")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise RenderInvalid(
            experiment, f"probes[{index}].latencyBudgetMs", "must be a positive integer"
        )
    return {
        "type": "probe",
        "name": f"GET {url} answers {status} within {budget} ms",
        "tolerance": status,
        "provider": {
            "type": "python",
            "module": PROBE_MODULE,
            "func": PROBE_FUNC,
            "arguments": {"url": url, "timeout": budget / 1000},
        },
    }


def _prometheus_probe(experiment: str, index: int, probe: Mapping[str, Any]) -> dict[str, Any]:
    query = probe.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RenderInvalid(experiment, f"probes[{index}].query", "is missing")
    bounds = {key: probe.get(key) for key in ("min", "max")}
    for key, value in bounds.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise RenderInvalid(experiment, f"probes[{index}].{key}", "must be a number")
    low, high = bounds["min"], bounds["max"]
    if low is None and high is None:
        raise RenderInvalid(experiment, f"probes[{index}]", "needs min, max or both")
    return {
        "type": "probe",
        # Short, without the bounds: a halt reason quotes it with what it got and expected
        # ("prometheus sum(rate(...: got 0.042, expected <= 0.01").
        "name": f"prometheus {prometheus.short_query(query)}",
        "tolerance": tolerance.tolerance(low, high),
        "provider": {
            "type": "python",
            "module": prometheus.MODULE,
            "func": prometheus.FUNC,
            "arguments": {"query": query, "timeout": prometheus.DEFAULT_TIMEOUT_SECONDS},
        },
    }


def _pods_probe(
    experiment: str, index: int, probe: Mapping[str, Any], namespace: str, label_selector: str
) -> dict[str, Any]:
    percent = probe.get("minReadyPercent")
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 < percent <= 100:
        raise RenderInvalid(experiment, f"probes[{index}].minReadyPercent", "must be 1-100")
    return {
        "type": "probe",
        "name": f"pods ready >= {percent:g}%",
        # At least, not a range up to 100: ready pods may outnumber desired ones in a rollout.
        "tolerance": tolerance.tolerance(percent, None, target="percent", unit="%"),
        "provider": {
            "type": "python",
            "module": PODS_MODULE,
            "func": PODS_FUNC,
            "secrets": ["kubernetes"],
            "arguments": {
                "namespace": namespace,
                "label_selector": label_selector,
                "min_ready_percent": percent,
            },
        },
    }


def _first_http_probe(
    template: ExperimentTemplate, steady_state: Mapping[str, Any]
) -> dict[str, Any]:
    """The configuration templates read of the service's probe (`probe_url`, ...): its first
    HTTP probe. A service without one keeps the template's, unless the template's method or
    rollbacks use the URL (certificate-expiry checks the probe's certificate)."""
    for probe in steady_state["probes"]:
        if probe["provider"]["module"] == PROBE_MODULE:
            arguments = probe["provider"]["arguments"]
            return {
                "probe_url": arguments["url"],
                "probe_timeout": arguments["timeout"],
                "probe_status": probe["tolerance"],
            }
    used = json.dumps([template.document.get("method"), template.document.get("rollbacks")])
    if "${probe_url}" in used:
        raise RenderInvalid(
            template.id, "probes", "need an HTTP probe: the experiment uses its URL"
        )
    return {}
