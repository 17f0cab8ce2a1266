"""The crash-point suite: no fault outlives its run, whatever dies, wherever the run is.

A run is held in each state of the run state machine (read from the machine itself, so a new
state cannot be forgotten) and there the worker, the bot (`chaosbot serve`, killed and started
again as Kubernetes would) or both are killed with SIGKILL. Afterwards, within the janitor's
period and the rollback's own time: nothing carries the run's label, the run is in a terminal
state with an honest reason, its Slack message says so, and nothing was recorded twice.
Also: the Kubernetes API failing during the rollback for a while, Slack down for the whole run,
and PostgreSQL restarted while the fault holds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.clock import FrozenClock
from bot.db.engine import Database
from bot.drills.models import Drill, DrillStatus
from bot.findings.models import Finding
from bot.gamedays.decisions import approve
from bot.gamedays.models import GameDay, GameDayStatus
from bot.runs.deadlines import deadline
from bot.runs.janitor import Janitor
from bot.runs.models import Run
from bot.runs.states import TERMINAL, RunStatus
from bot.runs.supervisor import start_worker
from bot.slack.ids import ActionId
from bot.testing.kube.api import KubeApiServer
from bot.testing.processes import stop_process
from bot.testing.slack.api import SlackApiServer
from bot.testing.slack.requests import SlackSimulator
from tests.e2e.conftest import CHAOSBOT, bot_env, listening_url, wait_until_healthy
from tests.e2e.pg_server import PgServer, pg_server_fixture  # noqa: F401 - a fixture
from tests.fixtures.bot import ALICE, BOB, TEAM_CHANNEL, seed_payments
from tests.fixtures.drills import opt_in
from tests.fixtures.engine import ROOT, Engine
from tests.fixtures.gamedays import ADMINS, ask, register_service
from tests.fixtures.services import register_checkout

JANITOR_SECONDS = 0.3
# Within this long after the crash (the janitor's period, starting a rollback process and the
# rollback itself, or a bot restart), nothing may carry the run's label. Typically 2-3 s
# (bench/orphan_rollback.py measures it); the bound is generous because a loaded 2-core CI
# machine can take far longer to start Python processes, and this is not a timing test.
SETTLED_WITHIN = 45.0
PAUSE = 4.0  # how long a paused API call keeps a worker in its state
STATES = [state for state in RunStatus if state not in TERMINAL]
TARGETS = ("worker", "bot", "both")


class Bot:
    """`chaosbot serve` as a process of its own, killed and started again at will."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[str] | None = None
        self.url = ""  # where the running one listens, to send it Slack's requests
        # Every process ever started, so that none outlives the test: a bot left running would
        # go on scheduling and tidying the next tests' database.
        self.started: list[subprocess.Popen[str]] = []

    def start(self) -> None:
        with self.log.open("a") as stderr:
            process = subprocess.Popen(
                [*CHAOSBOT, "serve"], env=self.env, stdout=subprocess.PIPE, stderr=stderr, text=True
            )
        self.started.append(process)
        self.url = listening_url(process)
        wait_until_healthy(process, self.url)
        self.process = process

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.started:
            stop_process(process, timeout=15)


class Crash:
    def __init__(self, engine: Engine, bot: Bot, slack: SlackApiServer, worker_env: dict[str, str]):
        self.engine, self.bot, self.slack, self.worker_env = engine, bot, slack, worker_env
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_worker(self, run_id: int) -> subprocess.Popen[bytes]:
        process = start_worker(run_id, env=self.worker_env)
        self.workers.append(process)
        return process

    def settled(self, run_id: int, key: str, *, not_before: float = 0.0) -> Run:
        """Waits until the run is terminal, nothing carries its label and nothing is left to
        retry, at `not_before` (monotonic) at the earliest. A run whose worker died while
        injecting is still looked at again for a while (a write may have been in flight): for
        it, a retry may be due."""
        end = time.monotonic() + SETTLED_WITHIN
        while time.monotonic() < end:
            run = self.engine.row(run_id)
            if (
                time.monotonic() >= not_before
                and run.status in TERMINAL
                and (run.rollback_retry_at is None or not run.leftovers)
                and not self.engine.policies(key)
            ):
                return run
            time.sleep(0.05)
        run = self.engine.row(run_id)
        log = self.bot.log.read_text()[-3000:]
        raise AssertionError(
            f"run {key} is {run.status} ({run.reason}), retry at {run.rollback_retry_at}, "
            f"{len(self.engine.policies(key))} object(s) left\n{log}"
        )

    def message_text(self, run: Run) -> str | None:
        if run.slack_channel is None or run.slack_ts is None:
            return None
        message = self.slack.message(run.slack_channel, run.slack_ts)
        return None if message is None else str(message.get("text"))

    def endings_posted(self, run: Run) -> int:
        """How many thread replies announce the run's end (its reason)."""
        assert run.slack_channel is not None and run.reason is not None
        return sum(
            1
            for m in self.slack.messages(run.slack_channel)
            if m.get("thread_ts") == run.slack_ts and run.reason[:60] in str(m.get("text"))
        )

    def findings_per_kind(self, run_id: int) -> list[int]:
        with self.engine.db.session() as session:
            rows = session.execute(
                select(Finding.kind, func.count())
                .where(Finding.run_id == run_id)
                .group_by(Finding.kind)
            ).all()
        return [count for _, count in rows]


