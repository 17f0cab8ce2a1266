"""Steady-state `prometheus` probes against a real Prometheus (tests/fixtures/prometheus.py)
scraping an exporter the test sets: the provider's number, the check when a service is
registered (chaos.yaml apply), and a worker run halted when the error ratio goes over its max
mid-hold, or completing while it stays healthy."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from bot.catalog.apply import apply_documents
from bot.catalog.chaosfile import ChaosfileInvalid, dump_documents, load_documents
from bot.catalog.service import find_service, save_service, spec_of
from bot.catalog.spec import CatalogPolicy, PodsProbe, PrometheusProbe
from bot.catalog.spec_parse import parse_service_spec
from bot.db.engine import Database
from bot.library.render import hypothesis
from bot.probes.prometheus import Prometheus, QueryRefused, probe_prometheus
from bot.runs.service import measurements_of
from bot.runs.states import TERMINAL, RunStatus
from bot.testing.kube.api import KubeApiServer
from tests.fixtures.declarations import CHECKOUT_YAML_HEAD, checkout_declaration
from tests.fixtures.engine import Engine
from tests.fixtures.prometheus import ERROR_RATIO, Exporter, PrometheusServer
from tests.integration.test_chaosfile_apply import seeded_cluster

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
POLICY = CatalogPolicy(allowed_namespaces=frozenset({"payments"}), prometheus=True)
EVERY = 0.5  # seconds between the watch's checks: Prometheus scrapes every second


def _checkout(query: str, bounds: str = "max: 0.01") -> str:
    return (
        CHECKOUT_YAML_HEAD
        + f"""\
  namespace: payments
  workload: {{kind: Deployment, name: checkout}}
  owners: [U0ALICE]
  probes:
    - url: http://checkout.payments.svc/healthz
  steadyState:
    intervalSeconds: 5
    probes:
      - pods: {{minReadyPercent: 50}}
      - prometheus:
          query: '{query}'
          {bounds}
