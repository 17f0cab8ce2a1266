"""A game day's Slack conversation: one approval message, re-rendered after every change, and
a thread of what happened. Everything goes through the outbox, in the transaction of the change
it announces, so a crash or a Slack outage never loses or repeats a message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.gamedays.models import GameDay, GameDayStatus
from bot.outbox.service import posted_ts, ts_of
from bot.runs.models import Run
from bot.slack.gameday_blocks import gameday_message, reminder_text, results_text
from bot.slack.outbox import enqueue

__all__ = ["post_request", "remind", "results_line", "thread_note", "thread_ts", "update"]


def message_key(gameday: GameDay) -> str:
    return f"gameday:{gameday.key}:message"


def post_request(
    session: Session, gameday: GameDay, *, deciders: Sequence[str], now: datetime
) -> None:
    """The approval message, in the team's channel."""
    enqueue(
        session=session,
        now=now,
        method="chat.postMessage",
        payload={"channel": gameday.slack_channel, **gameday_message(gameday, deciders, runs=[])},
        dedupe_key=message_key(gameday),
    )


def update(
    session: Session,
    gameday: GameDay,
    *,
    deciders: Sequence[str],
    now: datetime,
    runs: Sequence[Run] = (),
) -> None:
    """The approval message as the row says now (queued after every change, in order)."""
    enqueue(
        session=session,
        now=now,
        method="chat.update",
        payload={
            "channel": gameday.slack_channel,
            "ts": ts_of(message_key(gameday)),
            **gameday_message(gameday, deciders, runs=runs),
        },
        dedupe_key=f"gameday:{gameday.key}:v{gameday.version}",
    )


def thread_note(
    session: Session, gameday: GameDay, text: str, *, now: datetime, broadcast: bool = False
) -> None:
    """A line in the game day's thread (also shown in the channel when `broadcast`)."""
    payload = {
        "channel": gameday.slack_channel,
        "thread_ts": ts_of(message_key(gameday)),
        "text": text,
    }
    if broadcast:
        payload["reply_broadcast"] = True  # type: ignore[assignment]
    enqueue(
        session=session,
        now=now,
        method="chat.postMessage",
        payload=payload,
        dedupe_key=f"gameday:{gameday.key}:note:v{gameday.version}",
    )


def remind(session: Session, gameday: GameDay, *, now: datetime, lead: timedelta) -> None:
    approvers = [a.slack_user_id for a in gameday.current_approvals()]
    enqueue(
        session=session,
        now=now,
        method="chat.postMessage",
        payload={
            "channel": gameday.slack_channel,
            "thread_ts": ts_of(message_key(gameday)),
            "reply_broadcast": True,
            "text": reminder_text(gameday, lead=lead, people=[gameday.requested_by, *approvers]),
        },
        dedupe_key=f"gameday:{gameday.key}:remind:{gameday.round}:{_lead_name(lead)}",
    )


def thread_ts(session: Session, gameday: GameDay) -> str | None:
    """The ts of the approval message, once Slack has it (runs reply in its thread)."""
    return posted_ts(session=session, dedupe_key=message_key(gameday))


def results_line(runs: Sequence[Run], status: GameDayStatus, reason: str | None) -> str:
    return results_text(runs, status, reason)


def _lead_name(lead: timedelta) -> str:
    return "15m" if lead <= timedelta(minutes=15) else "24h"
