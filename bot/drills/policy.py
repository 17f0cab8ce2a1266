"""A service's blind-drill opt-in, read from its row into the planner's terms."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bot.catalog.models import Service
from bot.catalog.service import blind_window_of
from bot.drills.planner import DrillPolicy, Window, is_workday
from bot.gamedays.timing import zone

__all__ = ["ServiceDrills", "drills_of", "in_window"]


@dataclass(frozen=True, kw_only=True)
class ServiceDrills:
    """What the planner and the firing need to know of one opted-in service."""

    policy: DrillPolicy
    experiments: tuple[str, ...]
    duration: timedelta
    fingerprint: str  # of the stored opt-in: the plan is redrawn when it changes


def drills_of(service: Service) -> ServiceDrills | None:
    """The service's drill opt-in, or None when it is not opted in (or names no experiment)."""
    blind = blind_window_of(service) if service.offboarded_at is None else None
    if blind is None or not blind.experiments:
        return None
    policy = DrillPolicy(
        window=Window(
            weekdays=frozenset(blind.weekdays),
            start=blind.start,
            end=blind.end,
            timezone=blind.timezone,
        ),
        mean_days=float(blind.mean_days_between),
        min_spacing=timedelta(hours=blind.min_spacing_hours),
        holiday_country=blind.holiday_country,
        freeze_windows=blind.freeze_windows,
    )
    stored = json.dumps(service.blind_window, sort_keys=True)
    return ServiceDrills(
        policy=policy,
        experiments=blind.experiments,
        duration=timedelta(minutes=blind.duration_minutes),
        fingerprint=hashlib.sha256(stored.encode()).hexdigest()[:16],
    )


def in_window(policy: DrillPolicy, moment: datetime) -> bool:
    """Whether `moment` falls inside the window on a workday (the window may have changed)."""
    at = moment.astimezone(zone(policy.window.timezone))
    if not is_workday(policy, at.date()):
        return False
    clock, window = at.time(), policy.window
    return window.start <= clock and (window.end == time.max or clock < window.end)
