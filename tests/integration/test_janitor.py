"""The janitor with the bot up: a killed worker's fault is rolled back within its period, an
abort of an orphaned run rolls it back at once, a failing rollback is retried until nothing is
left (and people are told once), and runs past their deadline are ended."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock, SystemClock
from bot.outbox.models import OutboxMessage
from bot.runs.deadlines import BUDGETS, deadline
from bot.runs.janitor import Janitor
from bot.runs.models import Run
from bot.runs.states import TERMINAL, TRANSITIONS, RunStatus
from bot.runs.supervisor import WorkerLauncher, abort_run
from bot.scheduling.reconciler import Reconciler
from bot.slack.run_messages import SlackCleanupAlerts
from bot.testing.polling import eventually
from tests.fixtures.engine import NOW, Engine

ADMIN_CHANNEL = "C0PLATFORM"


@pytest.fixture
def launcher(engine: Engine) -> WorkerLauncher:
    engine.env["CHAOSBOT_JANITOR_SECONDS"] = "0.2"  # the rollback retries' backoff starts here
    return WorkerLauncher(engine.env)


def _killed_while_holding(engine: Engine, hold: float = 60) -> tuple[int, str]:
    run_id, key = engine.create(hold=hold)
    process = engine.start_process(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert len(engine.policies(key)) == 1  # left behind by the dead worker
    return run_id, key


def test_a_killed_worker_is_rolled_back_by_the_running_janitor(
    engine: Engine, launcher: WorkerLauncher
) -> None:
    run_id, key = _killed_while_holding(engine)
    janitor = Reconciler(
        clock=SystemClock(),
        passes=[
            Janitor(db=engine.db, clock=SystemClock(), roll_back=launcher.roll_back, period=0.2)
        ],
    )
    janitor.start()
    try:
        assert engine.wait_for(run_id, *TERMINAL) is RunStatus.FAILED
    finally:
        janitor.stop()
    assert engine.policies(key) == []
    run = engine.row(run_id)
    assert run.reason == (
        "its worker stopped while holding; chaosbot rolled back: nothing left behind"
    )
    assert run.leftovers == []
    assert run.rollback_retry_at is None
    assert any("rollback attempt 1 by chaosbot" in e.message for e in run.events)


def test_abort_of_a_run_whose_worker_is_gone_rolls_it_back_at_once(
    engine: Engine, launcher: WorkerLauncher
) -> None:
    run_id, key = _killed_while_holding(engine)
    result = abort_run(db=engine.db, ref=key, by="U0BOB", now=NOW, roll_back=launcher.roll_back)
    assert result.rolling_back and not result.signalled
    assert engine.wait_for(run_id, *TERMINAL) is RunStatus.ABORTED
    assert engine.policies(key) == []
    run = engine.row(run_id)
    assert run.reason is not None
    assert run.reason.startswith("aborted by U0BOB; its worker was gone, so chaosbot rolled back")


def test_a_rollback_that_fails_is_retried_until_nothing_is_left_and_people_are_told_once(
    engine: Engine, launcher: WorkerLauncher
) -> None:
    run_id, key = _killed_while_holding(engine)
    engine.kube.inject("DELETE", r"/networkpolicies/", status=500, times=None)
    janitor = Reconciler(
        clock=SystemClock(),
        passes=[
            Janitor(
                db=engine.db,
                clock=SystemClock(),
                roll_back=launcher.roll_back,
                alerts=SlackCleanupAlerts(admin_channel=ADMIN_CHANNEL),
                alert_after=timedelta(seconds=1),
                period=0.2,
            )
        ],
    )
    janitor.start()
    try:
        engine.wait_for(run_id, *TERMINAL)
        _wait(lambda: engine.row(run_id).rollback_attempts >= 3, "three attempts")
        _wait(lambda: len(_alerts(engine, key)) == 2, "the alerts")
        run = engine.row(run_id)
        assert run.status is RunStatus.FAILED
        assert run.leftovers == [f"payments/networkpolicy/chaosbot-block-{key}"]
        assert run.rollback_retry_at is not None
        failures = [e.message for e in run.events if "unblock failed" in e.message]
        assert len(failures) >= 3  # every failed attempt is on the timeline
        engine.kube.clear_faults()  # the API server recovers
        _wait(lambda: engine.row(run_id).leftovers == [], "a clean leftover check")
    finally:
        janitor.stop()
    assert engine.policies(key) == []
    run = engine.row(run_id)
    assert run.rollback_retry_at is None
    assert run.status is RunStatus.FAILED  # the verdict stays what it was
    alerts = _alerts(engine, key)
    assert sorted(m.payload["channel"] for m in alerts) == sorted([ADMIN_CHANNEL, _team(engine)])
    text = " ".join(b["text"]["text"] for b in alerts[0].payload["blocks"])
    assert f"chaosbot-block-{key}" in text
    assert "chaosbot cleanup --namespace payments" in text
    assert f"-l chaosbot.io/run-id={key}" in text


def test_a_worker_stuck_past_its_deadline_is_stopped_and_its_run_rolled_back(
    engine: Engine, launcher: WorkerLauncher
) -> None:
    run_id, key = engine.create(hold=600)
    process = engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    run = engine.row(run_id)
    late = deadline(run)
    assert late is not None
    janitor = Janitor(db=engine.db, clock=FrozenClock(late), roll_back=launcher.roll_back)
    assert janitor.tidy().stuck == []  # not yet
    janitor = Janitor(
        db=engine.db, clock=FrozenClock(late + timedelta(seconds=1)), roll_back=launcher.roll_back
    )
    report = janitor.tidy()
    assert report.stuck == [key] and report.rolled_back == [key]
    assert process.wait(timeout=10) == -signal.SIGKILL
    assert engine.wait_for(run_id, *TERMINAL) is RunStatus.FAILED
    assert engine.policies(key) == []
    assert any("past its deadline" in e.message for e in engine.row(run_id).events)


def test_a_run_no_worker_picked_up_is_ended_at_its_deadline(engine: Engine) -> None:
    run_id, key = engine.create()
    late = deadline(engine.row(run_id))
    assert late is not None
    started: list[int] = []
    on_time = Janitor(db=engine.db, clock=FrozenClock(late), roll_back=started.append).tidy()
    assert on_time.never_started == []
    assert engine.status(run_id) is RunStatus.SCHEDULED
    later = FrozenClock(late + timedelta(seconds=1))
    report = Janitor(db=engine.db, clock=later, roll_back=started.append).tidy()
    assert report.never_started == [key]
    assert started == []
    run = engine.row(run_id)
    assert run.status is RunStatus.ABORTED
    assert run.reason == "never started: no worker picked it up before its deadline"


def test_every_state_a_run_can_be_left_in_has_a_deadline() -> None:
    waiting = {s for s in RunStatus if s not in TERMINAL}
    assert set(BUDGETS) | {RunStatus.SCHEDULED} == waiting
    assert all(TRANSITIONS[s] for s in waiting)  # and a way out of it


def _alerts(engine: Engine, key: str) -> list[OutboxMessage]:
    with engine.db.session() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.dedupe_key.like(f"run:{key}:left-behind:%")
                )
            )
        )


def _team(engine: Engine) -> str:
    with engine.db.session() as session:
        run = session.scalars(select(Run)).first()
        assert run is not None
        return str(run.service.team.slack_channel_id)


def _wait(condition: object, what: str, timeout: float = 30) -> None:
    assert callable(condition)
    eventually(condition, what=what, timeout=timeout, interval=0.05)


def test_abort_of_a_run_no_worker_started_ends_it_without_a_rollback(engine: Engine) -> None:
    run_id, key = engine.create()
    rolled: list[int] = []
    result = abort_run(db=engine.db, ref=key, by="U0BOB", now=NOW, roll_back=rolled.append)
    assert (result.status, result.signalled, result.rolling_back) == (
        RunStatus.ABORTED,
        False,
        False,
    )
    assert rolled == []
    run = engine.row(run_id)
    assert (run.status, run.reason) == (RunStatus.ABORTED, "aborted by U0BOB before it started")
