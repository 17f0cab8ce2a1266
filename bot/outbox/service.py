"""Writing and reading outbox rows; the payloads are the sender's business, not the table's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.outbox.models import OutboxMessage, OutboxStatus

__all__ = ["TS_OF", "enqueue", "enqueue_many", "posted_ts", "queued", "ts_of"]

BULK_PAGE = 2000  # rows per INSERT statement of enqueue_many
# The key of a payload value that stands for the ts of another queued message (see ts_of).
TS_OF = "$ts_of"


def enqueue(
    *,
    session: Session,
    now: datetime,
    method: str,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Queue a call in the caller's transaction; None if dedupe_key was queued before."""
    if dedupe_key is not None:
        existing = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if existing is not None:
            return None
    message = OutboxMessage(**_pending(now=now, method=method, payload=payload, key=dedupe_key))
    session.add(message)
    return message


def enqueue_many(
    *,
    session: Session,
    now: datetime,
    calls: Sequence[tuple[str, dict[str, Any], str]],
    skip_queued: bool = False,
) -> None:
    """Queue many calls (method, payload, dedupe key) in one batched INSERT, in order.

    No check per key: a key queued before makes the INSERT, and the caller's transaction, fail
    (the digest relies on that, with its delivery row, to go out once a week). `skip_queued`:
    the calls whose key was queued before are left out instead (as `enqueue` does), found in
    one query.
    """
    if calls and skip_queued:
        keys = [key for _, _, key in calls]
        known = set(
            session.scalars(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys))
            )
        )
        calls = [call for call in calls if call[2] not in known]
    if not calls:
        return
    session.execute(
        insert(OutboxMessage).execution_options(insertmanyvalues_page_size=BULK_PAGE),
        [
            _pending(now=now, method=method, payload=payload, key=key)
            for method, payload, key in calls
        ],
    )


def _pending(
    *, now: datetime, method: str, payload: dict[str, Any], key: str | None
) -> dict[str, Any]:
    """The columns of a call queued at `now`: pending, never tried, due at once."""
    return {
        "created_at": now,
        "method": method,
        "payload": payload,
        "dedupe_key": key,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "not_before": now,
    }


def ts_of(dedupe_key: str) -> dict[str, str]:
    """A payload value (`ts`, `thread_ts`) filled in at delivery with the ts of the message
    queued under `dedupe_key`: an update or a reply can be queued before its message is sent."""
    return {TS_OF: dedupe_key}


def queued(*, session: Session, dedupe_key: str) -> bool:
    """Whether a call was queued under `dedupe_key` (whatever became of it): costly payloads are
    made only when they are still to be queued."""
    found = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
    return found is not None


def posted_ts(*, session: Session, dedupe_key: str) -> str | None:
    """The ts of the message queued under `dedupe_key`, once it is sent."""
    result = session.scalar(
        select(OutboxMessage.result).where(
            OutboxMessage.dedupe_key == dedupe_key, OutboxMessage.status == OutboxStatus.SENT
        )
    )
    return str(result["ts"]) if result and result.get("ts") else None
