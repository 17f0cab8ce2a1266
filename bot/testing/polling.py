"""Waiting in tests and benchmarks for something another thread or process does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["eventually"]

_T = TypeVar("_T")


def eventually(
    read: Callable[[], _T | None],
    *,
    what: str = "the condition",
    timeout: float = 30,
    interval: float = 0.02,
) -> _T:
    """The first truthy answer of `read`, asked every `interval` until `timeout` (seconds);
    an AssertionError naming `what` when none came."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}")
        time.sleep(interval)