@pytest.fixture
def crash(
    engine: Engine,
    slack_api: SlackApiServer,
    signing_secret: str,
    database_url: str,
    tmp_path: Path,
) -> Iterator[Crash]:
    env = _bot_env(slack_api, signing_secret, database_url, engine.kubeconfig)
    yield from _harness(engine, slack_api, env, tmp_path)


def _bot_env(
    slack_api: SlackApiServer, signing_secret: str, database_url: str, kubeconfig: Path
) -> dict[str, str]:
    env = bot_env(slack_api, signing_secret, database_url)
    env.update(
        KUBECONFIG=str(kubeconfig),
        CHAOSBOT_ALLOWED_NAMESPACES="payments",
        CHAOSBOT_JANITOR_SECONDS=str(JANITOR_SECONDS),
        CHAOSBOT_LOG_LEVEL="INFO",
    )
    return env


def _harness(
    engine: Engine, slack_api: SlackApiServer, env: dict[str, str], tmp_path: Path
) -> Iterator[Crash]:
    """A Crash whose bot processes and workers are all gone when the test is over."""
    crash = Crash(engine, Bot(env, tmp_path / "bot.log"), slack_api, {**engine.env, **env})
    try:
        yield crash
    finally:
        crash.bot.stop()
        for worker in crash.workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
        _stop_strays(env["CHAOSBOT_DATABASE_URL"])


