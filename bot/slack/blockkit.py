"""Small Block Kit builders the modals share."""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_OPTIONS", "input_block", "option", "plain_text"]

MAX_OPTIONS = 100  # in one select
MAX_OPTION_TEXT = 75


def plain_text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def option(value: str, label: str) -> dict[str, Any]:
    """A select's option; a label longer than Slack allows is cut short."""
    if len(label) > MAX_OPTION_TEXT:
        label = label[: MAX_OPTION_TEXT - 1] + "…"
    return {"text": plain_text(label), "value": value}


def input_block(
    block: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> dict[str, Any]:
    """An input block whose element's action_id is its block_id (how the modals read values)."""
    result: dict[str, Any] = {
        "type": "input",
        "block_id": str(block),
        "label": plain_text(label),
        "element": {**element, "action_id": str(block)},
        "optional": optional,
    }
    if hint:
        result["hint"] = plain_text(hint)
    return result
