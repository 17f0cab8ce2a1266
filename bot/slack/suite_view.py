"""The suite parameters modal: building it, reading its state, placing field errors.

Pure functions. One input block per parameter of the experiment, its id `suite_parameter:NAME`:
a number input bounded like the parameter for integers and numbers, a select for a parameter
with choices, a checkbox for a boolean and a text input for any other string. With load
profiles on (CHAOSBOT_LOAD_PROFILES), the entry's load profile follows: its tool, an inline
script or a ConfigMap's name and key, users, ramp-up, duration and host; it is read back as
chaos.yaml's `load` and checked by chaos.yaml's rules (in the domain), each problem placed on
its field's block.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.catalog.suite import parameter_problems
from bot.library.catalogue import ExperimentTemplate, Parameter
from bot.library.render import ParameterInvalid, coerce_parameter
from bot.load.profile import (
    MAX_DURATION_SECONDS,
    MAX_RAMP_UP_SECONDS,
    MAX_USERS,
    MIN_DURATION_SECONDS,
    Tool,
)
from bot.slack import views
from bot.slack.blockkit import (
    LABEL_TEXT,
    MAX_OPTIONS,
    input_block,
    option,
    plain_text,
    section,
)
from bot.slack.ids import CallbackId, SuiteBlock
from bot.slack.mrkdwn import escape
from bot.slack.views import ParametersModal, problem_sentence

__all__ = [
    "SCRIPT_INPUT_CHARACTERS",
    "block_errors",
    "load_block_errors",
    "parameter_block",
    "parameters_modal",
    "read_load",
    "read_parameters",
]

_CHECKED = "on"
_REQUIRED = "is required"
# Slack's longest plain_text_input: a longer script goes in a ConfigMap.
SCRIPT_INPUT_CHARACTERS = 3000
_NO_TOOL = "none"
# Where each field of a load profile (its path in chaos.yaml's `load`) is shown.
_LOAD_BLOCKS = {
    "tool": SuiteBlock.LOAD_TOOL,
    "script": SuiteBlock.LOAD_SCRIPT,
    "configMap": SuiteBlock.LOAD_CONFIG_MAP_NAME,
    "configMap.name": SuiteBlock.LOAD_CONFIG_MAP_NAME,
    "configMap.key": SuiteBlock.LOAD_CONFIG_MAP_KEY,
    "users": SuiteBlock.LOAD_USERS,
    "rampUpSeconds": SuiteBlock.LOAD_RAMP_UP,
    "durationSeconds": SuiteBlock.LOAD_DURATION,
    "host": SuiteBlock.LOAD_HOST,
}


def parameter_block(name: str) -> str:
    """The block id of a parameter's input."""
    return f"{SuiteBlock.PARAMETER.value}:{name}"


