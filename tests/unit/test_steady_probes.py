"""steadyState.probes without a database or Prometheus: parsing with field paths, storing with a
kind (rows stored before kinds read as HTTP), and rendering each kind with a tolerance
chaostoolkit-lib checks and the watch quotes."""

from __future__ import annotations

from typing import Any

import pytest
from chaoslib.hypothesis import ensure_hypothesis_is_valid, within_tolerance

from bot.catalog.spec import (
    CatalogPolicy,
    HttpProbe,
    PodsProbe,
    PrometheusProbe,
    SpecInvalid,
    probe_from_stored,
    stored_probes,
    to_document,
)
from bot.catalog.spec_parse import parse_service_spec
from bot.library.render import hypothesis
from bot.probes.watch import _expected, _reading
from tests.fixtures.declarations import checkout_declaration

POLICY = CatalogPolicy(allowed_namespaces=frozenset({"payments"}), prometheus=True)
RATIO = "sum(rate(errors[1m])) / sum(rate(requests[1m]))"


def _parse(*probes: Any, policy: CatalogPolicy = POLICY) -> Any:
    raw = checkout_declaration(steadyState={"failAfter": 3, "probes": list(probes)})
    return parse_service_spec(raw, policy=policy)


def _errors(*probes: Any, policy: CatalogPolicy = POLICY) -> list[str]:
    with pytest.raises(SpecInvalid) as invalid:
        _parse(*probes, policy=policy)
    return [str(e) for e in invalid.value.errors]


def test_every_kind_parses_and_round_trips_through_the_document() -> None:
    spec = _parse(
        {"http": {"url": "http://checkout.payments.svc/ready", "latencyBudgetMs": 200}},
        {"prometheus": {"query": f"  {RATIO} ", "max": 0.01}},
        {"prometheus": {"query": "sum(up)", "min": 2, "max": 3}},
        {"pods": {"minReadyPercent": 75}},
        {"pods": None},
    )
    assert spec.steady_state.fail_after == 3
    assert spec.steady_state.probes == (
        HttpProbe(url="http://checkout.payments.svc/ready", latency_budget_ms=200),
        PrometheusProbe(query=RATIO, max=0.01),
        PrometheusProbe(query="sum(up)", min=2, max=3),
        PodsProbe(min_ready_percent=75),
        PodsProbe(min_ready_percent=66),
    )
    assert parse_service_spec(to_document(spec), policy=POLICY) == spec


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        ({"prometheus": {"query": RATIO}}, "steadyState.probes[0].prometheus.max: give max, min"),
        (
            {"prometheus": {"query": RATIO, "max": 1, "min": 2}},
            "steadyState.probes[0].prometheus.min: must not be above max (2 > 1)",
        ),
        (
            {"prometheus": {"query": RATIO, "max": "0.01"}},
            "steadyState.probes[0].prometheus.max: '0.01' is not a number",
        ),
        ({"prometheus": {"max": 1}}, "steadyState.probes[0].prometheus.query: is required"),
        (
            {"pods": {"minReadyPercent": 0}},
            "steadyState.probes[0].pods.minReadyPercent: must be a number between 1 and 100",
        ),
        (
            {"http": {"url": "ftp://checkout/"}},
            "steadyState.probes[0].http.url: must be an http:// or https:// URL",
        ),
        ({"pods": {}, "http": {}}, "steadyState.probes[0]: must be one of http, prometheus, pods"),
        ({"grafana": {}}, "steadyState.probes[0]: must be one of http, prometheus, pods"),
    ],
)
def test_a_bad_probe_is_an_error_on_its_field(probe: dict[str, Any], expected: str) -> None:
    [error] = _errors(probe)
    assert error.startswith(expected), error


def test_a_prometheus_probe_is_refused_without_the_platforms_prometheus() -> None:
    policy = CatalogPolicy(allowed_namespaces=frozenset({"payments"}))
    assert _errors({"prometheus": {"query": RATIO, "max": 0.01}}, policy=policy) == [
        "steadyState.probes[0].prometheus.query: this platform has no Prometheus to ask "
        "(CHAOSBOT_PROMETHEUS_URL is not set)"
    ]


