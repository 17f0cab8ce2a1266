"""Ports: the slot through which a domain reaches an adapter it may not import.

A domain declares a Protocol and a `Port` for it; an entry point installs the adapter at start-up
(`bot.slack.conversations.install`, called by `bot.app.build_app`). The adapters installed here
hold no state of their own (they write rows in the session they are handed), so one per process
serves every caller.
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["Port", "PortNotInstalled"]

T = TypeVar("T")


class PortNotInstalled(RuntimeError):
    """A domain needed an adapter that no entry point installed (a wiring bug, not a user's)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no {name} is installed: the entry point must install one at start-up")


class Port(Generic[T]):
    """One adapter slot, named for the messages it raises."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._adapter: T | None = None

    def install(self, adapter: T) -> None:
        self._adapter = adapter

    def get(self) -> T:
        if self._adapter is None:
            raise PortNotInstalled(self.name)
        return self._adapter
