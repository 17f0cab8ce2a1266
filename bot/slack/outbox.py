"""The outbox's Slack side: messages fitted to Slack's limits as they are queued (the rows
themselves are bot/outbox's), and the sender that makes the Web API calls, surviving rate limits
and outages without losing any."""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web import SlackResponse
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.db.engine import Database
from bot.outbox import service
from bot.outbox.models import OutboxMessage, OutboxStatus
from bot.outbox.service import TS_OF
from bot.reports.chart import TrendChart
from bot.slack.blockkit import message as fitted_message

__all__ = [
    "UPLOAD_METHOD",
    "DeliveryReport",
    "OutboxPump",
    "deliver_due",
    "enqueue",
    "enqueue_many",
    "upload_content",
    "upload_payload",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Not a Web API method: the three calls of WebClient.files_upload_v2, queued as one.
UPLOAD_METHOD = "files.upload_v2"
# Errors that no retry will cure: the message is marked failed and the reason kept.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "invalid_blocks",
        "msg_too_long",
        "message_not_found",
        "cant_update_message",
        "missing_scope",
    }
)

_MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})


def enqueue(
    *,
    session: Session,
    now: datetime,
    method: str,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Queue a Web API call in the caller's transaction; None if dedupe_key was queued before."""
    return service.enqueue(
        session=session,
        now=now,
        method=method,
        payload=_fitted(method, payload),
        dedupe_key=dedupe_key,
    )


def upload_payload(
    *,
    channel: str,
    filename: str,
    title: str,
    content: bytes | TrendChart,
    initial_comment: str | None = None,
    thread_ts: str | dict[str, str] | None = None,
) -> dict[str, Any]:
    """The payload of a file shared to a channel (a thread with `thread_ts`, which may be a
    `ts_of`), queued with method UPLOAD_METHOD by `enqueue` or `enqueue_many`.

    `content`: the file's bytes, or a chart that the sender draws when it uploads it
    (`upload_content`): a few hundred bytes queued instead of a PNG, and the drawing done at the
    pace Slack takes the uploads, not in the caller's transaction."""
    payload: dict[str, Any] = {"channel": channel, "filename": filename, "title": title}
    if isinstance(content, TrendChart):
        payload["trend_chart"] = content.to_json()
    else:
        # The payload is a JSON column.
        payload["content_base64"] = base64.b64encode(content).decode("ascii")
    if initial_comment is not None:
        payload["initial_comment"] = initial_comment
    if thread_ts is not None:
        payload["thread_ts"] = thread_ts
    return payload


def _fitted(method: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A message's text and blocks fitted to Slack's limits, so no queued message is refused."""
    if method not in _MESSAGE_METHODS or not isinstance(payload.get("text"), str):
        return payload
    return {**payload, **fitted_message(payload["text"], payload.get("blocks") or ())}


def enqueue_many(
    *,
    session: Session,
    now: datetime,
    calls: Sequence[tuple[str, dict[str, Any], str]],
    skip_queued: bool = False,
) -> None:
    """Queue many Web API calls (method, payload, dedupe key) in one batched INSERT, in order
    (see bot.outbox.service.enqueue_many: a key queued before fails the transaction, unless
    `skip_queued` leaves it out)."""
    service.enqueue_many(
        session=session,
        now=now,
        calls=[(method, _fitted(method, payload), key) for method, payload, key in calls],
        skip_queued=skip_queued,
    )


_REFERENCE_WAIT = timedelta(seconds=2)


class _Unresolved(Exception):
    """The payload refers to a message that is not sent yet (or never will be)."""

    def __init__(self, *, permanent: bool, reason: str) -> None:
        super().__init__(reason)
        self.permanent = permanent


def _resolve(session: Session, payload: dict[str, Any]) -> dict[str, Any]:
    resolved = dict(payload)
    for name, value in payload.items():
        if not (isinstance(value, dict) and TS_OF in value):
            continue
        key = value[TS_OF]
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
        if row is None or row.status is OutboxStatus.FAILED:
            raise _Unresolved(permanent=True, reason=f"{key} was never sent")
        if row.status is OutboxStatus.PENDING:
            raise _Unresolved(permanent=False, reason=f"waiting for {key}")
        ts = (row.result or {}).get("ts")
        if not ts:  # e.g. an upload: Slack does not say which message shared the file
            raise _Unresolved(permanent=True, reason=f"{key} has no ts")
        resolved[name] = str(ts)
    return resolved


@dataclass(frozen=True)
class DeliveryReport:
    """What one pass of the sender did."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0
    rate_limited_until: datetime | None = None


def deliver_due(
    *, db: Database, client: WebClient, clock: Clock, limit: int = 50
) -> DeliveryReport:
    """Make the due Web API calls in order; a 429 stops the pass until Retry-After has passed."""
    now = clock.now()
    with db.session() as session:
        due = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .where(OutboxMessage.not_before <= now)
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
    sent = failed = deferred = 0
    for message in due:
        try:
            with db.session() as session:
                payload = _resolve(session, message.payload)
        except _Unresolved as unresolved:
            outcome = _Outcome(
                OutboxStatus.FAILED if unresolved.permanent else OutboxStatus.PENDING,
                message.attempts,
                now + (timedelta(0) if unresolved.permanent else _REFERENCE_WAIT),
                str(unresolved),
            )
        else:
            outcome = _deliver(client, message, payload, now)
        with db.session() as session:
            row = session.get(OutboxMessage, message.id)
            if row is None or row.status is not OutboxStatus.PENDING:
                continue  # another sender got there first
            outcome.apply(row)
        if outcome.status is OutboxStatus.SENT:
            sent += 1
        elif outcome.status is OutboxStatus.FAILED:
            failed += 1
        else:
            deferred += 1
            if outcome.rate_limited:
                _hold_method(db, message.method, outcome.not_before)
                return DeliveryReport(sent, failed, deferred, outcome.not_before)
    return DeliveryReport(sent, failed, deferred)


def _hold_method(db: Database, method: str, until: datetime) -> None:
    """Slack rate-limits per method: nothing else queued for it goes before `until`."""
    with db.session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .where(OutboxMessage.method == method)
            .where(OutboxMessage.not_before < until)
            .values(not_before=until)
        )


@dataclass(frozen=True)
class _Outcome:
    status: OutboxStatus
    attempts: int
    not_before: datetime
    error: str | None = None
    result: dict[str, Any] | None = None
    rate_limited: bool = False

    def apply(self, row: OutboxMessage) -> None:
        row.status = self.status
        row.attempts = self.attempts
        row.not_before = self.not_before
        row.last_error = self.error
        if self.result is not None:
            row.result = self.result


def _deliver(
    client: WebClient, message: OutboxMessage, payload: dict[str, Any], now: datetime
) -> _Outcome:
    attempts = message.attempts + 1
    try:
        response = _call(client, message.method, payload)
    except _InvalidPayload as exc:
        log.error("outbox %s failed: %s", message.id, exc)
        return _Outcome(OutboxStatus.FAILED, attempts, now, str(exc))
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if exc.response.status_code == 429:
            retry_after = int(exc.response.headers.get("Retry-After", "1"))
            log.warning("outbox %s rate limited for %ss", message.id, retry_after)
            # A rate limit is Slack's instruction, not a failure of ours: it does not count.
            return _Outcome(
                OutboxStatus.PENDING,
                message.attempts,
                now + timedelta(seconds=retry_after),
                error,
                rate_limited=True,
            )
        if error in PERMANENT_ERRORS or attempts >= MAX_ATTEMPTS:
            log.error("outbox %s failed: %s", message.id, error)
            return _Outcome(OutboxStatus.FAILED, attempts, now, error)
        return _Outcome(OutboxStatus.PENDING, attempts, now + _backoff(attempts), error)
    # Slack unreachable, or (SlackRequestError) an upload URL that did not answer 200.
    except (OSError, SlackRequestError) as exc:
        if attempts >= MAX_ATTEMPTS:
            return _Outcome(OutboxStatus.FAILED, attempts, now, type(exc).__name__)
        return _Outcome(OutboxStatus.PENDING, attempts, now + _backoff(attempts), str(exc))
    result = {k: response.get(k) for k in ("channel", "ts") if response.get(k) is not None}
    file = response.get("file")
    if isinstance(file, dict) and file.get("id"):
        result["file_id"] = file["id"]
    return _Outcome(OutboxStatus.SENT, attempts, now, None, result)


class _InvalidPayload(Exception):
    """A queued payload that no retry can send."""


def upload_content(payload: dict[str, Any]) -> bytes:
    """The bytes of a queued upload (`upload_payload`): as queued, or its chart drawn now.
    ValueError for a payload that has neither."""
    if "trend_chart" in payload:
        return TrendChart.from_json(payload["trend_chart"]).png()
    try:
        return base64.b64decode(payload["content_base64"], validate=True)
    except (KeyError, TypeError, binascii.Error):
        raise ValueError("an upload without its content") from None


def _call(client: WebClient, method: str, payload: dict[str, Any]) -> SlackResponse:
    if method != UPLOAD_METHOD:
        return client.api_call(method, json=payload)
    try:
        content = upload_content(payload)
        channel, filename, title = payload["channel"], payload["filename"], payload["title"]
    except (KeyError, ValueError):
        raise _InvalidPayload("invalid upload payload") from None
    # Three calls (an upload URL, the upload, the share) that fail as one: a retry starts over,
    # and a file uploaded but not shared stays unseen.
    return client.files_upload_v2(
        channel=channel,
        file=content,
        filename=filename,
        title=title,
        initial_comment=payload.get("initial_comment"),
        thread_ts=payload.get("thread_ts"),
    )


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, 300))


class OutboxPump:
    """A background thread that delivers the outbox: woken after each enqueue, and every few
    seconds anyway (retries, Retry-After), so a message is never left behind."""

    def __init__(
        self, *, db: Database, client: WebClient, clock: Clock, interval: float = 2.0
    ) -> None:
        self._db, self._client, self._clock = db, client, clock
        self._interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaosbot-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Deliver now: something was just queued."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                deliver_due(db=self._db, client=self._client, clock=self._clock)
            except Exception:
                log.exception("outbox delivery pass failed")
            self._wake.wait(self._interval)
