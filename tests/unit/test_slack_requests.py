"""Tests of bot.testing.slack.requests: signatures and the requests SlackSimulator sends.

A small recording HTTP server stands in for the bot; slack_sdk's own SignatureVerifier decides
whether what arrived is signed the way Slack signs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import pytest
from slack_sdk import WebClient
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.testing.slack.api import SlackApiServer
from bot.testing.slack.requests import (
    SlackSimulator,
    sign,
    signed_headers,
)

# The worked example of Slack's "Verifying requests from Slack" documentation.
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = 1531420618
DOC_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    "&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    "&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    "%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


@dataclass(frozen=True)
class Received:
    """One request as the fake bot received it."""

    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        """The form-encoded body's fields."""
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def payload(self) -> dict[str, Any]:
        """The interactivity payload carried in the form's `payload` field."""
        decoded: dict[str, Any] = json.loads(self.form()["payload"])
        return decoded


@dataclass
class FakeBot:
    """Records what arrives and answers with a status and body the test chooses."""

    url: str = ""
    status: int = 200
    answer: bytes = b""
    received: list[Received] = field(default_factory=list)

    def last(self) -> Received:
        """The latest request received."""
        assert self.received, "the fake bot received nothing"
        return self.received[-1]


class FixedClock(Clock):
    """A SignatureVerifier clock stopped at one instant."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


@pytest.fixture
def fake_bot() -> Iterator[FakeBot]:
    """An HTTP server standing in for the bot at FakeBot.url."""
    bot = FakeBot()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            bot.received.append(Received(self.path, dict(self.headers.items()), body))
            self.send_response(bot.status)
            self.send_header("Content-Length", str(len(bot.answer)))
            self.end_headers()
            self.wfile.write(bot.answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output clean."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    bot.url = f"http://127.0.0.1:{server.server_port}/slack/events"
    yield bot
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def simulator(fake_bot: FakeBot, slack_api: SlackApiServer, signing_secret: str) -> SlackSimulator:
    """A SlackSimulator sending to the fake bot, minting response_urls on the API server."""
    return SlackSimulator(bot_url=fake_bot.url, signing_secret=signing_secret, api=slack_api)


def verified(received: Received, secret: str) -> bool:
    """Whether slack_sdk's SignatureVerifier accepts the request, at the current time."""
    return SignatureVerifier(secret).is_valid_request(received.body, received.headers)


# sign / signed_headers -----------------------------------------------------------------------


def test_sign_reproduces_slacks_documented_example() -> None:
    assert sign(DOC_SECRET, DOC_BODY, DOC_TIMESTAMP) == DOC_SIGNATURE
    assert sign(DOC_SECRET, DOC_BODY.encode(), DOC_TIMESTAMP) == DOC_SIGNATURE


def test_sign_depends_on_secret_body_and_timestamp() -> None:
    reference = sign("secret", "a=1", 1_700_000_000)
    assert sign("other", "a=1", 1_700_000_000) != reference
    assert sign("secret", "a=2", 1_700_000_000) != reference
    assert sign("secret", "a=1", 1_700_000_001) != reference


def test_signed_headers_pass_the_sdk_verifier(signing_secret: str) -> None:
    body = '{"type": "event_callback", "text": "caf\u00e9"}'
    headers = signed_headers(signing_secret, body, content_type="application/json")

    assert headers["Content-Type"] == "application/json"
    assert abs(int(headers["X-Slack-Request-Timestamp"]) - time.time()) < 5
    assert SignatureVerifier(signing_secret).is_valid_request(body.encode(), headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body.encode(), headers)


def test_signed_headers_use_the_given_timestamp(signing_secret: str) -> None:
    headers = signed_headers(signing_secret, b"a=1", timestamp=1_600_000_000)

    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["X-Slack-Request-Timestamp"] == "1600000000"
    clock = FixedClock(1_600_000_000)
    assert SignatureVerifier(signing_secret, clock).is_valid_request(b"a=1", headers)


# slash commands ------------------------------------------------------------------------------


