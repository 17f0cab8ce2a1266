"""People's decisions on game days: ask, approve, reject, cancel, reschedule; and expiry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.catalog.service import find_service
from bot.gamedays.conversation import Change, GameDayChange, conversation
from bot.gamedays.models import GameDay, GameDayApproval, GameDayStatus
from bot.gamedays.rules import (
    MAX_REASON,
    REMINDERS,
    Decision,
    GameDayPlan,
    NotAllowedToDecide,
    RequestInvalid,
    check_decider,
    check_may_change,
    check_may_request,
    check_plan,
    deciders,
)
from bot.gamedays.service import audit, changed, locked, new_gameday_key, still_needed

__all__ = [
    "approve",
    "cancel",
    "expire_due",
    "record_preview",
    "reject",
    "request_gameday",
    "reschedule",
]


def request_gameday(
    *,
    session: Session,
    service: str,
    plan: GameDayPlan,
    requested_by: str,
    now: datetime,
    admins: frozenset[str],
    approval_ttl: timedelta,
    preview: dict[str, Any],
) -> GameDay:
    """Record a pending game day and queue its approval message to the service's deciders."""
    row = find_service(session=session, name=service)
    check_may_request(session=session, service=row, user_id=requested_by, admins=admins)
    check_plan(session=session, service=row, plan=plan, now=now)
    gameday = GameDay(
        key=new_gameday_key(),
        service=row,
        status=GameDayStatus.PENDING,
        experiments=list(plan.experiments),
        starts_at=plan.starts_at,
        duration_minutes=plan.duration_minutes,
        hold_seconds=plan.hold_seconds,
        timezone=row.team.timezone,
        notes=plan.notes.strip(),
        requested_by=requested_by,
        requested_at=now,
        approvals_needed=2 if row.tier == 1 else 1,
        round=1,
        expires_at=min(plan.starts_at, now + approval_ttl),
        version=1,
        preview=preview,
        slack_channel=row.team.slack_channel_id,
    )
    session.add(gameday)
    session.flush()
    audit(session, gameday, requested_by, now, "gameday.requested", _plan_detail(gameday))
    conversation.get().requested(
        session, gameday, deciders=deciders(session=session, service=row, admins=admins), now=now
    )
    return gameday


def approve(
    *, session: Session, ref: str, user_id: str, now: datetime, admins: frozenset[str]
) -> Decision:
    """One person's approval; the last one needed approves the game day."""
    gameday = locked(session, ref)
    if (refusal := _undecidable(session, gameday, now, admins)) is not None:
        return refusal
    check_decider(session, gameday, user_id, admins)
    if user_id == gameday.requested_by:
        raise NotAllowedToDecide("You asked for this game day: someone else has to approve it.")
    approvers = {a.slack_user_id for a in gameday.current_approvals()}
    if user_id in approvers:
        return Decision(
            False, f"You already approved game day {gameday.key}. {still_needed(gameday)}"
        )
    gameday.approvals.append(
        GameDayApproval(round=gameday.round, slack_user_id=user_id, approved_at=now)
    )
    session.flush()
    have = len(gameday.current_approvals())
    if have < gameday.approvals_needed:
        audit(session, gameday, user_id, now, "gameday.approval", {"approvals": have})
        changed(session, gameday, now, admins, GameDayChange(kind=Change.APPROVAL, actor=user_id))
        return Decision(True, f"Approved. {still_needed(gameday)}")
    gameday.status = GameDayStatus.APPROVED
    gameday.decided_by, gameday.decided_at = user_id, now
    # A reminder whose moment has passed already is not sent late.
    for name, before in REMINDERS:
        if gameday.starts_at - before <= now:
            setattr(gameday, f"reminded_{name}_at", now)
    approvers_now = [a.slack_user_id for a in gameday.current_approvals()]
    audit(session, gameday, user_id, now, "gameday.approved", {"approvers": approvers_now})
    changed(
        session,
        gameday,
        now,
        admins,
        GameDayChange(kind=Change.APPROVED, actor=user_id, approvers=tuple(approvers_now)),
    )
    return Decision(True, f"Approved: game day {gameday.key} is scheduled.")


def reject(
    *, session: Session, ref: str, user_id: str, reason: str, now: datetime, admins: frozenset[str]
) -> Decision:
    """Turn the request down, with a reason for the requester."""
    reason = reason.strip()
    if not reason:
        raise RequestInvalid({"reason": "Say why, so the requester knows what to change."})
    if len(reason) > MAX_REASON:
        raise RequestInvalid({"reason": f"At most {MAX_REASON} characters."})
    gameday = locked(session, ref)
    if (refusal := _undecidable(session, gameday, now, admins)) is not None:
        return refusal
    check_decider(session, gameday, user_id, admins)
    gameday.status = GameDayStatus.REJECTED
    gameday.decided_by, gameday.decided_at, gameday.reason = user_id, now, reason
    audit(session, gameday, user_id, now, "gameday.rejected", {"reason": reason})
    changed(session, gameday, now, admins, GameDayChange(kind=Change.REJECTED, actor=user_id))
    return Decision(True, f"Rejected game day {gameday.key}.")


