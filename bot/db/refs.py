"""Finding a row by the reference people use for it: its `key` (or, from code, its id)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.locking import lock_row

__all__ = ["find_by_key", "lock_by_ref"]

_M = TypeVar("_M")


def find_by_key(
    session: Session, model: type[_M], key: str, not_found: Callable[[str], Exception]
) -> _M:
    """The row whose `key` is `key`; `not_found(key)` is raised when there is none."""
    columns: Any = model
    row = session.scalar(select(model).where(columns.key == key))
    if row is None:
        raise not_found(key)
    return row


def lock_by_ref(
    session: Session, model: type[_M], ref: str | int, not_found: Callable[[str], Exception]
) -> _M:
    """The row whose id (an int) or key (a str) is `ref`, locked for the rest of the transaction
    (see `lock_row`); `not_found(str(ref))` is raised when there is none."""
    columns: Any = model
    row = lock_row(
        session, model, columns.id == ref if isinstance(ref, int) else columns.key == ref
    )
    if row is None:
        raise not_found(str(ref))
    return row
