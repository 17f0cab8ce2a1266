"""Flat costs as the platform grows: one pass of each of the reconciler's passes, and a person's
App Home, issue as many SQL statements for 200 services as for 20 (bench/scale.py measures the
same at 1,000 and 10,000 services, with times)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

from bot.clock import FrozenClock
from bot.compliance.scheduled import DigestPass
from bot.config.compliance_policy import DEFAULT_POLICY
from bot.db.engine import Database
from bot.drills.scheduled import DrillPass
from bot.findings.scheduled import ActionItemPass
from bot.gamedays.scheduled import GameDayPass
from bot.runs.janitor import Janitor
from bot.scheduling.reconciler import Pass
from bot.scheduling.steps import RunPassArgs
from bot.slack.home import personal_blocks
from bot.testing.landscape import NOW, PERSON, Statements, fill, fill_platform
from tests.fixtures.db import empty

PER_TEAM = 4  # the person owns five teams' services: 20
ADMINS = frozenset({"U0ADMIN"})


def _run(each: Pass) -> None:
    """A pass as the reconciler runs it: its work, then the date jobs it wants."""
    each.run()
    each.alarms()


def _statements(db: Database, *, teams: int) -> dict[str, int]:
    """The statements of each pass run twice (with work due, then with none), and of the
    person's App Home, on a platform of `teams` teams."""
    last_run = fill(db, teams=teams, per_team=PER_TEAM, runs_per=3)
    fill_platform(
        db, teams=teams, per_team=PER_TEAM, in_flight=teams * PER_TEAM // 10, first_run=last_run
    )
    clock = FrozenClock(NOW)
    started: list[int] = []
    args: RunPassArgs = {
        "db": db,
        "clock": clock,
        "start_run": started.append,
        "grace": timedelta(minutes=5),
    }
    passes: list[Pass] = [
        GameDayPass(admins=ADMINS, **args),
        DrillPass(**args),
        DigestPass(db=db, clock=clock, policy=DEFAULT_POLICY, admin_channel="C0PLATFORM"),
        ActionItemPass(db=db, clock=clock),
        Janitor(db=db, clock=clock, roll_back=started.append),
    ]
    counter = Statements(db)
    counts: dict[str, int] = {}

    def count(name: str, work: Callable[[], object]) -> None:
        counter.reset()
        work()
        counts[name] = counter.reads + counter.writes

    for round_ in ("first", "again"):
        for each in passes:
            count(f"{each.name} ({round_})", partial(_run, each))

    def home() -> None:
        with db.session() as session:
            personal_blocks(session, user_id=PERSON, now=NOW, admins=ADMINS, policy=DEFAULT_POLICY)

    count("App Home", home)
    assert not started  # nothing was due to start: the runs in flight are alive
    return counts


def test_a_pass_and_the_app_home_cost_the_same_statements_at_ten_times_the_size(
    database_url: str, sqlite_template: Path, tmp_path: Path
) -> None:
    counts = []
    for teams in (5, 50):
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / f'{teams}.db'}"
            shutil.copyfile(sqlite_template, tmp_path / f"{teams}.db")
        else:
            url = database_url
            empty(url)
        db = Database(url)
        try:
            counts.append(_statements(db, teams=teams))
        finally:
            db.dispose()
    small, large = counts
    assert large == small
    # Each pass did its work (or looked and found none): the counts are not all zero.
    assert all(small[f"{name} (first)"] > 0 for name in ("game days", "drills", "janitor"))
    assert small["action items (first)"] > small["action items (again)"]  # reminders went out
    assert small["weekly digest (first)"] > small["weekly digest (again)"]  # digests went out
