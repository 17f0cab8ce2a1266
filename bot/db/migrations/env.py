"""Alembic environment: runs online against the engine chaosbot hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from bot.tables import Base

config = context.config
engine = config.attributes["engine"]
assert isinstance(engine, Engine)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
