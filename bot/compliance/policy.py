"""How a service measures up against the compliance policy (the policy itself is configuration:
bot/config/compliance_policy.py).

Defaults (overridable per tier with CHAOSBOT_COMPLIANCE_POLICY, a YAML file):

- tier 1: a passed game day within 90 days, experiments of at least 3 categories passed within
  those 90 days, and no critical finding open for more than 30 days;
- tier 2: a passed game day within 180 days;
- tiers 3 and 4: advisory (a passed game day within 365 days is reported, never required).

A tier may also allow at most `maxOverdueActionItems` action items past their due day (none
by default): a service with more is *overdue*.

A game day passed when it completed and every run of it completed (the steady state held
before and after). A service is *failing* when a critical finding has been open too long or its
latest game day failed; *overdue* when a requirement is not met; *due soon* when its passed game
day runs out within `due_soon_days`; else *compliant*.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.config.compliance_policy import CompliancePolicy

__all__ = ["ComplianceState", "Evidence", "Standing", "evaluate"]


class Standing(enum.StrEnum):
    COMPLIANT = "compliant"
    DUE_SOON = "due soon"
    OVERDUE = "overdue"
    FAILING = "failing"


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """What the tables say about one service (gathered in bulk by bot/compliance/gather.py)."""

    tier: int
    last_passed_gameday: datetime | None = None
    last_gameday_failed_at: datetime | None = None  # the latest settled game day, if it failed
    # The categories of experiments that passed, each with when it last passed.
    categories_passed: Mapping[str, datetime] = field(default_factory=dict)
    critical_open_since: Sequence[datetime] = ()
    overdue_action_items: int = 0  # open, past their due day on the team's clock


@dataclass(frozen=True, kw_only=True)
class ComplianceState:
    standing: Standing
    advisory: bool
    reasons: tuple[str, ...]
    due_by: datetime | None  # when the passed game day runs out


def evaluate(evidence: Evidence, policy: CompliancePolicy, *, now: datetime) -> ComplianceState:
    """How one service stands against its tier's policy at `now`."""
    tier = policy.for_tier(evidence.tier)
    window = timedelta(days=tier.gameday_within_days)
    failing: list[str] = []
    overdue: list[str] = []
    if tier.critical_open_max_days is not None:
        limit = timedelta(days=tier.critical_open_max_days)
        stale = [since for since in evidence.critical_open_since if now - since > limit]
        if stale:
            days = max((now - since).days for since in stale)
            failing.append(
                f"{len(stale)} critical finding(s) open for more than "
                f"{tier.critical_open_max_days} days (the oldest {days} days)"
            )
    passed = evidence.last_passed_gameday
    failed = evidence.last_gameday_failed_at
    if failed is not None and (passed is None or failed > passed) and now - failed <= window:
        failing.append("its latest game day failed")
    due_by = passed + window if passed is not None else None
    if due_by is None or due_by <= now:
        overdue.append(f"no passed game day in the last {tier.gameday_within_days} days")
    if tier.min_categories:
        recent = sorted(c for c, at in evidence.categories_passed.items() if now - at <= window)
        if len(recent) < tier.min_categories:
            overdue.append(
                f"experiments of {len(recent)} of the {tier.min_categories} categories required "
                f"passed in {tier.gameday_within_days} days"
                + (f" ({', '.join(recent)})" if recent else "")
            )
    allowed = tier.max_overdue_action_items
    if allowed is not None and evidence.overdue_action_items > allowed:
        overdue.append(
            f"{evidence.overdue_action_items} action item(s) past their due day "
            + (f"(at most {allowed} allowed)" if allowed else "(none allowed)")
        )
    if failing:
        standing, reasons = Standing.FAILING, failing + overdue
    elif overdue:
        standing, reasons = Standing.OVERDUE, overdue
    elif due_by is not None and due_by - now <= timedelta(days=policy.due_soon_days):
        standing, reasons = (
            Standing.DUE_SOON,
            [f"its passed game day runs out in {(due_by - now).days} days"],
        )
    else:
        standing, reasons = Standing.COMPLIANT, []
    return ComplianceState(
        standing=standing, advisory=tier.advisory, reasons=tuple(reasons), due_by=due_by
    )
