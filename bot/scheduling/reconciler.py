"""The platform's reconciler: one APScheduler 3 as a trigger, running every domain's pass.

The tables are the truth; the jobs are alarms. Each domain brings a `Pass` (its `scheduled.py`):
what it does when the reconciler ticks, or on an interval of its own, and the date jobs it wants
(a game day's start, a drill's minute). The reconciler ticks when it starts, every `every`
seconds, and when woken; after each tick it brings the date jobs in line with what the passes
want (a replica that is not the scheduler may have approved something meanwhile).

Only one replica runs it: the one holding the leader lock (bot/scheduling/leader.py). Every pass
is safe to repeat, so a date job and a tick racing each other do the work once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import Clock, on_wall_clock

__all__ = ["Alarm", "LagListener", "Pass", "Reconciler"]

log = logging.getLogger(__name__)

TICK_JOB = "reconcile"

# When a date job fires (on the bot's clock) and what it calls; None wakes the reconciler.
Alarm = tuple[datetime, Callable[[], object] | None]
# Hears, per pass, how many seconds after its due time a job of the pass was started.
LagListener = Callable[[str, float], None]


class Pass(Protocol):
    """One domain's share of the scheduler's work."""

    @property
    def name(self) -> str:
        """Unique among the passes; names the pass in logs and reports."""
        ...

    @property
    def every(self) -> float | None:
        """Seconds between runs of its own; None: on the reconciler's tick, and when woken."""
        ...

    def run(self) -> object:
        """Do what is due now, by the pass's clock; returns what it did (a report)."""
        ...

    def alarms(self) -> Mapping[str, Alarm]:
        """The date jobs it wants, by job id (ids are unique across the passes)."""
        ...


