"""What action items tell their owners, as facts: the interface the findings domain talks
through. The adapter (Slack's is bot/slack/actions.py) words it and queues it in the session it
is handed, in the transaction of the change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from bot.findings.models import ActionItem
from bot.ports import Port

__all__ = ["ActionItemConversation", "conversation"]


class ActionItemConversation(Protocol):
    def remind(
        self, session: Session, reminders: Sequence[tuple[ActionItem, int]], *, now: datetime
    ) -> None:
        """Remind each item's owner that it is due today (0) or overdue by that many days; sent
        once per item and `now`'s day, written in `session` only, in a fixed number of
        statements however many there are."""


conversation: Port[ActionItemConversation] = Port("action item conversation")
