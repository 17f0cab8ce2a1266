"""Two `chaosbot serve` replicas on one PostgreSQL database: each game day starts once, and when
the replica that schedules dies, the other takes over and starts the next one (once)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.audit.models import AuditEvent
from bot.db.engine import Database
from bot.gamedays.decisions import approve
from bot.gamedays.models import GameDay, GameDayStatus
from bot.runs.models import Run, RunEvent
from bot.runs.states import RunStatus
from bot.testing.kube.api import KubeApiServer
from bot.testing.processes import stop_process
from bot.testing.slack.api import SlackApiServer
from tests.e2e.conftest import CHAOSBOT, bot_env, listening_url, wait_until_healthy
from tests.fixtures.bot import BOB
from tests.fixtures.db import _truncate
from tests.fixtures.gamedays import ADMINS, ask, register_service
from tests.fixtures.services import Checkout

ELECTED = "now runs the game-day scheduler"


class Replica:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.stderr = log.open("w")
        self.process = subprocess.Popen(
            [*CHAOSBOT, "serve"], env=env, stdout=subprocess.PIPE, stderr=self.stderr, text=True
        )
        url = listening_url(self.process)
        wait_until_healthy(self.process, url)

    @property
    def leads(self) -> bool:
        return ELECTED in self.log.read_text()

    def stop(self) -> None:
        stop_process(self.process, timeout=15)
        self.stderr.close()


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Database]:
    _truncate(postgres_url)
    db = Database(postgres_url)
    yield db
    db.dispose()


def _approved(db: Database, service: str, starts_at: datetime) -> str:
    """A game day approved a while ago, starting at `starts_at` (wall-clock time)."""
    asked = starts_at - timedelta(hours=1)
    key = ask(
        db,
        service=service,
        starts_at=starts_at,
        now=asked,
        experiments=("pod-kill", "container-kill"),
        duration_minutes=15,
        hold_seconds=1,
    )
    with db.session() as session:
        approve(session=session, ref=key, user_id=BOB, now=asked, admins=ADMINS)
    return key


def _status(db: Database, key: str) -> GameDayStatus:
    with db.session() as session:
        status = session.scalar(select(GameDay.status).where(GameDay.key == key))
        assert status is not None
        return status


def _wait(db: Database, key: str, status: GameDayStatus, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _status(db, key) is status:
            return
        time.sleep(0.2)
    raise AssertionError(f"{key} is {_status(db, key)}, not {status}")


def _starts(db: Database, key: str) -> tuple[int, list[int]]:
    """How often the game day was started, and how often each of its runs left `scheduled`."""
    with db.session() as session:
        started = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.subject_id == key, AuditEvent.action == "gameday.started")
        )
        gameday_id = session.scalar(select(GameDay.id).where(GameDay.key == key))
        runs = session.scalars(select(Run.id).where(Run.gameday_id == gameday_id)).all()
        preflights = [
            session.scalar(
                select(func.count())
                .select_from(RunEvent)
                .where(RunEvent.run_id == run, RunEvent.status == RunStatus.PREFLIGHT)
            )
            or 0
            for run in runs
        ]
    return started or 0, preflights


def test_two_replicas_start_each_game_day_once_and_survive_losing_the_scheduler(
    pg: Database,
    tmp_path: Path,
    slack_api: SlackApiServer,
    signing_secret: str,
    kubeconfig: Path,
    kube_api: KubeApiServer,
    checkout: Checkout,
) -> None:
    register_service(pg, name="checkout", tier=2, probe_url=checkout.url)
    # A workload of its own: two services may not select the same pods.
    kube_api.add_deployment("payments", "checkout-eu", replicas=3, labels={"app": "checkout-eu"})
    register_service(
        pg, name="checkout-eu", tier=2, probe_url=checkout.url, selector="app=checkout-eu"
    )
    now = datetime.now(UTC)
    first = _approved(pg, "checkout", now + timedelta(seconds=6))
    second = _approved(pg, "checkout-eu", now + timedelta(seconds=40))
    env = bot_env(slack_api, signing_secret, pg.url)
    env.update(KUBECONFIG=str(kubeconfig), CHAOSBOT_ALLOWED_NAMESPACES="payments")
    env["CHAOSBOT_LOG_LEVEL"] = "INFO"
    replicas = [Replica(env, tmp_path / f"replica-{n}.log") for n in (1, 2)]
    try:
        _wait(pg, first, GameDayStatus.COMPLETED, timeout=60)
        assert _starts(pg, first) == (1, [1, 1])
        leaders = [r for r in replicas if r.leads]
        assert len(leaders) == 1, [r.log.read_text()[-2000:] for r in replicas]
        # The scheduling replica dies; the other takes the lock and starts the next game day.
        leaders[0].process.kill()
        leaders[0].process.wait(timeout=10)
        _wait(pg, second, GameDayStatus.COMPLETED, timeout=90)
        assert _starts(pg, second) == (1, [1, 1])
        survivor = next(r for r in replicas if r is not leaders[0])
        assert survivor.leads
    finally:
        for replica in replicas:
            replica.stop()
    assert os.environ.get("CHAOSBOT_DATABASE_URL") != pg.url  # nothing leaked into the tests
