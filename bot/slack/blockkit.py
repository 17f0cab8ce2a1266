"""Small Block Kit builders the modals share."""

from __future__ import annotations

from typing import Any

__all__ = ["input_block", "option", "plain_text"]


def plain_text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def option(value: str, label: str) -> dict[str, Any]:
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
