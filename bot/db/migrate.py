"""Schema migrations with Alembic, driven from code (`chaosbot migrate`) rather than alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.db.engine import Database
from bot.errors import DatabaseNotMigrated

__all__ = ["current_revision", "ensure_migrated", "head_revision", "upgrade"]

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