"""
    )


# --- the provider ----------------------------------------------------------------------------


def test_the_provider_returns_the_number_the_query_returns(
    prometheus: PrometheusServer, exporter: Exporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSBOT_PROMETHEUS_URL", prometheus.url)
    assert probe_prometheus(ERROR_RATIO) == 0
    assert probe_prometheus("scalar(sum(checkout_http_requests_total))") == 1000
    exporter.fail(250)
    prometheus.wait_for(ERROR_RATIO, 0.2)
    assert probe_prometheus(ERROR_RATIO, timeout=2) == 0.2


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("sum(rate(", "Prometheus refused it: "),
        ("checkout_http_no_such_metric", "it returns no series"),
        ("checkout_http_requests_total", "it returns 2 series, not one number"),
        ("checkout_http_requests_total[1m]", "it returns a matrix, not one number"),
        ("sum(checkout_http_errors_total) / 0", "not a finite number"),
    ],
)
def test_a_query_without_one_number_fails_the_probe_with_the_reason(
    prometheus: PrometheusServer, monkeypatch: pytest.MonkeyPatch, query: str, reason: str
) -> None:
    monkeypatch.setenv("CHAOSBOT_PROMETHEUS_URL", prometheus.url)
    with pytest.raises(ActivityFailed, match=reason):
        probe_prometheus(query)


def test_without_a_prometheus_the_probe_fails_and_an_unreachable_one_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHAOSBOT_PROMETHEUS_URL", raising=False)
    with pytest.raises(ActivityFailed, match="CHAOSBOT_PROMETHEUS_URL"):
        probe_prometheus(ERROR_RATIO)
    closed = Prometheus("http://127.0.0.1:9", timeout=2)  # the discard port: nobody listens
    with pytest.raises(QueryRefused, match="Prometheus could not be asked: ConnectionError"):
        closed.instant_value(ERROR_RATIO)


# --- the onboarding check --------------------------------------------------------------------


def _apply(
    db: Database, kube_api: KubeApiServer, kubeconfig: Path, text: str, prometheus_url: str
) -> None:
    with seeded_cluster(kube_api, kubeconfig) as cluster:
        apply_documents(
            db,
            load_documents(text, source="chaos.yaml", policy=POLICY),
            cluster=cluster,
            metrics=Prometheus(prometheus_url),
            actor="cli:test",
            now=NOW,
            dry_run=False,
        )


@pytest.mark.storage
def test_a_query_returning_one_number_is_stored_and_exported_as_declared(
    db: Database, kube_api: KubeApiServer, kubeconfig: Path, prometheus: PrometheusServer
) -> None:
    _apply(db, kube_api, kubeconfig, _checkout(ERROR_RATIO, "max: 0.01"), prometheus.url)
    with db.session() as session:
        service = find_service(session=session, name="checkout")
        stored = list(service.probes)
        spec = spec_of(service)
    assert [entry["kind"] for entry in stored] == ["http", "pods", "prometheus"]
    assert spec.steady_state is not None
    assert spec.steady_state.interval_seconds == 5
    assert spec.steady_state.probes == (
        PodsProbe(min_ready_percent=50),
        PrometheusProbe(query=ERROR_RATIO, max=0.01),
    )
    [exported] = load_documents(dump_documents([spec]), source="export", policy=POLICY)
    assert exported.spec == replace(spec, team_timezone=exported.spec.team_timezone)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sum(rate(", "Prometheus refused it: 1:10: parse error: "),
        ("checkout_http_no_such_metric", "it returns no series"),
        ("checkout_http_requests_total", "it returns 2 series, not one number"),
    ],
)
def test_a_query_without_one_number_is_refused_on_its_line(
    db: Database,
    kube_api: KubeApiServer,
    kubeconfig: Path,
    prometheus: PrometheusServer,
    query: str,
    message: str,
) -> None:
    with pytest.raises(ChaosfileInvalid) as refused:
        _apply(db, kube_api, kubeconfig, _checkout(query), prometheus.url)
    [error] = refused.value.errors
    assert error.line == 19
    assert error.path == "spec.steadyState.probes[1].prometheus.query"
    assert error.message.startswith(message), error.message
    with db.session() as session, pytest.raises(Exception, match="no service called"):
        find_service(session=session, name="checkout")


def test_a_prometheus_probe_is_refused_when_the_platform_has_no_prometheus() -> None:
    with pytest.raises(ChaosfileInvalid) as refused:
        load_documents(
            _checkout(ERROR_RATIO),
            source="chaos.yaml",
            policy=replace(POLICY, prometheus=False),
        )
    assert [str(e) for e in refused.value.errors] == [
        "chaos.yaml:19: spec.steadyState.probes[1].prometheus.query: this platform has no "
        "Prometheus to ask (CHAOSBOT_PROMETHEUS_URL is not set)"
    ]


# --- a run watched through Prometheus --------------------------------------------------------


def _watched_run(engine: Engine, prometheus: PrometheusServer, *, hold: float) -> tuple[int, str]:
    """A run whose steady state is the rendered prometheus probe of the error ratio, max 0.01."""
    engine.env["CHAOSBOT_PROMETHEUS_URL"] = prometheus.url
    steady_state = hypothesis(
        "blackhole",
        [{"kind": "prometheus", "query": ERROR_RATIO, "max": 0.01}],
        namespace="payments",
        label_selector="app=checkout",
    )
    return engine.create(hold=hold, watch_every=EVERY, fail_after=2, probes=steady_state["probes"])


def test_an_error_ratio_over_its_max_mid_hold_halts_the_run(
    engine: Engine, prometheus: PrometheusServer, exporter: Exporter
) -> None:
    run_id, key = _watched_run(engine, prometheus, hold=120)
    process = engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    time.sleep(3 * EVERY)  # healthy checks first
    exporter.fail(50)  # 50 of 1050 requests failed: 0.048
    assert engine.wait_for(run_id, *TERMINAL, timeout=60) is RunStatus.HALTED
    assert process.wait(timeout=30) == 5
    assert engine.policies(key) == []  # rolled back
    run = engine.row(run_id)
    assert run.reason is not None
    assert run.reason == (
        "halted: steady state broke (prometheus sum(checkout_http_errors_total)…: "
        "got 0.047619, expected <= 0.01)"
    )
    with engine.db.session() as session:
        checks = [(m.ok, m.value) for m in measurements_of(session=session, run_id=run_id)]
    assert (True, 0.0) in checks
    assert [value for ok, value in checks if not ok][:2] == [pytest.approx(0.047619, abs=1e-5)] * 2


def test_a_healthy_error_ratio_lets_the_run_complete(
    engine: Engine, prometheus: PrometheusServer
) -> None:
    run_id, key = _watched_run(engine, prometheus, hold=2.5)
    assert engine.run(run_id) == 0
    run = engine.row(run_id)
    assert run.status is RunStatus.COMPLETED, run.reason
    assert engine.policies(key) == []
    with engine.db.session() as session:
        checks = [
            (m.ok, m.value, m.detail) for m in measurements_of(session=session, run_id=run_id)
        ]
    assert len(checks) >= 3
    assert all(ok and value == 0 and detail == "got 0" for ok, value, detail in checks)


@pytest.mark.storage
def test_a_declaration_without_a_steady_state_keeps_the_stored_probes(db: Database) -> None:
    """The onboarding modal's Edit says nothing of `steadyState`: saving it keeps the probes
    chaos.yaml declared there, and replaces only `probes`."""
    declared = [{"pods": {"minReadyPercent": 50}}, {"prometheus": {"query": "sum(up)", "min": 1}}]
    first = parse_service_spec(
        checkout_declaration(teamChannel="C0PAYMENTS", steadyState={"probes": declared}),
        policy=POLICY,
    )
    edited = parse_service_spec(
        checkout_declaration(probes=[{"url": "http://checkout.payments.svc/ready"}]),
        policy=POLICY,
    )
    assert edited.steady_state is None
    for spec in (first, edited):
        with db.session() as session:
            save_service(session=session, spec=spec, selector="app=checkout", actor="t", now=NOW)
    with db.session() as session:
        stored = spec_of(find_service(session=session, name="checkout"))
    assert stored.probes == edited.probes
    assert stored.steady_state is not None
    assert stored.steady_state.probes == (
        PodsProbe(min_ready_percent=50),
        PrometheusProbe(query="sum(up)", min=1),
    )
