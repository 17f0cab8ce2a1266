"""One bot replica at a time holds the scheduler's leader lock, on PostgreSQL and on SQLite."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text

from bot.db.engine import Database
from bot.scheduling.leader import (
    LeaderElection,
    LeaderLock,
    PostgresAdvisoryLock,
    SqliteFileLock,
    advisory_key,
    leader_lock_for,
)

INTERVAL = 0.05
DEADLINE_SECONDS = 10.0


@pytest.fixture
def lock_name() -> str:
    """A name no other test uses, so a lock left behind elsewhere cannot decide this test."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def locks() -> Iterator[list[LeaderLock]]:
    """Locks to release when the test ends, whatever happened."""
    made: list[LeaderLock] = []
    yield made
    for lock in made:
        lock.release()


@pytest.fixture
def pg_admin(postgres_url: str) -> Iterator[Connection]:
    """A third connection to the PostgreSQL test database, for looking at and killing sessions."""
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        yield conn
    engine.dispose()


@pytest.fixture
def elections() -> Iterator[list[LeaderElection]]:
    """Elections to stop when the test ends."""
    started: list[LeaderElection] = []
    yield started
    for election in started:
        election.stop()


class CountingLock:
    """A real lock that counts the attempts made to take it."""

    def __init__(self, inner: LeaderLock) -> None:
        self.inner = inner
        self.attempts = 0

    def try_acquire(self) -> bool:
        self.attempts += 1
        return self.inner.try_acquire()

    def held(self) -> bool:
        return self.inner.held()

    def release(self) -> None:
        self.inner.release()


class ScriptedLock:
    """A lock whose database fails `failures` times, and that is lost when `lost` is set."""

    def __init__(self, *, failures: int) -> None:
        self.failures = failures
        self.lost = False
        self._held = False

    def try_acquire(self) -> bool:
        if self.failures:
            self.failures -= 1
            raise OSError("connection refused")
        self.lost = False
        self._held = True
        return True

    def held(self) -> bool:
        return self._held and not self.lost

    def release(self) -> None:
        self._held = False


class Callbacks:
    """Records on_elected / on_lost calls, optionally raising from each."""

    def __init__(self, *, raising: bool = False) -> None:
        self.calls: list[str] = []
        self._raising = raising

    def on_elected(self) -> None:
        self.calls.append("elected")
        if self._raising:
            raise RuntimeError("scheduler failed to start")

    def on_lost(self) -> None:
        self.calls.append("lost")
        if self._raising:
            raise RuntimeError("scheduler failed to stop")


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {DEADLINE_SECONDS}s: {what}")
        time.sleep(0.01)


def _holders(admin: Connection, name: str) -> list[int]:
    """The backends PostgreSQL itself says hold the advisory lock for `name`."""
    key = advisory_key(name) & 0xFFFF_FFFF_FFFF_FFFF  # a bigint key is split over two oids
    rows = admin.execute(
        text(
            "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"
            " AND l.classid::bigint = :high AND l.objid::bigint = :low AND l.objsubid = 1"
        ),
        {"high": key >> 32, "low": key & 0xFFFF_FFFF},
    )
    return [int(pid) for pid in rows.scalars()]


def _kill_session(admin: Connection, pid: int) -> None:
    # The timeout makes it wait until the backend has exited, and so has freed its locks.
    terminated = admin.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    assert terminated.scalar_one() is True


def _elect(
    lock: LeaderLock, callbacks: Callbacks, elections: list[LeaderElection], *, name: str
) -> LeaderElection:
    election = LeaderElection(
        lock,
        on_elected=callbacks.on_elected,
        on_lost=callbacks.on_lost,
        interval=INTERVAL,
        name=name,
    )
    elections.append(election)
    election.start()
    return election


# The lock on either database.


def test_a_second_replica_is_refused_until_the_first_releases(
    db: Database, lock_name: str, locks: list[LeaderLock]
) -> None:
    first, second = leader_lock_for(db, name=lock_name), leader_lock_for(db, name=lock_name)
    locks += [first, second]
    assert first.try_acquire()
    assert first.try_acquire(), "a holder asking again still holds it"
    assert not second.try_acquire()
    assert first.held()
    assert not second.held()

    first.release()
    first.release()
    assert not first.held()
    assert second.try_acquire()
    assert second.held()
    assert not first.try_acquire()