def parameters_modal(
    template: ExperimentTemplate,
    *,
    stored: Mapping[str, Any],
    about: ParametersModal,
    load: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The modal, each input showing the stored value (or the default), and with
    `about.with_load` the stored load profile `load`."""
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
    if about.with_load:
        blocks += _load_blocks(load or {}, about.service)
        script = (load or {}).get("script")
        about = replace(about, keep_script=len(script or "") > SCRIPT_INPUT_CHARACTERS)
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


def read_load(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """The load profile the form gives, as chaos.yaml's `load` (its values as typed, for the
    domain to check); None: the tool chosen is none, so no load (whatever the other fields
    still show)."""

    def text(block: SuiteBlock) -> str:
        state = values.get(block.value, {}).get(block.value)
        value = state.get("value") if isinstance(state, dict) else None
        return value.strip() if isinstance(value, str) else ""

    tool_state = values.get(SuiteBlock.LOAD_TOOL.value, {}).get(SuiteBlock.LOAD_TOOL.value)
    chosen = tool_state.get("selected_option") if isinstance(tool_state, dict) else None
    tool = str(chosen.get("value") or "") if isinstance(chosen, dict) else ""
    if tool == _NO_TOOL:
        return None
    name, key = text(SuiteBlock.LOAD_CONFIG_MAP_NAME), text(SuiteBlock.LOAD_CONFIG_MAP_KEY)
    script_state = values.get(SuiteBlock.LOAD_SCRIPT.value, {}).get(SuiteBlock.LOAD_SCRIPT.value)
    script = script_state.get("value") if isinstance(script_state, dict) else None
    script = script if isinstance(script, str) and script.strip() else None
    document: dict[str, Any] = {"tool": tool or None}
    if script is not None:
        document["script"] = script
    if name or key:
        document["configMap"] = {"name": name or None, "key": key or None}
    fields = {
        "users": SuiteBlock.LOAD_USERS,
        "rampUpSeconds": SuiteBlock.LOAD_RAMP_UP,
        "durationSeconds": SuiteBlock.LOAD_DURATION,
        "host": SuiteBlock.LOAD_HOST,
    }
    document.update({field: text(block) for field, block in fields.items() if text(block)})
    return document


def load_block_errors(problems: Mapping[str, str]) -> dict[str, str]:
    """A load profile's problems by field (`users`, `configMap.key`), by block, as sentences;
    one the form has no field for goes on the tool."""
    return views.block_errors(
        (
            _LOAD_BLOCKS.get(path, SuiteBlock.LOAD_TOOL).value,
            problem_sentence(problem),
        )
        for path, problem in problems.items()
    )


def block_errors(problems: Mapping[str, str]) -> dict[str, str]:
    """Problems by parameter, as `response_action: errors` wants them: by block, as sentences."""
    return views.block_errors(
        (parameter_block(name), problem_sentence(problem)) for name, problem in problems.items()
    )


def _load_blocks(stored: Mapping[str, Any], service: str) -> list[dict[str, Any]]:
    """The load profile's inputs, showing the stored profile."""
    tools = [option(_NO_TOOL, "None: no load"), *(option(t.value, _TOOL_LABELS[t]) for t in Tool)]
    tool: dict[str, Any] = {"type": "static_select", "options": tools}
    chosen = next((o for o in tools if o["value"] == stored.get("tool", _NO_TOOL)), None)
    if chosen is not None:
        tool["initial_option"] = chosen
    script = stored.get("script") or ""
    script_input: dict[str, Any] = {
        "type": "plain_text_input",
        "multiline": True,
        "max_length": SCRIPT_INPUT_CHARACTERS,
    }
    script_hint = (
        f"The locustfile or k6 script itself, at most {SCRIPT_INPUT_CHARACTERS:,} characters "
        "(Slack's limit for a field): a longer one goes in a ConfigMap (below)."
    )
    if len(script) > SCRIPT_INPUT_CHARACTERS:
        script_hint = (
            f"The stored script has {len(script):,} characters, more than this form shows "
            f"({SCRIPT_INPUT_CHARACTERS:,}): left empty, it stays as it is."
        )
    elif script:
        script_input["initial_value"] = script
    config_map = stored.get("configMap") or {}
    intro = (
        "*Load profile*: run this experiment under load, a Locust file or a k6 script, given "
        f"here or kept in a ConfigMap of {escape(service)}'s namespace (one of the two)."
    )
    return [
        section(intro, block_id=SuiteBlock.LOAD_INTRO.value),
        input_block(SuiteBlock.LOAD_TOOL, "Load tool", tool),
        input_block(
            SuiteBlock.LOAD_SCRIPT, "Script", script_input, optional=True, hint=script_hint
        ),
        input_block(
            SuiteBlock.LOAD_CONFIG_MAP_NAME,
            "Or: ConfigMap name",
            _text(config_map.get("name")),
            optional=True,
        ),
        input_block(
            SuiteBlock.LOAD_CONFIG_MAP_KEY,
            "ConfigMap key",
            _text(config_map.get("key")),
            optional=True,
            hint="The key holding the script, e.g. locustfile.py",
        ),
        input_block(
            SuiteBlock.LOAD_USERS,
            "Users",
            _whole(stored.get("users"), 1, MAX_USERS),
            optional=True,
            hint=f"How many users the load simulates, 1 to {MAX_USERS}",
        ),
        input_block(
            SuiteBlock.LOAD_RAMP_UP,
            "Ramp-up (seconds)",
            _whole(stored.get("rampUpSeconds"), 0, MAX_RAMP_UP_SECONDS),
            optional=True,
            hint=f"How long the users take to arrive, 0 to {MAX_RAMP_UP_SECONDS}; default 0",
        ),
        input_block(
            SuiteBlock.LOAD_DURATION,
            "Duration (seconds)",
            _whole(stored.get("durationSeconds"), MIN_DURATION_SECONDS, MAX_DURATION_SECONDS),
            optional=True,
            hint=(
                f"{MIN_DURATION_SECONDS} to {MAX_DURATION_SECONDS}; empty: as long as the run "
                "(the run stops the load at its end anyway)"
            ),
        ),
        input_block(
            SuiteBlock.LOAD_HOST,
            "Host",
            _text(stored.get("host")),
            optional=True,
            hint="Where the load goes (Locust's --host, k6's __ENV.TARGET_URL); empty: as the "
            "script says",
        ),
    ]


_TOOL_LABELS = {Tool.LOCUST: "Locust (a locustfile.py)", Tool.K6: "k6 (a script.js)"}


def _text(value: Any) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input"}
    if isinstance(value, str) and value:
        element["initial_value"] = value
    return element


def _whole(value: Any, low: int, high: int) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "number_input",
        "is_decimal_allowed": False,
        "min_value": str(low),
        "max_value": str(high),
    }
    if isinstance(value, int) and not isinstance(value, bool):
        element["initial_value"] = str(value)
    return element


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