def _stop_strays(database_url: str) -> None:
    """Stop rollback processes the bots started on this database and left running (they run in
    a session of their own, as they should): the next test empties the tables and reuses the
    run ids, and a replay still under way would act on that test's runs."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"worker" in cmdline and f"CHAOSBOT_DATABASE_URL={database_url}".encode() in environ:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)


def _pause(crash: Crash, state: RunStatus) -> float:
    """Arrange for a worker to stay in `state` for a while; returns the hold to ask for."""
    kube = crash.engine.kube
    if state is RunStatus.PREFLIGHT:  # preflight counts the service's live pods
        kube.inject_latency("GET", r"/namespaces/payments/pods$", PAUSE, times=1)
    elif state is RunStatus.INJECTING:  # the create is in flight when the worker dies
        kube.inject_latency("POST", r"/networkpolicies$", PAUSE, times=1)
    elif state is RunStatus.ROLLING_BACK:
        kube.inject_latency("DELETE", r"/networkpolicies/", PAUSE, times=1)
    return 30.0 if state is RunStatus.HOLDING else 1.0


def _kill(crash: Crash, target: str, worker: subprocess.Popen[bytes] | None) -> None:
    if target in ("worker", "both") and worker is not None:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    if target in ("bot", "both"):
        crash.bot.kill()
        crash.bot.start()  # as Kubernetes would


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("state", STATES, ids=[s.value for s in STATES])
def test_whatever_dies_in_whatever_state_no_fault_outlives_the_run(
    crash: Crash, state: RunStatus, target: str
) -> None:
    engine = crash.engine
    crash.bot.start()
    hold = _pause(crash, state)
    if state is RunStatus.HOLDING and target == "bot":
        hold = 3.0  # the worker outlives the bot and finishes by itself
    run_id, key = engine.create(hold=hold, now=datetime.now(UTC))
    worker = None
    if state is not RunStatus.SCHEDULED:
        worker = crash.start_worker(run_id)
        engine.wait_for(run_id, state)
    _kill(crash, target, worker)
    # A write in flight when the worker died lands up to PAUSE later: look after that.
    not_before = time.monotonic() + (PAUSE + 1 if state is RunStatus.INJECTING else 0)
    if state is RunStatus.SCHEDULED:
        # Nobody picks the run up: at its deadline the janitor ends it.
        late = deadline(engine.row(run_id))
        assert late is not None
        clock = FrozenClock(late + timedelta(seconds=1))
        Janitor(db=engine.db, clock=clock, roll_back=lambda run_id: None).tidy()
    run = crash.settled(run_id, key, not_before=not_before)
    assert crash.findings_per_kind(run_id) in ([], [1], [1, 1])
    if state is RunStatus.SCHEDULED:
        assert (run.status, run.reason) == (
            RunStatus.ABORTED,
            "never started: no worker picked it up before its deadline",
        )
        return
    if target == "bot":
        # The worker runs in a session of its own: it finishes its run as if nothing happened.
        assert run.status is RunStatus.COMPLETED, run.reason
    elif state is RunStatus.PREFLIGHT:
        assert run.status is RunStatus.FAILED
        assert run.reason is not None
        assert run.reason.startswith("its worker stopped in preflight, before anything")
    else:
        assert run.status is RunStatus.FAILED
        assert run.reason == (
            f"its worker stopped while {state.value.replace('_', ' ')}; chaosbot rolled back: "
            "nothing left behind"
        )
    # The message follows the row right after the run ends (the observer posts after the commit).
    ending = f": {run.status.value}"
    _wait_until(
        lambda: str(crash.message_text(engine.row(run_id))).endswith(ending), "the message's update"
    )
    _wait_until(lambda: crash.endings_posted(engine.row(run_id)) >= 1, "the ending in the thread")
    time.sleep(JANITOR_SECONDS * 3)  # a second announcement would come within a few passes
    assert crash.endings_posted(engine.row(run_id)) == 1


def test_a_rollback_the_api_refuses_for_a_while_is_retried_until_clean(crash: Crash) -> None:
    engine = crash.engine
    crash.bot.start()
    run_id, key = engine.create(hold=30, now=datetime.now(UTC))
    worker = crash.start_worker(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    engine.kube.inject("DELETE", r"/networkpolicies/", status=500, times=2)
    engine.kube.inject_timeout("DELETE", r"/networkpolicies/", times=1, hold_seconds=2)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    run = crash.settled(run_id, key)
    assert run.status is RunStatus.FAILED
    assert run.rollback_attempts >= 2
    failed = [e.message for e in run.events if "remove" in e.message or "unblock" in e.message]
    assert any("failed" in line for line in failed)  # each failed attempt is on the timeline
    assert run.leftovers == []
    _wait_until(
        lambda: str(crash.message_text(engine.row(run_id))).endswith(": failed"), "the message"
    )


def test_with_slack_down_for_the_whole_run_the_fault_is_still_rolled_back(crash: Crash) -> None:
    engine = crash.engine
    crash.bot.start()
    for method in ("chat.postMessage", "chat.update"):
        crash.slack.fail_next(method, error="service_unavailable", status=503, times=1000)
    run_id, key = engine.create(hold=30, now=datetime.now(UTC))
    worker = crash.start_worker(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    run = crash.settled(run_id, key)
    assert run.status is RunStatus.FAILED
    assert run.slack_ts is None  # nothing could be posted, and nothing stopped because of it
    assert crash.findings_per_kind(run_id) in ([], [1], [1, 1])


def test_an_expired_fault_whose_run_the_database_does_not_know_is_swept(crash: Crash) -> None:
    """A database restored from an old backup, or a run row deleted by hand: the objects in
    the cluster still say when they expire, and the janitor removes them then."""
    kube = crash.engine.kube
    for name, expires in (("expired", "2020-01-01T00:00:00Z"), ("live", "2999-01-01T00:00:00Z")):
        kube.add_object(
            "networkpolicies",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {
                    "name": f"chaosbot-blackhole-{name}",
                    "namespace": "payments",
                    "labels": {"chaosbot.io/run-id": f"r-{name}"},
                    "annotations": {
                        "chaosbot.io/created": "true",
                        "chaosbot.io/expires-at": expires,
                    },
                },
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
            },
        )
    crash.bot.start()
    _wait_until(lambda: not crash.engine.policies("r-expired"), "the sweep", timeout=20)
    assert len(crash.engine.policies("r-live")) == 1  # not expired yet: left alone


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(Exception):
            if condition():
                return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def pg_crash(
    pg_server: PgServer,
    kube_api: KubeApiServer,
    kubeconfig: Path,
    probe_url: str,
    slack_api: SlackApiServer,
    signing_secret: str,
    tmp_path: Path,
) -> Iterator[Crash]:
    """The `crash` harness on a PostgreSQL server of the test's own (see pg_server)."""
    db = Database(pg_server.url)
    seed_payments(kube_api)
    register_checkout(db, probe_url=probe_url)
    env = _bot_env(slack_api, signing_secret, pg_server.url, kubeconfig)
    engine_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHAOSBOT_"))}
    engine_env.update(PYTHONPATH=str(ROOT))
    engine = Engine(db, kube_api, kubeconfig, probe_url, {**engine_env, **env})
    try:
        yield from _harness(engine, slack_api, env, tmp_path)
    finally:
        db.dispose()


