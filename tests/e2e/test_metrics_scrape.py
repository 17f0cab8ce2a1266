"""The bot's /metrics, scraped by a real Prometheus while runs come and go in the database."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.outbox.models import OutboxMessage, OutboxStatus
from bot.outbox.service import enqueue
from bot.runs.states import RunStatus, Trigger
from bot.testing.prometheus import PROMETHEUS, prometheus_server
from tests.fixtures.bot import START, RunningBot
from tests.fixtures.debian import ensure_installed
from tests.fixtures.runs import recorded_run, transition
from tests.fixtures.services import register_checkout

S = RunStatus
BEGUN = [(S.PREFLIGHT, 0), (S.INJECTING, 1), (S.HOLDING, 2)]


@pytest.mark.storage
def test_prometheus_scrapes_runs_faults_halts_outbox_and_the_leader(
    running_bot: RunningBot, tmp_path: Path
) -> None:
    ensure_installed(PROMETHEUS, "prometheus")
    db = running_bot.db
    register_checkout(db, probe_url="http://127.0.0.1:9/healthz")
    recorded_run(
        db,
        trigger=Trigger.GAMEDAY,
        moves=[*BEGUN, (S.ROLLING_BACK, 6), (S.ABORTED, 7.6)],
        abort_after=5,
    )
    recorded_run(db, moves=[*BEGUN, (S.ROLLING_BACK, 10), (S.COMPLETED, 13.2)])
    # Holding, with a live worker on this host and a fresh heartbeat: the janitor leaves it be.
    holding = recorded_run(
        db,
        moves=BEGUN,
        worker_pid=os.getpid(),
        worker_host=socket.gethostname(),
        heartbeat_at=START,
    )
    with db.session() as session:
        # Not before tomorrow: the bot's outbox pump leaves them queued.
        later = START + timedelta(days=1)
        for number in range(2):
            queued = enqueue(session=session, now=START, method="chat.postEphemeral", payload={})
            assert queued is not None
            queued.not_before, queued.payload = later, {"n": number}
        enqueue(session=session, now=START, method="chat.update", payload={}, dedupe_key="gone")
    with db.session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == "gone")
            .values(status=OutboxStatus.FAILED)
        )

    target = running_bot.server.url.removeprefix("http://")
    with prometheus_server([target], tmp_path, job="chaosbot") as prometheus:
        wait_for = prometheus.wait_for
        wait_for('chaosbot_runs_started_total{experiment="pod-kill",trigger="gameday"}', 1)
        wait_for('sum(chaosbot_runs_started_total{experiment="pod-kill"})', 3)
        wait_for(
            'chaosbot_runs_ended_total{experiment="pod-kill",trigger="adhoc",outcome="completed"}',
            1,
        )
        wait_for('chaosbot_faults_in_place{experiment="pod-kill"}', 1)
        halt = 'chaosbot_halt_duration_seconds_bucket{experiment="pod-kill",cause="abort"'
        wait_for(halt + ',le="2.0"}', 0)
        wait_for(halt + ',le="5.0"}', 1)
        wait_for('chaosbot_rollback_duration_seconds_count{experiment="pod-kill"}', 2)
        wait_for(
            'round(chaosbot_rollback_duration_seconds_sum{experiment="pod-kill"} * 1000)', 4800
        )
        wait_for('chaosbot_outbox_pending{method="chat.postEphemeral"}', 2)
        wait_for('chaosbot_outbox_deliveries_failed_total{method="chat.update"}', 1)
        # This replica holds the leader lock and runs the scheduler, whose passes report lag.
        wait_for(f'chaosbot_scheduler_leader{{replica="{socket.gethostname()}"}}', 1)
        wait_for('count(chaosbot_reconcile_lag_seconds_count{pass="janitor"} > 0)', 1)
        wait_for('chaosbot_janitor_actions_total{action="rolled_back"}', 0)
        # The holding run's fault is rolled back and the run ends: the next scrapes say so.
        with db.session() as session:
            for status, seconds in ((S.ROLLING_BACK, 30), (S.COMPLETED, 31)):
                assert transition(
                    session=session,
                    run_id=holding,
                    to=status,
                    now=START + timedelta(seconds=seconds),
                    message=status.value,
                )
        wait_for('chaosbot_faults_in_place{experiment="pod-kill"}', 0)
        wait_for('chaosbot_rollback_duration_seconds_count{experiment="pod-kill"}', 3)
