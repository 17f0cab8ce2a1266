"""What a game day tells people, as facts: the interface the game-day domain talks through.

The domain says what happened (`requested`, `changed`, `reminded`) in the transaction of the
change; the adapter (Slack's is bot/slack/gameday_conversation.py) words it and queues it in the
same session, so a crash or an outage never loses or repeats a message.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from bot.gamedays.models import GameDay
from bot.ports import Port
from bot.runs.models import Run

__all__ = ["Change", "GameDayChange", "GameDayConversation", "conversation"]


class Change(enum.StrEnum):
    APPROVAL = "approval"  # one approval, more needed
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"
    EXPIRED = "expired"
    MISSED = "missed"
    STARTED = "started"
    SETTLED = "settled"  # completed or halted: the row's status and reason say which
    PREVIEWED = "previewed"  # the cluster answered for a preview recorded as pending


@dataclass(frozen=True, kw_only=True)
class GameDayChange:
    """One change to a game day; the rest (status, times, reason, approvals) is on its row."""

    kind: Change
    actor: str | None = None  # the person who made the change
    approvers: tuple[str, ...] = ()  # APPROVED: everyone who approved this round
    late: timedelta | None = None  # MISSED, STARTED: how late the start came
    grace: timedelta | None = None  # MISSED: the grace window it missed
    experiments: int = 0  # STARTED: how many runs it will make


class GameDayConversation(Protocol):
    """A game day's conversation with its team; every method writes in `session` only."""

    def requested(
        self, session: Session, gameday: GameDay, *, deciders: Sequence[str], now: datetime
    ) -> None:
        """A new request, asking its deciders to approve it."""

    def changed(
        self,
        session: Session,
        gameday: GameDay,
        change: GameDayChange,
        *,
        deciders: Sequence[str],
        runs: Sequence[Run],
        now: datetime,
    ) -> None:
        """The game day changed (its version was bumped): show it as the row says now."""

    def reminded(
        self, session: Session, gameday: GameDay, *, lead: timedelta, now: datetime
    ) -> None:
        """An approved game day starts in `lead`."""

    def thread_ts(self, session: Session, gameday: GameDay) -> str | None:
        """Where the game day's runs reply, once the conversation has a place (else None)."""


conversation: Port[GameDayConversation] = Port("game-day conversation")
