from __future__ import annotations

import pytest

from bot.errors import ChaosbotError
from bot.slack.commands import CommandRequest, CommandRouter, Subcommand
from bot.slack.replies import Reply


def _command(text: str) -> dict[str, str]:
    return {"text": text, "user_id": "U1", "channel_id": "C1", "team_id": "T1", "trigger_id": "t"}


def test_empty_text_means_help() -> None:
    assert CommandRequest.parse(_command("  ")).name == "help"


def test_arguments_are_split_like_a_shell() -> None:
    request = CommandRequest.parse(_command('Freeze 2h "release week"'))
    assert request.name == "freeze"
    assert request.args == ("2h", "release week")


def test_unbalanced_quotes_are_a_clear_error() -> None:
    with pytest.raises(ChaosbotError, match="could not read"):
        CommandRequest.parse(_command('freeze "oops'))


def test_help_lists_every_subcommand() -> None:
    router = CommandRouter()
    router.add(Subcommand("services", "/chaos services", "list your services", lambda r: None))
    text = router.help().text
    assert "`/chaos help`" in text
    assert "`/chaos services`  list your services" in text


def test_help_rendered_once_still_lists_a_subcommand_added_after() -> None:
    router = CommandRouter()
    assert "/chaos audit" not in router.help().text
    router.add(Subcommand("audit", "/chaos audit", "who did what", lambda r: None))
    assert "`/chaos audit`  who did what" in router.help().text


def test_unknown_subcommand_suggests_the_closest_one() -> None:
    router = CommandRouter()
    router.add(Subcommand("services", "/chaos services", "list", lambda r: Reply("x")))
    reply = router.resolve("servces").handler(CommandRequest.parse(_command("servces")))
    assert reply is not None
    assert "`/chaos servces` is not a chaosbot command" in reply.text
    assert "Did you mean `/chaos services`?" in reply.text


def test_a_subcommand_cannot_be_registered_twice() -> None:
    router = CommandRouter()
    with pytest.raises(ValueError, match="registered twice"):
        router.add(Subcommand("help", "/chaos help", "again", lambda r: None))
