"""The game-day scheduler against a moved clock: starts, grace, missed, reminders, the next
experiment after each run, and the APScheduler jobs rebuilt from the tables."""

from __future__ import annotations

import threading
import time as monotonic_time
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.catalog.service import find_service
from bot.clock import FrozenClock
from bot.db.engine import Database
from bot.gamedays.decisions import approve, cancel
from bot.gamedays.models import GameDay, GameDayStatus
from bot.gamedays.service import find_gameday
from bot.gamedays.timing import to_instant
from bot.outbox.models import OutboxMessage
from bot.runs.models import Run
from bot.runs.service import transition
from bot.runs.states import RunStatus, Trigger
from bot.schedule import Schedule
from tests.fixtures.bot import ALICE, BOB, START
from tests.fixtures.gamedays import ADMINS, ask, manual_scheduler, register_service

DAY = START + timedelta(days=1)


class Harness:
    """A scheduler on a frozen clock whose `start_run` only records what it was handed."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = FrozenClock(START)
        self.started: list[int] = []
        self.scheduler = manual_scheduler(db, self.clock, self.started.append)

    def at(self, moment: Any) -> None:
        self.clock.advance(moment - self.clock.now())

    def approved(self, **kwargs: Any) -> str:
        key = ask(self.db, now=self.clock.now(), **kwargs)
        with self.db.session() as session:
            approve(session=session, ref=key, user_id=BOB, now=self.clock.now(), admins=ADMINS)
        return key

    def gameday(self, key: str) -> GameDay:
        with self.db.session() as session:
            return find_gameday(session=session, ref=key)

    def runs(self, key: str) -> list[Run]:
        with self.db.session() as session:
            gameday = find_gameday(session=session, ref=key)
            return list(
                session.scalars(select(Run).where(Run.gameday_id == gameday.id).order_by(Run.id))
            )

    def finish(self, run_id: int, status: RunStatus) -> None:
        """What a worker does to a run, in short."""
        with self.db.session() as session:
            for step in (RunStatus.PREFLIGHT, RunStatus.INJECTING, RunStatus.ROLLING_BACK, status):
                transition(
                    session=session, run_id=run_id, to=step, now=self.clock.now(), message=step
                )

    def notes(self, key: str) -> list[str]:
        with self.db.session() as session:
            return [
                str(m.payload.get("text"))
                for m in session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.dedupe_key.like(f"gameday:{key}:%"))
                    .where(OutboxMessage.method == "chat.postMessage")
                    .order_by(OutboxMessage.id)
                )
            ]


@pytest.fixture
def harness(db: Database) -> Harness:
    register_service(db, tier=2)
    return Harness(db)


def test_nothing_starts_before_its_time_and_it_starts_once(harness: Harness) -> None:
    key = harness.approved(starts_at=DAY, experiments=("pod-kill", "container-kill"))
    harness.at(DAY - timedelta(seconds=1))
    assert harness.scheduler.reconcile().started == []
    harness.at(DAY)
    report = harness.scheduler.reconcile()
    runs = harness.runs(key)
    assert report.started == [runs[0].id] == harness.started
    assert [r.experiment for r in runs] == ["pod-kill", "container-kill"]
    assert all(r.trigger is Trigger.GAMEDAY and r.status is RunStatus.SCHEDULED for r in runs)
    assert harness.gameday(key).status is GameDayStatus.RUNNING
    # The start trigger firing as well, and the reconciler again: nothing more.
    harness.scheduler.start_gameday(harness.gameday(key).id)
    harness.scheduler.reconcile()
    assert harness.started == [runs[0].id]


def test_a_trigger_and_the_reconciler_racing_start_it_once(harness: Harness) -> None:
    key = harness.approved(starts_at=DAY)
    gameday_id = harness.gameday(key).id
    harness.at(DAY)
    barrier = threading.Barrier(4)

    def trigger() -> None:
        barrier.wait()
        harness.scheduler.start_gameday(gameday_id)

    threads = [threading.Thread(target=trigger) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(harness.started) == 1
    assert len(harness.runs(key)) == 1


def test_the_next_experiment_starts_when_the_previous_run_ended(harness: Harness) -> None:
    key = harness.approved(starts_at=DAY, experiments=("pod-kill", "container-kill"))
    harness.at(DAY)
    harness.scheduler.reconcile()
    first, second = harness.runs(key)
    harness.scheduler.run_finished(first.id)  # the worker is still starting: wait
    assert harness.started == [first.id]
    harness.finish(first.id, RunStatus.DEVIATED)  # a deviation is a finding, not a halt
    harness.scheduler.run_finished(first.id)
    assert harness.started == [first.id, second.id]
    harness.finish(second.id, RunStatus.COMPLETED)
    report = harness.scheduler.reconcile()
    assert report.settled == [harness.gameday(key).id]
    assert harness.gameday(key).status is GameDayStatus.COMPLETED
    assert "1 completed, 1 deviated" in harness.notes(key)[-1]


def test_an_aborted_run_halts_the_game_day(harness: Harness) -> None:
    key = harness.approved(starts_at=DAY, experiments=("pod-kill", "container-kill"))
    harness.at(DAY)
    harness.scheduler.reconcile()
    first, _ = harness.runs(key)
    harness.finish(first.id, RunStatus.ABORTED)
    harness.scheduler.run_finished(first.id)
    assert harness.started == [first.id]
    assert harness.gameday(key).status is GameDayStatus.HALTED
    assert harness.runs(key)[1].status is RunStatus.ABORTED
    assert "halted" in harness.notes(key)[-1]


def test_a_game_day_that_cannot_start_halts_once_and_says_why(harness: Harness) -> None:
    key = harness.approved(starts_at=DAY)
    with harness.db.session() as session:
        service = find_service(session=session, name="checkout")
        service.probes = []  # changed since the approval: no steady state to check
    harness.at(DAY)
    report = harness.scheduler.reconcile()
    assert report.started == [] and harness.started == []
    gameday = harness.gameday(key)
    assert gameday.status is GameDayStatus.HALTED
    assert gameday.reason is not None and "probes are missing" in gameday.reason
    assert harness.runs(key) == []  # not one of its runs recorded
    assert "Nothing was injected" in harness.notes(key)[-1]
    harness.scheduler.reconcile()
    assert harness.gameday(key).status is GameDayStatus.HALTED


def test_a_hand_over_lost_with_the_bot_is_handed_out_again(harness: Harness) -> None:
    key = harness.approved(starts_at=DAY)
    harness.at(DAY)
    harness.scheduler.reconcile()
    (run,) = harness.runs(key)
    harness.at(DAY + timedelta(minutes=1))
    harness.scheduler.reconcile()
    assert harness.started == [run.id]  # its worker may still be starting
    harness.at(DAY + timedelta(minutes=3))
    harness.scheduler.reconcile()
    assert harness.started == [run.id, run.id]  # the worker never took it: again


def test_a_start_missed_while_down_runs_late_within_the_grace_window(harness: Harness) -> None:
    key = harness.approved(starts_at=DAY)
    harness.at(DAY + timedelta(minutes=29))
    assert len(harness.scheduler.reconcile().started) == 1
    assert harness.gameday(key).status is GameDayStatus.RUNNING
    assert "29 min late" in harness.notes(key)[-1]


def test_past_the_grace_window_it_is_missed_and_the_team_told(harness: Harness) -> None:
    key = harness.approved(starts_at=DAY)
    harness.at(DAY + timedelta(minutes=31))
    report = harness.scheduler.reconcile()
    assert report.started == [] and report.missed == [harness.gameday(key).id]
    assert harness.gameday(key).status is GameDayStatus.MISSED
    assert harness.runs(key) == []
    with harness.db.session() as session:
        note = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"gameday:{key}:note:%"))
        ).all()[-1]
    assert note.payload["reply_broadcast"] is True
    assert "Missed" in note.payload["text"] and "Nothing was injected" in note.payload["text"]


def test_reminders_go_24_hours_and_15_minutes_before_each_once(harness: Harness) -> None:
    key = harness.approved(starts_at=START + timedelta(days=3))
    start = harness.gameday(key).starts_at
    harness.at(start - timedelta(hours=24, seconds=1))
    assert harness.scheduler.reconcile().reminded == []
    harness.at(start - timedelta(hours=24))
    assert harness.scheduler.reconcile().reminded == [f"{key}:24h"]
    assert harness.scheduler.reconcile().reminded == []
    harness.at(start - timedelta(minutes=15))
    assert harness.scheduler.reconcile().reminded == [f"{key}:15m"]
    harness.at(start - timedelta(minutes=5))
    assert harness.scheduler.reconcile().reminded == []
    reminders = [n for n in harness.notes(key) if "starts in" in n]
    assert len(reminders) == 2
    assert "starts in 24 hours" in reminders[0] and "starts in 15 minutes" in reminders[1]


def test_no_late_24_hour_reminder(harness: Harness) -> None:
    """Approved 20 hours before: no 24-hour reminder. Down until 10 minutes before: only the
    15-minute one."""
    soon = harness.approved(starts_at=START + timedelta(hours=20))
    harness.at(START + timedelta(hours=1))
    assert harness.scheduler.reconcile().reminded == []
    harness.at(START + timedelta(hours=19, minutes=50))
    assert harness.scheduler.reconcile().reminded == [f"{soon}:15m"]


def test_cancelled_and_rejected_game_days_never_start(harness: Harness) -> None:
    key = harness.approved(starts_at=DAY)
    with harness.db.session() as session:
        cancel(session=session, ref=key, user_id=ALICE, now=START, admins=ADMINS)
    harness.at(DAY)
    assert harness.scheduler.reconcile().started == []
    assert harness.started == []


def test_the_jobs_are_rebuilt_from_the_tables(harness: Harness) -> None:
    pending = ask(harness.db, starts_at=DAY + timedelta(days=1))
    approved = harness.approved(starts_at=START + timedelta(days=3))
    scheduler = harness.scheduler
    scheduler.start()
    try:
        jobs = _wait_for_jobs(scheduler, 4)
        round_1 = f"gameday:{approved}:r1"
        starts = harness.gameday(approved).starts_at
        assert jobs == {
            f"gameday:{pending}:r1:expire": harness.gameday(pending).expires_at,
            f"{round_1}:start": starts,
            f"{round_1}:remind-24h": starts - timedelta(hours=24),
            f"{round_1}:remind-15m": starts - timedelta(minutes=15),
        }
        with harness.db.session() as session:
            cancel(session=session, ref=approved, user_id=ALICE, now=START, admins=ADMINS)
        scheduler.wake()
        assert set(_wait_for_jobs(scheduler, 1)) == {f"gameday:{pending}:r1:expire"}
    finally:
        scheduler.stop()
    # A new scheduler (a restart, another replica taking over) finds the same from the tables.
    again = Harness(harness.db).scheduler
    again.start()
    try:
        assert set(_wait_for_jobs(again, 1)) == {f"gameday:{pending}:r1:expire"}
    finally:
        again.stop()


def _wait_for_jobs(scheduler: Schedule, count: int) -> dict[str, Any]:
    deadline = monotonic_time.monotonic() + 30  # generous: the jobs come far sooner when idle
    while monotonic_time.monotonic() < deadline:
        jobs = scheduler.jobs()
        if len(jobs) == count:
            return jobs
        monotonic_time.sleep(0.02)
    return scheduler.jobs()


def test_across_the_change_to_winter_time_the_start_and_reminder_keep_the_team_clock(
    db: Database,
) -> None:
    """Asked on Friday 23 Oct 2026 (summer time) for Monday 26 Oct 10:00 in Berlin (winter time):
    it starts at 09:00 UTC, and the 24-hour reminder comes on Sunday at 10:00 Berlin time."""
    register_service(db, name="search", tier=2, timezone="Europe/Berlin")
    friday = datetime(2026, 10, 23, 12, 0, tzinfo=UTC)
    harness = Harness(db)
    harness.at(friday)
    monday = to_instant(date(2026, 10, 26), time(10, 0), "Europe/Berlin")
    assert monday == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    key = harness.approved(service="search", starts_at=monday)
    harness.at(datetime(2026, 10, 25, 8, 59, tzinfo=UTC))
    assert harness.scheduler.reconcile().reminded == []
    harness.at(datetime(2026, 10, 25, 9, 0, tzinfo=UTC))  # Sunday 10:00 CET
    assert harness.scheduler.reconcile().reminded == [f"{key}:24h"]
    assert "Mon 26 Oct 2026, 10:00 CET (UTC+01:00)" in harness.notes(key)[-1]
    harness.at(monday - timedelta(seconds=1))
    harness.scheduler.reconcile()
    assert harness.started == []
    harness.at(monday)
    assert len(harness.scheduler.reconcile().started) == 1
