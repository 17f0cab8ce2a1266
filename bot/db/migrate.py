"""Schema migrations with Alembic, driven from code (`chaosbot migrate`) rather than alembic.ini."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

from bot.db.engine import Database
from bot.errors import DatabaseNotMigrated, DatabaseNotMigratedInTime

__all__ = [
    "current_revision",
    "ensure_migrated",
    "head_revision",
    "upgrade",
    "wait_until_migrated",
]

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # The engine is handed over directly, so credentials in the URL never go through Alembic's
    # ini interpolation or its log lines.
    config.attributes["engine"] = db.engine
    return config


def upgrade(db: Database, revision: str = "head") -> str:
    """Bring the schema up to `revision`; returns the revision it is at afterwards."""
    command.upgrade(_config(db), revision)
    return current_revision(db) or "base"


def head_revision() -> str:
    """The newest revision this version of chaosbot ships."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_migrated(db: Database) -> None:
    """Raise DatabaseNotMigrated unless the schema is exactly at head."""
    current, head = current_revision(db), head_revision()
    if current != head:
        raise DatabaseNotMigrated(current, head)


def wait_until_migrated(
    db: Database,
    *,
    timeout: float,
    interval: float = 2.0,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Wait, never migrating, until the database is at this version's head; returns the head.

    What a new version's pods do before they serve while another process (the migration Job)
    upgrades the schema. A database that cannot be reached yet (its server is still starting)
    counts as not migrated. Raises DatabaseNotMigratedInTime after `timeout` seconds.
    """
    head = head_revision()
    deadline = monotonic() + timeout
    while True:
        current: str | None = None
        unreachable: str | None = None
        try:
            current = current_revision(db)
        except SQLAlchemyError as exc:
            unreachable = _reason(exc)
        if current == head:
            return head
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise DatabaseNotMigratedInTime(
                seconds=timeout, current=current, head=head, unreachable=unreachable
            )
        sleep(min(interval, remaining))


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's first line (libpq and SQLite never put a password in it), not the URL."""
    cause = getattr(exc, "orig", None) or exc
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first}" if first else type(cause).__name__