def test_postgresql_restarted_while_the_fault_holds(pg_crash: Crash, pg_server: PgServer) -> None:
    """The worker and the bot both lose their connections while the fault holds; the worker
    plays its rollbacks whatever the database does, and the run ends honestly."""
    crash, engine = pg_crash, pg_crash.engine
    crash.bot.start()
    run_id, key = engine.create(hold=8, now=datetime.now(UTC))
    worker = crash.start_worker(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    assert len(engine.policies(key)) == 1
    pg_server.restart()
    worker.wait(timeout=60)
    run = crash.settled(run_id, key)
    assert worker.returncode == 0, worker.returncode
    assert run.status is RunStatus.COMPLETED, run.reason
    assert run.leftovers == []
    assert crash.findings_per_kind(run_id) in ([], [1], [1, 1])
    _wait_until(
        lambda: str(crash.message_text(engine.row(run_id))).endswith(": completed"), "the message"
    )
    _wait_until(lambda: crash.endings_posted(engine.row(run_id)) >= 1, "the ending in the thread")
    time.sleep(JANITOR_SECONDS * 3)
    assert crash.endings_posted(engine.row(run_id)) == 1


def test_a_bot_killed_while_a_game_days_second_experiment_holds(crash: Crash) -> None:
    """The bot schedules a game day of two experiments; while the second holds its fault, the
    bot and that run's worker are killed. The bot, started again, rolls the run back, ends it
    honestly and settles the game day (halted: its last experiment failed), with one result."""
    engine = crash.engine
    register_service(engine.db, name="checkout", tier=2, probe_url=engine.probe_url)
    starts_at = datetime.now(UTC) + timedelta(seconds=4)
    asked = starts_at - timedelta(hours=1)
    key = ask(
        engine.db,
        service="checkout",
        starts_at=starts_at,
        now=asked,
        experiments=("pod-kill", "container-kill"),
        duration_minutes=15,
        hold_seconds=6,
    )
    with engine.db.session() as session:
        approve(session=session, ref=key, user_id=BOB, now=asked, admins=ADMINS)
    crash.bot.start()

    def runs() -> list[Run]:
        with engine.db.session() as session:
            gameday = session.scalars(select(GameDay).where(GameDay.key == key)).one()
            return list(
                session.scalars(select(Run).where(Run.gameday_id == gameday.id).order_by(Run.id))
            )

    _wait_until(lambda: len(runs()) == 2, "the game day's runs", timeout=60)
    first, second = runs()
    engine.wait_for(second.id, RunStatus.HOLDING, timeout=90)
    assert engine.status(first.id) is RunStatus.COMPLETED, engine.row(first.id).reason
    pid = engine.row(second.id).worker_pid
    assert pid is not None
    crash.bot.kill()
    os.kill(pid, signal.SIGKILL)
    crash.bot.start()  # as Kubernetes would
    run = crash.settled(second.id, second.key)
    assert (run.status, run.reason) == (
        RunStatus.FAILED,
        "its worker stopped while holding; chaosbot rolled back: nothing left behind",
    )

    def gameday() -> GameDay:
        with engine.db.session() as session:
            return session.scalars(select(GameDay).where(GameDay.key == key)).one()

    _wait_until(lambda: gameday().status is GameDayStatus.HALTED, "the game day's end")
    assert gameday().reason == "container-kill ended failed"
    for kind in ("pods", "networkpolicies"):
        for run_key in (first.key, second.key):
            label = f"chaosbot.io/run-id={run_key}"
            assert engine.kube.list(kind, "payments", label_selector=label) == [], kind
    assert crash.findings_per_kind(second.id) in ([], [1], [1, 1])
    channel = gameday().slack_channel

    def results() -> int:
        return sum(
            1 for m in crash.slack.messages(channel) if "Game day halted" in str(m.get("text"))
        )

    _wait_until(lambda: results() >= 1, "the game day's result")
    time.sleep(JANITOR_SECONDS * 5)  # a second result would come within a few passes
    assert results() == 1


def test_a_bot_killed_while_a_drill_is_acknowledged(crash: Crash, signing_secret: str) -> None:
    """A blind drill fires from a `chaosbot serve` process and is acknowledged; while its fault
    holds, the bot and the drill's worker are killed. Started again, the bot rolls the run back,
    ends it, and reveals the drill once; nothing is left in the cluster."""
    engine = crash.engine
    bot = crash.bot
    register_service(engine.db, name="checkout", tier=2, probe_url=engine.probe_url)
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    opt_in(engine.db, weekdays=days, hours="00:00-23:59", timezone="UTC", duration_minutes=1)
    bot.start()

    def drill() -> Drill:
        with engine.db.session() as session:
            row = session.scalars(select(Drill).order_by(Drill.day)).first()
            assert row is not None
            return row

    _wait_until(lambda: drill() is not None, "the drill plan")
    # The bot plans today and tomorrow, at random; the drill is moved to now, and the bot
    # started again, whose first pass fires it (the pass runs every 30 s otherwise).
    bot.stop()
    now = datetime.now(UTC)
    with engine.db.session() as session:
        row = session.scalars(select(Drill).where(Drill.id == drill().id)).one()
        row.status, row.planned_at, row.experiment = DrillStatus.PLANNED, now, "pod-kill"
        row.day, row.duration_minutes = now.date(), 1
    bot.start()
    _wait_until(lambda: drill().status is not DrillStatus.PLANNED, "the drill to fire")
    assert drill().run_id is not None, (drill().status, drill().skip_reason)
    run_id = drill().run_id
    assert run_id is not None
    engine.wait_for(run_id, RunStatus.HOLDING, timeout=60)
    channel = TEAM_CHANNEL

    def alerts() -> list[dict[str, Any]]:
        return [m for m in crash.slack.messages(channel) if "incident" in str(m.get("blocks"))]

    _wait_until(lambda: len(alerts()) == 1, "the alert")
    ts = str(alerts()[0]["ts"])
    simulator = SlackSimulator(
        bot_url=f"{bot.url}/slack/events", signing_secret=signing_secret, api=crash.slack
    )
    simulator.block_action(
        ActionId.ACKNOWLEDGE_INCIDENT.value,
        user_id=ALICE,
        channel_id=channel,
        message={"ts": ts},
        value=drill().key,
    )
    _wait_until(lambda: drill().acknowledged_by == ALICE, "the acknowledgement")
    assert engine.status(run_id) is RunStatus.HOLDING
    pid = engine.row(run_id).worker_pid
    assert pid is not None
    bot.kill()
    os.kill(pid, signal.SIGKILL)
    bot.start()  # as Kubernetes would
    run = crash.settled(run_id, engine.row(run_id).key)
    assert (run.status, run.reason) == (
        RunStatus.FAILED,
        "its worker stopped while holding; chaosbot rolled back: nothing left behind",
    )
    _wait_until(lambda: drill().status is DrillStatus.REVEALED, "the reveal")
    for kind in ("pods", "networkpolicies"):
        label = f"chaosbot.io/run-id={run.key}"
        assert engine.kube.list(kind, "payments", label_selector=label) == [], kind

    def reveals() -> int:
        return sum(
            1
            for call in crash.slack.calls
            if call.method in ("chat.update", "chat.postMessage")
            and "blind drill" in str(call.body.get("blocks"))
        )

    _wait_until(lambda: reveals() >= 1, "the reveal message")
    time.sleep(JANITOR_SECONDS * 5)  # a second reveal would come within a few passes
    assert reveals() == 1
    assert "blind drill" in str(crash.slack.message(channel, ts))