def test_slash_command_posts_slacks_form_signed(
    simulator: SlackSimulator, fake_bot: FakeBot, signing_secret: str
) -> None:
    answer = simulator.slash_command(
        "/chaos", "run pod-kill", user_id="U123", channel_id="C456", trigger_id="T.1.abc"
    )

    assert answer.status == 200
    received = fake_bot.last()
    assert received.path == "/slack/events"
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert verified(received, signing_secret)
    form = received.form()
    assert [k for k, _ in parse_qsl(received.body.decode(), keep_blank_values=True)] == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    assert form["command"] == "/chaos"
    assert form["text"] == "run pod-kill"
    assert form["user_id"] == "U123"
    assert form["user_name"] == "u123"
    assert form["channel_id"] == "C456"
    assert form["team_id"] == "T0001"
    assert form["api_app_id"] == "A0001"
    assert form["is_enterprise_install"] == "false"
    assert form["trigger_id"] == "T.1.abc"
    assert form["response_url"].startswith(simulator.api.root_url + "/response/")


def test_slash_command_names_come_from_the_api_server(
    fake_bot: FakeBot, signing_secret: str
) -> None:
    with SlackApiServer(users={"U1": {"name": "alice"}}, channels={"C1": {"name": "ops"}}) as api:
        simulator = SlackSimulator(bot_url=fake_bot.url, signing_secret=signing_secret, api=api)
        simulator.slash_command("/chaos", user_id="U1", channel_id="C1")
        simulator.slash_command("/chaos", user_id="U1", channel_id="C1", user_name="ally")

    first, second = (r.form() for r in fake_bot.received)
    assert (first["user_name"], first["channel_name"]) == ("alice", "ops")
    assert second["user_name"] == "ally"
    assert first["trigger_id"] != second["trigger_id"]
    assert first["response_url"] != second["response_url"]


def test_slash_command_response_url_reaches_the_api_server(
    simulator: SlackSimulator, fake_bot: FakeBot, slack_api: SlackApiServer
) -> None:
    simulator.slash_command("/chaos", "status", user_id="U1", channel_id="C1")
    response_url = fake_bot.last().form()["response_url"]

    WebhookClient(response_url).send(text="working on it", response_type="in_channel")

    (response,) = slack_api.wait_for_response()
    assert response.body == {"text": "working on it", "response_type": "in_channel"}
    assert [m["text"] for m in slack_api.messages("C1")] == ["working on it"]


# interactivity -------------------------------------------------------------------------------


def test_block_action_clicks_the_button_of_the_latest_message(
    simulator: SlackSimulator,
    fake_bot: FakeBot,
    slack_api: SlackApiServer,
    slack_client: WebClient,
    signing_secret: str,
) -> None:
    button = {
        "type": "button",
        "action_id": "approve",
        "value": "run-42",
        "text": {"type": "plain_text", "text": "Approve"},
    }
    blocks = [{"type": "actions", "block_id": "decision", "elements": [button]}]
    posted = slack_client.chat_postMessage(channel="C1", text="Approve run 42?", blocks=blocks)

    simulator.block_action("approve", user_id="U7", channel_id="C1")

    received = fake_bot.last()
    assert verified(received, signing_secret)
    payload = received.payload()
    assert payload["type"] == "block_actions"
    assert payload["user"] == {"id": "U7", "username": "u7", "name": "u7", "team_id": "T0001"}
    assert payload["team"]["id"] == "T0001"
    assert payload["api_app_id"] == "A0001"
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert payload["channel"]["id"] == "C1"
    assert payload["message"]["ts"] == posted["ts"]
    assert payload["message"]["blocks"] == blocks
    assert payload["trigger_id"]
    assert payload["state"] == {"values": {}}
    (action,) = payload["actions"]
    assert action["action_id"] == "approve"
    assert action["block_id"] == "decision"
    assert action["type"] == "button"
    assert action["value"] == "run-42"
    assert action["text"] == button["text"]
    assert float(action["action_ts"]) > 0

    WebhookClient(payload["response_url"]).send(text="Approved", replace_original=True)
    slack_api.wait_for_response()
    assert slack_api.message("C1", posted["ts"])["text"] == "Approved"  # type: ignore[index]


