"""The steady state is watched while the fault is in place, and a breach halts the run: a worker
process runs a fault against the Kubernetes API test server while the service's health endpoint
(a real HTTP server on 127.0.0.1) starts failing mid-hold."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.findings.models import Finding
from bot.runs.service import measurements_of
from bot.runs.states import TERMINAL, RunStatus
from tests.fixtures.engine import Engine, Health

EVERY = 0.2  # seconds between checks: short, so the tests are quick


def _measurements(engine: Engine, run_id: int) -> list[tuple[bool, str]]:
    with engine.db.session() as session:
        return [(m.ok, m.detail) for m in measurements_of(session=session, run_id=run_id)]


@pytest.mark.executors("local", "kubernetes")
def test_a_steady_state_that_breaks_mid_hold_halts_the_run_and_rolls_it_back(
    engine: Engine, health: Health
) -> None:
    run_id, key = engine.create(hold=60, watch_every=EVERY, fail_after=2)
    process = engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    time.sleep(3 * EVERY)  # a few healthy checks first
    assert len(engine.policies(key)) == 1
    health.status = 503
    broke = time.monotonic()
    assert engine.wait_for(run_id, *TERMINAL, timeout=30) is RunStatus.HALTED
    # Two failed checks 0.2 s apart, then the rollback: nowhere near the 60 s hold.
    assert time.monotonic() - broke < 10
    assert process.wait(timeout=30) == 5
    assert engine.policies(key) == []  # the fault is gone
    run = engine.row(run_id)
    assert run.reason is not None
    assert run.reason.startswith("halted: steady state broke (health: got 503")
    assert "expected 200" in run.reason
    assert run.leftovers == []
    states = [e.status for e in run.events]
    assert states.index(RunStatus.HOLDING) < states.index(RunStatus.ROLLING_BACK)
    checks = _measurements(engine, run_id)
    assert any(ok for ok, _ in checks)  # the healthy checks before the breach are kept too
    failed = [detail for ok, detail in checks if not ok]
    assert len(failed) >= 2 and failed[0].startswith("got 503")
    assert run.journal is not None
    assert run.journal["steady_state_watch"]["breach"]["halted"] is True
    with engine.db.session() as session:
        titles = session.scalars(select(Finding.title).where(Finding.run_id == run_id)).all()
    assert titles == ["blackhole: the steady state broke while the fault held"]


def test_a_healthy_run_is_watched_to_the_end_and_completes(engine: Engine) -> None:
    run_id, key = engine.create(hold=1.5, watch_every=EVERY, fail_after=2)
    assert engine.run(run_id) == 0
    run = engine.row(run_id)
    assert run.status is RunStatus.COMPLETED
    assert engine.policies(key) == []
    checks = _measurements(engine, run_id)
    assert len(checks) >= 4  # 1.5 s of hold, a check every 0.2 s
    assert all(ok and detail.startswith("got 200 in ") for ok, detail in checks)
    assert run.journal is not None
    assert run.journal["steady_state_watch"]["breach"] is None


def test_fewer_failed_checks_in_a_row_than_fail_after_do_not_halt(
    engine: Engine, health: Health
) -> None:
    run_id, _ = engine.create(hold=60, watch_every=EVERY, fail_after=3)
    process = engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    asked = health.asked
    health.statuses = [503, 503]  # two failed checks, then healthy again
    deadline = time.monotonic() + 10
    while health.asked < asked + 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.status(run_id) is RunStatus.HOLDING  # still holding: no halt
    failed = [ok for ok, _ in _measurements(engine, run_id) if not ok]
    assert len(failed) == 2
    health.status = 500
    assert engine.wait_for(run_id, *TERMINAL, timeout=30) is RunStatus.HALTED
    assert process.wait(timeout=30) == 5


def test_an_exported_experiment_halts_the_same_way_under_a_plain_chaos_run(
    engine: Engine, health: Health, tmp_path: Path
) -> None:
    """The watch is a control in the experiment itself: the Chaos Toolkit CLI, without chaosbot's
    worker, halts and rolls back the same experiment."""
    run_id, key = engine.create(hold=60, watch_every=EVERY, fail_after=2)
    experiment = tmp_path / "experiment.json"
    experiment.write_text(json.dumps(engine.row(run_id).document), encoding="utf-8")
    journal = tmp_path / "journal.json"
    chaos = Path(sys.executable).parent / "chaos"
    command = [str(chaos), "--no-version-check", "--no-log-file"]
    command += ["--settings", str(tmp_path / "absent.yaml"), "run"]
    command += ["--rollback-strategy", "always", "--journal-path", str(journal), str(experiment)]
    process = subprocess.Popen(
        command, env=engine.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while not engine.policies(key) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(engine.policies(key)) == 1  # injected, holding
        health.status = 503
        process.wait(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert engine.policies(key) == []  # rolled back
    written = json.loads(journal.read_text(encoding="utf-8"))
    assert written["status"] == "interrupted"
    breach = written["steady_state_watch"]["breach"]
    assert breach["halted"] is True
    assert breach["reason"].startswith("health: got 503")
