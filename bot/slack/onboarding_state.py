"""Typed reading of a submitted onboarding modal's `view.state.values`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.slack.ids import OnboardBlock

__all__ = ["FormState"]


class FormState:
    """Typed access to `view.state.values` (block_id -> action_id -> element state)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def has(self, block: OnboardBlock) -> bool:
        """Whether the submitted view had this block (a modal opened before it existed did not)."""
        return block.value in self._values

    def raw(self, block: OnboardBlock) -> dict[str, Any]:
        element = self._values.get(block.value, {}).get(block.value)
        return element if isinstance(element, dict) else {}

    def text(self, block: OnboardBlock) -> str | None:
        value = self.raw(block).get("value")
        return value.strip() or None if isinstance(value, str) else None

    def selected(self, block: OnboardBlock) -> str | None:
        option = self.raw(block).get("selected_option")
        if isinstance(option, dict) and isinstance(option.get("value"), str):
            return str(option["value"])
        return None

    def values(self, block: OnboardBlock) -> list[Any]:
        """The values of a multi-select's chosen options."""
        options = self.raw(block).get("selected_options") or []
        return [o.get("value") for o in options if isinstance(o, dict)]
