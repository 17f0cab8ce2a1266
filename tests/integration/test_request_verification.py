"""Nothing of a request to /slack/events is read or acted on before its signature verifies:
unverifiable requests get 401, verified but malformed ones 400 with one log line, and neither
makes an outbound call or writes a row (issue 13, part 1)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import inspect, select, table, text

from bot.db.engine import Database
from bot.slack.ids import ActionId
from bot.testing.slack.requests import FORM, JSON, SlackHttpResponse, signed_headers
from tests.fixtures.bot import ALICE, TEAM_CHANNEL, RunningBot

Request = tuple[bytes, dict[str, str]]


def _clicked(bot: RunningBot) -> bytes:
    """A block_actions payload whose response_url is the Slack test server's: any call the bot
    makes to it is recorded."""
    payload = {
        "type": "block_actions",
        "user": {"id": ALICE},
        "team": {"id": bot.slack.team_id},
        "api_app_id": bot.slack.app_id,
        "actions": [{"action_id": ActionId.EDIT_SERVICE.value, "value": "checkout"}],
        "response_url": bot.slack.response_url(channel=TEAM_CHANNEL, user_id=ALICE),
        "trigger_id": bot.simulator.new_trigger_id(),
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def _signed(bot: RunningBot, body: bytes, content_type: str = FORM, **kw: Any) -> dict[str, str]:
    return signed_headers(bot.simulator.signing_secret, body, content_type=content_type, **kw)


def _unsigned(content_type: str = FORM, **headers: str) -> dict[str, str]:
    return {"Content-Type": content_type, **headers}


def _now() -> str:
    return str(int(time.time()))


def _tables(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that nothing was written."""
    with db.engine.connect() as connection:
        names = inspect(connection).get_table_names()
        return {
            name: sorted(
                map(tuple, connection.execute(select(text("*")).select_from(table(name)))), key=repr
            )
            for name in names
        }


def _assert_nothing_sent(bot: RunningBot, calls_before: int) -> None:
    assert bot.slack.responses == []
    assert len(bot.slack.calls) == calls_before, [c.method for c in bot.slack.calls]


# --- the reported findings, one each -----------------------------------------------------------


def test_a_timestamp_that_is_not_a_number_is_refused_and_the_body_is_never_acted_on(
    running_bot: RunningBot,
) -> None:
    before = len(running_bot.slack.calls)
    body = _clicked(running_bot)
    headers = _unsigned(
        **{"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=" + "0" * 64}
    )
    response = running_bot.simulator.post(body, headers)
    assert response.status == 401
    _assert_nothing_sent(running_bot, before)


def test_a_signature_that_is_not_ascii_is_refused_and_the_body_is_never_acted_on(
    running_bot: RunningBot,
) -> None:
    before = len(running_bot.slack.calls)
    body = _clicked(running_bot)
    headers = _unsigned(**{"X-Slack-Request-Timestamp": _now(), "X-Slack-Signature": "v0=é" * 16})
    response = running_bot.simulator.post(body, headers)
    assert response.status == 401
    _assert_nothing_sent(running_bot, before)


MALFORMED: dict[str, tuple[bytes, str]] = {
    "payload not JSON": (b"payload=%7Bnot+json&response_url=x", FORM),
    "payload JSON but not an object": (b"payload=%5B1%2C2%5D", FORM),
    "body not UTF-8": (b"command=%2Fchaos&text=\xff\xfe", FORM),
    "JSON body not JSON": (b'{"type": "event_callback", ', JSON),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_a_signed_but_malformed_request_is_answered_400_with_one_log_line(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    body, content_type = MALFORMED[kind]
    before = len(running_bot.slack.calls)
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    response = running_bot.simulator.post(body, _signed(running_bot, body, content_type))
    assert response.status == 400
    # The lines logged while answering it (the bot's scheduler logs from threads of its own).
    lines = [
        r
        for r in caplog.records
        if r.levelno >= logging.INFO and (r.threadName or "").startswith("waitress")
    ]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    [line] = lines
    assert line.exc_info is None and "Traceback" not in caplog.text
    assert body.decode("latin-1") not in line.getMessage()
    _assert_nothing_sent(running_bot, before)


def test_a_slash_command_whose_text_says_payload_is_a_slash_command(
    running_bot: RunningBot,
) -> None:
    response = running_bot.command("service payload-api")
    assert response.status == 200
    assert "There is no service called `payload-api`" in str(running_bot.reply()["text"])


# --- a flood of what Slack would never send -----------------------------------------------------

HUGE = 1024 * 1024 + 1  # one byte over what /slack/events reads


def _flood_kinds(bot: RunningBot) -> list[Callable[[], Request]]:
    def no_signature() -> Request:
        return _clicked(bot), _unsigned()

    def bad_signature() -> Request:
        body = _clicked(bot)
        return body, signed_headers("not-the-secret", body)

    def timestamp_not_a_number() -> Request:
        body = _clicked(bot)
        headers = _signed(bot, body)
        return body, {**headers, "X-Slack-Request-Timestamp": "1e9"}

    def signature_not_ascii() -> Request:
        body = _clicked(bot)
        return body, {**_signed(bot, body), "X-Slack-Signature": "v0=" + "ÿ" * 64}

    def stale() -> Request:
        body = _clicked(bot)
        return body, _signed(bot, body, timestamp=int(time.time()) - 600)

    def not_utf8() -> Request:
        body = b"command=%2Fchaos&text=\xc3\x28&response_url=" + _clicked(bot)[-40:]
        return body, _signed(bot, body)

    def payload_not_json() -> Request:
        body = b"payload=" + _clicked(bot)[9:-3]
        return body, _signed(bot, body)

    def huge() -> Request:
        body = _clicked(bot) + b"&pad=" + b"x" * HUGE
        return body, _signed(bot, body)

    def forged_response_url() -> Request:
        body = _clicked(bot)
        return body, {**_signed(bot, body), "X-Slack-Signature": "v0=" + "a" * 64}

    return [
        no_signature,
        bad_signature,
        timestamp_not_a_number,
        signature_not_ascii,
        stale,
        not_utf8,
        payload_not_json,
        huge,
        forged_response_url,
    ]


def test_a_thousand_unverified_or_malformed_requests_send_nothing_and_write_nothing(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    kinds = _flood_kinds(running_bot)
    requests = [kinds[i % len(kinds)]() for i in range(1000)]
    calls_before = len(running_bot.slack.calls)
    rows_before = _tables(running_bot.db)
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers: list[SlackHttpResponse] = list(
            pool.map(lambda r: running_bot.simulator.post(*r), requests)
        )
    elapsed = time.monotonic() - started
    statuses = sorted({a.status for a in answers})
    assert statuses == [400, 401, 413], statuses
    assert all(a.status < 500 for a in answers)
    # The refusals are answered before any listener could run; give a stray one time to show.
    time.sleep(0.2)
    _assert_nothing_sent(running_bot, calls_before)
    assert _tables(running_bot.db) == rows_before
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert elapsed < 30, f"1,000 requests took {elapsed:.1f}s"
    print(f"1,000 unverified or malformed requests answered in {elapsed:.2f}s")
