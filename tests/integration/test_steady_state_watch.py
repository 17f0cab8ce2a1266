"""The steady state is watched while the fault is in place, and a breach halts the run: a worker
process runs a fault against the Kubernetes API test server while the service's health endpoint
(a real HTTP server on 127.0.0.1) starts failing mid-hold."""

from __future__ import annotations

import time

from sqlalchemy import select

from bot.findings.models import Finding
from bot.runs.service import measurements_of
from bot.runs.states import TERMINAL, RunStatus
from tests.fixtures.engine import Engine, Health

EVERY = 0.2  # seconds between checks: short, so the tests are quick


def _measurements(engine: Engine, run_id: int) -> list[tuple[bool, str]]:
    with engine.db.session() as session:
        return [(m.ok, m.detail) for m in measurements_of(session=session, run_id=run_id)]


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