def test_locks_with_different_names_do_not_conflict(
    db: Database, lock_name: str, locks: list[LeaderLock]
) -> None:
    scheduler, other = (
        leader_lock_for(db, name=lock_name),
        leader_lock_for(db, name=f"{lock_name}-b"),
    )
    locks += [scheduler, other]
    assert scheduler.try_acquire()
    assert other.try_acquire()


HOLD_THE_LOCK = textwrap.dedent(
    """
    import sys
    from bot.db.engine import Database
    from bot.scheduling.leader import leader_lock_for

    lock = leader_lock_for(Database(sys.argv[1]), name=sys.argv[2])
    print("acquired" if lock.try_acquire() else "refused", flush=True)
    sys.stdin.read()  # hold on until the test has heard from both processes
    lock.release()
    """
)


def test_exactly_one_of_two_processes_gets_the_lock(database_url: str, lock_name: str) -> None:
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", HOLD_THE_LOCK, database_url, lock_name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        answers = [replica.stdout.readline().strip() for replica in replicas if replica.stdout]
    finally:
        outputs = [replica.communicate(input="", timeout=30) for replica in replicas]
    assert sorted(answers) == ["acquired", "refused"], [err for _, err in outputs]
    assert [replica.returncode for replica in replicas] == [0, 0]


# PostgreSQL: the lock is an advisory lock of the lock's own session.


def test_the_key_is_the_same_in_every_process() -> None:
    assert advisory_key("chaosbot-scheduler") == -8507659444350392203
    assert advisory_key("chaosbot-scheduler") != advisory_key("chaosbot-digest")
    assert -(2**63) <= advisory_key("x") < 2**63


def test_postgresql_sees_the_advisory_lock_until_it_is_released(
    postgres_url: str, pg_admin: Connection, lock_name: str, locks: list[LeaderLock]
) -> None:
    lock = PostgresAdvisoryLock(url=postgres_url, name=lock_name)
    locks.append(lock)
    assert _holders(pg_admin, lock_name) == []
    assert lock.try_acquire()
    assert lock.backend_pid is not None
    assert _holders(pg_admin, lock_name) == [lock.backend_pid]
    lock.release()
    assert _holders(pg_admin, lock_name) == []
    assert lock.backend_pid is None


def test_a_killed_session_loses_the_lock_to_another_replica(
    postgres_url: str, pg_admin: Connection, lock_name: str, locks: list[LeaderLock]
) -> None:
    first = PostgresAdvisoryLock(url=postgres_url, name=lock_name)
    second = PostgresAdvisoryLock(url=postgres_url, name=lock_name)
    locks += [first, second]
    assert first.try_acquire()
    assert first.held()
    [pid] = _holders(pg_admin, lock_name)

    _kill_session(pg_admin, pid)

    assert not first.held()
    assert first.backend_pid is None
    first.release()
    assert second.try_acquire()
    assert _holders(pg_admin, lock_name) == [second.backend_pid]
    assert not first.try_acquire()


# SQLite: an flock on a file beside the database.


def test_the_sqlite_lock_is_a_file_beside_the_database(
    tmp_path: Path, locks: list[LeaderLock]
) -> None:
    lock = leader_lock_for(Database(f"sqlite:///{tmp_path}/chaosbot.db"))
    locks.append(lock)
    assert isinstance(lock, SqliteFileLock)
    assert lock.path == tmp_path.resolve() / "chaosbot.db.scheduler.lock"
    assert lock.try_acquire()
    assert lock.path.read_text().strip().isdigit()


def test_a_removed_sqlite_lock_file_is_a_lost_lock(tmp_path: Path, locks: list[LeaderLock]) -> None:
    database = tmp_path / "chaosbot.db"
    holder, other = SqliteFileLock(database_file=database), SqliteFileLock(database_file=database)
    locks += [holder, other]
    assert holder.try_acquire()
    assert holder.path is not None
    holder.path.unlink()
    # The other replica can now lock a new file, so the holder must not go on leading.
    assert other.try_acquire()
    assert not holder.held()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_lock_is_always_this_process_s(url: str) -> None:
    db = Database(url)
    first, second = leader_lock_for(db), leader_lock_for(db)
    assert isinstance(first, SqliteFileLock)
    assert first.path is None
    assert first.try_acquire()
    assert second.try_acquire()
    assert first.held()
    first.release()
    assert not first.held()


