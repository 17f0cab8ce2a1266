"""A game day's life after its approval: reminders, the start (or missing it), one experiment
after another, and its end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import ChaosbotError
from bot.gamedays.conversation import Change, GameDayChange, conversation
from bot.gamedays.models import GameDay, GameDayStatus
from bot.gamedays.rules import REMINDERS
from bot.gamedays.service import audit, changed, locked, minutes_text, runs_of
from bot.runs.flows import record_run
from bot.runs.service import transition
from bot.runs.states import ACTIVE, RunStatus, Trigger

__all__ = ["Started", "advance", "due_to_start", "fire", "remind_due", "running"]

# A run handed to a worker that has not left `scheduled` after this long is handed out again
# (the bot died between recording the hand-over and starting the worker).
REDISPATCH_AFTER = timedelta(minutes=2)
# A run ending so stops the experiments after it.
_HALTS_THE_GAMEDAY = frozenset({RunStatus.ABORTED, RunStatus.HALTED, RunStatus.FAILED})


def remind_due(*, session: Session, now: datetime, admins: frozenset[str]) -> list[str]:
    """Send the 24-hour and 15-minute reminders that are due, each once."""
    sent = []
    for name, before in reversed(REMINDERS):  # the latest first: it makes the earlier moot
        column = getattr(GameDay, f"reminded_{name}_at")
        due = session.scalars(
            select(GameDay.key).where(
                GameDay.status == GameDayStatus.APPROVED,
                column.is_(None),
                GameDay.starts_at <= now + before,
                GameDay.starts_at > now,
            )
        ).all()
        for key in due:
            gameday = locked(session, key)
            if gameday.status is not GameDayStatus.APPROVED or getattr(
                gameday, f"reminded_{name}_at"
            ):
                continue
            setattr(gameday, f"reminded_{name}_at", now)
            # The 15-minute reminder makes a 24-hour one that was never sent pointless.
            gameday.reminded_24h_at = gameday.reminded_24h_at or now
            conversation.get().reminded(session, gameday, lead=gameday.starts_at - now, now=now)
            sent.append(f"{key}:{name}")
    return sent


@dataclass(frozen=True)
class Started:
    """What `fire` did: the run to hand to a worker, or none."""

    run_id: int | None
    status: GameDayStatus


def fire(
    *,
    session: Session,
    gameday_id: int,
    now: datetime,
    grace: timedelta,
    admins: frozenset[str],
    default_context: str | None,
) -> Started:
    """Start an approved game day that is due: record its runs and hand out the first.

    Exactly once: the status moves from approved to running under the row lock, so a second
    call (another trigger, another replica) finds it running and does nothing. Too late (the
    bot was down past the grace window) it is marked missed and the team is told.
    """
    gameday = locked(session, gameday_id)
    if gameday.status is not GameDayStatus.APPROVED or gameday.starts_at > now:
        return Started(None, gameday.status)
    late = now - gameday.starts_at
    if late > grace:
        gameday.status = GameDayStatus.MISSED
        gameday.finished_at = now
        gameday.reason = (
            f"chaosbot was not running at the start; {minutes_text(late)} late is too late"
        )
        audit(
            session,
            gameday,
            "chaosbot",
            now,
            "gameday.missed",
            {"late_seconds": int(late.total_seconds())},
        )
        changed(
            session, gameday, now, admins, GameDayChange(kind=Change.MISSED, late=late, grace=grace)
        )
        return Started(None, gameday.status)
    try:
        if gameday.service.offboarded_at is not None:
            raise ChaosbotError(f"{gameday.service.name} was offboarded")
        with session.begin_nested():  # all its runs, or none
            runs = [
                record_run(
                    session,
                    service=gameday.service,
                    experiment=experiment,
                    trigger=Trigger.GAMEDAY,
                    requested_by=gameday.requested_by,
                    now=now,
                    hold_seconds=gameday.hold_seconds,
                    default_context=default_context,
                    scheduled_for=gameday.starts_at,
                )
                for experiment in gameday.experiments
            ]
    except ChaosbotError as cannot:
        # The service changed since the approval (offboarded, its probes removed, an experiment
        # gone from the library): it cannot start, and trying again every pass would not help.
        return _settle(
            session, gameday, now, admins, GameDayStatus.HALTED, f"could not start: {cannot}"
        )
    thread = conversation.get().thread_ts(session, gameday)
    for run in runs:
        run.gameday_id = gameday.id
        run.slack_thread_ts = thread
    gameday.status = GameDayStatus.RUNNING
    gameday.started_at = now
    gameday.current_run_id, gameday.dispatched_at = runs[0].id, now
    audit(session, gameday, "chaosbot", now, "gameday.started", {"runs": [r.key for r in runs]})
    changed(
        session,
        gameday,
        now,
        admins,
        GameDayChange(kind=Change.STARTED, late=late, experiments=len(runs)),
    )
    return Started(runs[0].id, gameday.status)


def advance(*, session: Session, gameday_id: int, now: datetime, admins: frozenset[str]) -> Started:
    """After a run: hand out the next one, or settle the game day when none is left.

    A run that was aborted, halted by its steady state or failed halts the game day: the
    experiments after it are not run.
    """
    gameday = locked(session, gameday_id)
    if gameday.status is not GameDayStatus.RUNNING:
        return Started(None, gameday.status)
    runs = runs_of(session=session, gameday=gameday)
    current = next((r for r in runs if r.id == gameday.current_run_id), None)
    if current is not None and current.status is RunStatus.SCHEDULED:
        if gameday.dispatched_at and now - gameday.dispatched_at < REDISPATCH_AFTER:
            return Started(None, gameday.status)  # its worker is starting
        gameday.dispatched_at = now
        return Started(current.id, gameday.status)
    if current is not None and current.status in ACTIVE:
        return Started(None, gameday.status)
    waiting = [r for r in runs if r.status is RunStatus.SCHEDULED]
    if current is not None and current.status in _HALTS_THE_GAMEDAY:
        for run in waiting:
            transition(
                session=session,
                run_id=run.id,
                to=RunStatus.ABORTED,
                now=now,
                message=f"not run: game day {gameday.key} halted after {current.experiment}",
                values={
                    "reason": f"game day halted after {current.experiment} {current.status.value}"
                },
            )
        return _settle(
            session,
            gameday,
            now,
            admins,
            GameDayStatus.HALTED,
            f"{current.experiment} ended {current.status.value}",
        )
    if waiting:
        gameday.current_run_id, gameday.dispatched_at = waiting[0].id, now
        gameday.version += 1
        return Started(waiting[0].id, gameday.status)
    return _settle(session, gameday, now, admins, GameDayStatus.COMPLETED, None)


def _settle(
    session: Session,
    gameday: GameDay,
    now: datetime,
    admins: frozenset[str],
    status: GameDayStatus,
    reason: str | None,
) -> Started:
    gameday.status, gameday.finished_at, gameday.reason = status, now, reason
    outcomes = {r.experiment: r.status.value for r in runs_of(session=session, gameday=gameday)}
    audit(session, gameday, "chaosbot", now, f"gameday.{status.value}", {"runs": outcomes})
    changed(session, gameday, now, admins, GameDayChange(kind=Change.SETTLED))
    return Started(None, status)


def due_to_start(*, session: Session, now: datetime) -> list[int]:
    """Approved game days whose start has come."""
    return list(
        session.scalars(
            select(GameDay.id).where(
                GameDay.status == GameDayStatus.APPROVED, GameDay.starts_at <= now
            )
        ).all()
    )


def running(*, session: Session) -> list[int]:
    return list(
        session.scalars(select(GameDay.id).where(GameDay.status == GameDayStatus.RUNNING)).all()
    )
