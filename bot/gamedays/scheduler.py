"""The game-day scheduler: APScheduler 3 jobs rebuilt from the tables, plus a reconciler.

The tables are the truth; the jobs are alarms. Each approved game day gets a date job at its
start that hands its first run to a worker (`start_run(run_id)`), and date jobs at its
reminders and its expiry that wake the reconciler. The reconciler runs when the scheduler
starts, every `reconcile_every` seconds, and when woken: it expires requests, sends reminders,
starts what is due (late within the grace window, else marks it missed), moves running game days
to their next experiment, runs the blind-drill pass (bot/drills/scheduler.py: plan, fire,
reveal), and brings the jobs in line with the tables (a replica that is not the scheduler may
have approved something); each planned drill has a date job at its minute too.

Only one replica runs it: the one holding the leader lock (bot/scheduling/leader.py). Every
step is also safe to repeat: starting a game day is a conditional change of its row, so a
trigger and the reconciler racing each other start it once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock, on_wall_clock
from bot.compliance.digest import DigestReport, send_digests
from bot.config import Settings
from bot.db.engine import Database
from bot.drills.scheduler import JOB_PREFIX as DRILL_PREFIX
from bot.drills.scheduler import DrillPass, DrillReport
from bot.gamedays.decisions import expire_due
from bot.gamedays.lifecycle import Started, advance, due_to_start, fire, remind_due, running
from bot.gamedays.models import GameDay, GameDayStatus
from bot.gamedays.rules import REMINDERS
from bot.runs.models import Run
from bot.scheduling.steps import guarded, hand_out

__all__ = ["GameDayScheduler", "ReconcileReport"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

JOB_PREFIX = "gameday:"
RECONCILE_JOB = "reconcile"
DIGEST_JOB = "digest"
DIGEST_EVERY = 300.0  # seconds: Monday 09:00 comes to one team after another


@dataclass
class ReconcileReport:
    """What one pass of the reconciler did (keys of game days, ids of runs handed out)."""

    expired: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)
    drills: DrillReport = field(default_factory=DrillReport)


class GameDayScheduler:
    """Starts and stops with the leadership; `reconcile()` is also what tests call to tick."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        settings: Settings,
        start_run: Callable[[int], None],
        reconcile_every: float = 30.0,
        drills: DrillPass | None = None,
    ) -> None:
        self._db, self._clock, self._settings = db, clock, settings
        self._start_run = start_run
        # Blind drills ride on the same leadership, passes and job store.
        self.drills = drills
        self._every = reconcile_every
        self._aps: BackgroundScheduler | None = None
        self._guard = threading.Lock()  # start/stop against wake
        # A wake during a pass makes that pass go round once more, rather than be dropped.
        self._busy = threading.Lock()
        self._again = threading.Event()
        # The moment, on our clock, each date job stands for (APScheduler keeps wall-clock times).
        self._alarms: dict[str, datetime] = {}

    @property
    def grace(self) -> timedelta:
        return timedelta(minutes=self._settings.gameday_grace_minutes)

    @property
    def active(self) -> bool:
        return self._aps is not None

    # --- leadership ---------------------------------------------------------------------------

    def start(self) -> None:
        """Become the scheduler: rebuild the jobs from the tables and reconcile at once."""
        with self._guard:
            if self._aps is not None:
                return
            aps = BackgroundScheduler(
                timezone=UTC,
                job_defaults={
                    "coalesce": True,
                    "max_instances": 1,
                    # A trigger missed by more than this is the reconciler's business.
                    "misfire_grace_time": int(self.grace.total_seconds()),
                },
            )
            aps.add_job(
                self._pass,
                IntervalTrigger(seconds=self._every, timezone=UTC),
                id=RECONCILE_JOB,
                next_run_time=datetime.now(UTC),
            )
            aps.add_job(
                self.send_digests,
                IntervalTrigger(seconds=DIGEST_EVERY, timezone=UTC),
                id=DIGEST_JOB,
                next_run_time=datetime.now(UTC),
            )
            aps.start()
            self._aps = aps
        log.info("this replica now runs the game-day scheduler")

    def stop(self) -> None:
        with self._guard:
            aps, self._aps = self._aps, None
        if aps is not None:
            aps.shutdown(wait=False)
            log.info("this replica no longer runs the game-day scheduler")

    def wake(self) -> None:
        """Something changed (an approval, a cancellation): reconcile now, if we schedule."""
        self._again.set()
        with self._guard:
            if self._aps is None or self._busy.locked():
                return  # not the scheduler, or a pass is running and will go round again
            with contextlib.suppress(JobLookupError):
                self._aps.modify_job(RECONCILE_JOB, next_run_time=datetime.now(UTC))

    def _pass(self) -> None:
        """The reconcile job: once, and again for as long as wakes came in meanwhile."""
        while True:
            with self._busy:
                self._again.clear()
                self.reconcile()
            if not self._again.is_set():
                return

    def jobs(self) -> dict[str, datetime]:
        """The game-day jobs and when they fire (for `/chaos gamedays` and tests)."""
        aps = self._aps
        if aps is None:
            return {}
        return {
            job.id: self._alarms.get(job.id, job.next_run_time)
            for job in aps.get_jobs()
            if job.id.startswith(JOB_PREFIX) and job.next_run_time is not None
        }

    # --- the work -----------------------------------------------------------------------------

    def reconcile(self) -> ReconcileReport:
        """Do everything that is due now, then bring the jobs in line with the tables."""
        now = self._clock.now()
        report = ReconcileReport()
        admins = self._settings.platform_admins
        report.expired = (
            self._step("expire", lambda s: expire_due(session=s, now=now, admins=admins)) or []
        )
        report.reminded = (
            self._step("remind", lambda s: remind_due(session=s, now=now, admins=admins)) or []
        )
        with self._db.session() as session:
            due = due_to_start(session=session, now=now)
            active = running(session=session)
        for gameday_id in due:
            started = self.start_gameday(gameday_id, now=now)
            if started is not None and started.status is GameDayStatus.MISSED:
                report.missed.append(gameday_id)
            elif started is not None and started.run_id is not None:
                report.started.append(started.run_id)
        for gameday_id in active:
            started = self.advance_gameday(gameday_id, now=now)
            if started is not None and started.run_id is not None:
                report.started.append(started.run_id)
            elif started is not None and started.status is not GameDayStatus.RUNNING:
                report.settled.append(gameday_id)
        if self.drills is not None:
            report.drills = self.drills.reconcile(now)
        self._sync_jobs()
        return report

    def send_digests(self) -> DigestReport | None:
        """The weekly digests that are due (its own job: a big organisation takes a while)."""
        now = self._clock.now()
        return self._step(
            "weekly digest",
            lambda s: send_digests(
                s,
                now=now,
                policy=self._settings.compliance_policy,
                admin_channel=self._settings.admin_channel,
            ),
        )

    def start_gameday(self, gameday_id: int, *, now: datetime | None = None) -> Started | None:
        """The start trigger: start the game day if it is due, and hand out its first run."""
        moment = now or self._clock.now()
        started = self._step(
            f"start game day {gameday_id}",
            lambda s: fire(
                session=s,
                gameday_id=gameday_id,
                now=moment,
                grace=self.grace,
                admins=self._settings.platform_admins,
                default_context=self._settings.kube_context,
            ),
        )
        self._hand_out(started)
        return started

    def advance_gameday(self, gameday_id: int, *, now: datetime | None = None) -> Started | None:
        moment = now or self._clock.now()
        started = self._step(
            f"advance game day {gameday_id}",
            lambda s: advance(
                session=s, gameday_id=gameday_id, now=moment, admins=self._settings.platform_admins
            ),
        )
        self._hand_out(started)
        return started

    def run_finished(self, run_id: int) -> None:
        """A worker exited: if its run belongs to a running game day, go on with the next."""
        with self._db.session() as session:
            gameday_id = session.scalar(select(Run.gameday_id).where(Run.id == run_id))
        if gameday_id is not None:
            self.advance_gameday(gameday_id)
        elif self.drills is not None:
            self.drills.run_finished(run_id)

    def _hand_out(self, started: Started | None) -> None:
        if started is not None and started.run_id is not None:
            hand_out(self._start_run, started.run_id)

    def _step(self, what: str, work: Callable[[Session], _T]) -> _T | None:
        return guarded(self._db, f"game days: {what}", work)

    def _sync_jobs(self) -> None:
        aps = self._aps
        if aps is None:
            return
        wanted: dict[str, tuple[datetime, Callable[[], object]]] = {}
        with self._db.session() as session:
            rows = session.scalars(
                select(GameDay).where(
                    GameDay.status.in_([GameDayStatus.PENDING, GameDayStatus.APPROVED])
                )
            ).all()
            for gameday in rows:
                prefix = f"{JOB_PREFIX}{gameday.key}:r{gameday.round}"
                if gameday.status is GameDayStatus.PENDING:
                    wanted[f"{prefix}:expire"] = (gameday.expires_at, self._pass)
                    continue
                gameday_id = gameday.id
                wanted[f"{prefix}:start"] = (
                    gameday.starts_at,
                    lambda gameday_id=gameday_id: self.start_gameday(gameday_id),  # type: ignore[misc]
                )
                for name, before in REMINDERS:
                    if getattr(gameday, f"reminded_{name}_at") is None:
                        wanted[f"{prefix}:remind-{name}"] = (
                            gameday.starts_at - before,
                            self._pass,
                        )
        if self.drills is not None:
            wanted.update(self.drills.jobs_wanted())
        ours = (JOB_PREFIX, DRILL_PREFIX)
        present = {job.id for job in aps.get_jobs() if job.id.startswith(ours)}
        for job_id in present - set(wanted):
            with contextlib.suppress(JobLookupError):
                aps.remove_job(job_id)
            self._alarms.pop(job_id, None)
        # The clock may have moved since the pass began (the demo jumps it): compare and convert
        # with one reading of it.
        now = self._clock.now()
        for job_id, (at, func) in wanted.items():
            if job_id in present or at <= now:
                continue  # a moment already past is the reconciler's, right now
            self._alarms[job_id] = at
            aps.add_job(
                func, DateTrigger(run_date=on_wall_clock(at, now=now), timezone=UTC), id=job_id
            )
