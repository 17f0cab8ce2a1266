"""What every modal handler needs: the idempotency key of a submitted view."""

from __future__ import annotations

from typing import Any

__all__ = ["view_key"]


def view_key(view: dict[str, Any]) -> str:
    """The key that makes one submission of one view count once (Slack retries, double clicks)."""
    return f"view:{view['id']}:{view.get('callback_id', '')}"
