"""The compliance policy per tier, and the resilience score's formula, on hand-made evidence."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.compliance.policy import Evidence, Standing, evaluate
from bot.compliance.score import Verdict, score, trend
from bot.config.compliance_policy import DEFAULT_POLICY, load_policy, parse_policy
from bot.errors import SettingsError

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
THREE = {"pods": NOW - 10 * DAY, "network": NOW - 20 * DAY, "resources": NOW - 30 * DAY}


def _state(**evidence: object) -> tuple[Standing, tuple[str, ...]]:
    state = evaluate(Evidence(**evidence), DEFAULT_POLICY, now=NOW)  # type: ignore[arg-type]
    return state.standing, state.reasons


def test_tier_1_needs_a_recent_passed_game_day_and_three_categories() -> None:
    assert _state(tier=1, last_passed_gameday=NOW - 30 * DAY, categories_passed=THREE)[0] is (
        Standing.COMPLIANT
    )
    standing, reasons = _state(tier=1, last_passed_gameday=NOW - 91 * DAY, categories_passed=THREE)
    assert standing is Standing.OVERDUE
    assert reasons == ("no passed game day in the last 90 days",)
    two = {"pods": NOW - DAY, "network": NOW - DAY, "nodes": NOW - 100 * DAY}
    standing, reasons = _state(tier=1, last_passed_gameday=NOW - DAY, categories_passed=two)
    assert standing is Standing.OVERDUE
    assert reasons == (
        "experiments of 2 of the 3 categories required passed in 90 days (network, pods)",
    )


def test_due_soon_within_14_days_of_running_out() -> None:
    standing, reasons = _state(tier=1, last_passed_gameday=NOW - 80 * DAY, categories_passed=THREE)
    assert standing is Standing.DUE_SOON and reasons == ("its passed game day runs out in 10 days",)
    assert _state(tier=2, last_passed_gameday=NOW - 160 * DAY)[0] is Standing.COMPLIANT
    assert _state(tier=2, last_passed_gameday=NOW - 170 * DAY)[0] is Standing.DUE_SOON
    assert _state(tier=2, last_passed_gameday=NOW - 181 * DAY)[0] is Standing.OVERDUE


def test_failing_a_critical_finding_open_too_long_or_a_failed_latest_game_day() -> None:
    standing, reasons = _state(
        tier=1,
        last_passed_gameday=NOW - DAY,
        categories_passed=THREE,
        critical_open_since=(NOW - 31 * DAY, NOW - 5 * DAY),
    )
    assert standing is Standing.FAILING
    assert reasons == ("1 critical finding(s) open for more than 30 days (the oldest 31 days)",)
    fresh = _state(
        tier=1,
        last_passed_gameday=NOW - DAY,
        categories_passed=THREE,
        critical_open_since=(NOW - 29 * DAY,),
    )
    assert fresh[0] is Standing.COMPLIANT
    failed = _state(tier=2, last_passed_gameday=NOW - 20 * DAY, last_gameday_failed_at=NOW - DAY)
    assert failed == (Standing.FAILING, ("its latest game day failed",))
    recovered = _state(tier=2, last_passed_gameday=NOW - DAY, last_gameday_failed_at=NOW - 2 * DAY)
    assert recovered[0] is Standing.COMPLIANT


def test_tiers_3_and_4_are_advisory() -> None:
    state = evaluate(Evidence(tier=3), DEFAULT_POLICY, now=NOW)
    assert state.advisory and state.standing is Standing.OVERDUE
    assert not evaluate(Evidence(tier=2), DEFAULT_POLICY, now=NOW).advisory


def test_the_policy_file_overrides_tiers() -> None:
    policy = parse_policy(
        {"dueSoonDays": 7, "tiers": {1: {"gameDayWithinDays": 60, "minCategories": 4}}},
        source="policy.yaml",
    )
    assert policy.tiers[1].gameday_within_days == 60 and policy.tiers[1].min_categories == 4
    assert policy.tiers[1].critical_open_max_days == 30  # kept from the default
    assert policy.tiers[2] == DEFAULT_POLICY.tiers[2] and policy.due_soon_days == 7
    with pytest.raises(SettingsError, match=r"tiers\.1\.gameDayWithinDays"):
        parse_policy({"tiers": {1: {"gameDayWithinDays": "soon"}}}, source="p")
    with pytest.raises(SettingsError, match="unknown minTests"):
        parse_policy({"tiers": {2: {"minTests": 3}}}, source="p")
    with pytest.raises(SettingsError, match=r"tiers\.7"):
        parse_policy({"tiers": {7: {}}}, source="p")
    assert load_policy({}) is DEFAULT_POLICY
    with pytest.raises(SettingsError, match="cannot read"):
        load_policy({"CHAOSBOT_COMPLIANCE_POLICY": "/nonexistent/policy.yaml"})


def test_the_policy_may_allow_no_overdue_action_item_for_a_tier() -> None:
    policy = parse_policy({"tiers": {1: {"maxOverdueActionItems": 0}}}, source="policy.yaml")
    assert policy.tiers[1].max_overdue_action_items == 0
    assert policy.tiers[2].max_overdue_action_items is None  # not required unless configured
    compliant = {"tier": 1, "last_passed_gameday": NOW - DAY, "categories_passed": THREE}
    assert evaluate(Evidence(**compliant), policy, now=NOW).standing is Standing.COMPLIANT  # type: ignore[arg-type]
    late = evaluate(Evidence(**compliant, overdue_action_items=2), policy, now=NOW)  # type: ignore[arg-type]
    assert late.standing is Standing.OVERDUE
    assert late.reasons == ("2 action item(s) past their due day (none allowed)",)
    # Without the option, overdue action items do not change the standing.
    default = evaluate(Evidence(**compliant, overdue_action_items=2), DEFAULT_POLICY, now=NOW)  # type: ignore[arg-type]
    assert default.standing is Standing.COMPLIANT
    some = parse_policy({"tiers": {2: {"maxOverdueActionItems": 3}}}, source="p")
    assert evaluate(
        Evidence(tier=2, last_passed_gameday=NOW - DAY, overdue_action_items=4), some, now=NOW
    ).reasons == ("4 action item(s) past their due day (at most 3 allowed)",)
    with pytest.raises(SettingsError, match=r"tiers\.1\.maxOverdueActionItems"):
        parse_policy({"tiers": {1: {"maxOverdueActionItems": -1}}}, source="p")
    with pytest.raises(SettingsError, match=r"tiers\.1\.maxOverdueActionItems"):
        parse_policy({"tiers": {1: {"maxOverdueActionItems": True}}}, source="p")


RISKS = {"pod-kill": "medium", "zone-outage": "high", "cpu-pressure": "low"}


def test_the_score_weights_risk_and_counts_never_run_experiments_as_zero() -> None:
    suite = ["pod-kill", "zone-outage", "cpu-pressure"]  # weights 2, 3, 1: total 6
    fresh = [Verdict("pod-kill", True, NOW), Verdict("zone-outage", True, NOW)]
    assert score(suite, fresh, risks=RISKS, as_of=NOW) == pytest.approx(100 * 5 / 6, abs=0.05)
    failed = [*fresh, Verdict("zone-outage", False, NOW + timedelta(seconds=1))]
    assert score(suite, failed, risks=RISKS, as_of=NOW + DAY) == pytest.approx(
        100 * 2 * 0.5 ** (1 / 90) / 6, abs=0.05
    )  # only the latest verdict of an experiment counts
    assert score([], [], risks=RISKS, as_of=NOW) is None


def test_a_pass_halves_every_90_days_and_later_verdicts_are_ignored() -> None:
    verdicts = [Verdict("pod-kill", True, NOW)]
    assert score(["pod-kill"], verdicts, risks=RISKS, as_of=NOW) == 100.0
    assert score(["pod-kill"], verdicts, risks=RISKS, as_of=NOW + 90 * DAY) == 50.0
    assert score(["pod-kill"], verdicts, risks=RISKS, as_of=NOW + 180 * DAY) == 25.0
    assert score(["pod-kill"], verdicts, risks=RISKS, as_of=NOW - DAY) == 0.0
    weekly = trend(
        ["pod-kill"], verdicts, risks=RISKS, week_ends=[NOW - 7 * DAY, NOW, NOW + 7 * DAY]
    )
    assert weekly == [0.0, 100.0, pytest.approx(100 * 0.5 ** (7 / 90), abs=0.05)]


def test_the_trend_is_the_score_at_each_week_end() -> None:
    # trend reads the verdicts once for all the weeks: it must give what score gives at each,
    # whatever the order of the verdicts (equal times included) and of the week ends.
    rng = random.Random(7)
    experiments = [*RISKS, "unknown-to-the-library"]
    for _ in range(200):
        verdicts = [
            Verdict(rng.choice(experiments), rng.random() < 0.6, NOW - rng.randrange(60) * DAY)
            for _ in range(rng.randrange(12))
        ]
        suite = rng.sample(experiments, rng.randrange(len(experiments) + 1))
        ends = [NOW - rng.randrange(-7, 70) * DAY for _ in range(rng.randrange(1, 9))]
        assert trend(suite, verdicts, risks=RISKS, week_ends=ends) == [
            score(suite, verdicts, risks=RISKS, as_of=end) for end in ends
        ]
