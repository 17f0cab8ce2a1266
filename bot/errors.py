"""Errors a person can act on: each formats its own message, and the Slack and CLI edges show it."""

from __future__ import annotations

__all__ = ["ChaosbotError", "DatabaseNotMigrated", "SettingsError"]


class ChaosbotError(Exception):
    """An error whose message is meant for the person who caused it (no traceback, no error id)."""


class SettingsError(ChaosbotError):
    """A setting from the environment is missing or invalid."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


class DatabaseNotMigrated(ChaosbotError):
    """The database schema is not at the revision this version of chaosbot needs."""

    def __init__(self, current: str | None, head: str) -> None:
        self.current = current
        self.head = head
        at = current or "an empty schema"
        super().__init__(
            f"the database is at {at}, this chaosbot needs revision {head}: "
            "run `chaosbot migrate` first"
        )
