"""Running `chaosbot` as a real process against the Slack test server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.testing.slack.api import SlackApiServer
from bot.testing.slack.requests import SlackSimulator

CHAOSBOT = [sys.executable, "-m", "bot"]


@dataclass
class BotProcess:
    """A `chaosbot serve` process and what it was started with."""

    process: subprocess.Popen[str]
    url: str
    env: dict[str, str]

    def stop(self) -> tuple[int, str]:
        """SIGTERM the process; returns its exit code and everything it logged."""
        self.process.terminate()
        try:
            _, stderr = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        return self.process.returncode, stderr


def bot_env(slack_api: SlackApiServer, signing_secret: str, database_url: str) -> dict[str, str]:
    """The environment of a bot process: the machine's, minus anything chaosbot reads, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHAOSBOT_"))}
    env.update(
        SLACK_BOT_TOKEN=slack_api.bot_token,
        SLACK_SIGNING_SECRET=signing_secret,
        SLACK_API_URL=slack_api.base_url,
        CHAOSBOT_DATABASE_URL=database_url,
        CHAOSBOT_HTTP_HOST="127.0.0.1",
        # Port 0: the bot binds a free port and prints it, so no other listener can race for it.
        CHAOSBOT_HTTP_PORT="0",
        CHAOSBOT_LOG_LEVEL="DEBUG",
    )
    return env


def run_chaosbot(
    *args: str, env: dict[str, str], timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHAOSBOT, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def listening_url(process: subprocess.Popen[str]) -> str:
    """The URL from the bot's "chaosbot listening on URL" line."""
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.match(r"chaosbot listening on (http://\S+)", line)
    if match is None:
        process.kill()
        _, stderr = process.communicate()
        raise AssertionError(f"chaosbot did not start: {line!r} {stderr}")
    return match.group(1)


def wait_until_healthy(process: subprocess.Popen[str], url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"chaosbot exited with {process.returncode}: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"chaosbot did not answer /healthz within {timeout}s")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/chaosbot.db"


@pytest.fixture
def bot_process(
    slack_api: SlackApiServer, signing_secret: str, sqlite_url: str
) -> Iterator[BotProcess]:
    """A migrated database and `chaosbot serve` answering on a free port."""
    env = bot_env(slack_api, signing_secret, sqlite_url)
    migrated = run_chaosbot("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    process = subprocess.Popen(
        [*CHAOSBOT, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = listening_url(process)
    bot = BotProcess(process, url, env)
    try:
        wait_until_healthy(process, url)
        yield bot
    finally:
        if process.poll() is None:
            bot.stop()


@pytest.fixture
def simulator(
    bot_process: BotProcess, slack_api: SlackApiServer, signing_secret: str
) -> SlackSimulator:
    return SlackSimulator(
        bot_url=f"{bot_process.url}/slack/events", signing_secret=signing_secret, api=slack_api
    )
