"""`chaosbot migrate --wait SECONDS`: what the production Deployment's init container runs so that
no pod of a new version serves before the migration Job has brought the schema to its revision."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import _parser
from bot.db.engine import Database
from bot.db.migrate import current_revision, head_revision, upgrade, wait_until_migrated
from bot.errors import DatabaseNotMigratedInTime


def run_chaosbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHAOSBOT_"))}
    env["CHAOSBOT_DATABASE_URL"] = url
    return env


class _Stopwatch:
    """Time that passes only when the waiter sleeps; `on_sleep` plays the migration Job."""

    def __init__(self, on_sleep: list[object]) -> None:
        self.elapsed = 0.0
        self.sleeps: list[float] = []
        self._on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds
        if self._on_sleep:
            action = self._on_sleep.pop(0)
            if callable(action):
                action()


def test_the_wait_ends_when_another_process_has_migrated_and_never_migrates_itself(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'chaosbot.db'}")
    try:
        # Two checks find an empty schema; then "the Job" migrates during the second sleep.
        watch = _Stopwatch(on_sleep=[None, lambda: upgrade(db)])

        revision = wait_until_migrated(
            db, timeout=600, interval=2, monotonic=watch.monotonic, sleep=watch.sleep
        )

        assert revision == head_revision() == current_revision(db)
        assert watch.sleeps == [2, 2]
    finally:
        db.dispose()


def test_the_wait_times_out_on_an_unmigrated_database_and_leaves_it_unmigrated(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'chaosbot.db'}")
    try:
        watch = _Stopwatch(on_sleep=[])
        with pytest.raises(DatabaseNotMigratedInTime) as raised:
            wait_until_migrated(
                db, timeout=5, interval=2, monotonic=watch.monotonic, sleep=watch.sleep
            )
        # It never sleeps past its deadline, and it migrated nothing.
        assert watch.sleeps == [2, 2, 1]
        assert current_revision(db) is None
        message = str(raised.value)
        assert "waited 5s" in message and head_revision() in message
        assert "an empty schema" in message and "chaosbot-migrate" in message
    finally:
        db.dispose()


def test_an_unreachable_database_counts_as_not_migrated_and_its_url_is_not_shown(
    tmp_path: Path,
) -> None:
    secret = "s3cret-passw0rd"
    db = Database(f"postgresql+psycopg://chaosbot:{secret}@127.0.0.1:1/chaosbot?connect_timeout=2")
    try:
        watch = _Stopwatch(on_sleep=[])
        with pytest.raises(DatabaseNotMigratedInTime) as raised:
            wait_until_migrated(db, timeout=0, monotonic=watch.monotonic, sleep=watch.sleep)
        assert "could not be reached (OperationalError" in str(raised.value)
        assert secret not in str(raised.value)
    finally:
        db.dispose()


def test_migrate_wait_exits_0_at_head_and_1_with_the_reason_on_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chaosbot.db'}"

    waited = run_chaosbot("migrate", "--wait", "0", env=_env(url))
    assert waited.returncode == 1
    assert "Traceback" not in waited.stderr
    assert f"this chaosbot needs revision {head_revision()}" not in waited.stderr
    assert f"waited 0s for the database to reach revision {head_revision()}" in waited.stderr
    db = Database(url)
    try:
        assert current_revision(db) is None  # the waiting side never migrates
    finally:
        db.dispose()

    migrated = run_chaosbot("migrate", env=_env(url))
    assert migrated.returncode == 0, migrated.stderr

    waited = run_chaosbot("migrate", "--wait", "600", env=_env(url))
    assert waited.returncode == 0, waited.stderr
    assert f"database is at revision {head_revision()}" in waited.stdout


def test_migrate_wait_refuses_a_negative_time(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(["migrate", "--wait", "-1"])
    assert exited.value.code == 2
    assert "not a number of seconds: '-1'" in capsys.readouterr().err
    assert _parser().parse_args(["migrate", "--wait", "0.5"]).wait == 0.5
