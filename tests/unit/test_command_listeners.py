"""`/chaos` as Bolt dispatches it: instant subcommands answered in the ack after one parse of the
text, the others acked empty and run lazily, unreadable text explained."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient

from bot.slack import commands
from bot.slack.commands import CommandRequest, CommandRouter, Subcommand, register
from bot.slack.errors import ErrorReporter
from bot.slack.replies import Reply
from bot.testing.slack.api import SlackApiServer


class _Inline(Executor):
    """Runs Bolt's lazy listeners at once, in the dispatching thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@pytest.fixture
def dispatched(monkeypatch: pytest.MonkeyPatch, slack_api: SlackApiServer) -> dict[str, Any]:
    """An app with `/chaos` registered; `ran` records deferred work, `parses` counts parses."""
    record: dict[str, Any] = {"ran": [], "parses": 0}
    real_parse = CommandRequest.parse.__func__  # type: ignore[attr-defined]

    def counting_parse(cls: type[CommandRequest], *args: Any, **kwargs: Any) -> CommandRequest:
        record["parses"] += 1
        parsed: CommandRequest = real_parse(cls, *args, **kwargs)
        return parsed

    monkeypatch.setattr(CommandRequest, "parse", classmethod(counting_parse))
    app = App(
        client=WebClient(token=slack_api.bot_token, base_url=slack_api.base_url),
        signing_secret="unused",
        token_verification_enabled=False,
        request_verification_enabled=False,
        process_before_response=True,
        listener_executor=_Inline(),
    )
    router = CommandRouter()
    router.add(
        Subcommand(
            "services",
            "/chaos services",
            "list",
            lambda request: record["ran"].append(request.args) or None,
        )
    )
    reporter = ErrorReporter()
    app.error(reporter.bolt_error_handler)
    register(app, router=router, reporter=reporter)
    record["app"] = app
    return record


def _slash(app: App, text: str) -> tuple[int, dict[str, Any]]:
    form = {
        "command": "/chaos",
        "text": text,
        "user_id": "U1",
        "channel_id": "C1",
        "team_id": "T1",
        "trigger_id": "1.2.3",
        "api_app_id": "A1",
        "response_url": "http://127.0.0.1:9/response",
    }
    response = app.dispatch(
        BoltRequest(
            body=urlencode(form),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    )
    return response.status, json.loads(response.body) if response.body else {}


def test_an_instant_answer_is_in_the_ack_after_one_parse(dispatched: dict[str, Any]) -> None:
    status, body = _slash(dispatched["app"], "help")
    assert status == 200
    assert "`/chaos services`  list" in body["text"]
    assert dispatched["parses"] == 1
    assert dispatched["ran"] == []


def test_a_deferred_subcommand_is_acked_empty_then_runs(dispatched: dict[str, Any]) -> None:
    status, body = _slash(dispatched["app"], 'services "two words"')
    assert (status, body) == (200, {})
    assert dispatched["ran"] == [("two words",)]


def test_unreadable_text_is_explained_in_the_ack(dispatched: dict[str, Any]) -> None:
    status, body = _slash(dispatched["app"], 'services "oops')
    assert status == 200
    assert "could not read that command" in body["text"]
    assert dispatched["ran"] == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "help",
        "run   pod-kill\tcheckout",
        "run\npod-kill\r\ncheckout",
        "service payload-api --namespace=shop",
        "run\u00a0pod-kill",  # a no-break space is part of a word to a shell
        "schedule 2026-12-07T10:00 #ops $HOME *",
        "freeze 2h 'release week'",
        'freeze 2h "release \\"week\\""',
        "back\\ slash",
    ],
)
def test_words_are_split_exactly_as_a_shell_would(text: str) -> None:
    assert commands.split_words(text) == shlex.split(text)


def test_the_help_reply_is_built_once() -> None:
    router = CommandRouter()
    assert router.help() is router.help()
    reply: Reply = router.help()
    router.add(Subcommand("audit", "/chaos audit", "who did what", lambda r: None))
    assert router.help() is not reply
