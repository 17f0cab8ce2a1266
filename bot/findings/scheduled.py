"""The action-item pass of the reconciler (bot/scheduling/reconciler.py): owners reminded by
direct message when an item falls due and weekly while it is overdue.

It runs on an interval of its own: due days begin at midnight on each team's clock, one team
after another, and a reminder an hour late is still a reminder.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.clock import Clock
from bot.db.engine import Database
from bot.findings.flows import remind_due
from bot.scheduling.reconciler import Alarm
from bot.scheduling.steps import guarded

__all__ = ["REMIND_PASS_EVERY", "ActionItemPass"]

REMIND_PASS_EVERY = 900.0  # seconds


class ActionItemPass:
    """Queues the reminders that are due."""

    name = "action items"

    def __init__(self, *, db: Database, clock: Clock, every: float = REMIND_PASS_EVERY) -> None:
        self._db, self._clock = db, clock
        self.every: float | None = every

    def run(self) -> list[str] | None:
        """The keys of the items reminded now; None when the pass failed (logged)."""
        now = self._clock.now()
        return guarded(self._db, "action item reminders", lambda s: remind_due(session=s, now=now))

    def alarms(self) -> Mapping[str, Alarm]:
        return {}
