"""The outbox delivers queued Web API calls once, in order, through rate limits and outages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.db.engine import Database
from bot.slack.outbox import OutboxMessage, OutboxStatus, deliver_due, enqueue
from bot.testing.slack_api import SlackApiServer

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