def test_block_action_with_explicit_message_value_and_select(
    simulator: SlackSimulator, fake_bot: FakeBot
) -> None:
    option = {"text": {"type": "plain_text", "text": "5 minutes"}, "value": "300"}
    message = {"ts": "1600000000.000200", "text": "Pick a duration", "blocks": []}
    simulator.block_action(
        "duration",
        selected_option=option,
        user_id="U1",
        channel_id="C9",
        message=message,
        block_id="b1",
    )

    payload = fake_bot.last().payload()
    assert payload["message"]["text"] == "Pick a duration"
    assert payload["container"]["message_ts"] == "1600000000.000200"
    (action,) = payload["actions"]
    assert action["type"] == "static_select"
    assert action["selected_option"] == option
    assert action["block_id"] == "b1"
    assert "value" not in action


def test_block_action_in_a_view_uses_the_stored_view(
    simulator: SlackSimulator, fake_bot: FakeBot, slack_api: SlackApiServer, slack_client: WebClient
) -> None:
    modal = {
        "type": "modal",
        "callback_id": "experiment",
        "title": {"type": "plain_text", "text": "Experiment"},
        "blocks": [
            {
                "type": "section",
                "block_id": "target",
                "text": {"type": "mrkdwn", "text": "Target"},
                "accessory": {
                    "type": "button",
                    "action_id": "refresh",
                    "text": {"type": "plain_text", "text": "Refresh"},
                    "value": "pods",
                },
            }
        ],
    }
    view_id = slack_client.views_open(trigger_id="T.1", view=modal)["view"]["id"]

    simulator.block_action("refresh", user_id="U1", view={"id": view_id})

    payload = fake_bot.last().payload()
    assert payload["container"] == {"type": "view", "view_id": view_id}
    assert payload["view"]["callback_id"] == "experiment"
    assert payload["view"]["hash"] == slack_api.views[view_id]["hash"]
    assert "response_url" not in payload
    assert "channel" not in payload
    (action,) = payload["actions"]
    assert (action["block_id"], action["value"]) == ("target", "pods")


def test_block_action_needs_a_message_or_a_view(simulator: SlackSimulator) -> None:
    with pytest.raises(ValueError, match="channel_id"):
        simulator.block_action("approve", user_id="U1")
    with pytest.raises(ValueError, match="no message in C404"):
        simulator.block_action("approve", user_id="U1", channel_id="C404")


def test_view_submission_submits_the_stored_view_with_values(
    simulator: SlackSimulator, fake_bot: FakeBot, slack_client: WebClient, signing_secret: str
) -> None:
    modal = {
        "type": "modal",
        "callback_id": "experiment",
        "private_metadata": "run-7",
        "title": {"type": "plain_text", "text": "Experiment"},
        "blocks": [{"type": "divider"}],
    }
    opened = slack_client.views_open(trigger_id="T.1", view=modal)["view"]
    values = {"target": {"namespace": {"type": "plain_text_input", "value": "shop"}}}

    simulator.view_submission("experiment", values=values, user_id="U1", view_id=opened["id"])

    received = fake_bot.last()
    assert verified(received, signing_secret)
    payload = received.payload()
    assert payload["type"] == "view_submission"
    assert payload["user"]["id"] == "U1"
    assert payload["team"]["id"] == "T0001"
    assert payload["response_urls"] == []
    view = payload["view"]
    assert view["id"] == opened["id"]
    assert view["callback_id"] == "experiment"
    assert view["private_metadata"] == "run-7"
    assert view["hash"] == opened["hash"]
    assert view["state"] == {"values": values}


def test_view_submission_without_a_stored_view_and_view_closed(
    simulator: SlackSimulator, fake_bot: FakeBot
) -> None:
    simulator.view_submission(
        "settings", values={}, user_id="U1", private_metadata="x", view_id="V42", hash="h1"
    )
    simulator.view_closed("settings", user_id="U1", view_id="V42", is_cleared=True)

    submitted, closed = (r.payload() for r in fake_bot.received)
    assert submitted["view"]["id"] == "V42"
    assert submitted["view"]["private_metadata"] == "x"
    assert submitted["view"]["hash"] == "h1"
    assert submitted["view"]["type"] == "modal"
    assert closed["type"] == "view_closed"
    assert closed["is_cleared"] is True
    assert closed["view"]["callback_id"] == "settings"
    assert closed["view"]["private_metadata"] == ""


# events --------------------------------------------------------------------------------------


