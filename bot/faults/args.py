"""Provider arguments as templates pass them, checked and converted.

Values substituted from an experiment's configuration keep their YAML type, but `chaos run
--var name=value` passes strings; numbers and booleans are therefore accepted in either form.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from chaoslib.exceptions import ActivityFailed

from bot.selectors import SelectorError, parse_label_selector

if TYPE_CHECKING:  # the kubernetes client is not needed to check arguments (nor to render)
    from bot.faults.kube import Obj

__all__ = [
    "RUN_ID_PATTERN",
    "as_bool",
    "as_float",
    "as_int",
    "chaos_mesh_selector",
    "label_selector_object",
    "run_label_value",
]

# A run id is a label value and an object name suffix: short, lower-case, DNS-safe.
RUN_ID_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
_EXPRESSION_OPERATORS = {
    "in": "In",
    "notin": "NotIn",
    "exists": "Exists",
    "!exists": "DoesNotExist",
}


def run_label_value(run_id: Any) -> str:
    """The run id, checked to fit a label value and an object name suffix."""
    text = str(run_id)
    if not RUN_ID_PATTERN.match(text):
        raise ActivityFailed(
            f"run_id {text!r} must be 1-40 lower-case letters, digits and '-' "
            "(it becomes a label value and part of object names)"
        )
    return text


def as_int(value: Any, name: str) -> int:
    """An integer argument given as a number or a numeric string."""
    if isinstance(value, bool):
        raise ActivityFailed(f"{name} must be an integer, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ActivityFailed(f"{name} must be an integer, not {value!r}") from None
    if not number.is_integer():
        raise ActivityFailed(f"{name} must be an integer, not {value!r}")
    return int(number)


def as_float(value: Any, name: str) -> float:
    """A number argument given as a number or a numeric string."""
    if isinstance(value, bool):
        raise ActivityFailed(f"{name} must be a number, not {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ActivityFailed(f"{name} must be a number, not {value!r}") from None


def as_bool(value: Any, name: str) -> bool:
    """A boolean argument given as a boolean or as true/false text."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0", ""):
        return False
    raise ActivityFailed(f"{name} must be true or false, not {value!r}")


def label_selector_object(text: str) -> Obj:
    """A metav1.LabelSelector for a selector string; refuses an empty or inexpressible one.

    An empty selector would select every pod of the namespace, which is never what a service's
    fault means.
    """
    try:
        requirements = parse_label_selector(text)
    except SelectorError as error:
        raise ActivityFailed(f"label_selector {text!r}: {error}") from None
    if not requirements:
        raise ActivityFailed("label_selector is empty: refusing to target a whole namespace")
    match_labels: dict[str, str] = {}
    expressions: list[Obj] = []
    for requirement in requirements:
        if requirement.operator == "=":
            match_labels[requirement.key] = requirement.values[0]
        elif requirement.operator == "!=":
            expressions.append(
                {"key": requirement.key, "operator": "NotIn", "values": list(requirement.values)}
            )
        elif requirement.operator in _EXPRESSION_OPERATORS:
            expression: Obj = {
                "key": requirement.key,
                "operator": _EXPRESSION_OPERATORS[requirement.operator],
            }
            if requirement.values:
                expression["values"] = list(requirement.values)
            expressions.append(expression)
        else:
            raise ActivityFailed(
                f"label_selector {text!r}: {requirement.operator} comparisons cannot be "
                "expressed in a pod selector"
            )
    selector: Obj = {}
    if match_labels:
        selector["matchLabels"] = match_labels
    if expressions:
        selector["matchExpressions"] = expressions
    return selector


def chaos_mesh_selector(namespace: str, text: str) -> Obj:
    """A Chaos Mesh PodSelectorSpec for the service's pods in its namespace."""
    selector = label_selector_object(text)
    spec: Obj = {"namespaces": [namespace]}
    if "matchLabels" in selector:
        spec["labelSelectors"] = selector["matchLabels"]
    if "matchExpressions" in selector:
        spec["expressionSelectors"] = selector["matchExpressions"]
    return spec
