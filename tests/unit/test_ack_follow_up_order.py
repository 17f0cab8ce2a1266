"""A follow-up of a late ack never reaches Slack before the ack itself: Slack applies an ack's
`response_action: update` when it gets it, so a views.update sent earlier would be overwritten
by the "checking the cluster" modal. The steps a listener defers run once the response has been
taken by the HTTP server (the body's close()) or sent on the Socket Mode connection. No timing:
the late work has already ended when the listener hands it on, the case that used to run the
follow-up inside the listener."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.serve import _SocketMode
from bot.slack.budget import AckBudget, OutOfTime
from bot.web import make_wsgi_app

SECRET = "a-signing-secret"
WAIT = 30.0


class Order:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.followed = threading.Event()

    def follow_up(self, outcome: Callable[[], str]) -> None:
        self.events.append(f"follow-up: {outcome()}")
        self.followed.set()


def _app(order: Order) -> App:
    # Authorized here, so Bolt asks no Slack (auth.test) before dispatching.
    app = App(
        signing_secret=SECRET,
        authorize=lambda **_: AuthorizeResult(
            enterprise_id=None, team_id="T1", bot_token="xoxb-test", bot_user_id="UB1"
        ),
        process_before_response=True,
    )

    @app.view("form")
    def submitted(ack: Ack) -> None:
        release = threading.Event()

        def work() -> str:
            release.wait()
            return "stored"

        try:
            AckBudget(0.0).deadline().run(work)
        except OutOfTime as late:
            release.set()
            late.future.result(timeout=WAIT)  # ended before the listener hands it on
            late.then(order.follow_up)
        ack(
            response_action="update",
            view={
                "type": "modal",
                "title": {"type": "plain_text", "text": "Checking"},
                "blocks": [],
            },
        )

    return app


def _submission() -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": "T1"},
        "user": {"id": "U1", "team_id": "T1"},
        "api_app_id": "A1",
        "view": {"id": "V1", "callback_id": "form", "type": "modal", "state": {"values": {}}},
    }


def test_over_http_the_follow_up_waits_until_the_response_has_been_taken() -> None:
    order = Order()
    wsgi = make_wsgi_app(bolt_app=_app(order), signing_secret=SECRET, readiness=lambda: None)
    raw = urlencode({"payload": json.dumps(_submission())}).encode()
    stamp = str(int(time.time()))
    signature = (
        "v0="
        + hmac.new(
            SECRET.encode(), b"v0:" + stamp.encode() + b":" + raw, hashlib.sha256
        ).hexdigest()
    )
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/slack/events",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(raw)),
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": stamp,
        "HTTP_X_SLACK_SIGNATURE": signature,
        "wsgi.input": io.BytesIO(raw),
    }
    statuses: list[str] = []
    body = wsgi(environ, lambda status, _headers, _exc=None: statuses.append(status))  # type: ignore[arg-type]
    answer = b"".join(body)
    assert statuses == ["200 OK"]
    assert json.loads(answer)["response_action"] == "update"
    # Without the deferral it would have run already, inside the listener: nothing to wait for.
    assert order.events == []
    closing: Any = body
    closing.close()
    assert order.followed.wait(WAIT)
    assert order.events == ["follow-up: stored"]


class _Connection:
    """The Socket Mode client's side that the handler uses: where the ack is sent."""

    def __init__(self, order: Order) -> None:
        self.order = order
        self.logger = logging.getLogger("socket-mode-test")

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        assert response.payload is not None
        self.order.events.append(f"ack: {response.payload['response_action']}")


def test_over_socket_mode_the_follow_up_waits_until_the_ack_has_been_sent() -> None:
    order = Order()
    handler = _SocketMode(_app(order), "xapp-test")
    request = SocketModeRequest(type="interactive", envelope_id="E1", payload=_submission())
    handler.handle(_Connection(order), request)  # type: ignore[arg-type]
    assert order.followed.wait(WAIT)
    assert order.events == ["ack: update", "follow-up: stored"]
