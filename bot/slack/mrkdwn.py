"""Escaping user-supplied text for Slack mrkdwn, so nobody's input becomes a mention or a link."""

from __future__ import annotations

__all__ = ["escape"]


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters in mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
