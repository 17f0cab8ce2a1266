"""A drill's Slack conversation: one alert, re-rendered after every change, and its thread.
Everything goes through the outbox in the transaction of the change it announces."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.drills.conversation import DrillChange, DrillEvent
from bot.drills.models import Drill
from bot.outbox.service import ts_of
from bot.slack.canonical import CanonicalMessage
from bot.slack.drill_blocks import alert_message
from bot.slack.mrkdwn import mentions
from bot.slack.outbox import enqueue

__all__ = ["SlackDrillConversation", "alert_ts", "post_alert", "thread_note", "update_alert"]


def _alert(drill: Drill) -> CanonicalMessage:
    """The drill's incident alert, and its thread."""
    return CanonicalMessage(drill.slack_channel, f"drill:{drill.key}:alert")


def _content(drill: Drill) -> dict[str, Any]:
    """The alert's content, as the row says now."""
    return alert_message(drill, timezone=drill.service.team.timezone, run=drill.run)


def post_alert(session: Session, drill: Drill, *, now: datetime) -> None:
    _alert(drill).post(session, _content(drill), now=now)


def update_alert(session: Session, drill: Drill, *, now: datetime) -> None:
    """The alert as the row says now; bumps the drill's version so each render is sent once."""
    drill.version += 1
    alert = _alert(drill)
    # The alert's own order of fields (ts first), as it has always been queued.
    enqueue(
        session=session,
        now=now,
        method="chat.update",
        payload={"ts": ts_of(alert.key), "channel": alert.channel, **_content(drill)},
        dedupe_key=f"drill:{drill.key}:v{drill.version}",
    )


def thread_note(session: Session, drill: Drill, text: str, *, now: datetime, name: str) -> None:
    """A line in the alert's thread, sent once per `name`."""
    _alert(drill).reply(
        session, {"text": text}, now=now, dedupe_key=f"drill:{drill.key}:note:{name}"
    )


def alert_ts(session: Session, drill: Drill) -> str | None:
    return _alert(drill).ts(session)


class SlackDrillConversation:
    """The DrillConversation (bot/drills/conversation.py) in the team's Slack channel."""

    def fired(self, session: Session, drill: Drill, *, now: datetime) -> None:
        post_alert(session, drill, now=now)

    def changed(
        self, session: Session, drill: Drill, change: DrillChange, *, now: datetime
    ) -> None:
        update_alert(session, drill, now=now)
        thread_note(session, drill, note(change), now=now, name=change.event.value)


def note(change: DrillChange) -> str:
    """The thread's line (mrkdwn) for one change."""
    if change.event is DrillEvent.ACKNOWLEDGED:
        return f"<@{change.actor}> acknowledged."
    if change.event is DrillEvent.ESCALATED:
        paged = mentions(change.paged) or "nobody (the service names no owner)"
        return f":mega: <@{change.actor}> escalated: {paged}, please join."
    if change.event is DrillEvent.RESOLVED:
        return f"<@{change.actor}> resolved it. Checking recovery…"
    return (
        "It was a drill. The message above now shows its timeline; record what you learned "
        "with *Record findings*."
    )
