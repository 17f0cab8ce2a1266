"""Reminding owners of their action items: once when an item falls due (its due day has come
on its team's clock), then once a week while it stays open."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from bot.findings.conversation import conversation
from bot.findings.models import ActionItem
from bot.findings.service import local_today, open_items_query, overdue_days

__all__ = ["REMIND_EVERY", "remind_due"]

REMIND_EVERY = timedelta(days=7)  # at most one reminder per item in this long


def remind_due(*, session: Session, now: datetime) -> list[str]:
    """Queue a reminder for every open item that is due and was not reminded in the last
    week; the keys of the items reminded.

    Each reminder claims its item with a conditional UPDATE of `reminded_at`, so two replicas
    (or a pass and a retry) remind an item once.
    """
    cutoff = now - REMIND_EVERY
    # The widest due day any timezone has reached; each team's own day is checked below.
    latest = (now + timedelta(days=1)).date()
    candidates = session.scalars(
        open_items_query()
        .where(
            ActionItem.due_on <= latest,
            or_(ActionItem.reminded_at.is_(None), ActionItem.reminded_at <= cutoff),
        )
        .order_by(ActionItem.id)
    ).all()
    reminded: list[str] = []
    for item in candidates:
        if local_today(now, item.finding.service.team.timezone) < item.due_on:
            continue
        claimed = session.execute(
            update(ActionItem)
            .where(
                ActionItem.id == item.id,
                or_(ActionItem.reminded_at.is_(None), ActionItem.reminded_at <= cutoff),
            )
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue
        conversation.get().remind(session, item, overdue_days=overdue_days(item, now=now), now=now)
        reminded.append(item.key)
    return reminded
