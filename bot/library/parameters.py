"""Experiment parameters: what a service's owners may set, with types and bounds."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["PARAMETER_TYPES", "Parameter", "parse_parameters"]

PARAMETER_TYPES = ("integer", "number", "string", "boolean")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_FIELDS = {"type", "default", "minimum", "maximum", "description", "choices"}


@dataclass(frozen=True, kw_only=True)
class Parameter:
    """A setting a service's owners may choose for an experiment, with its bounds."""

    type: str
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def problem(self, value: Any) -> str | None:
        """Why value is not acceptable for this parameter, or None when it is."""
        if not self._has_type(value):
            return f"must be {self.kind}{self.bounds}"
        if self.type in ("integer", "number"):
            number = float(value)
            too_low = self.minimum is not None and number < self.minimum
            if too_low or (self.maximum is not None and number > self.maximum):
                return f"must be {self.bounds.strip(' ()')}"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}"
        return None

    def _has_type(self, value: Any) -> bool:
        if self.type == "boolean" or isinstance(value, bool):
            return self.type == "boolean" and isinstance(value, bool)
        if self.type == "integer":
            return isinstance(value, int)
        if self.type == "number":
            return isinstance(value, int | float)
        return isinstance(value, str)

    def coerce(self, text: str) -> Any:
        """A value of this parameter's type from text (a command-line `--set`); ValueError if not."""
        if self.type == "integer":
            return int(text)
        if self.type == "number":
            return float(text)
        if self.type == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(f"{text!r} is not true or false")
            return text.lower() == "true"
        return text

    @property
    def kind(self) -> str:
        """The type in words: "an integer", "a string"."""
        return f"{'an' if self.type == 'integer' else 'a'} {self.type}"

    @property
    def bounds(self) -> str:
        """The bounds in words, e.g. " (between 1 and 100)" ("" without bounds)."""
        low, high = _number(self.minimum), _number(self.maximum)
        if low is not None and high is not None:
            return f" (between {low} and {high})"
        if low is not None:
            return f" (at least {low})"
        if high is not None:
            return f" (at most {high})"
        return ""


def parse_parameters(
    raw: Any, configuration: Mapping[str, Any], *, reserved: Sequence[str], problems: list[str]
) -> dict[str, Parameter]:
    """The `parameters` of a template's metadata, each checked; problems collects what is wrong."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append("chaosbot.parameters: must be a mapping of name to parameter")
        return {}
    parameters: dict[str, Parameter] = {}
    for name, spec in raw.items():
        where = f"chaosbot.parameters.{name}"
        if not isinstance(name, str) or not _NAME.match(name) or name in reserved:
            problems.append(f"{where}: is not a usable parameter name")
            continue
        if not isinstance(spec, dict) or spec.get("type") not in PARAMETER_TYPES:
            problems.append(f"{where}.type: must be one of {', '.join(PARAMETER_TYPES)}")
            continue
        unknown = set(spec) - _FIELDS
        if unknown:
            problems.append(f"{where}: unknown fields {', '.join(sorted(unknown))}")
        bounds = [spec.get(k) for k in ("minimum", "maximum")]
        if any(
            b is not None and (isinstance(b, bool) or not isinstance(b, int | float))
            for b in bounds
        ):
            problems.append(f"{where}: minimum and maximum must be numbers")
            continue
        parameter = Parameter(
            type=spec["type"],
            default=spec.get("default"),
            description=str(spec.get("description") or ""),
            minimum=bounds[0],
            maximum=bounds[1],
            choices=tuple(str(c) for c in spec.get("choices") or ()),
        )
        if not parameter.description.strip():
            problems.append(f"{where}.description: must say what it does")
        problem = parameter.problem(parameter.default)
        if problem:
            problems.append(f"{where}.default: {problem}")
        if name not in configuration or configuration[name] != parameter.default:
            problems.append(f"configuration.{name}: must hold the parameter's default")
        parameters[name] = parameter
    return parameters


def _number(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else str(value)