def test_probes_are_stored_with_their_kind_and_rows_from_before_read_as_http() -> None:
    http = HttpProbe(url="http://checkout/healthz")
    ratio = PrometheusProbe(query=RATIO, max=0.01)
    stored = stored_probes([http], [ratio, PodsProbe()])
    assert [(e["kind"], e.get("declared")) for e in stored] == [
        ("http", None),
        ("prometheus", "steadyState"),
        ("pods", "steadyState"),
    ]
    assert [probe_from_stored(e) for e in stored] == [
        (http, False),
        (ratio, True),
        (PodsProbe(), True),
    ]
    before_kinds = {"url": "http://checkout/healthz", "expectedStatus": 204, "latencyBudgetMs": 5}
    assert probe_from_stored(before_kinds) == (
        HttpProbe(url="http://checkout/healthz", expected_status=204, latency_budget_ms=5),
        False,
    )


def _rendered(*probes: dict[str, Any]) -> list[dict[str, Any]]:
    """The hypothesis probes, checked by chaostoolkit-lib's own validation (as `chaos run`
    does)."""
    steady_state = hypothesis(
        "pod-kill", list(probes), namespace="payments", label_selector="app=checkout"
    )
    ensure_hypothesis_is_valid({"steady-state-hypothesis": steady_state})
    rendered: list[dict[str, Any]] = steady_state["probes"]
    return rendered


def test_a_prometheus_probe_with_one_bound_is_checked_by_a_probe_tolerance() -> None:
    [probe] = _rendered({"kind": "prometheus", "query": RATIO, "max": 0.01})
    assert probe["name"] == "prometheus sum(rate(errors[1m])) / sum(rat…"
    assert probe["provider"]["module"] == "bot.probes.prometheus"
    assert probe["provider"]["arguments"]["query"] == RATIO
    tolerance = probe["tolerance"]
    assert within_tolerance(tolerance, 0.004)
    assert not within_tolerance(tolerance, 0.042)
    assert _expected(tolerance, {}) == "<= 0.01"
    assert _reading(0.042) == (0.042, "0.042")


def test_a_prometheus_probe_with_both_bounds_is_checked_by_a_range() -> None:
    [probe] = _rendered({"kind": "prometheus", "query": "sum(up)", "min": 2, "max": 3})
    assert probe["tolerance"] == {"type": "range", "range": [2, 3]}
    assert within_tolerance(probe["tolerance"], 2.5)
    assert not within_tolerance(probe["tolerance"], 1)
    assert _expected(probe["tolerance"], {}) == "between 2 and 3"


def test_a_pods_probe_calls_the_pods_provider_with_the_service_and_the_kubernetes_secret() -> None:
    [probe] = _rendered({"kind": "pods", "minReadyPercent": 66})
    assert probe["name"] == "pods ready >= 66%"
    assert probe["provider"] == {
        "type": "python",
        "module": "bot.probes.pods",
        "func": "probe_pods",
        "secrets": ["kubernetes"],
        "arguments": {
            "namespace": "payments",
            "label_selector": "app=checkout",
            "min_ready_percent": 66,
        },
    }
    tolerance = probe["tolerance"]
    assert within_tolerance(tolerance, {"ready": 3, "desired": 3, "percent": 100.0})
    assert within_tolerance(tolerance, {"ready": 4, "desired": 3, "percent": 133.3})  # rollout
    assert not within_tolerance(tolerance, {"ready": 1, "desired": 3, "percent": 33.3})
    assert _expected(tolerance, {}) == ">= 66%"
    assert _reading({"ready": 1, "desired": 3, "percent": 33.3}) == (
        33.3,
        "1 of 3 pods ready (33.3%)",
    )


def test_kinds_render_side_by_side_and_entries_without_a_kind_are_http() -> None:
    names = [
        p["name"]
        for p in _rendered(
            {"url": "http://checkout/healthz", "expectedStatus": 200, "latencyBudgetMs": 300},
            {"kind": "pods", "minReadyPercent": 50},
        )
    ]
    assert names == ["GET http://checkout/healthz answers 200 within 300 ms", "pods ready >= 50%"]
