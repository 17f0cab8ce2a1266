"""The leader lock: at most one bot replica runs the game-day scheduler at a time.

On PostgreSQL the lock is a session-level advisory lock on a connection of its own, so it lasts
exactly as long as that database session: if the replica dies or its connection is cut, the
server frees the lock and another replica's next attempt takes it. SQLite serves one host, so
there it is an flock on a file beside the database.

Leadership lags the lock: a leader learns it has lost the lock at its next `held()` check, up to
one election interval after another replica may have taken it. Work the scheduler starts must
therefore be safe to start twice (claimed through the database, not through this flag).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.db.engine import Database

__all__ = [
    "DEFAULT_LOCK_NAME",
    "LeaderElection",
    "LeaderLock",
    "PostgresAdvisoryLock",
    "SqliteFileLock",
    "advisory_key",
    "leader_lock_for",
]

log = logging.getLogger(__name__)

DEFAULT_LOCK_NAME = "chaosbot-scheduler"
STOP_TIMEOUT_SECONDS = 10.0

_LOCK_NAME = re.compile(r"[A-Za-z0-9._-]+")

# Client side: give up on an unreachable server or a dead network path in bounded time, so the
# election thread never hangs in connect() or in held()'s SELECT 1.
_CLIENT_TIMEOUTS: dict[str, int] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
# Server side: if the leader's host vanishes without closing its socket, the server keeps the
# session, and with it the lock, until TCP keepalive gives up: two hours by Linux's default.
# These per-session settings make it notice, and free the lock, within about half a minute.
_SERVER_KEEPALIVES = text(
    "SELECT set_config('tcp_keepalives_idle', '10', false),"
    " set_config('tcp_keepalives_interval', '5', false),"
    " set_config('tcp_keepalives_count', '3', false)"
)


class LeaderLock(Protocol):
    """A lock that at most one process holds; every method returns at once."""

    def try_acquire(self) -> bool:
        """Take the lock if it is free: True if this process now holds (or already held) it."""
        ...

    def held(self) -> bool:
        """True only if this process still holds the lock."""
        ...

    def release(self) -> None:
        """Let the lock go; does nothing if it is not held."""
        ...


def advisory_key(name: str) -> int:
    """The advisory-lock key for `name`: a signed 64-bit int, the same in every process
    (unlike `hash()`, which is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def leader_lock_for(db: Database, *, name: str = DEFAULT_LOCK_NAME) -> LeaderLock:
    """The lock named `name` on whatever database `db` is."""
    if db.dialect == "postgresql":
        return PostgresAdvisoryLock(url=db.url, name=name)
    if db.dialect == "sqlite":
        return SqliteFileLock(database_file=_sqlite_database_file(db), name=name)
    raise ValueError(f"no leader lock for the {db.dialect!r} dialect")


class PostgresAdvisoryLock:
    """A session-level advisory lock, held on a connection of its own for as long as it is held.

    Needs a direct (or session-pooled) connection: behind a transaction-pooling proxy such as
    PgBouncer in transaction mode, a session lock is not tied to this client.
    """

    def __init__(self, *, url: str, name: str = DEFAULT_LOCK_NAME) -> None:
        backend = make_url(url).get_backend_name()
        if backend != "postgresql":
            raise ValueError(f"PostgresAdvisoryLock needs a PostgreSQL URL, not {backend!r}")
        self.name = _checked_name(name)
        self.key = advisory_key(name)
        # An engine of its own with NullPool rather than a connection from the app's pool: a
        # session lock survives the pool's reset-on-return (a rollback), so a lock connection
        # that went back to the pool would keep the lock for whoever borrowed it next, and one
        # kept out of the pool forever shrinks the app's pool. With NullPool, close() ends the
        # session, which is what frees the lock. AUTOCOMMIT: the connection would otherwise sit
        # "idle in transaction" for as long as this replica leads.
        self._engine = create_engine(
            url, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args=_CLIENT_TIMEOUTS
        )
        self._conn: Connection | None = None
        self._backend_pid: int | None = None
        self._mutex = threading.Lock()

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend holding the lock, while it is held (for logs and operators)."""
        return self._backend_pid

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._conn is not None and self._session_alive():
                return True
            conn = self._engine.connect()
            keep = False
            try:
                acquired, pid = conn.execute(
                    text("SELECT pg_try_advisory_lock(:key), pg_backend_pid()"), {"key": self.key}
                ).one()
                if acquired:
                    conn.execute(_SERVER_KEEPALIVES)
                    keep = True
            finally:
                if not keep:  # a replica that does not lead holds no connection between tries
                    conn.close()
            if keep:
                self._conn, self._backend_pid = conn, int(pid)
            return keep

    def held(self) -> bool:
        # Only its own session can release a session lock, so a live session still holds it.
        with self._mutex:
            return self._conn is not None and self._session_alive()

    def release(self) -> None:
        with self._mutex:
            if self._conn is None:
                return
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            except SQLAlchemyError as exc:
                # Closing the connection ends the session, which frees the lock all the same.
                log.debug("unlocking %r failed (%s); closing its session", self.name, _brief(exc))
            self._drop_connection()

    def _session_alive(self) -> bool:
        assert self._conn is not None
        try:
            self._conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            log.warning("the session holding lock %r is gone (%s)", self.name, _brief(exc))
            self._drop_connection()
            return False
        return True

    def _drop_connection(self) -> None:
        conn, self._conn, self._backend_pid = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                conn.close()


class SqliteFileLock:
    """An exclusive flock on `<database file>.scheduler.lock` (for the default name).

    An in-memory database lives in one process, so there the lock is this process's whenever it
    asks. flock locks belong to the open file, so two of these in one process exclude each
    other too.
    """

    def __init__(self, *, database_file: Path | None, name: str = DEFAULT_LOCK_NAME) -> None:
        suffix = _checked_name(name).removeprefix("chaosbot-")
        self.path = (
            None if database_file is None else Path(f"{database_file.resolve()}.{suffix}.lock")
        )
        self._fd: int | None = None
        self._held_in_memory = False
        self._mutex = threading.Lock()

    def try_acquire(self) -> bool:
        with self._mutex:
            if self.path is None:
                self._held_in_memory = True
                return True
            if self._fd is not None and self._still_the_lock_file():
                return True
            self._close()
            # os.open's descriptors are not inherited (PEP 446), so a run worker, which outlives
            # the bot on purpose, cannot carry the lock away with it.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another replica holds it
                os.close(fd)
                return False
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            if not self._still_the_lock_file():  # removed between our open and our flock
                self._close()
                return False
            # Who leads, for an operator reading the file; the lock itself is the flock.
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return True

    def held(self) -> bool:
        with self._mutex:
            if self.path is None:
                return self._held_in_memory
            if self._fd is None:
                return False
            if self._still_the_lock_file():
                return True
            log.warning("lock file %s was removed or replaced; the lock is lost", self.path)
            self._close()
            return False

    def release(self) -> None:
        # The file stays: removing it would let a replica waiting on the old file and one
        # opening a new file both lock "it".
        with self._mutex:
            self._held_in_memory = False
            self._close()

    def _still_the_lock_file(self) -> bool:
        """Whether our descriptor is still the file at `path`: if someone deleted or replaced it,
        another replica would lock the new file while we hold the old one."""
        assert self.path is not None and self._fd is not None
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        ours = os.fstat(self._fd)
        return (on_disk.st_dev, on_disk.st_ino) == (ours.st_dev, ours.st_ino)

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # the only descriptor of this open file, so this frees the flock


class LeaderElection:
    """A daemon thread that keeps this replica campaigning for the lock.

    While not leader it tries the lock every `interval` seconds; while leader it checks
    `held()` every `interval`. It calls `on_elected()` once on becoming leader and `on_lost()`
    once on losing the lock or on `stop()`. Callbacks run on the election thread.
    """

    def __init__(
        self,
        lock: LeaderLock,
        *,
        on_elected: Callable[[], None],
        on_lost: Callable[[], None],
        interval: float = 5.0,
        name: str = "chaosbot-leader",
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval}")
        self._lock = lock
        self._on_elected = on_elected
        self._on_lost = on_lost
        self._interval = interval
        self._name = name
        self._leader = False
        self._lock_unreachable = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def is_leader(self) -> bool:
        return self._leader

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop campaigning; a leader steps down (`on_lost()`) and releases the lock."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_TIMEOUT_SECONDS)
        if self._thread.is_alive():
            # Stuck in a callback: free the lock anyway so another replica can take over; the
            # thread still calls on_lost when the callback returns.
            log.warning(
                "%s did not stop in %ss; releasing the lock", self._name, STOP_TIMEOUT_SECONDS
            )
            self._release()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._leader:
                    self._check_still_leader()
                else:
                    self._campaign()
                self._stop.wait(self._interval)
        finally:
            self._step_down()

    def _campaign(self) -> None:
        try:
            acquired = self._lock.try_acquire()
        except Exception as exc:
            # A database outage would repeat this every interval: warn once per outage.
            level = logging.DEBUG if self._lock_unreachable else logging.WARNING
            log.log(level, "%s could not try the lock (%s); retrying", self._name, _brief(exc))
            self._lock_unreachable = True
            return
        if self._lock_unreachable:
            log.info("%s reached the lock again", self._name)
            self._lock_unreachable = False
        if acquired:
            self._leader = True
            log.info("%s was elected leader", self._name)
            self._notify(self._on_elected)

    def _check_still_leader(self) -> None:
        try:
            still_held = self._lock.held()
        except Exception as exc:  # a lock we cannot check is one we must not act on
            log.warning("%s could not check the lock (%s)", self._name, _brief(exc))
            still_held = False
        if not still_held:
            log.warning("%s lost the lock; stepping down", self._name)
            self._step_down()

    def _step_down(self) -> None:
        if self._leader:
            self._leader = False
            self._notify(self._on_lost)
        self._release()

    def _release(self) -> None:
        try:
            self._lock.release()
        except Exception:
            log.exception("%s could not release the lock", self._name)

    def _notify(self, callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:
            log.exception("%s: %s failed", self._name, getattr(callback, "__name__", callback))


def _checked_name(name: str) -> str:
    if not _LOCK_NAME.fullmatch(name):
        raise ValueError(f"a lock name is letters, digits, '.', '_' and '-', not {name!r}")
    return name


def _sqlite_database_file(db: Database) -> Path | None:
    url = db.engine.url
    if not url.database or url.database == ":memory:" or url.query.get("mode") == "memory":
        return None
    return Path(url.database)


def _brief(exc: BaseException) -> str:
    """The exception's class and the first line of its message, all that is safe to log: never
    the statement, its parameters or the URL."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0][:200]}" if lines else type(cause).__name__
