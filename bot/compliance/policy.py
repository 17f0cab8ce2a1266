"""The compliance policy: what each tier must show, and how a service measures up.

Defaults (overridable per tier with CHAOSBOT_COMPLIANCE_POLICY, a YAML file):

- tier 1: a passed game day within 90 days, experiments of at least 3 categories passed within
  those 90 days, and no critical finding open for more than 30 days;
- tier 2: a passed game day within 180 days;
- tiers 3 and 4: advisory (a passed game day within 365 days is reported, never required).

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
from pathlib import Path
from typing import Any

import yaml

from bot.errors import SettingsError

__all__ = [
    "DEFAULT_POLICY",
    "CompliancePolicy",
    "ComplianceState",
    "Evidence",
    "Standing",
    "TierPolicy",
    "evaluate",
    "load_policy",
]

POLICY_ENV = "CHAOSBOT_COMPLIANCE_POLICY"


class Standing(enum.StrEnum):
    COMPLIANT = "compliant"
    DUE_SOON = "due soon"
    OVERDUE = "overdue"
    FAILING = "failing"


@dataclass(frozen=True, kw_only=True)
class TierPolicy:
    gameday_within_days: int
    min_categories: int = 0
    critical_open_max_days: int | None = None
    advisory: bool = False


@dataclass(frozen=True, kw_only=True)
class CompliancePolicy:
    tiers: Mapping[int, TierPolicy]
    due_soon_days: int = 14

    def for_tier(self, tier: int) -> TierPolicy:
        return self.tiers[tier]


DEFAULT_POLICY = CompliancePolicy(
    tiers={
        1: TierPolicy(gameday_within_days=90, min_categories=3, critical_open_max_days=30),
        2: TierPolicy(gameday_within_days=180),
        3: TierPolicy(gameday_within_days=365, advisory=True),
        4: TierPolicy(gameday_within_days=365, advisory=True),
    }
)


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """What the tables say about one service (gathered in bulk by bot/compliance/gather.py)."""

    tier: int
    last_passed_gameday: datetime | None = None
    last_gameday_failed_at: datetime | None = None  # the latest settled game day, if it failed
    # The categories of experiments that passed, each with when it last passed.
    categories_passed: Mapping[str, datetime] = field(default_factory=dict)
    critical_open_since: Sequence[datetime] = ()


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


def load_policy(environ: Mapping[str, str]) -> CompliancePolicy:
    """The default policy, with the tiers a CHAOSBOT_COMPLIANCE_POLICY file overrides."""
    path = environ.get(POLICY_ENV, "").strip()
    if not path:
        return DEFAULT_POLICY
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise SettingsError(POLICY_ENV, f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(POLICY_ENV, f"{path} is not YAML: {exc}") from None
    return parse_policy(raw, source=path)


def parse_policy(raw: Any, *, source: str) -> CompliancePolicy:
    """`{dueSoonDays: 14, tiers: {1: {gameDayWithinDays: 60, minCategories: 4, ...}}}`."""
    if not isinstance(raw, Mapping):
        raise SettingsError(POLICY_ENV, f"{source}: must be a mapping with `tiers`")
    tiers = dict(DEFAULT_POLICY.tiers)
    overrides = raw.get("tiers") or {}
    if not isinstance(overrides, Mapping):
        raise SettingsError(POLICY_ENV, f"{source}: tiers must be a mapping of tier to rules")
    for key, rules in overrides.items():
        tier = int(key) if str(key).isdigit() else 0
        if tier not in tiers or not isinstance(rules, Mapping):
            raise SettingsError(
                POLICY_ENV, f"{source}: tiers.{key}: must be a tier 1 to 4 with rules"
            )
        base = tiers[tier]
        unknown = set(rules) - {
            "gameDayWithinDays",
            "minCategories",
            "criticalOpenMaxDays",
            "advisory",
        }
        if unknown:
            raise SettingsError(
                POLICY_ENV, f"{source}: tiers.{key}: unknown {', '.join(sorted(unknown))}"
            )
        tiers[tier] = TierPolicy(
            gameday_within_days=_days(
                rules, "gameDayWithinDays", base.gameday_within_days, source, key
            ),
            min_categories=_days(rules, "minCategories", base.min_categories, source, key, low=0),
            critical_open_max_days=(
                _days(rules, "criticalOpenMaxDays", base.critical_open_max_days or 0, source, key)
                if rules.get("criticalOpenMaxDays", base.critical_open_max_days) is not None
                else None
            ),
            advisory=bool(rules.get("advisory", base.advisory)),
        )
    due_soon = raw.get("dueSoonDays", DEFAULT_POLICY.due_soon_days)
    if isinstance(due_soon, bool) or not isinstance(due_soon, int) or not 0 <= due_soon <= 365:
        raise SettingsError(POLICY_ENV, f"{source}: dueSoonDays must be a whole number 0..365")
    return CompliancePolicy(tiers=tiers, due_soon_days=due_soon)


def _days(
    rules: Mapping[str, Any], name: str, default: int, source: str, tier: Any, *, low: int = 1
) -> int:
    value = rules.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 3650:
        raise SettingsError(
            POLICY_ENV, f"{source}: tiers.{tier}.{name} must be a whole number {low}..3650"
        )
    return value
