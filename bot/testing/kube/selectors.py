"""Label and field selectors, parsed and matched the way the Kubernetes API server does.

Label selectors are chaosbot's own (bot.selectors); field selectors are the server's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.selectors import (
    Requirement,
    SelectorError,
    label_selector_requirements,
    labels_match,
    parse_label_selector,
    selector_string,
)

__all__ = [
    "FieldRequirement",
    "Requirement",
    "SelectorError",
    "field_label_value",
    "label_selector_requirements",
    "labels_match",
    "parse_field_selector",
    "parse_label_selector",
    "selector_string",
]


# --- field selectors: "metadata.name=web-0,status.phase!=Running" ----------------------------


@dataclass(frozen=True)
class FieldRequirement:
    """One clause of a field selector."""

    field: str
    negated: bool
    value: str

    def matches(self, actual: str) -> bool:
        """Whether an object's value for the field satisfies this clause."""
        return (actual == self.value) != self.negated


_FIELD_TERM = re.compile(r"^\s*([^=!\s]+)\s*(==|=|!=)(.*)$")


def parse_field_selector(text: str | None, supported: tuple[str, ...]) -> list[FieldRequirement]:
    """The clauses of a field selector; raises SelectorError for bad syntax or unknown fields."""
    if not text or not text.strip():
        return []
    found: list[FieldRequirement] = []
    for term in text.split(","):
        match = _FIELD_TERM.match(term)
        if match is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        name, operator, value = match.group(1), match.group(2), match.group(3).strip()
        if name not in supported:
            raise SelectorError(f"field label not supported: {name}")
        found.append(FieldRequirement(name, operator == "!=", value))
    return found


def field_label_value(obj: Mapping[str, Any], label: str) -> str:
    """The string value a field selector compares for an object (missing values are "")."""
    current: Any = obj
    for part in label.split("."):
        current = current.get(part) if isinstance(current, Mapping) else None
    if isinstance(current, bool):
        return "true" if current else "false"
    if current is None:
        # A missing boolean such as spec.unschedulable reads as false, as the server reports it.
        return "false" if label in ("spec.unschedulable", "spec.hostNetwork") else ""
    return str(current)