def test_event_is_a_signed_json_event_callback(
    simulator: SlackSimulator, fake_bot: FakeBot, signing_secret: str
) -> None:
    event = {"type": "app_mention", "user": "U1", "text": "<@UBOT> status", "channel": "C1"}
    simulator.event(event, event_id="Ev123")
    simulator.event(event)
    simulator.event(event)

    first, second, third = fake_bot.received
    assert first.headers["Content-Type"] == "application/json"
    assert verified(first, signing_secret)
    envelope = json.loads(first.body)
    assert envelope["type"] == "event_callback"
    assert envelope["event"] == event
    assert envelope["event_id"] == "Ev123"
    assert envelope["team_id"] == "T0001"
    assert envelope["api_app_id"] == "A0001"
    assert envelope["token"]
    assert abs(envelope["event_time"] - time.time()) < 5
    assert envelope["authorizations"][0]["user_id"] == "UBOT"
    assert json.loads(second.body)["event_id"] != json.loads(third.body)["event_id"]


def test_url_verification_returns_the_bots_answer(
    simulator: SlackSimulator, fake_bot: FakeBot, signing_secret: str
) -> None:
    fake_bot.answer = b'{"challenge": "abc"}'

    answer = simulator.url_verification("abc")

    assert answer.json() == {"challenge": "abc"}
    body = json.loads(fake_bot.last().body)
    assert body == {"token": body["token"], "challenge": "abc", "type": "url_verification"}
    assert verified(fake_bot.last(), signing_secret)


# send options --------------------------------------------------------------------------------


def test_old_timestamp_makes_a_request_the_verifier_rejects_as_stale(
    simulator: SlackSimulator, fake_bot: FakeBot, signing_secret: str
) -> None:
    six_minutes_ago = int(time.time()) - 360
    simulator.event({"type": "app_mention"}, timestamp=six_minutes_ago)

    received = fake_bot.last()
    assert received.headers["X-Slack-Request-Timestamp"] == str(six_minutes_ago)
    assert not verified(received, signing_secret)
    # The signature itself is right: only its age makes it invalid.
    at_that_time = SignatureVerifier(signing_secret, FixedClock(six_minutes_ago))
    assert at_that_time.is_valid_request(received.body, received.headers)


def test_forged_signature_is_rejected(
    simulator: SlackSimulator, fake_bot: FakeBot, signing_secret: str
) -> None:
    simulator.slash_command("/chaos", user_id="U1", channel_id="C1", forge_signature=True)
    assert not verified(fake_bot.last(), signing_secret)
    assert fake_bot.last().headers["X-Slack-Signature"].startswith("v0=")

    simulator.slash_command("/chaos", user_id="U1", channel_id="C1", forge_signature=False)
    assert verified(fake_bot.last(), signing_secret)


def test_retry_headers_are_sent_only_when_asked(
    simulator: SlackSimulator, fake_bot: FakeBot
) -> None:
    simulator.event({"type": "app_mention"}, retry_num=2, retry_reason="http_timeout")
    simulator.event({"type": "app_mention"})

    retried, plain = fake_bot.received
    assert retried.headers["X-Slack-Retry-Num"] == "2"
    assert retried.headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert "X-Slack-Retry-Num" not in plain.headers
    assert "X-Slack-Retry-Reason" not in plain.headers


def test_clock_sets_timestamps(fake_bot: FakeBot, slack_api: SlackApiServer) -> None:
    simulator = SlackSimulator(
        bot_url=fake_bot.url, signing_secret="s", api=slack_api, clock=lambda: 1_650_000_000.5
    )
    simulator.event({"type": "app_mention"})

    received = fake_bot.last()
    assert received.headers["X-Slack-Request-Timestamp"] == "1650000000"
    assert json.loads(received.body)["event_time"] == 1_650_000_000
    assert SignatureVerifier("s", FixedClock(1_650_000_000)).is_valid_request(
        received.body, received.headers
    )


@pytest.mark.parametrize("status", [401, 404, 500])
def test_http_error_statuses_are_returned_not_raised(
    simulator: SlackSimulator, fake_bot: FakeBot, status: int
) -> None:
    fake_bot.status = status
    fake_bot.answer = b"nope"

    answer = simulator.url_verification("abc")

    assert answer.status == status
    assert answer.text == "nope"
    assert answer.elapsed >= 0


def test_only_http_urls_are_accepted(slack_api: SlackApiServer) -> None:
    with pytest.raises(ValueError, match="http"):
        SlackSimulator(bot_url="file:///etc/passwd", signing_secret="s", api=slack_api)
