"""Locking one row for the rest of a transaction, the same way on PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

__all__ = ["lock_row"]

_M = TypeVar("_M")


def lock_row(session: Session, model: type[_M], where: ColumnElement[bool]) -> _M | None:
    """The row matching `where`, locked until the transaction ends; None when there is none.

    A no-op UPDATE first (PostgreSQL takes the row lock, SQLite its write lock) and only then
    the read, so two replicas changing the same row are serialised and the second reads what
    the first wrote.
    """
    version: Any = model.version  # type: ignore[attr-defined]
    result = session.execute(
        update(model)
        .where(where)
        .values(version=version)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.scalar(select(model).where(where).execution_options(populate_existing=True))
