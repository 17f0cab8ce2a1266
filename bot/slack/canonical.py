"""One canonical Slack message per thing (a game day, a drill) and the thread under it, all
queued through the outbox in the transaction of the change they announce."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.outbox.service import posted_ts, ts_of
from bot.slack.outbox import enqueue

__all__ = ["CanonicalMessage"]


@dataclass(frozen=True)
class CanonicalMessage:
    """A thing's one message in `channel`, queued under the dedupe key `key`; its ts (known once
    Slack has it) is found by that key, so updates and replies can be queued before then."""

    channel: str | None  # a drill planned before its team had a channel has none
    key: str

    def post(self, session: Session, message: Mapping[str, Any], *, now: datetime) -> None:
        """The message itself (queued once: a second post under the same key is dropped)."""
        self._enqueue(
            session, "chat.postMessage", {"channel": self.channel, **message}, now, self.key
        )

    def update(
        self, session: Session, message: Mapping[str, Any], *, now: datetime, dedupe_key: str
    ) -> None:
        """The message re-rendered; `dedupe_key` names this render, so it is sent once."""
        payload = {"channel": self.channel, "ts": ts_of(self.key), **message}
        self._enqueue(session, "chat.update", payload, now, dedupe_key)

    def reply(
        self, session: Session, fields: Mapping[str, Any], *, now: datetime, dedupe_key: str
    ) -> None:
        """A reply in the message's thread; `fields` are its text and any reply_broadcast."""
        payload = {"channel": self.channel, "thread_ts": ts_of(self.key), **fields}
        self._enqueue(session, "chat.postMessage", payload, now, dedupe_key)

    def ts(self, session: Session) -> str | None:
        """The message's ts, once Slack has it."""
        return posted_ts(session=session, dedupe_key=self.key)

    def _enqueue(
        self,
        session: Session,
        method: str,
        payload: dict[str, Any],
        now: datetime,
        dedupe_key: str,
    ) -> None:
        enqueue(session=session, now=now, method=method, payload=payload, dedupe_key=dedupe_key)
