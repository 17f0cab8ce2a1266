"""What the game-day scheduler costs as game days pile up: one reconcile pass, and a start.

    .venv/bin/python bench/gameday_scheduler.py [--small 100] [--large 2000] [--repeat 5]

Two databases (SQLite files) are filled with approved game days in the future, `small` and
`large` of them, plus one due now. For each, the scheduler is started (its APScheduler jobs rebuilt
from the tables: a start and two reminders per game day) and then reconciled `repeat` times with
nothing due. It reports the time and the SQL statements of the rebuild, of a quiet pass, and of
the pass that starts the due game day. Read the ratios large/small: the statements of a quiet
pass must not grow with the number of game days (the rows are read in one query), the time may.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# bench/ is not a package: its scripts share the set-up and arithmetic in bench/_setup.py.
from _setup import save_checkout
from sqlalchemy import event

from bot.catalog.service import find_service
from bot.clock import FrozenClock
from bot.config import Settings
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.gamedays.models import GameDay, GameDayApproval, GameDayStatus
from bot.schedule import Schedule
from bot.slack.conversations import install as install_conversations

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Statements:
    """Counts the SQL statements an engine executes."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


def _fill(db: Database, count: int) -> None:
    save_checkout(
        db,
        at=NOW,
        probes=[{"url": "http://checkout.payments.svc/healthz"}],
        suite=[{"experiment": "pod-kill"}],
    )
    with db.session() as session:
        service = find_service(session=session, name="checkout")
        for index in range(count + 1):
            due = index == count  # the last one starts now
            starts = NOW if due else NOW + timedelta(days=2, hours=index)
            gameday = GameDay(
                key=f"gd-{index:06x}",
                service=service,
                status=GameDayStatus.APPROVED,
                experiments=["pod-kill"],
                starts_at=starts,
                duration_minutes=30,
                hold_seconds=60,
                timezone="UTC",
                notes="",
                requested_by="U0BENCH",
                requested_at=NOW - timedelta(days=1),
                approvals_needed=1,
                round=1,
                expires_at=starts,
                version=2,
                reminded_24h_at=NOW if due else None,
                reminded_15m_at=NOW if due else None,
                slack_channel="C0PAYMENTS",
                preview={},
            )
            gameday.approvals.append(
                GameDayApproval(round=1, slack_user_id="U0BOSS", approved_at=NOW)
            )
            session.add(gameday)


def _measure(count: int, repeat: int, tmp: Path) -> dict[str, float]:
    db = Database(f"sqlite:///{tmp}/bench-{count}.db")
    upgrade(db)
    _fill(db, count)
    started: list[int] = []
    clock = FrozenClock(NOW - timedelta(minutes=1))  # nothing due yet
    scheduler = Schedule.from_settings(
        db=db,
        clock=clock,
        settings=Settings(),
        start_run=started.append,
        reconcile_every=3600,
    )
    statements = Statements(db)
    began = time.perf_counter()
    scheduler.start()
    while len(scheduler.jobs()) < 3 * count + 1:  # the start pass rebuilds the jobs
        time.sleep(0.001)
    rebuild = time.perf_counter() - began
    rebuild_statements = statements.count
    quiet: list[float] = []
    for _ in range(repeat):
        statements.count = 0
        began = time.perf_counter()
        scheduler.reconcile()
        quiet.append(time.perf_counter() - began)
    quiet_statements = statements.count
    clock.advance(timedelta(minutes=1))
    statements.count = 0
    began = time.perf_counter()
    report = scheduler.reconcile()
    start = time.perf_counter() - began
    scheduler.stop()
    db.dispose()
    assert report.started == started and len(started) == 1
    return {
        "rebuild_s": rebuild,
        "rebuild_statements": rebuild_statements,
        "quiet_ms": statistics.median(quiet) * 1000,
        "quiet_statements": quiet_statements,
        "start_ms": start * 1000,
        "start_statements": statements.count,
    }


def main() -> None:
    install_conversations()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = _measure(args.small, args.repeat, Path(tmp))
        large = _measure(args.large, args.repeat, Path(tmp))
    print(f"{'':24}{args.small:>12}{args.large:>12}{'ratio':>10}")
    for name in small:
        ratio = large[name] / small[name] if small[name] else float("nan")
        print(f"{name:24}{small[name]:>12.2f}{large[name]:>12.2f}{ratio:>9.2f}x")


if __name__ == "__main__":
    main()
