"""`chaosbot demo`: an offline rehearsal against local Slack and Kubernetes test servers.

The bot runs for real (HTTP server, request verification, SQLite, Web API calls); only Slack and
the cluster are stand-ins that speak their real protocols on 127.0.0.1.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.clock import ShiftedClock
from bot.config import Secret, Settings
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.demo.transcript import Transcript
from bot.errors import ChaosbotError
from bot.testing.kube.health import health_endpoint

if TYPE_CHECKING:
    from bot.serve import Server
    from bot.testing.kube.api import KubeApiServer
    from bot.testing.slack.api import SlackApiServer
    from bot.testing.slack.requests import SlackSimulator

__all__ = ["DemoWorld", "demo_world", "run_demo"]

DEMO_TOKEN = "xoxb-demo-0000-chaosbot"  # noqa: S105 - a token only the demo stand-in accepts
ALERTMANAGER_TOKEN = secrets.token_hex(16)
TEAM_CHANNEL = "C0PAYMENTS"
ADMIN_CHANNEL = "C0PLATFORM"
PAT = "U0PAT"  # a platform admin


class DemoNeedsExtra(ChaosbotError):
    """The demo's test servers need the `demo` extra installed."""

    def __init__(self, missing: str) -> None:
        super().__init__(
            f"the demo needs {missing}: install it with `pip install 'chaosbot[demo]'`"
        )


class Health:
    """What checkout's health endpoint answers: 200, until a scene breaks it."""

    def __init__(self) -> None:
        self.status = 200

    def answer(self) -> int:
        return self.status


@dataclass
class DemoWorld:
    """Everything a scene needs: the running bot, the stand-ins, and the transcript."""

    settings: Settings
    slack: SlackApiServer
    kube: KubeApiServer
    simulator: SlackSimulator
    transcript: Transcript
    health_url: str
    server: Server
    clock: ShiftedClock
    health: Health
    report_dir: Path | None = None  # where the game day's report is written too


def run_demo(*, out: TextIO, report_dir: Path | None = None) -> int:
    """Play every scene and print the conversation; returns the exit code. `report_dir`: where
    to write the game day's report as well."""
    from bot.demo.scenes import SCENES

    with demo_world(out, report_dir=report_dir) as world:
        for scene in SCENES:
            scene(world)
    out.write("\nThe rehearsal is over: nothing outside this machine was touched.\n")
    return 0


@contextmanager
def demo_world(out: TextIO, *, report_dir: Path | None = None) -> Iterator[DemoWorld]:
    """Start the stand-ins, a migrated temporary database and the bot; stop them all after."""
    try:
        from bot.testing.kube.api import KubeApiServer
        from bot.testing.slack.api import SlackApiServer
        from bot.testing.slack.requests import SlackSimulator
    except ModuleNotFoundError as exc:
        raise DemoNeedsExtra(exc.name or "kubernetes-validate") from None
    from bot.serve import Server

    with (
        tempfile.TemporaryDirectory(prefix="chaosbot-demo-") as tmp,
        SlackApiServer(bot_token=DEMO_TOKEN) as slack,
        KubeApiServer() as kube,
        health_endpoint((health := Health()).answer) as health_url,
    ):
        _seed_cluster(kube)
        kubeconfig = kube.write_kubeconfig(Path(tmp) / "kubeconfig")
        signing_secret = secrets.token_hex(16)
        settings = Settings(
            slack_bot_token=Secret(DEMO_TOKEN),
            slack_signing_secret=Secret(signing_secret),
            slack_api_url=slack.base_url,
            database_url=f"sqlite:///{tmp}/chaosbot.db",
            http_host="127.0.0.1",
            http_port=0,
            log_level="ERROR",  # the transcript is the output; workers inherit this
            allowed_namespaces=frozenset({"payments"}),
            kubeconfig=str(kubeconfig),
            platform_admins=frozenset({PAT}),
            admin_channel=ADMIN_CHANNEL,
            # Short, so that a killed worker's fault is rolled back a second or two later.
            janitor_seconds=1.0,
            # The team's Alertmanager delivers its alerts to /alertmanager with this token.
            alertmanager_webhook_token=Secret(ALERTMANAGER_TOKEN),
        )
        db = Database(settings.database_url)
        upgrade(db)
        clock = ShiftedClock()
        server = Server(settings, db=db, clock=clock)
        server.start_in_thread()
        try:
            simulator = SlackSimulator(
                bot_url=f"{server.url}/slack/events", signing_secret=signing_secret, api=slack
            )
            people = {
                "U0ALICE": "alice",
                "U0BOB": "bob",
                "U0CAROL": "carol",
                "U0PAT": "pat",
                TEAM_CHANNEL: "payments",
                ADMIN_CHANNEL: "platform",
            }
            transcript = Transcript(out, people=people)
            yield DemoWorld(
                settings,
                slack,
                kube,
                simulator,
                transcript,
                health_url,
                server,
                clock,
                health,
                report_dir,
            )
        finally:
            server.close()


def _seed_cluster(kube: KubeApiServer) -> None:
    """A small staging cluster: three zones, and a payments namespace running checkout."""
    for index, zone in enumerate(("eu-west-1a", "eu-west-1b", "eu-west-1c")):
        kube.add_node(f"node-{index + 1}", zone=zone)
    kube.add_namespace("payments")
    # Probes and requests, but no memory limit and no PodDisruptionBudget: two risks to find.
    kube.add_deployment(
        "payments",
        "checkout",
        replicas=3,
        labels={"app": "checkout"},
        readiness_probe={"httpGet": {"path": "/healthz", "port": 8080}},
        liveness_probe={"httpGet": {"path": "/livez", "port": 8080}},
        resources={"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1"}},
    )
