"""The janitor: no fault outlives its run, whatever dies.

It runs on the scheduling replica, every few seconds, with the bot up (a pass of the
reconciler, bot/scheduling/reconciler.py):

- a run that may hold a fault and whose worker is gone (as its executor says: process gone or
  a zombie here, heartbeat stale elsewhere; or its Job failed or deleted) gets its rollbacks
  replayed (`roll_back`, a process or a Job of its own);
- a run past the deadline of its state (bot.runs.deadlines) is stuck: its worker, if it is
  here, is killed, and the run is rolled back and ended; one that never started is ended;
- a finished run that left objects behind gets its rollbacks replayed again, with backoff, until
  the label-based leftover check is clean; after `alert_after` people are told, once, what is
  left and how to remove it (the retries go on);
- now and then, the cluster itself is swept for objects past their `chaosbot.io/expires-at`,
  whether or not the database still knows their run (`sweep`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.db.engine import Database
from bot.logs import log_context
from bot.runs.deadlines import deadline
from bot.runs.events import NOBODY, RunObserver
from bot.runs.models import Run
from bot.runs.service import end_unstarted, note
from bot.runs.states import IN_CLUSTER, TERMINAL, RunStatus
from bot.runs.supervisor import Executor, kill_worker, worker_gone

__all__ = ["CleanupAlerts", "Janitor", "JanitorReport"]

log = logging.getLogger(__name__)

_STARTED = IN_CLUSTER | {RunStatus.PREFLIGHT}


class CleanupAlerts(Protocol):
    """Tells people, in the caller's transaction, that a run's objects could not be removed."""

    def left_behind(self, *, session: Session, run: Run, now: datetime) -> None: ...


@dataclass
class JanitorReport:
    """What one pass did, by run key."""

    rolled_back: list[str] = field(default_factory=list)  # worker gone, or stuck
    stuck: list[str] = field(default_factory=list)
    never_started: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    alerted: list[str] = field(default_factory=list)
    swept: int = 0


class Janitor:
    """The janitor's pass of the reconciler (bot/scheduling/reconciler.py), every `period`
    seconds on the replica holding the leader lock; `tidy()` is one pass (tests call it)."""

    name = "janitor"

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        roll_back: Callable[[int], object],
        alerts: CleanupAlerts | None = None,
        observer: RunObserver = NOBODY,
        sweep: Callable[[datetime], int] | None = None,
        period: float = 5.0,
        alert_after: timedelta = timedelta(minutes=10),
        sweep_every: float | None = None,
        reports: Callable[[JanitorReport], object] | None = None,
        executor: Executor | None = None,
    ) -> None:
        """`reports` hears what each pass did (the bot's metrics count the janitor's actions)."""
        if period <= 0:
            raise ValueError("the janitor's period must be positive")
        self._db, self._clock, self._roll_back = db, clock, roll_back
        self._alerts, self._observer, self._sweep = alerts, observer, sweep
        self.period, self.alert_after = period, alert_after
        # Listing every namespace is heavier than a look at the runs table: a sweep every
        # twelfth pass (a minute at the default period).
        self._sweep_every = sweep_every if sweep_every is not None else 12 * period
        self._last_sweep: float | None = None
        self._reports = reports
        # Who says whether a worker is gone and stops a stuck one: processes of this host
        # unless told (bot.k8s.jobs.JobLauncher for Jobs), which also hears each exit here.
        self._executor = executor

    @property
    def every(self) -> float | None:
        return self.period

    def run(self) -> JanitorReport:
        return self.tidy()

    def alarms(self) -> Mapping[str, tuple[datetime, Callable[[], object] | None]]:
        return {}

    def tidy(self) -> JanitorReport:
        """One pass: orphans and stuck runs, retries and alerts, and now and then a sweep."""
        now = self._clock.now()
        report = JanitorReport()
        if self._executor is not None:
            try:
                self._executor.collect()
            except Exception:
                log.exception("could not look at the workers that exited")
        with self._db.session() as session:
            runs = session.scalars(
                select(Run)
                .where(or_(Run.status.not_in(list(TERMINAL)), Run.rollback_retry_at.is_not(None)))
                .order_by(Run.id)
            ).all()
            due: list[int] = []
            for run in runs:
                with log_context(run_id=run.id, run_key=run.key, gameday_id=run.gameday_id):
                    if run.status in TERMINAL:
                        self._left_behind(session, run, now, due, report)
                    elif run.status is RunStatus.SCHEDULED:
                        self._never_started(session, run, now, report)
                    else:
                        self._started(session, run, now, due, report)
        for key in report.never_started:
            run_id = next(r.id for r in runs if r.key == key)
            self._observer.run_updated(run_id, RunStatus.ABORTED, "never started")
        for run_id in due:
            with log_context(run_id=run_id):
                try:
                    self._roll_back(run_id)
                except Exception:
                    log.exception("could not start the rollback of run %s", run_id)
        report.swept = self._maybe_sweep(now)
        if self._reports is not None:
            self._reports(report)
        return report

    def _started(
        self, session: Session, run: Run, now: datetime, due: list[int], report: JanitorReport
    ) -> None:
        late = deadline(run)
        if late is not None and now > late:
            if not self._gone(run, now):
                note(
                    session=session,
                    run=run,
                    now=now,
                    message=f"stuck in {run.status.value.replace('_', ' ')} past its deadline "
                    f"({late:%H:%M:%S} UTC): chaosbot stops its worker and rolls back",
                )
                self._kill_worker(run)
            report.stuck.append(run.key)
        elif not self._gone(run, now):
            return
        due.append(run.id)
        report.rolled_back.append(run.key)

    def _never_started(
        self, session: Session, run: Run, now: datetime, report: JanitorReport
    ) -> None:
        failed = self._executor.failed_to_start(run) if self._executor is not None else None
        late = deadline(run)
        if failed is not None:
            reason = f"never started: {failed}"
        elif late is None or now <= late:
            return
        else:
            reason = "never started: no worker picked it up before its deadline"
        if end_unstarted(
            session=session, run_id=run.id, now=now, reason=reason, observer=self._observer
        ):
            report.never_started.append(run.key)

    def _left_behind(
        self, session: Session, run: Run, now: datetime, due: list[int], report: JanitorReport
    ) -> None:
        if (
            run.leftovers
            and self._alerts is not None
            and run.cleanup_alerted_at is None
            and now - (run.finished_at or now) >= self.alert_after
        ):
            self._alerts.left_behind(session=session, run=run, now=now)
            run.cleanup_alerted_at = now
            report.alerted.append(run.key)
        if run.rollback_retry_at is not None and run.rollback_retry_at <= now:
            due.append(run.id)
            report.retried.append(run.key)

    def _gone(self, run: Run, now: datetime) -> bool:
        if self._executor is None:
            return worker_gone(run, now)
        return self._executor.gone(run, now)

    def _kill_worker(self, run: Run) -> None:
        if self._executor is None:
            kill_worker(run)
        else:
            self._executor.stop(run)

    def _maybe_sweep(self, now: datetime) -> int:
        if self._sweep is None:
            return 0
        moment = time.monotonic()
        if self._last_sweep is not None and moment - self._last_sweep < self._sweep_every:
            return 0
        self._last_sweep = moment
        try:
            return self._sweep(now)
        except Exception:
            log.exception("the sweep for expired chaosbot objects failed")
            return 0
