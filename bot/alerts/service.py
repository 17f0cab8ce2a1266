"""Storing the alerts Alertmanager delivers, and finding a service's among them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.alerts.models import AlertEvent

__all__ = ["ReceivedAlert", "first_matching", "matches", "record_alerts"]


@dataclass(frozen=True, kw_only=True)
class ReceivedAlert:
    """One alert of a webhook delivery, already checked (bot.alertmanager reads the payload)."""

    fingerprint: str
    alertname: str
    labels: Mapping[str, str]
    status: str  # "firing" or "resolved"
    starts_at: datetime
    ends_at: datetime | None


def matches(labels: Mapping[str, str], matchers: Mapping[str, str]) -> bool:
    """Whether an alert is the service's: it carries every matcher's label with that value.

    No matchers match nothing: a service that names none of its alerts has none.
    """
    return bool(matchers) and all(labels.get(k) == v for k, v in matchers.items())


def record_alerts(*, session: Session, alerts: Sequence[ReceivedAlert], now: datetime) -> int:
    """Store a delivery; the same alert again (a repeat, or its resolution) updates its row.

    Returns how many alerts were new. Two deliveries racing on one alert make one row: the
    loser's insert fails on the unique (fingerprint, starts_at) and it updates instead.
    """
    new = 0
    for alert in alerts:
        row = _find(session, alert)
        if row is None:
            try:
                with session.begin_nested():
                    session.add(
                        AlertEvent(
                            fingerprint=alert.fingerprint,
                            alertname=alert.alertname,
                            labels=dict(alert.labels),
                            status=alert.status,
                            starts_at=alert.starts_at,
                            ends_at=alert.ends_at,
                            received_at=now,
                        )
                    )
                new += 1
                continue
            except IntegrityError:
                row = _find(session, alert)
        if row is not None:
            row.status, row.ends_at = alert.status, alert.ends_at
    return new


def _find(session: Session, alert: ReceivedAlert) -> AlertEvent | None:
    return session.scalar(
        select(AlertEvent).where(
            AlertEvent.fingerprint == alert.fingerprint, AlertEvent.starts_at == alert.starts_at
        )
    )


def first_matching(
    *, session: Session, matchers: Mapping[str, str], since: datetime, until: datetime
) -> AlertEvent | None:
    """The first alert of a service that started firing from `since` to `until` (inclusive)."""
    if not matchers:
        return None
    candidates = session.scalars(
        select(AlertEvent)
        .where(AlertEvent.starts_at >= since, AlertEvent.starts_at <= until)
        .order_by(AlertEvent.starts_at, AlertEvent.id)
    )
    # Labels are JSON, queried the same way on SQLite and PostgreSQL by reading them here; a
    # drill's window holds few alerts.
    return next((a for a in candidates if matches(a.labels, matchers)), None)
