"""A game day's Slack conversation: one approval message, re-rendered after every change, and
a thread of what happened. Everything goes through the outbox, in the transaction of the change
it announces, so a crash or a Slack outage never loses or repeats a message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.gamedays.conversation import Change, GameDayChange
from bot.gamedays.models import GameDay, GameDayStatus
from bot.gamedays.service import minutes_text, still_needed
from bot.gamedays.timing import local_label
from bot.runs.models import Run
from bot.slack.canonical import CanonicalMessage
from bot.slack.gameday_blocks import gameday_message, reminder_text, results_text
from bot.slack.gameday_report import queue_report
from bot.slack.mrkdwn import escape, mentions

__all__ = ["SlackGameDayConversation", "note", "reissue_report", "thread_note"]

# Changes shown in the channel too, not only in the thread.
_BROADCAST = frozenset({Change.EXPIRED, Change.MISSED})


def _message(gameday: GameDay) -> CanonicalMessage:
    """The game day's approval message, and its thread."""
    return CanonicalMessage(gameday.slack_channel, f"gameday:{gameday.key}:message")


def thread_note(session: Session, gameday: GameDay, text: str, *, now: datetime, name: str) -> None:
    """A line in the game day's thread, sent once per `name` (people's findings, say)."""
    _message(gameday).reply(
        session, {"text": text}, now=now, dedupe_key=f"gameday:{gameday.key}:note:{name}"
    )


def reissue_report(session: Session, gameday: GameDay, *, finding: str, now: datetime) -> None:
    """The game day's report again, in its thread, now that people recorded `finding`."""
    queue_report(session, gameday, thread_of=_message(gameday).key, now=now, after=finding)


class SlackGameDayConversation:
    """The GameDayConversation (bot/gamedays/conversation.py) in the team's Slack channel."""

    def requested(
        self, session: Session, gameday: GameDay, *, deciders: Sequence[str], now: datetime
    ) -> None:
        """The approval message, in the team's channel."""
        _message(gameday).post(session, gameday_message(gameday, deciders, runs=[]), now=now)

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
        """The approval message as the row says now (queued after every change, in order),
        and a line in its thread saying what changed."""
        message = _message(gameday)
        message.update(
            session,
            gameday_message(gameday, deciders, runs=runs),
            now=now,
            dedupe_key=f"gameday:{gameday.key}:v{gameday.version}",
        )
        fields: dict[str, Any] = {"text": note(gameday, change, deciders=deciders, runs=runs)}
        if change.kind in _BROADCAST or (
            change.kind is Change.SETTLED and gameday.status is GameDayStatus.HALTED
        ):
            fields["reply_broadcast"] = True
        message.reply(
            session, fields, now=now, dedupe_key=f"gameday:{gameday.key}:note:v{gameday.version}"
        )
        if change.kind is Change.SETTLED:
            queue_report(session, gameday, thread_of=message.key, now=now)

    def reminded(
        self, session: Session, gameday: GameDay, *, lead: timedelta, now: datetime
    ) -> None:
        approvers = [a.slack_user_id for a in gameday.current_approvals()]
        people = [gameday.requested_by, *approvers]
        _message(gameday).reply(
            session,
            {"reply_broadcast": True, "text": reminder_text(gameday, lead=lead, people=people)},
            now=now,
            dedupe_key=f"gameday:{gameday.key}:remind:{gameday.round}:{_lead_name(lead)}",
        )

    def thread_ts(self, session: Session, gameday: GameDay) -> str | None:
        """The ts of the approval message, once Slack has it (runs reply in its thread)."""
        return _message(gameday).ts(session)


def note(
    gameday: GameDay, change: GameDayChange, *, deciders: Sequence[str], runs: Sequence[Run]
) -> str:
    """The thread's line (mrkdwn) for one change, from the facts and the row as it is now."""
    kind, actor = change.kind, f"<@{change.actor}>"
    if kind is Change.APPROVAL:
        return f"{actor} approved. {still_needed(gameday)}"
    if kind is Change.APPROVED:
        return (
            f"Approved by {mentions(change.approvers)}: it starts "
            f"{local_label(gameday.starts_at, gameday.timezone)}."
        )
    if kind is Change.REJECTED:
        return f"{actor} rejected it: {escape(gameday.reason or '')}"
    if kind is Change.CANCELLED:
        return f"{actor} cancelled it."
    if kind is Change.RESCHEDULED:
        return (
            f"{actor} moved it to {local_label(gameday.starts_at, gameday.timezone)}; "
            f"the approvals start again. {mentions(deciders)}"
        )
    if kind is Change.EXPIRED:
        return (
            f"Expired: it did not get its approvals in time. {still_needed(gameday)} "
            "Reschedule it to ask again."
        )
    if kind is Change.MISSED:
        assert change.late is not None and change.grace is not None
        return (
            f"Missed: chaosbot was not running when it was due to start, and "
            f"{minutes_text(change.late)} late is past the {minutes_text(change.grace)} grace "
            "window. Nothing was injected. Reschedule it to run it."
        )
    if kind is Change.STARTED:
        late = change.late or timedelta(0)
        lateness = (
            f" ({minutes_text(late)} late: chaosbot was down at the start)"
            if late > timedelta(minutes=1)
            else ""
        )
        return f"Started{lateness}: {change.experiments} experiment(s), one after another."
    if kind is Change.PREVIEWED:
        return "The cluster answered: the targets above are as it has them now."
    return results_text(runs, gameday.status, gameday.reason)


def _lead_name(lead: timedelta) -> str:
    return "15m" if lead <= timedelta(minutes=15) else "24h"
