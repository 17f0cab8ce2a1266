"""The one error handler: known errors read as advice, unknown ones carry a logged error id."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator

import pytest
from waitress.server import create_server

from bot.config import Secret, Settings
from bot.context import BotContext
from bot.db.engine import Database
from bot.errors import ChaosbotError
from bot.k8s.client import ClientFactory
from bot.k8s.cluster import KubeCluster
from bot.slack.commands import CommandRouter, Subcommand
from bot.slack.ids import ActionId
from bot.testing.slack.api import SlackApiServer
from bot.testing.slack.requests import SlackSimulator
from bot.web import make_wsgi_app


class ServiceNotFound(ChaosbotError):
    def __init__(self, name: str) -> None:
        super().__init__(f"There is no service called `{name}`.")


def _explode(_request: object) -> None:
    raise RuntimeError("database fell over: password=hunter2")


def _not_found(_request: object) -> None:
    raise ServiceNotFound("ledger")


@pytest.fixture
def simulator(slack_api: SlackApiServer, signing_secret: str) -> Iterator[SlackSimulator]:
    from bot.app import build_app

    router = CommandRouter()
    router.add(Subcommand("boom", "/chaos boom", "fails now", _explode, instant=True))
    router.add(Subcommand("later", "/chaos later", "fails after the ack", _explode))
    router.add(Subcommand("ledger", "/chaos ledger", "a known error", _not_found))
    settings = Settings(
        slack_bot_token=Secret(slack_api.bot_token),
        slack_signing_secret=Secret(signing_secret),
        slack_api_url=slack_api.base_url,
    )
    context = BotContext(
        settings=settings,
        db=Database("sqlite://"),
        cluster=KubeCluster(ClientFactory(kubeconfig=None, default_context=None)),
    )
    app = build_app(settings, context=context, router=router)
    server = create_server(
        make_wsgi_app(bolt_app=app, signing_secret=signing_secret, readiness=lambda: None),
        host="127.0.0.1",
        port=0,
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield SlackSimulator(
            bot_url=f"http://127.0.0.1:{server.effective_port}/slack/events",  # type: ignore[union-attr]
            signing_secret=signing_secret,
            api=slack_api,
        )
    finally:
        server.close()


def test_an_unexpected_error_in_the_ack_shows_an_id_that_is_logged(
    simulator: SlackSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    response = simulator.slash_command("/chaos", "boom", user_id="U1", channel_id="C1")
    assert response.status == 200
    text = response.json()["text"]
    error_id = re.search(r"error id `([0-9a-f]{8})`", text)
    assert error_id is not None
    assert "hunter2" not in text
    assert "Traceback" not in text
    assert f"unexpected error {error_id.group(1)}" in caplog.text
    assert "RuntimeError" in caplog.text


def test_an_unexpected_error_after_the_ack_is_reported_through_the_response_url(
    simulator: SlackSimulator, slack_api: SlackApiServer
) -> None:
    response = simulator.slash_command("/chaos", "later", user_id="U1", channel_id="C1")
    assert response.status == 200
    [reply] = slack_api.wait_for_response()
    assert re.search(r"error id `[0-9a-f]{8}`", reply.body["text"])
    assert reply.body["response_type"] == "ephemeral"


def test_a_known_error_reads_as_advice(
    simulator: SlackSimulator, slack_api: SlackApiServer
) -> None:
    simulator.slash_command("/chaos", "ledger", user_id="U1", channel_id="C1")
    [reply] = slack_api.wait_for_response()
    assert reply.body["text"] == ":warning: There is no service called `ledger`."


def test_opening_app_home_publishes_the_home_tab(
    simulator: SlackSimulator, slack_api: SlackApiServer
) -> None:
    response = simulator.event({"type": "app_home_opened", "user": "U7", "tab": "home"})
    assert response.status == 200
    [call] = slack_api.wait_for("views.publish")
    assert call.body["user_id"] == "U7"
    home = slack_api.home("U7")
    assert home is not None
    assert "/chaos help" in str(home)
    # This bot's database has no tables: the person's part cannot be read, the commands still show.
    assert "Your services could not be read just now" in str(home)


def test_an_unexpected_error_from_a_home_tab_button_shows_its_id_on_the_tab(
    simulator: SlackSimulator, slack_api: SlackApiServer
) -> None:
    simulator.event({"type": "app_home_opened", "user": "U7", "tab": "home"})
    slack_api.wait_for("views.publish")
    home = slack_api.home("U7")
    assert home is not None
    # This bot's database has no tables: resolving fails in a way nobody foresaw.
    simulator.block_action(
        ActionId.HOME_RESOLVE_FINDING.value, user_id="U7", value="F-1", view=home
    )
    slack_api.wait_for("views.publish", count=2)
    assert re.search(r"error id `[0-9a-f]{8}`", str(slack_api.home("U7")))
    assert slack_api.responses == []


def test_a_button_without_a_response_url_outside_the_home_tab_is_answered_by_a_direct_message(
    simulator: SlackSimulator, slack_api: SlackApiServer
) -> None:
    modal = {"id": "V0MODAL", "type": "modal", "callback_id": "elsewhere", "blocks": []}
    simulator.block_action(ActionId.EDIT_SERVICE.value, user_id="U7", value="ledger", view=modal)
    [message] = slack_api.wait_for("chat.postMessage")
    assert message.body["channel"] == "U7"
    assert re.search(r"error id `[0-9a-f]{8}`", message.body["text"])
    assert slack_api.responses == []