# The election.


def test_one_of_two_replicas_leads_and_the_other_takes_over_when_it_stops(
    db: Database, lock_name: str, elections: list[LeaderElection]
) -> None:
    locks = [CountingLock(leader_lock_for(db, name=lock_name)) for _ in range(2)]
    callbacks = [Callbacks(), Callbacks()]
    replicas = [
        _elect(lock, calls, elections, name=f"replica-{i}")
        for i, (lock, calls) in enumerate(zip(locks, callbacks, strict=True))
    ]
    _wait_until(lambda: any(r.is_leader for r in replicas), "a replica is elected")
    leader = 0 if replicas[0].is_leader else 1
    follower = 1 - leader
    tries = locks[follower].attempts
    _wait_until(lambda: locks[follower].attempts >= tries + 3, "the follower tries again")
    assert [r.is_leader for r in replicas].count(True) == 1
    assert callbacks[leader].calls == ["elected"]
    assert callbacks[follower].calls == []

    replicas[leader].stop()

    assert callbacks[leader].calls == ["elected", "lost"]
    assert not replicas[leader].is_leader
    _wait_until(lambda: replicas[follower].is_leader, "the follower takes over")
    assert callbacks[follower].calls == ["elected"]


def test_a_leader_whose_session_is_killed_steps_down(
    postgres_url: str, pg_admin: Connection, lock_name: str, elections: list[LeaderElection]
) -> None:
    callbacks = Callbacks()
    replica = _elect(
        PostgresAdvisoryLock(url=postgres_url, name=lock_name), callbacks, elections, name="leader"
    )
    _wait_until(lambda: replica.is_leader, "the replica is elected")
    [pid] = _holders(pg_admin, lock_name)

    _kill_session(pg_admin, pid)

    _wait_until(lambda: "lost" in callbacks.calls, "the leader notices")
    assert callbacks.calls[:2] == ["elected", "lost"]
    # The lock is free again, so the replica campaigns and wins it on a new session.
    _wait_until(lambda: len(callbacks.calls) == 3, "the replica is elected again")
    [new_pid] = _holders(pg_admin, lock_name)
    assert new_pid != pid


def test_an_unreachable_database_is_retried_and_logged_without_the_password(
    caplog: pytest.LogCaptureFixture, elections: list[LeaderElection]
) -> None:
    lock = CountingLock(
        PostgresAdvisoryLock(url="postgresql+psycopg://chaosbot:s3cret-pw@127.0.0.1:1/chaosbot")
    )
    callbacks = Callbacks()
    with caplog.at_level(logging.DEBUG, logger="bot.scheduling.leader"):
        _elect(lock, callbacks, elections, name="replica")
        _wait_until(lambda: lock.attempts >= 3, "the replica keeps trying")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "one warning per outage, not one per attempt"
    assert "OperationalError" in warnings[0].getMessage()
    assert "s3cret-pw" not in caplog.text
    assert callbacks.calls == []


def test_failing_callbacks_and_a_flaky_lock_do_not_stop_the_election(
    caplog: pytest.LogCaptureFixture, elections: list[LeaderElection]
) -> None:
    lock = ScriptedLock(failures=2)
    callbacks = Callbacks(raising=True)
    replica = _elect(lock, callbacks, elections, name="replica")
    _wait_until(lambda: callbacks.calls == ["elected"], "elected after two failed attempts")
    assert replica.is_leader

    lock.lost = True
    _wait_until(lambda: callbacks.calls == ["elected", "lost", "elected"], "re-elected")
    _wait_until(lambda: len(_logged_failures(caplog)) == 3, "each callback failure is logged")
    assert replica.is_leader


def _logged_failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]


def test_stop_is_prompt_and_steps_down(elections: list[LeaderElection]) -> None:
    callbacks = Callbacks()
    replica = LeaderElection(
        leader_lock_for(Database("sqlite://")),
        on_elected=callbacks.on_elected,
        on_lost=callbacks.on_lost,
        interval=60,
    )
    replica.start()
    _wait_until(lambda: replica.is_leader, "elected")
    started = time.monotonic()
    replica.stop()
    assert time.monotonic() - started < 5
    assert callbacks.calls == ["elected", "lost"]
    assert not replica.is_leader
