"""What `/metrics` shows Prometheus: the platform's facts from the database, and this replica's own.

Runs happen in worker processes on other hosts (or Kubernetes Jobs) and several replicas serve
`/metrics`, so what is true of the whole platform (runs by outcome, faults in place, halt and
rollback durations, the outbox) is read from the tables when Prometheus scrapes
(`PlatformCollector`: a few grouped counts, whose answer has as many rows as there are
experiments, triggers and outcomes, not runs; cached a few seconds so a burst of scrapes costs
one set of queries). Every replica therefore shows the same platform series; aggregate them
with `max`, not `sum`. What only this replica knows (whether it schedules, how late its passes
ran, what its janitor did) is kept in ordinary prometheus_client metrics, updated where it
happens.

Labels carry only values chaosbot controls: experiment ids of the library, triggers, outcomes,
pass names, janitor actions, Slack Web API methods and the replica's host name.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.db.engine import Database
from bot.outbox.models import OutboxMessage, OutboxStatus
from bot.runs.janitor import JanitorReport
from bot.runs.models import Run, RunEvent
from bot.runs.states import IN_CLUSTER, TERMINAL, RunStatus

__all__ = [
    "DURATION_BUCKETS",
    "JANITOR_ACTIONS",
    "LAG_BUCKETS",
    "Metrics",
    "PlatformCollector",
]

log = logging.getLogger(__name__)

# Seconds. A halt is meant to take seconds; a rollback replayed by the janitor, minutes.
DURATION_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)
CACHE_SECONDS = 5.0
# The fields of JanitorReport that are lists of runs; `swept` counts objects.
JANITOR_ACTIONS = ("rolled_back", "stuck", "never_started", "retried", "alerted", "swept")
# An experiment id of the library (bot/library): anything else is shown as "other".
_EXPERIMENT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class Metrics:
    """The registry `/metrics` serves for one bot process, and what this replica reports."""

    def __init__(self, *, db: Database, replica: str, cache_seconds: float = CACHE_SECONDS) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(PlatformCollector(db, cache_seconds=cache_seconds))
        self.replica = replica
        self._leader = Gauge(
            "chaosbot_scheduler_leader",
            "1 while this replica holds the leader lock and runs the scheduler, else 0",
            ["replica"],
            registry=self.registry,
        )
        self._leader.labels(replica).set(0)
        self._lag = Histogram(
            "chaosbot_reconcile_lag_seconds",
            "How late a pass of the scheduler started against the time it was due",
            ["pass"],
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self._janitor = Counter(
            "chaosbot_janitor_actions",
            "What this replica's janitor did: runs rolled back, stuck, never started, retried,"
            " alerted about, and objects swept",
            ["action"],
            registry=self.registry,
        )
        for action in JANITOR_ACTIONS:
            self._janitor.labels(action)

    def leading(self, leads: bool) -> None:
        """This replica took (True) or lost (False) the leader lock."""
        self._leader.labels(self.replica).set(1 if leads else 0)

    def reconcile_lag(self, pass_name: str, seconds: float) -> None:
        """A job of the pass started `seconds` after it was due (the reconciler's LagListener)."""
        self._lag.labels(pass_name).observe(seconds)

    def janitor_report(self, report: JanitorReport) -> None:
        """What one janitor pass did (the Janitor's `reports`)."""
        for action in JANITOR_ACTIONS:
            done = getattr(report, action)
            count = done if isinstance(done, int) else len(done)
            if count:
                self._janitor.labels(action).inc(count)


class PlatformCollector:
    """The platform's facts, read from the database at scrape time (at most every
    `cache_seconds`); a database that does not answer shows as chaosbot_database_up 0."""

    def __init__(
        self,
        db: Database,
        *,
        cache_seconds: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db, self._cache_seconds, self._monotonic = db, cache_seconds, monotonic
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to check at registration: the names are fixed here

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            now = self._monotonic()
            if self._cached is not None and now - self._cached[0] < self._cache_seconds:
                return list(self._cached[1])
            families = self._read()
            self._cached = (now, families)
            return list(families)

    def _read(self) -> list[Metric]:
        up = GaugeMetricFamily(
            "chaosbot_database_up", "1 when the database answered the last metrics queries"
        )
        try:
            with self._db.session() as session:
                families = _families(session)
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer: %s", type(exc).__name__)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *families]


def _families(session: Any) -> list[Metric]:
    real = Run.dry_run.is_(False)  # a dry run changes nothing: it is no run of a fault
    started = CounterMetricFamily(
        "chaosbot_runs_started",
        "Runs that began (left scheduled for preflight), by experiment and trigger",
        labels=["experiment", "trigger"],
    )
    experiments: set[str] = set()
    for experiment, trigger, count in session.execute(
        select(Run.experiment, Run.trigger, func.count())
        .where(real, Run.started_at.is_not(None))
        .group_by(Run.experiment, Run.trigger)
    ):
        experiments.add(_experiment(experiment))
        started.add_metric([_experiment(experiment), trigger.value], count)
    ended = CounterMetricFamily(
        "chaosbot_runs_ended",
        "Runs that ended, by experiment, trigger and outcome (the run's terminal state)",
        labels=["experiment", "trigger", "outcome"],
    )
    for experiment, trigger, status, count in session.execute(
        select(Run.experiment, Run.trigger, Run.status, func.count())
        .where(real, Run.status.in_(list(TERMINAL)))
        .group_by(Run.experiment, Run.trigger, Run.status)
    ):
        experiments.add(_experiment(experiment))
        ended.add_metric([_experiment(experiment), trigger.value, status.value], count)
    in_place = GaugeMetricFamily(
        "chaosbot_faults_in_place",
        "Runs whose fault may be in the cluster now (injecting, holding or rolling back)",
        labels=["experiment"],
    )
    now_in = dict.fromkeys(sorted(experiments), 0)
    for experiment, count in session.execute(
        select(Run.experiment, func.count())
        .where(real, Run.status.in_(list(IN_CLUSTER)))
        .group_by(Run.experiment)
    ):
        now_in[_experiment(experiment)] = now_in.get(_experiment(experiment), 0) + count
    for experiment, count in now_in.items():
        in_place.add_metric([experiment], count)
    pending_rollbacks = GaugeMetricFamily(
        "chaosbot_rollbacks_pending",
        "Ended runs whose rollbacks the janitor will play again (something was left behind)",
    )
    pending_rollbacks.add_metric(
        [],
        session.scalar(
            select(func.count())
            .select_from(Run)
            .where(Run.status.in_(list(TERMINAL)), Run.rollback_retry_at.is_not(None))
        )
        or 0,
    )
    return [
        started,
        ended,
        in_place,
        pending_rollbacks,
        *_durations(session),
        *_outbox(session),
    ]


def _durations(session: Any) -> list[Metric]:
    """Halt and rollback durations as histograms, counted in the database bucket by bucket."""
    rolling_back = (
        select(RunEvent.run_id, func.min(RunEvent.at).label("at"))
        .where(RunEvent.status == RunStatus.ROLLING_BACK)
        .group_by(RunEvent.run_id)
        .subquery()
    )
    ended = and_(
        Run.dry_run.is_(False),
        Run.status.in_(list(TERMINAL)),
        Run.finished_at.is_not(None),
    )
    seconds_between = _seconds_between(session.get_bind().dialect.name)
    rollback = seconds_between(Run.finished_at, rolling_back.c.at)
    rollbacks = HistogramMetricFamily(
        "chaosbot_rollback_duration_seconds",
        "From the start of a run's rollbacks to its end (rollbacks played, leftovers checked)",
        labels=["experiment"],
    )
    for labels, buckets, total in _histogram(
        session,
        select(Run.experiment.label("experiment"), rollback.label("seconds"))
        .join(rolling_back, rolling_back.c.run_id == Run.id)
        .where(ended),
    ):
        rollbacks.add_metric(labels, buckets, total)
    # A person's abort starts at the request; the watch's halt at the moment it stopped the
    # method on a breach, which is when the rollbacks began.
    halt_start = case(
        (Run.status == RunStatus.HALTED, rolling_back.c.at),
        else_=Run.abort_requested_at,
    )
    cause = case((Run.status == RunStatus.HALTED, "breach"), else_="abort")
    halts = HistogramMetricFamily(
        "chaosbot_halt_duration_seconds",
        "From a breach of the steady state (cause=breach) or an abort request (cause=abort)"
        " to the fault gone (the run ended)",
        labels=["experiment", "cause"],
    )
    for labels, buckets, total in _histogram(
        session,
        select(
            Run.experiment.label("experiment"),
            cause.label("cause"),
            seconds_between(Run.finished_at, halt_start).label("seconds"),
        )
        .join(rolling_back, rolling_back.c.run_id == Run.id)
        .where(
            ended,
            Run.status.in_([RunStatus.HALTED, RunStatus.ABORTED]),
            (Run.status == RunStatus.HALTED) | Run.abort_requested_at.is_not(None),
        ),
        extra=("cause",),
    ):
        halts.add_metric(labels, buckets, total)
    return [rollbacks, halts]


def _histogram(
    session: Any, rows: Any, *, extra: Sequence[str] = ()
) -> Iterable[tuple[list[str], list[tuple[str, float]], float]]:
    """Cumulative bucket counts and the sum of `rows.seconds`, grouped by experiment (and the
    `extra` columns), in one grouped query."""
    durations = rows.subquery()
    seconds = durations.c.seconds
    keys = [durations.c.experiment, *(durations.c[name] for name in extra)]
    counts = [
        func.sum(case((seconds <= bound, 1), else_=0)).label(f"le{index}")
        for index, bound in enumerate(DURATION_BUCKETS)
    ]
    query = select(*keys, *counts, func.count(), func.coalesce(func.sum(seconds), 0.0)).group_by(
        *keys
    )
    merged: dict[Any, tuple[list[int], int, float]] = {}
    for row in session.execute(query):
        key = tuple(row[: len(keys)])
        label = (_experiment(key[0]), *key[1:])
        values = [int(v or 0) for v in row[len(keys) : len(keys) + len(counts)]]
        total, summed = int(row[-2]), float(row[-1])
        before = merged.get(label)
        if before is not None:  # two unknown experiments both shown as "other"
            values = [a + b for a, b in zip(values, before[0], strict=True)]
            total, summed = total + before[1], summed + before[2]
        merged[label] = (values, total, summed)
    for label, (values, total, summed) in merged.items():
        buckets = [
            (repr(float(b)), float(v)) for b, v in zip(DURATION_BUCKETS, values, strict=True)
        ]
        buckets.append(("+Inf", float(total)))
        yield list(label), buckets, summed


def _seconds_between(dialect: str) -> Callable[[Any, Any], ColumnElement[Any]]:
    """end - start in seconds, as the database computes it."""
    if dialect == "postgresql":
        return lambda end, start: func.extract("epoch", end - start)
    # SQLite keeps UTC times as text, which julianday reads (in days, a double: good to about
    # ten microseconds at today's dates, so rounded to the millisecond).
    return lambda end, start: func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)


def _outbox(session: Any) -> list[Metric]:
    pending = GaugeMetricFamily(
        "chaosbot_outbox_pending",
        "Slack Web API calls queued in the outbox and not yet made, by method",
        labels=["method"],
    )
    # A call the outbox gave up on stays in the table as failed, so this only grows.
    failed = CounterMetricFamily(
        "chaosbot_outbox_deliveries_failed",
        "Slack Web API calls the outbox gave up on (an error Slack will repeat, or too many"
        " attempts), by method",
        labels=["method"],
    )
    seen: dict[OutboxStatus, dict[str, int]] = {OutboxStatus.PENDING: {}, OutboxStatus.FAILED: {}}
    for method, status, count in session.execute(
        select(OutboxMessage.method, OutboxMessage.status, func.count())
        .where(OutboxMessage.status.in_(list(seen)))
        .group_by(OutboxMessage.method, OutboxMessage.status)
    ):
        name = method if re.fullmatch(r"[a-z]+(\.[a-zA-Z]+)+", method) else "other"
        seen[status][name] = seen[status].get(name, 0) + count
    for method, count in sorted(seen[OutboxStatus.PENDING].items()):
        pending.add_metric([method], count)
    for method, count in sorted(seen[OutboxStatus.FAILED].items()):
        failed.add_metric([method], count)
    return [pending, failed]


def _experiment(value: str) -> str:
    return value if _EXPERIMENT.fullmatch(value) else "other"
