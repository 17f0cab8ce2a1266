"""Errors a person can act on: each formats its own message, and the Slack and CLI edges show it."""

from __future__ import annotations

__all__ = [
    "ChaosbotError",
    "DatabaseNotMigrated",
    "DatabaseNotMigratedInTime",
    "SettingsError",
]


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


class DatabaseNotMigratedInTime(ChaosbotError):
    """The database did not reach this version's revision within the time `migrate --wait` had."""

    def __init__(
        self, *, seconds: float, current: str | None, head: str, unreachable: str | None
    ) -> None:
        self.seconds = seconds
        self.current = current
        self.head = head
        self.unreachable = unreachable
        at = (
            f"could not be reached ({unreachable})"
            if unreachable
            else f"is at {current or 'an empty schema'}"
        )
        super().__init__(
            f"waited {seconds:g}s for the database to reach revision {head}, and it {at}: "
            "has the migration (`chaosbot migrate`, the chaosbot-migrate Job) run and succeeded?"
        )
