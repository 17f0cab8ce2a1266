"""The drill pass of the reconciler (bot/scheduling/reconciler.py): plan, fire, announce,
reveal.

Each tick plans the days ahead, fires what is due, raises the alerts of drills that waited for
the team's monitoring (alerting.announceAfterMinutes) and found none, and reveals what ended; each planned drill
has a date job at its minute, so it fires on that minute and not at the next tick. Every step
locks the drill's row, so a job and a tick racing each other fire it once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Unpack

from sqlalchemy import select

from bot.drills.flows import active, announce, due, fire, plan_ahead, redispatch, settle
from bot.drills.models import Drill, DrillStatus
from bot.logs import log_context
from bot.runs.events import RunObserver
from bot.scheduling.reconciler import Alarm
from bot.scheduling.steps import RunPass, RunPassArgs

__all__ = ["JOB_PREFIX", "DrillPass", "DrillReport"]

JOB_PREFIX = "drill:"


@dataclass
class DrillReport:
    """What one pass did (keys of drills, ids of runs handed out)."""

    planned: list[str] = field(default_factory=list)
    fired: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    announced: list[str] = field(default_factory=list)  # alerts raised after waiting
    revealed: list[str] = field(default_factory=list)


class DrillPass(RunPass, RunObserver):
    """Blind drills as the reconciler sees them: a tick's work, and an alarm at each drill; as
    a run observer, it reveals a drill when its run's process exits."""

    name = "drills"

    def __init__(self, *, rng: random.Random | None = None, **args: Unpack[RunPassArgs]) -> None:
        super().__init__(**args)
        # Unpredictable unless a test seeds it: teams must not be able to guess the next drill.
        self.rng = rng or random.SystemRandom()

    def run(self) -> DrillReport:
        return self.reconcile(self._clock.now())

    def alarms(self) -> dict[str, Alarm]:
        return self.jobs_wanted()

    def reconcile(self, now: datetime) -> DrillReport:
        report = DrillReport()
        planned = self._step("plan", lambda s: plan_ahead(session=s, now=now, rng=self.rng))
        report.planned = [d.key for d in planned or [] if d.status is DrillStatus.PLANNED]
        with self._db.session() as session:
            to_fire = due(session=session, now=now)
            under_way = active(session=session)
        for drill_id in to_fire:
            run_id = self.fire_drill(drill_id, now=now)
            if run_id is not None:
                report.fired.append(run_id)
            else:
                report.skipped.extend(self._skipped(drill_id))
        for drill_id in under_way:
            self._follow(drill_id, now=now, report=report)
        for run_id in self._step("redispatch", lambda s: redispatch(session=s, now=now)) or []:
            self._hand_out(run_id)
        return report

    def _follow(self, drill_id: int, *, now: datetime, report: DrillReport) -> None:
        """A drill under way: its alert, if it waited and none of the team's fired; its reveal,
        if its run ended."""
        with log_context(drill_id=drill_id):
            if self._step("announce", lambda s: announce(session=s, drill_id=drill_id, now=now)):
                report.announced.extend(self._keys([drill_id]))
            if self._step("reveal", lambda s: settle(session=s, drill_id=drill_id, now=now)):
                report.revealed.extend(self._keys([drill_id]))

    def fire_drill(self, drill_id: int, *, now: datetime | None = None) -> int | None:
        """The date job at a drill's minute (and the tick's way to fire a due one)."""
        moment = now or self._clock.now()
        with log_context(drill_id=drill_id):
            run_id = self._step(
                f"fire drill {drill_id}",
                lambda s: fire(
                    session=s,
                    drill_id=drill_id,
                    now=moment,
                    grace=self.grace,
                    default_context=self._default_context,
                ),
            )
            self._hand_out(run_id)
        return run_id

    def run_ended(self, run_id: int) -> None:
        """A run's process exited: if the run was a drill's, reveal the drill."""
        with self._db.session() as session:
            drill_id = session.scalar(select(Drill.id).where(Drill.run_id == run_id))
        if drill_id is not None:
            now = self._clock.now()
            with log_context(run_id=run_id, drill_id=drill_id):
                self._step("reveal", lambda s: settle(session=s, drill_id=drill_id, now=now))

    def jobs_wanted(self) -> dict[str, Alarm]:
        """A date job at every planned drill's minute."""
        with self._db.session() as session:
            rows = session.execute(
                select(Drill.id, Drill.key, Drill.planned_at).where(
                    Drill.status == DrillStatus.PLANNED
                )
            ).all()
        return {
            f"{JOB_PREFIX}{key}": (at, lambda drill_id=drill_id: self.fire_drill(drill_id))  # type: ignore[misc]
            for drill_id, key, at in rows
        }

    def _skipped(self, drill_id: int) -> list[str]:
        with self._db.session() as session:
            drill = session.get(Drill, drill_id)
            return [drill.key] if drill and drill.status is DrillStatus.SKIPPED else []

    def _keys(self, ids: list[int]) -> list[str]:
        with self._db.session() as session:
            return list(session.scalars(select(Drill.key).where(Drill.id.in_(ids))).all())
