"""The game-day pass of the reconciler (bot/scheduling/reconciler.py).

Each approved game day has a date job at its start that hands its first run to a worker
(`start_run(run_id)`), and date jobs at its reminders and its expiry that wake the reconciler.
Each tick expires requests, sends reminders, starts what is due (late within the grace window,
else marks it missed) and moves running game days to their next experiment. Starting a game day
is a conditional change of its row, so a trigger and a tick racing each other start it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Unpack

from sqlalchemy import select

from bot.gamedays.decisions import expire_due
from bot.gamedays.flows import Started, advance, due_to_start, fire, remind_due, running
from bot.gamedays.models import GameDay, GameDayStatus
from bot.gamedays.rules import REMINDERS
from bot.logs import log_context
from bot.runs.events import RunObserver
from bot.runs.models import Run
from bot.scheduling.reconciler import Alarm
from bot.scheduling.steps import RunPass, RunPassArgs

__all__ = ["JOB_PREFIX", "GameDayPass", "GameDayReport"]

JOB_PREFIX = "gameday:"


@dataclass
class GameDayReport:
    """What one pass did (keys of game days, ids of runs handed out)."""

    expired: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)


class GameDayPass(RunPass, RunObserver):
    """Game days as the reconciler sees them: a tick's work, and an alarm at each moment; as a
    run observer, it goes on with a game day's next experiment when a run's process exits."""

    name = "game days"

    def __init__(self, *, admins: frozenset[str], **args: Unpack[RunPassArgs]) -> None:
        super().__init__(**args)
        self._admins = admins

    def run(self) -> GameDayReport:
        """Do everything that is due now."""
        now = self._clock.now()
        report = GameDayReport()
        admins = self._admins
        report.expired = (
            self._step("expire", lambda s: expire_due(session=s, now=now, admins=admins)) or []
        )
        report.reminded = (
            self._step("remind", lambda s: remind_due(session=s, now=now, admins=admins)) or []
        )
        with self._db.session() as session:
            due = due_to_start(session=session, now=now)
            active = running(session=session)
        for gameday_id in due:
            started = self.start_gameday(gameday_id, now=now)
            if started is not None and started.status is GameDayStatus.MISSED:
                report.missed.append(gameday_id)
            elif started is not None and started.run_id is not None:
                report.started.append(started.run_id)
        for gameday_id in active:
            started = self.advance_gameday(gameday_id, now=now)
            if started is not None and started.run_id is not None:
                report.started.append(started.run_id)
            elif started is not None and started.status is not GameDayStatus.RUNNING:
                report.settled.append(gameday_id)
        return report

    def start_gameday(self, gameday_id: int, *, now: datetime | None = None) -> Started | None:
        """The start trigger: start the game day if it is due, and hand out its first run."""
        moment = now or self._clock.now()
        with log_context(gameday_id=gameday_id):
            started = self._step(
                f"start game day {gameday_id}",
                lambda s: fire(
                    session=s,
                    gameday_id=gameday_id,
                    now=moment,
                    grace=self.grace,
                    admins=self._admins,
                    default_context=self._default_context,
                ),
            )
            self._hand_out(started.run_id if started is not None else None)
        return started

    def advance_gameday(self, gameday_id: int, *, now: datetime | None = None) -> Started | None:
        moment = now or self._clock.now()
        with log_context(gameday_id=gameday_id):
            started = self._step(
                f"advance game day {gameday_id}",
                lambda s: advance(
                    session=s, gameday_id=gameday_id, now=moment, admins=self._admins
                ),
            )
            self._hand_out(started.run_id if started is not None else None)
        return started

    def run_ended(self, run_id: int) -> None:
        """A run's process exited: if it belongs to a running game day, go on with the next."""
        with self._db.session() as session:
            gameday_id = session.scalar(select(Run.gameday_id).where(Run.id == run_id))
        if gameday_id is not None:
            self.advance_gameday(gameday_id)

    def alarms(self) -> dict[str, Alarm]:
        """A start job per approved game day; reminders and expiries wake the reconciler."""
        wanted: dict[str, Alarm] = {}
        with self._db.session() as session:
            rows = session.scalars(
                select(GameDay).where(
                    GameDay.status.in_([GameDayStatus.PENDING, GameDayStatus.APPROVED])
                )
            ).all()
            for gameday in rows:
                prefix = f"{JOB_PREFIX}{gameday.key}:r{gameday.round}"
                if gameday.status is GameDayStatus.PENDING:
                    wanted[f"{prefix}:expire"] = (gameday.expires_at, None)
                    continue
                gameday_id = gameday.id
                wanted[f"{prefix}:start"] = (
                    gameday.starts_at,
                    lambda gameday_id=gameday_id: self.start_gameday(gameday_id),  # type: ignore[misc]
                )
                for name, before in REMINDERS:
                    if getattr(gameday, f"reminded_{name}_at") is None:
                        wanted[f"{prefix}:remind-{name}"] = (gameday.starts_at - before, None)
        return wanted
