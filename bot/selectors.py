"""Label selectors, parsed and matched the way the Kubernetes API server does.

Shared by chaosbot (validating selectors, matching PDBs to pods) and the Kubernetes API test
server, which adds field selectors on top.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Requirement",
    "SelectorError",
    "label_selector_requirements",
    "labels_match",
    "parse_label_selector",
    "selector_string",
]


class SelectorError(ValueError):
    """A label or field selector that does not parse."""


@dataclass(frozen=True)
class Requirement:
    """One clause of a label selector: a key, an operator and the values it compares with."""

    key: str
    operator: str  # one of: = != in notin exists !exists gt lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this clause."""
        present = self.key in labels
        value = labels.get(self.key, "")
        match self.operator:
            case "=" | "in":
                return present and value in self.values
            case "!=" | "notin":
                # As in the real server, a missing key satisfies != and notin.
                return not present or value not in self.values
            case "exists":
                return present
            case "!exists":
                return not present
            case "gt" | "lt":
                return present and _compare_int(value, self.operator, self.values[0])
        raise AssertionError(f"unknown operator {self.operator}")


def _compare_int(value: str, operator: str, bound: str) -> bool:
    try:
        number = int(value)
    except ValueError:
        return False
    return number > int(bound) if operator == "gt" else number < int(bound)


def labels_match(requirements: list[Requirement], labels: Mapping[str, str] | None) -> bool:
    """Whether a label set satisfies every clause (an empty selector matches everything)."""
    labels = labels or {}
    return all(requirement.matches(labels) for requirement in requirements)


# --- the string syntax: "a=b,c!=d,e in (f,g),!h" ---------------------------------------------

_TOKEN = re.compile(r"\s*(?:(==|!=|=|!|\(|\)|,|<|>)|([^\s!=(),<>]+))")
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_NAME}$")
_VALUE = re.compile(rf"^({_NAME})?$")


def _tokens(text: str) -> Iterator[str]:
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SelectorError(
                f"unable to parse requirement: unexpected text at {text[position:]!r}"
            )
        position = match.end()
        yield match.group(1) or match.group(2)


class _Parser:
    """A recursive-descent parser over selector tokens."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(_tokens(text))
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end of selector")
        self.position += 1
        return token

    def error(self, why: str) -> SelectorError:
        return SelectorError(f"unable to parse requirement: {why} in {self.text!r}")

    def requirements(self) -> list[Requirement]:
        found: list[Requirement] = []
        while self.peek() is not None:
            found.append(self.requirement())
            if self.peek() is not None and self.take() != ",":
                raise self.error("expected ','")
        return found

    def requirement(self) -> Requirement:
        if self.peek() == "!":
            self.take()
            return Requirement(self.key(), "!exists")
        key = self.key()
        operator = self.peek()
        if operator is None or operator == ",":
            return Requirement(key, "exists")
        self.take()
        if operator in ("=", "=="):
            return Requirement(key, "=", (self.value(),))
        if operator == "!=":
            return Requirement(key, "!=", (self.value(),))
        if operator in ("in", "notin"):
            return Requirement(key, operator, self.value_set())
        if operator in ("<", ">"):
            bound = self.take()
            if not re.fullmatch(r"-?\d+", bound):
                raise self.error(f"for 'gt', 'lt' operators, the value must be an integer: {bound}")
            return Requirement(key, "gt" if operator == ">" else "lt", (bound,))
        raise self.error(f"unknown operator {operator!r}")

    def key(self) -> str:
        key = self.take()
        if not _KEY.match(key) or len(key) > 316:
            raise self.error(f"invalid label key {key!r}")
        return key

    def value(self) -> str:
        token = self.peek()
        if token is None or token in (",", ")", "("):
            return ""  # "a=" selects the empty value
        value = self.take()
        if not _VALUE.match(value):
            raise self.error(f"invalid label value {value!r}")
        return value

    def value_set(self) -> tuple[str, ...]:
        if self.take() != "(":
            raise self.error("expected '(' after set operator")
        values = [self.value()]
        while (separator := self.take()) == ",":
            values.append(self.value())
        if separator != ")":
            raise self.error("expected ')'")
        return tuple(values)


def parse_label_selector(text: str | None) -> list[Requirement]:
    """The clauses of a label selector string; raises SelectorError when it does not parse."""
    if not text or not text.strip():
        return []
    return _Parser(text).requirements()


# --- metav1.LabelSelector objects (Deployment, PodDisruptionBudget, NetworkPolicy) ------------

_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}


def label_selector_requirements(selector: Mapping[str, Any] | None) -> list[Requirement] | None:
    """The clauses of a LabelSelector object; None (selects nothing) for a null selector."""
    if selector is None:
        return None
    found = [
        Requirement(k, "=", (v,)) for k, v in sorted((selector.get("matchLabels") or {}).items())
    ]
    for expression in selector.get("matchExpressions") or []:
        operator = _OPERATORS[expression["operator"]]
        found.append(
            Requirement(expression["key"], operator, tuple(expression.get("values") or ()))
        )
    return found


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """A LabelSelector object written in the string syntax (as Scale.status.selector shows it)."""
    parts: list[str] = []
    for requirement in label_selector_requirements(selector) or []:
        match requirement.operator:
            case "=":
                parts.append(f"{requirement.key}={requirement.values[0]}")
            case "in" | "notin":
                parts.append(
                    f"{requirement.key} {requirement.operator} ({','.join(requirement.values)})"
                )
            case "exists":
                parts.append(requirement.key)
            case _:
                parts.append(f"!{requirement.key}")
    return ",".join(parts)
