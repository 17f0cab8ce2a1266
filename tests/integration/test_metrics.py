"""What /metrics shows, read from the tables (SQLite and PostgreSQL) and kept by the replica."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot.db.engine import Database
from bot.metrics import Metrics, PlatformCollector
from bot.outbox.models import OutboxMessage, OutboxStatus
from bot.outbox.service import enqueue
from bot.runs.janitor import JanitorReport
from bot.runs.states import RunStatus, Trigger
from bot.web import make_wsgi_app
from tests.fixtures.bot import START
from tests.fixtures.runs import recorded_run
from tests.fixtures.services import register_checkout

S = RunStatus
ENDED_BY_THE_WORKER = [(S.PREFLIGHT, 0), (S.INJECTING, 1), (S.HOLDING, 2)]


def platform(db: Database) -> None:
    """Runs of every kind, and the outbox with queued and failed calls."""
    register_checkout(db, probe_url="http://127.0.0.1:9/healthz")
    # Completed: rollbacks from 10 s to 13.2 s.
    recorded_run(db, moves=[*ENDED_BY_THE_WORKER, (S.ROLLING_BACK, 10), (S.COMPLETED, 13.2)])
    # A game day's run aborted at 5 s, rolled back from 6 s, ended at 7.6 s: a halt of 2.6 s.
    recorded_run(
        db,
        trigger=Trigger.GAMEDAY,
        moves=[*ENDED_BY_THE_WORKER, (S.ROLLING_BACK, 6), (S.ABORTED, 7.6)],
        abort_after=5,
    )
    # A drill halted on a breach: rollbacks (the halt) from 20 s to 21.5 s.
    recorded_run(
        db,
        experiment="blackhole",
        trigger=Trigger.BLIND,
        moves=[*ENDED_BY_THE_WORKER, (S.ROLLING_BACK, 20), (S.HALTED, 21.5)],
    )
    # Holding now: a fault in place.
    recorded_run(db, moves=ENDED_BY_THE_WORKER)
    # Refused by preflight: started and ended, no fault, no halt, no rollback.
    recorded_run(db, moves=[(S.PREFLIGHT, 0), (S.ABORTED, 1)], abort_after=0.5)
    # Not counted: a dry run, and a run that has not begun.
    recorded_run(db, dry_run=True, moves=[(S.PREFLIGHT, 0), (S.ABORTED, 1)])
    recorded_run(db)
    # An id that is not the library's is never shown as it is.
    recorded_run(db, experiment="Team's Own <test>", moves=[(S.PREFLIGHT, 0)])
    with db.session() as session:
        for number in range(2):
            enqueue(
                session=session,
                now=START,
                method="chat.postEphemeral",
                payload={"channel": "C0PAYMENTS", "text": str(number)},
            )
        failed = enqueue(
            session=session, now=START, method="chat.update", payload={"channel": "C0PAYMENTS"}
        )
        assert failed is not None
        failed.status = OutboxStatus.FAILED
        enqueue(session=session, now=START, method="chat.update", payload={}, dedupe_key="sent")
    with db.session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == "sent")
            .values(status=OutboxStatus.SENT)
        )


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    found: float | None = metrics.registry.get_sample_value(name, labels)
    return found


@pytest.mark.storage
def test_runs_faults_durations_and_outbox_are_read_from_the_tables(db: Database) -> None:
    platform(db)
    metrics = Metrics(db=db, replica="bot-0", cache_seconds=0)
    assert value(metrics, "chaosbot_database_up") == 1
    started = "chaosbot_runs_started_total"
    assert value(metrics, started, experiment="pod-kill", trigger="adhoc") == 3
    assert value(metrics, started, experiment="pod-kill", trigger="gameday") == 1
    assert value(metrics, started, experiment="blackhole", trigger="blind") == 1
    assert value(metrics, started, experiment="other", trigger="adhoc") == 1
    ended = "chaosbot_runs_ended_total"
    assert value(metrics, ended, experiment="pod-kill", trigger="adhoc", outcome="completed") == 1
    assert value(metrics, ended, experiment="pod-kill", trigger="adhoc", outcome="aborted") == 1
    assert value(metrics, ended, experiment="pod-kill", trigger="gameday", outcome="aborted") == 1
    assert value(metrics, ended, experiment="blackhole", trigger="blind", outcome="halted") == 1
    assert value(metrics, "chaosbot_faults_in_place", experiment="pod-kill") == 1
    assert value(metrics, "chaosbot_faults_in_place", experiment="blackhole") == 0
    assert value(metrics, "chaosbot_rollbacks_pending") == 0

    rollback = "chaosbot_rollback_duration_seconds"
    assert value(metrics, f"{rollback}_count", experiment="pod-kill") == 2
    assert value(metrics, f"{rollback}_sum", experiment="pod-kill") == pytest.approx(4.8)
    assert value(metrics, f"{rollback}_bucket", experiment="pod-kill", le="1.0") == 0
    assert value(metrics, f"{rollback}_bucket", experiment="pod-kill", le="2.0") == 1
    assert value(metrics, f"{rollback}_bucket", experiment="pod-kill", le="5.0") == 2
    assert value(metrics, f"{rollback}_bucket", experiment="pod-kill", le="+Inf") == 2
    assert value(metrics, f"{rollback}_sum", experiment="blackhole") == pytest.approx(1.5)

    halt = "chaosbot_halt_duration_seconds"
    assert value(metrics, f"{halt}_count", experiment="pod-kill", cause="abort") == 1
    assert value(metrics, f"{halt}_sum", experiment="pod-kill", cause="abort") == pytest.approx(2.6)
    assert value(metrics, f"{halt}_bucket", experiment="pod-kill", cause="abort", le="2.0") == 0
    assert value(metrics, f"{halt}_bucket", experiment="pod-kill", cause="abort", le="5.0") == 1
    assert value(metrics, f"{halt}_count", experiment="blackhole", cause="breach") == 1
    assert value(metrics, f"{halt}_sum", experiment="blackhole", cause="breach") == pytest.approx(
        1.5
    )

    assert value(metrics, "chaosbot_outbox_pending", method="chat.postEphemeral") == 2
    assert value(metrics, "chaosbot_outbox_pending", method="chat.update") is None
    assert value(metrics, "chaosbot_outbox_deliveries_failed_total", method="chat.update") == 1


@pytest.mark.storage
def test_a_burst_of_scrapes_costs_one_set_of_queries(db: Database) -> None:
    register_checkout(db, probe_url="http://127.0.0.1:9/healthz")
    moment = [0.0]
    collector = PlatformCollector(db, cache_seconds=5, monotonic=lambda: moment[0])

    def in_place() -> float:
        families = {f.name: f for f in collector.collect()}
        return sum(s.value for s in families["chaosbot_faults_in_place"].samples)

    assert in_place() == 0
    recorded_run(db, moves=ENDED_BY_THE_WORKER)
    moment[0] = 4.9
    assert in_place() == 0  # the answer of the first scrape
    moment[0] = 5.0
    assert in_place() == 1


def test_a_database_that_does_not_answer_is_shown_not_raised(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'missing' / 'chaosbot.db'}")
    metrics = Metrics(db=db, replica="bot-0", cache_seconds=0)
    assert value(metrics, "chaosbot_database_up") == 0
    assert value(metrics, "chaosbot_scheduler_leader", replica="bot-0") == 0


def test_the_replica_counts_its_leadership_lag_and_janitor_actions(tmp_path: Path) -> None:
    metrics = Metrics(db=Database(f"sqlite:///{tmp_path / 'x.db'}"), replica="bot-1")
    assert value(metrics, "chaosbot_janitor_actions_total", action="rolled_back") == 0
    metrics.leading(True)
    metrics.reconcile_lag("janitor", 0.02)
    metrics.reconcile_lag("janitor", 7)
    metrics.janitor_report(JanitorReport(rolled_back=["r-1", "r-2"], alerted=["r-1"], swept=3))
    metrics.janitor_report(JanitorReport(rolled_back=["r-3"]))
    assert value(metrics, "chaosbot_scheduler_leader", replica="bot-1") == 1
    lag = "chaosbot_reconcile_lag_seconds"
    assert value(metrics, f"{lag}_count", **{"pass": "janitor"}) == 2
    assert value(metrics, f"{lag}_bucket", **{"pass": "janitor", "le": "0.05"}) == 1
    assert value(metrics, "chaosbot_janitor_actions_total", action="rolled_back") == 3
    assert value(metrics, "chaosbot_janitor_actions_total", action="alerted") == 1
    assert value(metrics, "chaosbot_janitor_actions_total", action="swept") == 3
    assert value(metrics, "chaosbot_janitor_actions_total", action="stuck") == 0
    metrics.leading(False)
    assert value(metrics, "chaosbot_scheduler_leader", replica="bot-1") == 0


def test_metrics_are_served_to_get_only(tmp_path: Path) -> None:
    metrics = Metrics(db=Database(f"sqlite:///{tmp_path / 'x.db'}"), replica="bot-0")
    app = make_wsgi_app(bolt_app=None, readiness=lambda: None, metrics=metrics.registry)
    answers: list[tuple[str, list[tuple[str, str]]]] = []

    def call(method: str) -> bytes:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": "/metrics",
            "QUERY_STRING": "",
            "wsgi.input": io.BytesIO(b""),
        }
        return b"".join(app(environ, lambda s, h, e=None: answers.append((s, h))))  # type: ignore[arg-type]

    body = call("GET").decode()
    assert answers[-1][0].startswith("200")
    assert dict(answers[-1][1])["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'chaosbot_scheduler_leader{replica="bot-0"} 0.0' in body
    call("POST")
    assert answers[-1][0].startswith("405")
    assert ("Allow", "GET") in answers[-1][1]
