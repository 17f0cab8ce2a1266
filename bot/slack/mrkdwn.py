"""Slack mrkdwn: escaping user-supplied text, so nobody's input becomes a mention or a link, and
mentioning people."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["escape", "mentions"]


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters in mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mentions(users: Sequence[str]) -> str:
    """The people (Slack user ids) mentioned, comma-separated."""
    return ", ".join(f"<@{u}>" for u in users)
