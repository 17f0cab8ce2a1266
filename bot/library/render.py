"""Rendering a library template for one service, ready for chaostoolkit-lib's run_experiment.

The rendered experiment is the template with its configuration filled in (the service's
namespace and selector, the run id, the hold, the parameters) and its steady-state hypothesis
replaced by the service's own probes. Activities keep their `${...}` references: chaostoolkit-lib
substitutes them from the configuration when the run starts, exactly as for a manual `chaos run`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from chaoslib import substitute

from bot.errors import ChaosbotError
from bot.faults.args import RUN_ID_PATTERN
from bot.library.catalogue import PROBE_FUNC, PROBE_MODULE, ExperimentTemplate
from bot.library.parameters import Parameter
from bot.probes import watch
from bot.selectors import SelectorError, parse_label_selector

__all__ = [
    "MAX_HOLD_SECONDS",
    "ParameterInvalid",
    "RenderInvalid",
    "coerce_parameter",
    "created_kinds",
    "render",
    "resolve_parameters",
    "rollback_plan",
]

MAX_HOLD_SECONDS = 3600
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
) -> dict[str, Any]:
    """The template as one service's experiment, with parameters checked against their bounds.

    probes are the service's steady-state probes ({url, expectedStatus, latencyBudgetMs}); each
    becomes a chaosbot probe (bot.probes.http, which checks where it may go and keeps only the
    status and latency) whose timeout is its latency budget. They are checked before and after
    the method as usual, and every interval_seconds while the fault is in place: fail_after
    failed checks in a row halt the run (the bot.probes.watch control). context pins the
    kubeconfig context (as the `kubernetes` secret every cluster-touching provider reads).
    """
    _check_target(template.id, namespace, label_selector, run_id, hold_seconds)
    hypothesis = _hypothesis(template.id, probes)
    values = resolve_parameters(template, parameters or {})
    document = copy.deepcopy(dict(template.document))
    first = hypothesis["probes"][0]
    document["configuration"].update(
        namespace=namespace,
        label_selector=label_selector,
        run_id=run_id,
        hold_seconds=hold_seconds,
        probe_url=first["provider"]["arguments"]["url"],
        probe_timeout=first["provider"]["arguments"]["timeout"],
        probe_status=first["tolerance"],
        **values,
    )
    document["steady-state-hypothesis"] = hypothesis
    document["controls"] = [
        *(document.get("controls") or []),
        watch.control(interval_seconds=interval_seconds, fail_after=fail_after),
    ]
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


def created_kinds(template: ExperimentTemplate) -> tuple[str, ...]:
    """The kinds of objects the experiment creates or changes (`resource.group`)."""
    return template.creates


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


def _hypothesis(experiment: str, probes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if not probes:
        raise RenderInvalid(experiment, "probes", "are missing: a service needs a steady state")
    rendered = []
    for index, probe in enumerate(probes):
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
        rendered.append(
            {
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
        )
    return {"title": "The service's probes answer as expected, in time", "probes": rendered}
