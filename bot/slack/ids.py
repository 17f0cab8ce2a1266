"""Every slash command, action_id and callback_id the bot answers, in one place."""

from __future__ import annotations

import enum

__all__ = ["SlashCommand"]


class SlashCommand(enum.StrEnum):
    """Slash commands declared in deploy/slack-app-manifest.yaml."""

    CHAOS = "/chaos"
