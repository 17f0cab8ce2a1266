"""Runs started from Slack by `chaosbot serve`, and what happens when processes die mid-hold."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.runs.models import Run
from bot.runs.states import TERMINAL, RunStatus
from bot.testing.kube.api import KubeApiServer
from bot.testing.slack.api import SlackApiServer
from bot.testing.slack.requests import SlackSimulator
from tests.e2e.conftest import CHAOSBOT, BotProcess, bot_env, listening_url, wait_until_healthy
from tests.fixtures.services import Checkout, register_checkout

CHANNEL = "C0PAYMENTS"


class Bot:
    """Start, kill and restart `chaosbot serve` on one database."""

    def __init__(self, env: dict[str, str], slack: SlackApiServer, secret: str) -> None:
        self.env, self.slack, self.secret = env, slack, secret
        self.process: BotProcess | None = None

    def start(self) -> SlackSimulator:
        process = subprocess.Popen(
            [*CHAOSBOT, "serve"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = listening_url(process)
        wait_until_healthy(process, url)
        self.process = BotProcess(process, url, self.env)
        return SlackSimulator(
            bot_url=f"{url}/slack/events", signing_secret=self.secret, api=self.slack
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.process.kill()
        self.process.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.process.poll() is None:
            _, log = self.process.stop()
            print(log)  # shown by pytest when the test failed


@pytest.fixture
def bot(
    tmp_path: Path,
    slack_api: SlackApiServer,
    signing_secret: str,
    kubeconfig: Path,
    checkout: Checkout,
) -> Iterator[Bot]:
    url = f"sqlite:///{tmp_path}/chaosbot.db"
    db = Database(url)
    upgrade(db)
    register_checkout(db, probe_url=checkout.url)
    db.dispose()
    env = bot_env(slack_api, signing_secret, url)
    env.update(
        KUBECONFIG=str(kubeconfig),
        CHAOSBOT_ALLOWED_NAMESPACES="payments",
        CHAOSBOT_LOG_LEVEL="INFO",
    )
    running = Bot(env, slack_api, signing_secret)
    yield running
    running.stop()
    with Database(url).session() as session:
        for run in session.scalars(select(Run)):
            if run.worker_pid and run.status not in TERMINAL:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(run.worker_pid, signal.SIGKILL)


def _run_row(bot: Bot) -> Run:
    db = Database(bot.env["CHAOSBOT_DATABASE_URL"])
    try:
        with db.session() as session:
            return session.scalars(select(Run)).one()
    finally:
        db.dispose()


def _wait(bot: Bot, *states: RunStatus, timeout: float = 60) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            run = _run_row(bot)
        except Exception:
            run = None
        if run is not None and run.status in states:
            return run
        time.sleep(0.05)
    raise AssertionError(f"no run reached {states}")


def _policies(kube: KubeApiServer) -> list[object]:
    return list(kube.list("networkpolicies", "payments"))


def test_a_run_started_in_slack_survives_the_bot_being_killed(
    bot: Bot, kube_api: KubeApiServer
) -> None:
    simulator = bot.start()
    simulator.slash_command(
        "/chaos",
        "run checkout blackhole direction=ingress hold=3",
        user_id="U0ALICE",
        channel_id=CHANNEL,
    )
    [reply] = bot.slack.wait_for_response()
    assert "is starting" in reply.body["text"]
    _wait(bot, RunStatus.HOLDING)
    assert len(_policies(kube_api)) == 1
    bot.kill()  # the worker runs in its own session and finishes the run by itself
    run = _wait(bot, *TERMINAL)
    assert run.status is RunStatus.COMPLETED
    assert _policies(kube_api) == []
    bot.start()  # and the reaper, finding the worker's run finished, leaves it alone
    time.sleep(1)
    assert _run_row(bot).status is RunStatus.COMPLETED


def test_the_janitor_rolls_back_after_the_bot_and_its_worker_die(
    bot: Bot, kube_api: KubeApiServer
) -> None:
    simulator = bot.start()
    simulator.slash_command(
        "/chaos", "run checkout blackhole hold=120", user_id="U0ALICE", channel_id=CHANNEL
    )
    run = _wait(bot, RunStatus.HOLDING)
    bot.kill()
    assert run.worker_pid is not None
    os.kill(run.worker_pid, signal.SIGKILL)
    time.sleep(0.5)
    assert len(_policies(kube_api)) == 1  # left in the cluster by the dead worker
    bot.start()
    run = _wait(bot, *TERMINAL)
    assert run.status is RunStatus.FAILED
    assert run.reason == (
        "its worker stopped while holding; chaosbot rolled back: nothing left behind"
    )
    assert _policies(kube_api) == []


def test_only_owners_start_runs(bot: Bot) -> None:
    simulator = bot.start()
    simulator.slash_command(
        "/chaos", "run checkout blackhole", user_id="U0CAROL", channel_id=CHANNEL
    )
    [reply] = bot.slack.wait_for_response()
    assert "Only the owners of `checkout`" in reply.body["text"]
