"""The onboarding form's steady-state and alerting fields alone: alert labels written and read
back, where each field's errors land, what a modal without the fields says."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.catalog.spec import CatalogPolicy, FieldError, ServiceSpec
from bot.catalog.spec_parse import parse_service_spec
from bot.slack.ids import OnboardBlock as B
from bot.slack.onboarding_steady import matchers_text, read_matchers, steady_state_blocks
from bot.slack.onboarding_view import block_errors, read_form
from bot.testing.slack.forms import onboarding_form
from tests.fixtures.declarations import checkout_declaration

POLICY = CatalogPolicy(allowed_namespaces=frozenset({"payments"}), prometheus=True)

labels = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,20}", fullmatch=True)
values = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)


@given(st.dictionaries(labels, values, max_size=5))
def test_alert_labels_read_back_as_written(matchers: dict[str, str]) -> None:
    """Any labels chaos.yaml may declare (commas, quotes, backslashes, spaces in values) come
    back from the Edit form's text unchanged."""
    assert read_matchers(matchers_text(matchers)) == (matchers, [])


def test_alert_labels_as_people_type_them() -> None:
    assert read_matchers(" service = checkout ,, team=pay ments, ") == (
        {"service": "checkout", "team": "pay ments"},
        [],
    )
    assert read_matchers('team="a, b", x') == (
        {"team": "a, b"},
        ["'x' is not label=value: write pairs like service=checkout, team=payments"],
    )
    assert read_matchers('team="unclosed')[1] == [
        "'team=\"unclosed' is not label=value: write pairs like service=checkout, team=payments"
    ]


def test_each_fields_errors_land_on_its_block() -> None:
    paths = {
        "steadyState.intervalSeconds": B.WATCH_INTERVAL,
        "steadyState.failAfter": B.WATCH_FAIL_AFTER,
        "steadyState.probes[3].prometheus.query": B.PROMETHEUS_QUERY,
        "steadyState.probes[0].prometheus.max": B.PROMETHEUS_MAX,
        "steadyState.probes[12].prometheus.min": B.PROMETHEUS_MIN,
        "steadyState.probes[1].pods.minReadyPercent": B.PODS_MIN_READY,
        "steadyState.probes[2].http.url": B.PROMETHEUS_QUERY,
        "alerting.matchers.team": B.ALERT_MATCHERS,
        "alerting.announceAfterMinutes": B.ANNOUNCE_AFTER,
        "probes[1].url": B.PROBE_URL,
    }
    for path, block in paths.items():
        assert block_errors([FieldError(path, "is wrong")]) == {block.value: "Is wrong"}, path


def _without(*blocks: B) -> dict[str, Any]:
    form = onboarding_form()
    for block in blocks:
        del form[block.value]
    return form


def test_a_modal_opened_before_the_fields_existed_says_nothing_of_them() -> None:
    """Its Edit keeps the stored steady state and alerting (the declaration leaves them out)."""
    form = _without(
        B.PROMETHEUS_QUERY,
        B.PROMETHEUS_MAX,
        B.PROMETHEUS_MIN,
        B.PODS_MIN_READY,
        B.WATCH_INTERVAL,
        B.WATCH_FAIL_AFTER,
        B.ALERT_MATCHERS,
        B.ANNOUNCE_AFTER,
    )
    raw, problems = read_form(form, editing=None)
    assert "steadyState" not in raw and "alerting" not in raw and problems == []
    assert parse_service_spec(raw, policy=POLICY).steady_state is None


def _spec(**changes: Any) -> ServiceSpec:
    return parse_service_spec(checkout_declaration(**changes), policy=POLICY)


def test_small_and_large_bounds_are_shown_without_an_exponent() -> None:
    spec = _spec(
        steadyState={"probes": [{"prometheus": {"query": "sum(up)", "max": 1e-05, "min": -2e20}}]}
    )
    blocks = {b["block_id"]: b["element"] for b in steady_state_blocks(spec)}
    assert blocks[B.PROMETHEUS_MAX]["initial_value"] == "0.00001"
    assert blocks[B.PROMETHEUS_MIN]["initial_value"] == "-200000000000000000000"
    raw, _ = read_form(
        onboarding_form(
            {
                B.PROMETHEUS_QUERY: {"type": "plain_text_input", "value": "sum(up)"},
                B.PROMETHEUS_MAX: {"type": "number_input", "value": "0.00001"},
                B.PROMETHEUS_MIN: {"type": "number_input", "value": "-200000000000000000000"},
            }
        ),
        editing=spec,
    )
    assert raw["steadyState"]["probes"] == [
        {"prometheus": {"query": "sum(up)", "max": 1e-05, "min": -200000000000000000000}}
    ]
