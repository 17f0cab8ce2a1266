"""CHAOSBOT_LOG_FORMAT=json: the worker, the game-day flows and the janitor log one JSON object
per line carrying the ids of the run and game day they work on."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.db.engine import Database
from bot.gamedays.decisions import approve
from bot.gamedays.service import find_gameday
from bot.logs import configure_logging
from bot.runs.janitor import Janitor
from bot.runs.states import RunStatus
from tests.fixtures.bot import BOB, START
from tests.fixtures.engine import Engine
from tests.fixtures.gamedays import ADMINS, ask, manual_scheduler, register_service
from tests.fixtures.runs import recorded_run

SECRET = "xoxb-0000-1111-secretsecret"
Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    """Logging as `chaosbot serve` sets it up with CHAOSBOT_LOG_FORMAT=json; the lines so far."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    written = io.StringIO()
    configure_logging("INFO", [SECRET], log_format="json", stream=written)
    try:
        yield lambda: [json.loads(line) for line in written.getvalue().splitlines()]
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def broken_launcher(run_id: int) -> None:
    raise RuntimeError(f"no worker for run {run_id}: the token {SECRET} was refused")


def test_a_game_days_flow_logs_with_its_id(db: Database, json_lines: Lines) -> None:
    register_service(db, tier=2)  # one approval is enough
    clock = FrozenClock(START)
    key = ask(db, now=START)
    with db.session() as session:
        approve(session=session, ref=key, user_id=BOB, now=START, admins=ADMINS)
        gameday_id = find_gameday(session=session, ref=key).id
    clock.advance(timedelta(days=1))
    assert manual_scheduler(db, clock, broken_launcher).reconcile().started
    [line] = [x for x in json_lines() if x["message"].startswith("could not start a worker")]
    assert line["gameday_id"] == gameday_id
    assert line["level"] == "ERROR" and line["logger"] == "bot.scheduling.steps"
    assert line["time"].startswith("20") and line["time"].endswith("+00:00")
    assert SECRET not in json.dumps(line) and "[redacted]" in line["exc_info"]


def test_the_janitor_logs_with_the_run_it_handles(db: Database, json_lines: Lines) -> None:
    register_service(db)
    # Holding, and its worker (elsewhere) silent: the janitor replays its rollbacks.
    run_id = recorded_run(
        db,
        moves=[(RunStatus.PREFLIGHT, 0), (RunStatus.INJECTING, 1), (RunStatus.HOLDING, 2)],
        worker_host="elsewhere",
    )
    janitor = Janitor(
        db=db, clock=FrozenClock(START + timedelta(minutes=1)), roll_back=broken_launcher
    )
    assert janitor.tidy().rolled_back
    [line] = [x for x in json_lines() if x["message"].startswith("could not start the rollback")]
    assert line["run_id"] == run_id
    assert SECRET not in json.dumps(line)


def test_a_worker_logs_json_lines_with_its_run(engine: Engine) -> None:
    run_id, key = engine.create(hold=0.1)
    worker = subprocess.run(
        [sys.executable, "-m", "bot", "worker", str(run_id)],
        env={**engine.env, "CHAOSBOT_LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert engine.status(run_id) is RunStatus.COMPLETED
    lines = [json.loads(line) for line in worker.stderr.splitlines()]
    assert lines, "the worker logged nothing"
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    ours = [line for line in lines if line.get("run_id") == run_id]
    assert ours and all(line["run_key"] == key for line in ours)