class Reconciler:
    """Starts and stops with the leadership; `reconcile()` is one tick (tests call it)."""

    def __init__(
        self,
        *,
        clock: Clock,
        passes: Sequence[Pass],
        every: float = 30.0,
        misfire_grace: timedelta = timedelta(minutes=30),
        lag: LagListener | None = None,
    ) -> None:
        names = [p.name for p in passes]
        if len(set(names)) != len(names):
            raise ValueError(f"two passes share a name: {names}")
        if every <= 0 or any((p.every or 1) <= 0 for p in passes):
            raise ValueError("every period of the reconciler must be positive")
        self._clock, self._passes, self._every = clock, tuple(passes), every
        self._misfire_grace = misfire_grace
        self._aps: BackgroundScheduler | None = None
        self._guard = threading.Lock()  # start/stop against wake
        # A wake during a tick makes that tick go round once more, rather than be dropped.
        self._busy = threading.Lock()
        self._again = threading.Event()
        # The moment, on our clock, each date job stands for (APScheduler keeps wall-clock times).
        self._alarms: dict[str, datetime] = {}
        self._in_job = threading.local()
        # Jobs under way, which stop() waits for (see there).
        self._running = threading.Condition()
        self._jobs_running = 0
        self._lag = lag
        # Which pass each job serves, for the lag: the tick serves every pass without a period.
        self._job_passes: dict[str, tuple[str, ...]] = {
            TICK_JOB: tuple(p.name for p in passes if p.every is None),
            **{f"every:{p.name}": (p.name,) for p in passes if p.every is not None},
        }

    @property
    def passes(self) -> tuple[Pass, ...]:
        return self._passes

    @property
    def active(self) -> bool:
        return self._aps is not None

    # --- leadership ---------------------------------------------------------------------------

    def start(self) -> None:
        """Become the scheduler: run every pass at once, then on its period."""
        with self._guard:
            if self._aps is not None:
                return
            aps = BackgroundScheduler(
                timezone=UTC,
                job_defaults={
                    "coalesce": True,
                    "max_instances": 1,
                    # A trigger missed by more than this is the next tick's business.
                    "misfire_grace_time": int(self._misfire_grace.total_seconds()),
                },
            )
            now = datetime.now(UTC)
            aps.add_job(
                self._job(self._tick),
                IntervalTrigger(seconds=self._every, timezone=UTC),
                id=TICK_JOB,
                next_run_time=now,
            )
            for each in self._passes:
                if each.every is not None:
                    aps.add_job(
                        self._job(lambda each=each: self._run(each)),  # type: ignore[misc]
                        IntervalTrigger(seconds=each.every, timezone=UTC),
                        id=f"every:{each.name}",
                        next_run_time=now,
                    )
            if self._lag is not None:
                aps.add_listener(self._submitted, EVENT_JOB_SUBMITTED)
            # Known before it starts: the first tick runs at once, in APScheduler's own threads,
            # and brings the date jobs in line only if it finds the scheduler here.
            self._aps = aps
            aps.start()
        log.info("this replica now runs the game-day scheduler (%s)", self._names())

    def stop(self) -> None:
        """Stop scheduling; a pass under way finishes first (unless it is the one asking)."""
        with self._guard:
            aps, self._aps = self._aps, None
        if aps is None:
            return
        # Never shutdown(wait=True): APScheduler holds its job-store lock while it waits, and a
        # running tick asks that lock for the jobs (get_jobs), so both would wait forever. Stop
        # the triggers, then wait for the jobs under way here.
        aps.shutdown(wait=False)
        if not getattr(self._in_job, "yes", False):
            with self._running:
                self._running.wait_for(lambda: self._jobs_running == 0)
        log.info("this replica no longer runs the game-day scheduler")

    def wake(self) -> None:
        """Something changed (an approval, a cancellation): tick now, if we schedule."""
        self._again.set()
        with self._guard:
            if self._aps is None or self._busy.locked():
                return  # not the scheduler, or a tick is running and will go round again
            with contextlib.suppress(JobLookupError):
                self._aps.modify_job(TICK_JOB, next_run_time=datetime.now(UTC))

    def jobs(self) -> dict[str, datetime]:
        """The date jobs and when they fire, on the bot's clock (for `/chaos gamedays`, tests)."""
        aps = self._aps
        if aps is None:
            return {}
        return {
            job.id: self._alarms.get(job.id, job.next_run_time)
            for job in aps.get_jobs()
            if isinstance(job.trigger, DateTrigger) and job.next_run_time is not None
        }

    # --- the work -----------------------------------------------------------------------------

    def reconcile(self) -> dict[str, object]:
        """Run the passes that go with the tick, then bring the date jobs in line; by pass name."""
        reports = {p.name: self._run(p) for p in self._passes if p.every is None}
        self._sync_alarms()
        return reports

    def _tick(self) -> None:
        """The tick job: once, and again for as long as wakes came in meanwhile."""
        while True:
            with self._busy:
                self._again.clear()
                self.reconcile()
            if not self._again.is_set():
                return

    def _run(self, each: Pass) -> object:
        # One pass failing leaves the others (and the next tick) to go on.
        try:
            return each.run()
        except Exception:
            log.exception("scheduler: the %s pass failed", each.name)
            return None

    def _job(self, func: Callable[[], object]) -> Callable[[], None]:
        def job() -> None:
            self._in_job.yes = True
            with self._running:
                self._jobs_running += 1
            try:
                func()
            finally:
                self._in_job.yes = False
                with self._running:
                    self._jobs_running -= 1
                    self._running.notify_all()

        return job

    def _submitted(self, event: JobSubmissionEvent) -> None:
        """APScheduler hands a job to its threads: how late is that against when it was due?
        (Wall-clock times both, as APScheduler keeps them; a woken tick is due at once.)"""
        if self._lag is None or not event.scheduled_run_times:
            return
        late = max(0.0, (datetime.now(UTC) - min(event.scheduled_run_times)).total_seconds())
        for name in self._job_passes.get(event.job_id, ()):
            try:
                self._lag(name, late)
            except Exception:
                log.exception("scheduler: the lag of the %s pass could not be recorded", name)

    def _names(self) -> str:
        return ", ".join(p.name for p in self._passes)

    def _sync_alarms(self) -> None:
        aps = self._aps
        if aps is None:
            return
        wanted: dict[str, Alarm] = {}
        owners: dict[str, str] = {}
        for each in self._passes:
            try:
                alarms = each.alarms()
                wanted.update(alarms)
                owners.update(dict.fromkeys(alarms, each.name))
            except Exception:
                log.exception("scheduler: the alarms of the %s pass failed", each.name)
                return  # leave the jobs as they are rather than drop that pass's
        present = {job.id for job in aps.get_jobs() if isinstance(job.trigger, DateTrigger)}
        for job_id in present - set(wanted):
            with contextlib.suppress(JobLookupError):
                aps.remove_job(job_id)
            self._alarms.pop(job_id, None)
            self._job_passes.pop(job_id, None)
        # The clock may have moved since the tick began (the demo jumps it): compare and convert
        # with one reading of it.
        now = self._clock.now()
        for job_id, (at, func) in wanted.items():
            if job_id in present or at <= now:
                continue  # a moment already past is the tick's, right now
            self._alarms[job_id] = at
            self._job_passes[job_id] = (owners[job_id],)
            aps.add_job(
                self._job(func or self._tick),
                DateTrigger(run_date=on_wall_clock(at, now=now), timezone=UTC),
                id=job_id,
            )
