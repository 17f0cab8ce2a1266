"""Installs Slack as the conversation of every domain that talks to people (see bot/ports.py)."""

from __future__ import annotations

from bot.compliance import conversation as compliance
from bot.drills import conversation as drills
from bot.findings import conversation as findings
from bot.gamedays import conversation as gamedays
from bot.slack.actions import SlackActionItemConversation
from bot.slack.digest import SlackDigestConversation
from bot.slack.drill_conversation import SlackDrillConversation
from bot.slack.gameday_conversation import SlackGameDayConversation

__all__ = ["install"]


def install() -> None:
    """Make Slack the conversation of game days, drills, the digest and action items in this
    process."""
    gamedays.conversation.install(SlackGameDayConversation())
    drills.conversation.install(SlackDrillConversation())
    compliance.conversation.install(SlackDigestConversation())
    findings.conversation.install(SlackActionItemConversation())
