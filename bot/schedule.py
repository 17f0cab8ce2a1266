"""The bot's schedule: one reconciler over the platform's passes, with each pass at hand.

The passes are the domains' own (`scheduled.py` in gamedays, drills, compliance and findings, and the
runs' janitor); this module only puts them together for the bot (bot/serve.py), the demo and
the tests, and reports a tick the way `/chaos gamedays` and the tests read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.compliance.digest import DigestReport
from bot.compliance.scheduled import DigestPass
from bot.config import Settings
from bot.db.engine import Database
from bot.drills.scheduled import DrillPass, DrillReport
from bot.findings.scheduled import ActionItemPass
from bot.gamedays.flows import Started
from bot.gamedays.scheduled import GameDayPass, GameDayReport
from bot.runs.events import RunObserver, RunObservers
from bot.runs.janitor import Janitor
from bot.scheduling.reconciler import LagListener, Pass, Reconciler
from bot.scheduling.steps import RunPassArgs

__all__ = ["ReconcileReport", "Schedule"]


@dataclass
class ReconcileReport(GameDayReport):
    """What one tick did: the game-day pass's report, and the drill pass's."""

    drills: DrillReport = field(default_factory=DrillReport)


class Schedule:
    """Starts and stops with the leadership (the reconciler's), and names its passes."""

    def __init__(
        self,
        *,
        clock: Clock,
        gamedays: GameDayPass,
        drills: DrillPass | None = None,
        digest: DigestPass | None = None,
        action_items: ActionItemPass | None = None,
        janitor: Janitor | None = None,
        every: float = 30.0,
        lag: LagListener | None = None,
    ) -> None:
        self.gamedays, self.drills, self.digest, self.janitor = gamedays, drills, digest, janitor
        self.action_items = action_items
        passes: list[Pass] = [
            p for p in (gamedays, drills, digest, action_items, janitor) if p is not None
        ]
        self.reconciler = Reconciler(
            clock=clock, passes=passes, every=every, misfire_grace=gamedays.grace, lag=lag
        )

    @classmethod
    def from_settings(
        cls,
        *,
        db: Database,
        clock: Clock,
        settings: Settings,
        start_run: Callable[[int], None],
        reconcile_every: float = 30.0,
        drills: DrillPass | bool | None = None,
        janitor: Janitor | None = None,
        lag: LagListener | None = None,
    ) -> Schedule:
        """Game days, the weekly digest and the action-item reminders from the settings, with
        the janitor given; `drills`
        True builds the drill pass from the settings too, a pass is taken as it is (a test's,
        with its own rng), None or False leaves drills out."""
        run_pass: RunPassArgs = {
            "db": db,
            "clock": clock,
            "start_run": start_run,
            "grace": timedelta(minutes=settings.gameday_grace_minutes),
            "default_context": settings.kube_context,
        }
        return cls(
            clock=clock,
            gamedays=GameDayPass(admins=settings.platform_admins, **run_pass),
            drills=DrillPass(**run_pass) if drills is True else drills or None,
            digest=DigestPass(
                db=db,
                clock=clock,
                policy=settings.compliance_policy,
                admin_channel=settings.admin_channel,
            ),
            action_items=ActionItemPass(db=db, clock=clock),
            janitor=janitor,
            every=reconcile_every,
            lag=lag,
        )

    @property
    def active(self) -> bool:
        return self.reconciler.active

    def start(self) -> None:
        self.reconciler.start()

    def stop(self) -> None:
        self.reconciler.stop()

    def wake(self) -> None:
        """Game days or drills changed (approved, moved, resolved): tick now, if we schedule."""
        self.reconciler.wake()

    def jobs(self) -> dict[str, datetime]:
        return self.reconciler.jobs()

    def reconcile(self) -> ReconcileReport:
        """One tick: everything due now, then the date jobs brought in line with the tables."""
        reports = self.reconciler.reconcile()
        gamedays = reports.get(self.gamedays.name)
        report = ReconcileReport(
            **{
                f.name: getattr(gamedays, f.name)
                for f in fields(GameDayReport)
                if isinstance(gamedays, GameDayReport)
            }
        )
        drills = reports.get(self.drills.name) if self.drills is not None else None
        if isinstance(drills, DrillReport):
            report.drills = drills
        return report

    def start_gameday(self, gameday_id: int) -> Started | None:
        return self.gamedays.start_gameday(gameday_id)

    def send_digests(self) -> DigestReport | None:
        return self.digest.run() if self.digest is not None else None

    def remind_action_items(self) -> list[str] | None:
        """The action-item pass now: the keys of the items whose owners were reminded."""
        return self.action_items.run() if self.action_items is not None else None

    @property
    def follow_ups(self) -> tuple[RunObserver, ...]:
        """The passes that go on when a run's process exits (a game day's next experiment, a
        drill's reveal): run observers of the bot's worker launcher."""
        return tuple(p for p in (self.gamedays, self.drills) if p is not None)

    def run_finished(self, run_id: int) -> None:
        """A run's process exited: its game day goes on, or its drill is revealed."""
        RunObservers(self.follow_ups).run_ended(run_id)
