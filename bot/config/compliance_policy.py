"""The compliance policy as configured: what each tier must show (the defaults, overridden per
tier by CHAOSBOT_COMPLIANCE_POLICY, a YAML file). Part of the settings; bot/compliance/policy.py
measures services against it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.errors import SettingsError

__all__ = [
    "DEFAULT_POLICY",
    "POLICY_ENV",
    "CompliancePolicy",
    "TierPolicy",
    "load_policy",
    "parse_policy",
]

POLICY_ENV = "CHAOSBOT_COMPLIANCE_POLICY"


@dataclass(frozen=True, kw_only=True)
class TierPolicy:
    gameday_within_days: int
    min_categories: int = 0
    critical_open_max_days: int | None = None
    # At most this many action items past their due day (None: not required).
    max_overdue_action_items: int | None = None
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
    """`{dueSoonDays: 14, tiers: {1: {gameDayWithinDays: 60, minCategories: 4, ...}}}`; a
    tier's `maxOverdueActionItems: 0` requires that none of its services' action items is
    past its due day."""
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
            "maxOverdueActionItems",
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
            max_overdue_action_items=(
                _days(
                    rules,
                    "maxOverdueActionItems",
                    base.max_overdue_action_items or 0,
                    source,
                    key,
                    low=0,
                )
                if rules.get("maxOverdueActionItems", base.max_overdue_action_items) is not None
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
