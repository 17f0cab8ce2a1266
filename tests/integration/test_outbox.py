"""The outbox delivers queued Web API calls once, in order, through rate limits and outages."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.db.engine import Database
from bot.outbox.models import OutboxMessage, OutboxStatus
from bot.outbox.service import posted_ts, ts_of
from bot.reports.chart import TrendChart, render_trend_png
from bot.slack.outbox import UPLOAD_METHOD, deliver_due, enqueue, upload_payload
from bot.testing.slack.api import SlackApiServer

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _client(api: SlackApiServer) -> WebClient:
    return WebClient(token=api.bot_token, base_url=api.base_url)


def _queue(db: Database, *texts: str, channel: str = "C0TEAM") -> None:
    with db.session() as session:
        for text in texts:
            enqueue(
                session=session,
                now=START,
                method="chat.postMessage",
                payload={"channel": channel, "text": text},
                dedupe_key=f"digest:{channel}:{text}",
            )


# Not valid UTF-8, with every byte value: the upload must carry bytes, not text.
CHART = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def _queue_upload(
    db: Database,
    *,
    content: bytes | TrendChart = CHART,
    dedupe_key: str = "trend:C0TEAM:2026-W48",
    thread_ts: str | dict[str, str] | None = None,
) -> bool:
    with db.session() as session:
        payload = upload_payload(
            channel="C0TEAM",
            filename="resilience-trend.png",
            title="Resilience score, last 12 weeks",
            content=content,
            initial_comment="This week's trend",
            thread_ts=thread_ts,
        )
        queued = enqueue(
            session=session, now=START, method=UPLOAD_METHOD, payload=payload, dedupe_key=dedupe_key
        )
        return queued is not None


def _statuses(db: Database) -> list[OutboxStatus]:
    with db.session() as session:
        return list(session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)))


def test_messages_are_sent_in_order_and_only_once(db: Database, slack_api: SlackApiServer) -> None:
    _queue(db, "one", "two")
    clock = FrozenClock(START)
    report = deliver_due(db=db, client=_client(slack_api), clock=clock)
    assert report.sent == 2
    assert [m["text"] for m in slack_api.messages("C0TEAM")] == ["one", "two"]
    again = deliver_due(db=db, client=_client(slack_api), clock=clock)
    assert again.sent == 0
    assert len(slack_api.calls_to("chat.postMessage")) == 2
    with db.session() as session:
        sent = session.scalars(select(OutboxMessage)).all()
        assert all(m.result and m.result["ts"] for m in sent)


def test_a_dedupe_key_is_queued_once(db: Database) -> None:
    _queue(db, "weekly")
    _queue(db, "weekly")
    assert _statuses(db) == [OutboxStatus.PENDING]


def test_a_429_waits_for_retry_after_and_loses_nothing(
    db: Database, slack_api: SlackApiServer
) -> None:
    _queue(db, "one", "two")
    slack_api.fail_next("chat.postMessage", error="ratelimited", retry_after=30)
    clock = FrozenClock(START)
    report = deliver_due(db=db, client=_client(slack_api), clock=clock)
    assert report.sent == 0
    assert report.rate_limited_until == START + timedelta(seconds=30)
    assert slack_api.messages("C0TEAM") == []

    clock.advance(timedelta(seconds=29))
    assert deliver_due(db=db, client=_client(slack_api), clock=clock).sent == 0

    clock.advance(timedelta(seconds=1))
    assert deliver_due(db=db, client=_client(slack_api), clock=clock).sent == 2
    assert [m["text"] for m in slack_api.messages("C0TEAM")] == ["one", "two"]


def test_an_outage_is_retried_with_backoff(db: Database, slack_api: SlackApiServer) -> None:
    _queue(db, "hello")
    slack_api.fail_next("chat.postMessage", error="internal_error", status=503)
    clock = FrozenClock(START)
    report = deliver_due(db=db, client=_client(slack_api), clock=clock)
    assert (report.sent, report.deferred) == (0, 1)
    clock.advance(timedelta(seconds=2))
    assert deliver_due(db=db, client=_client(slack_api), clock=clock).sent == 1
    assert _statuses(db) == [OutboxStatus.SENT]


def test_a_permanent_error_fails_the_message_and_keeps_the_reason(
    db: Database, slack_api: SlackApiServer
) -> None:
    slack_api.fail_next("chat.postMessage", error="channel_not_found")
    _queue(db, "lost")
    report = deliver_due(db=db, client=_client(slack_api), clock=FrozenClock(START))
    assert report.failed == 1
    with db.session() as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert message.status is OutboxStatus.FAILED
        assert message.last_error == "channel_not_found"


# Uploads -------------------------------------------------------------------------------------


def test_an_upload_is_shared_once_with_its_exact_bytes(
    db: Database, slack_api: SlackApiServer
) -> None:
    _queue_upload(db)
    clock = FrozenClock(START)

    assert deliver_due(db=db, client=_client(slack_api), clock=clock).sent == 1
    assert deliver_due(db=db, client=_client(slack_api), clock=clock).sent == 0

    (upload,) = slack_api.uploads
    assert upload.data == CHART
    assert (upload.channel, upload.filename, upload.title, upload.initial_comment) == (
        "C0TEAM",
        "resilience-trend.png",
        "Resilience score, last 12 weeks",
        "This week's trend",
    )
    assert len(slack_api.calls_to("files.getUploadURLExternal")) == 1
    (shared,) = slack_api.messages("C0TEAM")
    assert shared["files"][0]["id"] == upload.file_id
    with db.session() as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert message.result == {"file_id": upload.file_id}


def test_a_chart_queued_undrawn_is_drawn_when_it_is_uploaded(
    db: Database, slack_api: SlackApiServer
) -> None:
    trend = TrendChart(title="payments: resilience score", series=(("W48", None), ("W49", 42.5)))
    _queue_upload(db, content=trend)
    with db.session() as session:
        queued = session.scalars(select(OutboxMessage)).one()
        assert "content_base64" not in queued.payload and len(str(queued.payload)) < 500

    assert deliver_due(db=db, client=_client(slack_api), clock=FrozenClock(START)).sent == 1
    (upload,) = slack_api.uploads
    assert upload.data == render_trend_png([("W48", None), ("W49", 42.5)], title=trend.title)


def test_an_upload_with_neither_its_bytes_nor_a_chart_fails_for_good(
    db: Database, slack_api: SlackApiServer
) -> None:
    with db.session() as session:
        broken_payloads: tuple[dict[str, Any], ...] = (
            {"trend_chart": {"title": "no series"}},
            {"trend_chart": {"title": "t", "series": [["W49", 101]]}},
            {},
        )
        for index, broken in enumerate(broken_payloads):
            payload = {"channel": "C0TEAM", "filename": "f.png", "title": "t", **broken}
            enqueue(
                session=session,
                now=START,
                method=UPLOAD_METHOD,
                payload=payload,
                dedupe_key=f"u{index}",
            )
    report = deliver_due(db=db, client=_client(slack_api), clock=FrozenClock(START))
    assert (report.sent, report.failed) == (0, 3)
    with db.session() as session:
        errors = session.scalars(select(OutboxMessage.last_error)).all()
    assert errors == ["invalid upload payload"] * 3
    assert slack_api.uploads == []


@pytest.mark.parametrize("limited", ["files.getUploadURLExternal", "files.completeUploadExternal"])
def test_a_429_on_any_step_of_an_upload_waits_for_retry_after_and_loses_nothing(
    db: Database, slack_api: SlackApiServer, limited: str
) -> None:
    _queue_upload(db)
    slack_api.fail_next(limited, error="ratelimited", retry_after=30)
    clock = FrozenClock(START)
    report = deliver_due(db=db, client=_client(slack_api), clock=clock)
    assert (report.sent, report.deferred) == (0, 1)
    assert report.rate_limited_until == START + timedelta(seconds=30)
    assert slack_api.uploads == []

    clock.advance(timedelta(seconds=29))
    assert deliver_due(db=db, client=_client(slack_api), clock=clock).sent == 0
    assert slack_api.uploads == []

    clock.advance(timedelta(seconds=1))
    assert deliver_due(db=db, client=_client(slack_api), clock=clock).sent == 1
    (upload,) = slack_api.uploads
    assert upload.data == CHART
    assert len(slack_api.messages("C0TEAM")) == 1
    assert _statuses(db) == [OutboxStatus.SENT]


def test_a_permanent_error_fails_an_upload_and_keeps_the_reason(
    db: Database, slack_api: SlackApiServer
) -> None:
    _queue_upload(db)
    slack_api.fail_next("files.completeUploadExternal", error="not_in_channel")
    report = deliver_due(db=db, client=_client(slack_api), clock=FrozenClock(START))
    assert report.failed == 1
    with db.session() as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert (message.status, message.last_error) == (OutboxStatus.FAILED, "not_in_channel")
    assert slack_api.uploads == []


def test_an_upload_with_a_dedupe_key_is_queued_once(db: Database) -> None:
    assert _queue_upload(db)
    assert not _queue_upload(db, content=b"a newer chart")
    with db.session() as session:
        (message,) = session.scalars(select(OutboxMessage)).all()
        assert base64.b64decode(message.payload["content_base64"]) == CHART


def test_an_upload_can_reply_in_the_thread_of_a_message_queued_before_it(
    db: Database, slack_api: SlackApiServer
) -> None:
    _queue(db, "Weekly resilience digest")
    _queue_upload(db, thread_ts=ts_of("digest:C0TEAM:Weekly resilience digest"))

    assert deliver_due(db=db, client=_client(slack_api), clock=FrozenClock(START)).sent == 2

    with db.session() as session:
        digest_ts = posted_ts(session=session, dedupe_key="digest:C0TEAM:Weekly resilience digest")
    (upload,) = slack_api.uploads
    assert digest_ts is not None
    assert upload.thread_ts == digest_ts


def test_a_reply_to_an_upload_fails_since_slack_gives_no_ts(
    db: Database, slack_api: SlackApiServer
) -> None:
    _queue_upload(db, dedupe_key="trend")
    with db.session() as session:
        enqueue(
            session=session,
            now=START,
            method="chat.postMessage",
            payload={"channel": "C0TEAM", "text": "about the chart", "thread_ts": ts_of("trend")},
        )

    report = deliver_due(db=db, client=_client(slack_api), clock=FrozenClock(START))

    assert (report.sent, report.failed) == (1, 1)
    with db.session() as session:
        reply = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        assert reply is not None
        assert reply.last_error == "trend has no ts"


def test_an_uploads_content_stays_out_of_the_logs(
    db: Database, slack_api: SlackApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _queue_upload(db)
    slack_api.fail_next("files.completeUploadExternal", error="ratelimited", retry_after=1)
    clock = FrozenClock(START)
    deliver_due(db=db, client=_client(slack_api), clock=clock)
    clock.advance(timedelta(seconds=1))
    assert deliver_due(db=db, client=_client(slack_api), clock=clock).sent == 1

    assert "rate limited" in caplog.text  # the log was captured
    encoded = base64.b64encode(CHART).decode()
    assert encoded[:40] not in caplog.text
    assert repr(CHART)[:40] not in caplog.text
