"""The suite parameters modal: building it, reading its state, placing field errors.

Pure functions. One input block per parameter of the experiment, its id `suite_parameter:NAME`:
a number input bounded like the parameter for integers and numbers, a select for a parameter
with choices, a checkbox for a boolean and a text input for any other string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.catalog.suite import parameter_problems
from bot.library.catalogue import ExperimentTemplate, Parameter
from bot.library.render import ParameterInvalid, coerce_parameter
from bot.slack import views
from bot.slack.blockkit import (
    LABEL_TEXT,
    MAX_OPTIONS,
    option,
    plain_text,
    section,
)
from bot.slack.ids import CallbackId, SuiteBlock
from bot.slack.mrkdwn import escape
from bot.slack.views import ParametersModal, problem_sentence

__all__ = [
    "block_errors",
    "parameter_block",
    "parameters_modal",
    "read_parameters",
]

_CHECKED = "on"
_REQUIRED = "is required"


def parameter_block(name: str) -> str:
    """The block id of a parameter's input."""
    return f"{SuiteBlock.PARAMETER.value}:{name}"


def parameters_modal(
    template: ExperimentTemplate, *, stored: Mapping[str, Any], about: ParametersModal
) -> dict[str, Any]:
    """The modal, each input showing the stored value (or the default)."""
    refused = parameter_problems(template, stored)
    intro = f"*{escape(template.title)}* for *{escape(about.service)}*\n{escape(template.tests)}"
    for name, problem in refused.items():
        intro += f"\n:warning: The stored `{escape(name)}` {escape(problem)}; the default is shown."
    blocks: list[dict[str, Any]] = [section(intro, block_id=SuiteBlock.INTRO.value)]
    for name, parameter in template.parameters.items():
        value = stored.get(name, parameter.default)
        if name in refused:
            value = parameter.default
        element, optional = _element(parameter, value)
        blocks.append(
            {
                "type": "input",
                "block_id": parameter_block(name),
                "label": _plain(name),
                "hint": _plain(_hint(parameter)),
                "element": {**element, "action_id": SuiteBlock.PARAMETER.value},
                "optional": optional,
            }
        )
    return {
        "type": "modal",
        "callback_id": CallbackId.SUITE_PARAMETERS.value,
        "title": _plain("Experiment parameters"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "private_metadata": about.dump(),
        "blocks": blocks,
    }


def read_parameters(
    template: ExperimentTemplate, values: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each parameter's value as its type says, and what could not be read, by parameter."""
    typed: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, parameter in template.parameters.items():
        element = values.get(parameter_block(name), {}).get(SuiteBlock.PARAMETER.value)
        state: dict[str, Any] = element if isinstance(element, dict) else {}
        if parameter.type == "boolean":
            typed[name] = bool(state.get("selected_options"))
        elif parameter.choices:
            option = state.get("selected_option")
            if isinstance(option, dict) and isinstance(option.get("value"), str):
                typed[name] = option["value"]
            else:
                problems[name] = _REQUIRED
        elif parameter.type in ("integer", "number"):
            text = state.get("value")
            if not isinstance(text, str) or not text.strip():
                problems[name] = _REQUIRED
                continue
            try:
                typed[name] = coerce_parameter(template, name, text.strip())
            except ParameterInvalid as invalid:
                problems[name] = invalid.problem
        else:
            text = state.get("value")
            typed[name] = text if isinstance(text, str) else ""
    return typed, problems


def block_errors(problems: Mapping[str, str]) -> dict[str, str]:
    """Problems by parameter, as `response_action: errors` wants them: by block, as sentences."""
    return views.block_errors(
        (parameter_block(name), problem_sentence(problem)) for name, problem in problems.items()
    )


def _element(parameter: Parameter, value: Any) -> tuple[dict[str, Any], bool]:
    """The input element for a parameter showing `value`, and whether it may be left empty."""
    if parameter.type == "boolean":
        checked = _option("yes", _CHECKED)
        element: dict[str, Any] = {"type": "checkboxes", "options": [checked]}
        if value is True:
            element["initial_options"] = [checked]
        return element, True
    if parameter.choices:
        options = [_option(c, c) for c in parameter.choices[:MAX_OPTIONS]]
        element = {"type": "static_select", "options": options}
        chosen = next((o for o in options if o["value"] == value), None)
        if chosen is not None:
            element["initial_option"] = chosen
        return element, False
    if parameter.type in ("integer", "number"):
        element = {
            "type": "number_input",
            "is_decimal_allowed": parameter.type == "number",
            "initial_value": _number(value),
        }
        if parameter.minimum is not None:
            element["min_value"] = _number(parameter.minimum)
        if parameter.maximum is not None:
            element["max_value"] = _number(parameter.maximum)
        return element, False
    element = {"type": "plain_text_input"}
    if isinstance(value, str) and value:
        element["initial_value"] = value
    return element, True


def _hint(parameter: Parameter) -> str:
    default = json.dumps(parameter.default)
    bounds = parameter.bounds
    if parameter.choices:
        bounds = f" (one of {', '.join(parameter.choices)})"
    return f"{parameter.description}{bounds}; default {default}"


def _number(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else str(value)


def _plain(text: str) -> dict[str, Any]:
    return plain_text(text, limit=LABEL_TEXT)


def _option(label: str, value: str) -> dict[str, Any]:
    return option(value, label)