def cancel(
    *, session: Session, ref: str, user_id: str, now: datetime, admins: frozenset[str]
) -> Decision:
    """Call off a game day that has not started."""
    gameday = locked(session, ref)
    if gameday.status not in (GameDayStatus.PENDING, GameDayStatus.APPROVED):
        return Decision(
            False, f"Game day {gameday.key} is {gameday.status.value}: nothing to cancel."
        )
    check_may_change(session, gameday, user_id, admins, "cancel")
    gameday.status = GameDayStatus.CANCELLED
    gameday.decided_by, gameday.decided_at = user_id, now
    audit(session, gameday, user_id, now, "gameday.cancelled")
    changed(session, gameday, now, admins, GameDayChange(kind=Change.CANCELLED, actor=user_id))
    return Decision(True, f"Cancelled game day {gameday.key}.")


RESCHEDULABLE = frozenset(
    {GameDayStatus.PENDING, GameDayStatus.APPROVED, GameDayStatus.EXPIRED, GameDayStatus.MISSED}
)


def record_preview(
    *,
    session: Session,
    ref: str,
    token: str,
    preview: dict[str, Any],
    now: datetime,
    admins: frozenset[str],
) -> bool:
    """Store the preview the cluster answered after the ack in place of the pending one that
    names the same token; False (nothing written) when another answer or a later change
    replaced it already."""
    gameday = locked(session, ref)
    if (gameday.preview or {}).get("pending") != token:
        return False
    gameday.preview = preview
    changed(session, gameday, now, admins, GameDayChange(kind=Change.PREVIEWED))
    return True


def reschedule(
    *,
    session: Session,
    ref: str,
    user_id: str,
    starts_at: datetime,
    duration_minutes: int,
    now: datetime,
    admins: frozenset[str],
    approval_ttl: timedelta,
    preview: dict[str, Any] | None = None,
) -> Decision:
    """Move a game day: a new round, so every approval must be given again."""
    gameday = locked(session, ref)
    if gameday.status not in RESCHEDULABLE:
        return Decision(
            False, f"Game day {gameday.key} is {gameday.status.value}: it cannot be moved."
        )
    check_may_change(session, gameday, user_id, admins, "reschedule")
    plan = GameDayPlan(
        experiments=tuple(gameday.experiments),
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        hold_seconds=gameday.hold_seconds,
        notes=gameday.notes,
    )
    check_plan(session=session, service=gameday.service, plan=plan, now=now, exclude=gameday.id)
    before = gameday.starts_at
    gameday.starts_at, gameday.duration_minutes = starts_at, duration_minutes
    gameday.round += 1
    gameday.status = GameDayStatus.PENDING
    gameday.expires_at = min(starts_at, now + approval_ttl)
    gameday.decided_by = gameday.decided_at = gameday.reason = None
    gameday.reminded_24h_at = gameday.reminded_15m_at = None
    if preview is not None:
        gameday.preview = preview
    audit(
        session,
        gameday,
        user_id,
        now,
        "gameday.rescheduled",
        {"from": before.isoformat(), "to": starts_at.isoformat(), "round": gameday.round},
    )
    changed(session, gameday, now, admins, GameDayChange(kind=Change.RESCHEDULED, actor=user_id))
    return Decision(True, f"Moved game day {gameday.key}; it needs approving again.")


def _undecidable(
    session: Session, gameday: GameDay, now: datetime, admins: frozenset[str]
) -> Decision | None:
    """A refusal when the game day is not waiting for a decision (expiring it if it is due)."""
    if gameday.status is GameDayStatus.PENDING and now >= gameday.expires_at:
        _expire(session, gameday, now, admins)
    if gameday.status is not GameDayStatus.PENDING:
        return Decision(False, f"Game day {gameday.key} is {gameday.status.value} already.")
    return None


def expire_due(*, session: Session, now: datetime, admins: frozenset[str]) -> list[str]:
    """Expire every pending request whose time to live (or start) has passed."""
    due = session.scalars(
        select(GameDay.key).where(
            GameDay.status == GameDayStatus.PENDING, GameDay.expires_at <= now
        )
    ).all()
    expired = []
    for key in due:
        gameday = locked(session, key)
        if gameday.status is GameDayStatus.PENDING and gameday.expires_at <= now:
            _expire(session, gameday, now, admins)
            expired.append(key)
    return expired


def _expire(session: Session, gameday: GameDay, now: datetime, admins: frozenset[str]) -> None:
    gameday.status = GameDayStatus.EXPIRED
    gameday.decided_at = now
    gameday.reason = "not approved in time"
    audit(session, gameday, "chaosbot", now, "gameday.expired")
    changed(session, gameday, now, admins, GameDayChange(kind=Change.EXPIRED))


def _plan_detail(gameday: GameDay) -> dict[str, Any]:
    return {
        "experiments": list(gameday.experiments),
        "starts_at": gameday.starts_at.isoformat(),
        "duration_minutes": gameday.duration_minutes,
        "hold_seconds": gameday.hold_seconds,
        "approvals_needed": gameday.approvals_needed,
    }
