"""The structure of a chaos.yaml document (chaos.schema.json), with messages a person can act on.

The schema is what editors show and check as you type; here the same schema checks a file
before `parse_service_spec` checks its rules. jsonschema's own messages ("Additional properties
are not allowed ('colour' was unexpected)") become one message per field, on the field's path.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from bot.catalog.yaml_positions import KeyPath

__all__ = ["SchemaProblem", "chaos_schema", "schema_problems"]

_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "text (put it in quotes if it looks like something else)",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


@dataclass(frozen=True)
class SchemaProblem:
    """One field that does not have the documented structure."""

    path: KeyPath
    message: str


@cache
def chaos_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a chaos.yaml document."""
    text = files("bot.catalog").joinpath("chaos.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(_python_patterns(chaos_schema()))


def _python_patterns(schema: Any) -> Any:
    """The schema with its patterns (ECMA-262, what editors check) in Python's syntax.

    In ECMA-262 `$` is the end of the text; Python's `$` also matches before a final newline,
    which would let `name: |` (the text "checkout\\n") pass `^[a-z0-9]...$`.
    """
    if isinstance(schema, dict):
        return {
            key: _python_pattern(value)
            if key == "pattern" and isinstance(value, str)
            else _python_patterns(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_python_patterns(value) for value in schema]
    return schema


def _python_pattern(pattern: str) -> str:
    translated: list[str] = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        translated.append(char)
    return "".join(translated)


def schema_problems(document: Any) -> list[SchemaProblem]:
    """Every way `document` departs from the schema; empty when it conforms."""
    problems: list[SchemaProblem] = []
    for error in _validator().iter_errors(document):
        for problem in _problems(error):
            if problem not in problems:
                problems.append(problem)
    return problems


def _problems(error: ValidationError) -> Iterator[SchemaProblem]:
    path: KeyPath = tuple(error.absolute_path)
    # Set on every error iter_errors yields (the stubs allow "unset" for hand-made ones).
    instance: Any = error.instance
    expected: Any = error.validator_value
    schema = error.schema
    assert isinstance(schema, dict)
    match error.validator:
        case "additionalProperties":
            known = sorted(schema.get("properties", {}))
            for key in instance:
                if key not in known:
                    yield SchemaProblem((*path, key), _unknown_field(key, known))
        case "required":
            for key in expected:
                if key not in instance:
                    yield SchemaProblem((*path, key), "is required")
        case "type":
            kinds = [expected] if isinstance(expected, str) else expected
            wanted = " or ".join(_TYPES[k] for k in kinds if k != "null")
            yield SchemaProblem(path, f"must be {wanted}, got {_show(instance)}")
        case "const":
            yield SchemaProblem(path, f"must be {expected}, got {_show(instance)}")
        case "enum":
            choices = ", ".join(str(c) for c in expected if c is not None)
            yield SchemaProblem(path, f"must be one of {choices}, got {_show(instance)}")
        case "minimum" | "maximum":
            yield SchemaProblem(path, f"{_bounds(schema)}, got {instance}")
        case "minItems":
            yield SchemaProblem(
                path,
                "must not be empty" if expected == 1 else f"must have at least {expected} items",
            )
        case "minLength":
            yield SchemaProblem(path, "must not be empty")
        case "maxLength":
            yield SchemaProblem(path, f"must be at most {expected} characters long")
        case "pattern":
            message = schema.get("patternErrorMessage", f"must match {expected}")
            yield SchemaProblem(path, f"{message}, got {_show(instance)}")
        case _:
            yield SchemaProblem(path, schema.get("errorMessage", error.message))


def _unknown_field(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
    if close:
        return f"unknown field (did you mean {close[0]}?)"
    return f"unknown field (expected one of: {', '.join(known)})"


def _bounds(schema: dict[str, Any]) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f"must be between {low} and {high}"
    return f"must be at least {low}" if low is not None else f"must be at most {high}"


def _show(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else f"{shown[:57]}..."
