"""`chaosbot serve` as a process: signed requests in, verified, answered; bad set-ups refused."""

from __future__ import annotations

import json
import time
import urllib.request

from bot.testing.slack.api import SlackApiServer
from bot.testing.slack.requests import SlackSimulator
from tests.e2e.conftest import BotProcess, bot_env, run_chaosbot


def test_signed_help_gets_the_help_text_in_the_ack(simulator: SlackSimulator) -> None:
    response = simulator.slash_command("/chaos", "help", user_id="U1", channel_id="C1")
    assert response.status == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "`/chaos help`" in body["text"]


def test_unknown_subcommand_gets_a_suggestion_and_the_help(simulator: SlackSimulator) -> None:
    response = simulator.slash_command("/chaos", "hlep", user_id="U1", channel_id="C1")
    assert response.status == 200
    text = response.json()["text"]
    assert "`/chaos hlep` is not a chaosbot command" in text
    assert "Did you mean `/chaos help`?" in text


def test_forged_signature_is_refused(simulator: SlackSimulator) -> None:
    response = simulator.slash_command(
        "/chaos", "help", user_id="U1", channel_id="C1", forge_signature=True
    )
    assert response.status == 401


def test_request_older_than_five_minutes_is_refused(simulator: SlackSimulator) -> None:
    six_minutes_ago = int(time.time()) - 6 * 60
    response = simulator.slash_command(
        "/chaos", "help", user_id="U1", channel_id="C1", timestamp=six_minutes_ago
    )
    assert response.status == 401


def test_health_and_readiness(bot_process: BotProcess) -> None:
    for path, expected in (("/healthz", "ok"), ("/readyz", "ready")):
        with urllib.request.urlopen(bot_process.url + path, timeout=5) as response:
            assert response.status == 200
            assert json.load(response)["status"] == expected


def test_sigterm_stops_cleanly_and_no_secret_reaches_the_log(
    simulator: SlackSimulator, bot_process: BotProcess
) -> None:
    simulator.slash_command("/chaos", "help", user_id="U1", channel_id="C1")
    code, log = bot_process.stop()
    assert code == 0
    assert "answering Slack at" in log  # the log was really captured, at DEBUG
    assert bot_process.env["SLACK_BOT_TOKEN"] not in log
    assert bot_process.env["SLACK_SIGNING_SECRET"] not in log


def test_missing_signing_secret_exits_2_naming_it(
    slack_api: SlackApiServer, signing_secret: str, sqlite_url: str
) -> None:
    env = bot_env(slack_api, signing_secret, sqlite_url)
    del env["SLACK_SIGNING_SECRET"]
    result = run_chaosbot("serve", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "SLACK_SIGNING_SECRET" in lines[0]
    assert "Traceback" not in result.stderr


def test_invalid_setting_exits_2_with_one_line(
    slack_api: SlackApiServer, signing_secret: str, sqlite_url: str
) -> None:
    env = bot_env(slack_api, signing_secret, sqlite_url)
    env["CHAOSBOT_HTTP_PORT"] = "eighty"
    result = run_chaosbot("serve", env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "chaosbot: CHAOSBOT_HTTP_PORT: must be a port number 0-65535, got 'eighty'"
    )


def test_unmigrated_database_is_named_not_served(
    slack_api: SlackApiServer, signing_secret: str, sqlite_url: str
) -> None:
    env = bot_env(slack_api, signing_secret, sqlite_url)
    result = run_chaosbot("serve", env=env)
    assert result.returncode == 1
    assert "run `chaosbot migrate` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_token_slack_rejects_stops_start_up(
    slack_api: SlackApiServer, signing_secret: str, sqlite_url: str
) -> None:
    env = bot_env(slack_api, signing_secret, sqlite_url)
    assert run_chaosbot("migrate", env=env).returncode == 0
    env["SLACK_BOT_TOKEN"] = "xoxb-revoked-token-9999"
    result = run_chaosbot("serve", env=env)
    assert result.returncode == 1
    assert "Slack did not accept SLACK_BOT_TOKEN: invalid_auth" in result.stderr
    assert "xoxb-revoked-token-9999" not in result.stderr


def test_every_command_has_help() -> None:
    for command in ("serve", "migrate", "demo"):
        result = run_chaosbot(command, "--help", env={})
        assert result.returncode == 0, result.stderr
        assert f"usage: chaosbot {command}" in result.stdout
