"""What the bot answers a person with: text plus optional Block Kit, ephemeral unless said."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.slack.blockkit import message, section

__all__ = ["Reply"]


@dataclass(frozen=True)
class Reply:
    """A message for the person who asked (or, in_channel, for everyone in the channel)."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    in_channel: bool = False

    def as_response(self) -> dict[str, Any]:
        """The body of an ack() or a response_url post, fitted to Slack's limits."""
        return {
            "response_type": "in_channel" if self.in_channel else "ephemeral",
            **message(self.text, self.blocks),
        }

    @classmethod
    def markdown(cls, text: str, *, in_channel: bool = False) -> Reply:
        """A reply of one mrkdwn section (text also serves notifications and screen readers)."""
        return cls(text=text, blocks=[section(text)], in_channel=in_channel)
