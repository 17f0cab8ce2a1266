"""Reminding owners of their action items: once when an item falls due (its due day has come
on its team's clock), then once a week while it stays open."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, contains_eager

from bot.catalog.models import Service
from bot.findings.conversation import conversation
from bot.findings.models import ActionItem, Finding
from bot.findings.service import local_today, open_items_query, overdue_days

__all__ = ["REMIND_EVERY", "remind_due"]

REMIND_EVERY = timedelta(days=7)  # at most one reminder per item in this long
_CLAIM_PAGE = 2000  # items claimed per UPDATE


def remind_due(*, session: Session, now: datetime) -> list[str]:
    """Queue a reminder for every open item that is due and was not reminded in the last
    week; the keys of the items reminded.

    The reminders claim their items with a conditional UPDATE of `reminded_at` (RETURNING the
    ones it changed), so two replicas (or a pass and a retry) remind an item once; the items
    are read, claimed and reminded in a fixed number of statements.
    """
    cutoff = now - REMIND_EVERY
    # The widest due day any timezone has reached; each team's own day is checked below.
    latest = (now + timedelta(days=1)).date()
    not_reminded = or_(ActionItem.reminded_at.is_(None), ActionItem.reminded_at <= cutoff)
    # The finding, service and team of every item come with it (the reminder names them).
    candidates = (
        session.scalars(
            open_items_query()
            .where(ActionItem.due_on <= latest, not_reminded)
            .options(
                contains_eager(ActionItem.finding)
                .contains_eager(Finding.service)
                .joinedload(Service.team)
            )
            .order_by(ActionItem.id)
        )
        .unique()
        .all()
    )
    due = [i for i in candidates if local_today(now, i.finding.service.team.timezone) >= i.due_on]
    claimed: set[int] = set()
    for start in range(0, len(due), _CLAIM_PAGE):
        page = [item.id for item in due[start : start + _CLAIM_PAGE]]
        claimed.update(
            session.scalars(
                update(ActionItem)
                .where(ActionItem.id.in_(page), not_reminded)
                .values(reminded_at=now)
                .returning(ActionItem.id)
                .execution_options(synchronize_session=False)
            )
        )
    reminders = [(item, overdue_days(item, now=now)) for item in due if item.id in claimed]
    if reminders:
        conversation.get().remind(session, reminders, now=now)
    return [item.key for item, _ in reminders]
