"""What a drill tells its team, as facts: the interface the drill domain talks through.

The domain says what happened in the transaction of the change; the adapter (Slack's is
bot/slack/drill_conversation.py) words it and queues it in the same session.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from bot.drills.models import Drill
from bot.ports import Port

__all__ = ["DrillChange", "DrillConversation", "DrillEvent", "conversation"]


class DrillEvent(enum.StrEnum):
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    REVEALED = "revealed"


@dataclass(frozen=True, kw_only=True)
class DrillChange:
    """One change to a drill; the rest (times, people, run) is on its row."""

    event: DrillEvent
    actor: str | None = None  # the person who clicked
    paged: Sequence[str] = ()  # ESCALATED: who was paged


class DrillConversation(Protocol):
    """A drill's conversation with its team; every method writes in `session` only."""

    def fired(self, session: Session, drill: Drill, *, now: datetime) -> None:
        """The incident alert, as the row says now."""

    def changed(
        self, session: Session, drill: Drill, change: DrillChange, *, now: datetime
    ) -> None:
        """The drill changed: show it as the row says now, and say what happened."""


conversation: Port[DrillConversation] = Port("drill conversation")
