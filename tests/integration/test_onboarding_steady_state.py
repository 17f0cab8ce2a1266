"""The onboarding form's steady state and alerting (check interval, failed checks that halt, a
Prometheus probe, a pods probe, the team's alert labels, when a drill alerts) through the Slack
and Kubernetes test servers, with the query checked on a real Prometheus
(tests/fixtures/prometheus.py): stored, refused on their own fields, and kept by Edit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.audit.models import AuditEvent
from bot.catalog.chaosfile import load_documents
from bot.catalog.models import Service, Team
from bot.catalog.service import save_service
from bot.catalog.spec import CatalogPolicy
from bot.slack.blockkit import LABEL_TEXT, VIEW_BLOCKS
from bot.slack.ids import CallbackId
from bot.slack.ids import OnboardBlock as B
from bot.testing.slack.api import ApiCall
from bot.testing.slack.forms import as_opened, choice, number, onboarding_form, text
from tests.fixtures.bot import ALICE, START, TEAM_CHANNEL, RunningBot, seed_payments
from tests.fixtures.declarations import CHECKOUT_YAML_HEAD
from tests.fixtures.prometheus import ERROR_RATIO, PrometheusServer

# A query whose `>=` shows that what a person wrote is escaped where Slack shows it.
HEALTHY_RATIO = f"{ERROR_RATIO} >= 0"
STEADY_STATE = {
    B.PROMETHEUS_QUERY: text(HEALTHY_RATIO),
    B.PROMETHEUS_MAX: number("0.01"),
    B.PODS_MIN_READY: number("66"),
    B.WATCH_INTERVAL: number("5"),
    B.WATCH_FAIL_AFTER: number("3"),
    B.ALERT_MATCHERS: text("service=checkout,  team=payments"),
    B.ANNOUNCE_AFTER: number("15"),
}


@pytest.fixture
def settings_changes(prometheus: PrometheusServer) -> dict[str, Any]:
    """The bot asks the test's Prometheus (CHAOSBOT_PROMETHEUS_URL)."""
    return {"prometheus_url": prometheus.url}


def _count(bot: RunningBot, model: type[object]) -> int:
    with bot.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _onboard(bot: RunningBot, **fields: dict[str, object]) -> dict[str, Any]:
    """Alice opens the onboarding modal and submits it with `fields`; the errors it answers."""
    opened = len(bot.slack.calls_to("views.open"))
    assert bot.command("onboard").status == 200
    view_id = bot.opened_view(CallbackId.ONBOARD, opened + 1).response["view"]["id"]
    response = bot.simulator.view_submission(
        CallbackId.ONBOARD.value, values=onboarding_form(fields), user_id=ALICE, view_id=view_id
    )
    assert response.status == 200
    return response.json() if response.text else {}


def _edit(bot: RunningBot) -> ApiCall:
    """Alice presses Edit on `/chaos service checkout`: the edit modal's views.open."""
    before = len(bot.slack.responses)
    bot.command("service checkout")
    detail = bot.reply(before + 1)
    opened = len(
        [
            c
            for c in bot.slack.calls_to("views.open")
            if c.body["view"]["callback_id"] == CallbackId.EDIT_SERVICE
        ]
    )
    bot.simulator.block_action(
        "service_edit",
        user_id=ALICE,
        channel_id=TEAM_CHANNEL,
        message={"ts": "1", "text": "", "blocks": detail["blocks"]},
    )
    return bot.opened_view(CallbackId.EDIT_SERVICE, opened + 1)


def _save(bot: RunningBot, opened: ApiCall, **fields: dict[str, object]) -> dict[str, Any]:
    """Alice saves the edit modal as it opened, with `fields` changed."""
    values = as_opened(opened.body["view"])
    values.update({str(b): {str(b): element} for b, element in fields.items()})
    response = bot.simulator.view_submission(
        CallbackId.EDIT_SERVICE.value,
        values=values,
        user_id=ALICE,
        view_id=opened.response["view"]["id"],
    )
    assert response.status == 200
    return response.json() if response.text else {}


def _stored(bot: RunningBot) -> tuple[list[dict[str, Any]], Any, Any]:
    """The service row's probes, steady_state and alerting."""
    with bot.db.session() as session:
        service = session.scalars(select(Service)).one()
        return list(service.probes), service.steady_state, service.alerting


def _block(view: dict[str, Any], block: B) -> dict[str, Any]:
    found: dict[str, Any] = next(b for b in view["blocks"] if b.get("block_id") == block)
    return found


def _updates(bot: RunningBot) -> list[list[str]]:
    with bot.db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "service.updated").order_by(AuditEvent.id)
        )
        return [e.detail["changes"] for e in events]


def test_the_form_asks_for_the_steady_state_and_the_alerts_within_slacks_limits(
    running_bot: RunningBot,
) -> None:
    seed_payments(running_bot.kube)
    running_bot.command("onboard")
    view = running_bot.opened_view(CallbackId.ONBOARD).body["view"]
    assert len(view["blocks"]) <= VIEW_BLOCKS
    for block in (B.PROMETHEUS_QUERY, B.PROMETHEUS_MAX, B.PROMETHEUS_MIN, B.PODS_MIN_READY):
        assert _block(view, block)["optional"] is True
    query = _block(view, B.PROMETHEUS_QUERY)["element"]
    assert query["type"] == "plain_text_input" and query["multiline"] is True
    assert "initial_value" not in query and len(query["placeholder"]["text"]) <= 150
    bounds = [_block(view, b)["element"] for b in (B.PROMETHEUS_MAX, B.PROMETHEUS_MIN)]
    assert all(e["type"] == "number_input" and e["is_decimal_allowed"] for e in bounds)
    pods = _block(view, B.PODS_MIN_READY)["element"]
    assert (pods["min_value"], pods["max_value"], pods.get("initial_value")) == ("1", "100", None)
    interval = _block(view, B.WATCH_INTERVAL)["element"]
    fail_after = _block(view, B.WATCH_FAIL_AFTER)["element"]
    assert (interval["initial_value"], interval["min_value"], interval["max_value"]) == (
        "10",
        "1",
        "300",
    )
    assert (fail_after["initial_value"], fail_after["min_value"], fail_after["max_value"]) == (
        "2",
        "1",
        "20",
    )
    assert interval["is_decimal_allowed"] is False
    matchers = _block(view, B.ALERT_MATCHERS)
    assert matchers["element"]["placeholder"]["text"] == "service=checkout, team=payments"
    assert "comma-separated" in matchers["hint"]["text"]
    announce = _block(view, B.ANNOUNCE_AFTER)["element"]
    assert (announce["min_value"], announce["max_value"]) == ("1", "120")
    for block in view["blocks"]:
        for part in ("label", "hint"):
            assert len(block.get(part, {}).get("text", "")) <= LABEL_TEXT


def test_the_steady_state_and_alerting_of_the_form_are_stored_and_shown_escaped(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    seed_payments(bot.kube)
    assert _onboard(bot, **STEADY_STATE) == {}
    probes, steady_state, alerting = _stored(bot)
    assert probes == [
        {
            "kind": "http",
            "url": "http://checkout.payments.svc/healthz",
            "expectedStatus": 200,
            "latencyBudgetMs": 300,
        },
        {"kind": "prometheus", "declared": "steadyState", "query": HEALTHY_RATIO, "max": 0.01},
        {"kind": "pods", "declared": "steadyState", "minReadyPercent": 66},
    ]
    assert steady_state == {"intervalSeconds": 5, "failAfter": 3}
    assert alerting == {
        "matchers": {"service": "checkout", "team": "payments"},
        "announceAfterMinutes": 15,
    }
    bot.command("service checkout")
    shown = str(bot.reply()["blocks"])
    assert f"Prometheus `{ERROR_RATIO} &gt;= 0`" in shown
    assert HEALTHY_RATIO not in shown


def test_a_query_prometheus_refuses_is_an_error_on_the_query_and_nothing_is_stored(
    running_bot: RunningBot,
) -> None:
    seed_payments(running_bot.kube)
    answer = _onboard(running_bot, **{**STEADY_STATE, B.PROMETHEUS_QUERY: text("sum(rate(")})
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [B.PROMETHEUS_QUERY.value]
    assert answer["errors"][B.PROMETHEUS_QUERY.value].startswith(
        "Prometheus refused it: 1:10: parse error: "
    )
    missing = {**STEADY_STATE, B.PROMETHEUS_QUERY: text("checkout_http_no_such_metric")}
    assert _onboard(running_bot, **missing)["errors"] == {
        B.PROMETHEUS_QUERY.value: "It returns no series: nothing to compare (is the metric scraped?)"
    }
    assert _count(running_bot, Service) == 0
    assert _count(running_bot, Team) == 0
    assert _count(running_bot, AuditEvent) == 0


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {B.PROMETHEUS_MAX: number("0.1"), B.PROMETHEUS_MIN: number("0.5")},
            {B.PROMETHEUS_MIN: "Must not be above max (0.5 > 0.1)"},
        ),
        ({B.PROMETHEUS_QUERY: text(None)}, {B.PROMETHEUS_QUERY: "This is required."}),
        (
            {B.PROMETHEUS_MAX: number(None)},
            {
                B.PROMETHEUS_MAX: "Give max, min or both: the values a healthy service's query "
                "returns"
            },
        ),
        ({B.PROMETHEUS_MAX: number("a lot")}, {B.PROMETHEUS_MAX: "'a lot' is not a number"}),
        (
            {B.PODS_MIN_READY: number("0")},
            {B.PODS_MIN_READY: "Must be a number between 1 and 100, got 0"},
        ),
        ({B.WATCH_INTERVAL: number("0")}, {B.WATCH_INTERVAL: "Must be between 1 and 300, got 0"}),
        (
            {B.WATCH_FAIL_AFTER: number("21")},
            {B.WATCH_FAIL_AFTER: "Must be between 1 and 20, got 21"},
        ),
        (
            {B.ALERT_MATCHERS: text("service=checkout, payments")},
            {
                B.ALERT_MATCHERS: "'payments' is not label=value: write pairs like "
                "service=checkout, team=payments"
            },
        ),
        (
            {B.ALERT_MATCHERS: text("service=checkout, service=ledger")},
            {B.ALERT_MATCHERS: "Label service is given twice"},
        ),
        (
            {B.ALERT_MATCHERS: text("app.kubernetes.io/name=checkout")},
            {B.ALERT_MATCHERS: "'app.kubernetes.io/name' is not a Prometheus label name"},
        ),
        (
            {B.ALERT_MATCHERS: text(None)},
            {B.ANNOUNCE_AFTER: "Needs matchers: which alerts are the service's"},
        ),
        (
            {B.ANNOUNCE_AFTER: number("121")},
            {B.ANNOUNCE_AFTER: "Must be between 1 and 120, got 121"},
        ),
    ],
)
def test_bad_steady_state_and_alerting_values_are_errors_on_their_fields(
    running_bot: RunningBot, fields: dict[B, dict[str, object]], errors: dict[B, str]
) -> None:
    seed_payments(running_bot.kube)
    answer = _onboard(running_bot, **{**STEADY_STATE, **fields})
    assert answer == {
        "response_action": "errors",
        "errors": {block.value: message for block, message in errors.items()},
    }
    assert _count(running_bot, Service) == 0


def test_the_edit_modal_shows_what_is_stored_and_saving_it_unchanged_changes_nothing(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    seed_payments(bot.kube)
    assert _onboard(bot, **STEADY_STATE) == {}
    stored = _stored(bot)
    opened = _edit(bot)
    view = opened.body["view"]
    initial = {
        block: _block(view, block)["element"].get("initial_value")
        for block in (
            B.PROMETHEUS_QUERY,
            B.PROMETHEUS_MAX,
            B.PROMETHEUS_MIN,
            B.PODS_MIN_READY,
            B.WATCH_INTERVAL,
            B.WATCH_FAIL_AFTER,
            B.ALERT_MATCHERS,
            B.ANNOUNCE_AFTER,
        )
    }
    assert initial == {
        B.PROMETHEUS_QUERY: HEALTHY_RATIO,
        B.PROMETHEUS_MAX: "0.01",
        B.PROMETHEUS_MIN: None,
        B.PODS_MIN_READY: "66",
        B.WATCH_INTERVAL: "5",
        B.WATCH_FAIL_AFTER: "3",
        B.ALERT_MATCHERS: "service=checkout, team=payments",
        B.ANNOUNCE_AFTER: "15",
    }
    assert _save(bot, opened) == {}
    assert _stored(bot) == stored
    assert _updates(bot) == []  # an unchanged declaration is no update

    changed = {
        B.PROMETHEUS_MAX: number("0.02"),
        B.PODS_MIN_READY: number(None),
        B.WATCH_FAIL_AFTER: number("4"),
        B.ALERT_MATCHERS: text("service=checkout"),
        B.ANNOUNCE_AFTER: number(None),
    }
    assert _save(bot, _edit(bot), **changed) == {}
    probes, steady_state, alerting = _stored(bot)
    assert probes[1:] == [
        {"kind": "prometheus", "declared": "steadyState", "query": HEALTHY_RATIO, "max": 0.02}
    ]
    assert steady_state == {"intervalSeconds": 5, "failAfter": 4}
    assert alerting == {"matchers": {"service": "checkout"}}
    [changes] = _updates(bot)
    assert changes[0] == "steadyState.failAfter: 3 -> 4"
    assert changes[1].startswith("steadyState.probes: ")  # the pods probe is gone
    assert changes[2:] == [
        "alerting.matchers.team: 'payments' -> (none)",
        "alerting.announceAfterMinutes: 15 -> (none)",
    ]


CHAOS_YAML = (
    CHECKOUT_YAML_HEAD
    + f"""\
  namespace: payments
  workload: {{kind: Deployment, name: checkout}}
  owners: [U0ALICE, U0BOB]
  probes:
    - url: http://checkout.payments.svc/healthz
    - {{url: http://checkout.payments.svc/ready, expectedStatus: 204}}
  steadyState:
    intervalSeconds: 20
    probes:
      - prometheus: {{query: '{ERROR_RATIO}', max: 0.00001}}
      - pods: {{minReadyPercent: 50.5}}
      - prometheus: {{query: 'scalar(sum(checkout_http_requests_total))', min: 1}}
  alerting:
    matchers: {{service: checkout, team: 'pay, "ments"'}}
    announceAfterMinutes: 20
"""
)


def test_edit_keeps_the_chaos_yaml_probes_the_form_cannot_show(running_bot: RunningBot) -> None:
    bot = running_bot
    seed_payments(bot.kube)
    policy = CatalogPolicy(allowed_namespaces=frozenset({"payments"}), prometheus=True)
    [document] = load_documents(CHAOS_YAML, source="chaos.yaml", policy=policy)
    with bot.db.session() as session:
        save_service(
            session=session, spec=document.spec, selector="app=checkout", actor="cli:ci", now=START
        )
    stored = _stored(bot)
    assert len(stored[0]) == 5
    opened = _edit(bot)
    view = opened.body["view"]
    query = _block(view, B.PROMETHEUS_QUERY)
    assert "initial_value" not in query["element"]
    assert query["hint"]["text"] == (
        "This service has 3 steady-state probes from chaos.yaml, more than this form shows: "
        "saving keeps them as they are. Change them in chaos.yaml."
    )
    assert "initial_value" not in _block(view, B.PODS_MIN_READY)["element"]
    assert "has 2 HTTP probes from chaos.yaml" in _block(view, B.PROBE_URL)["hint"]["text"]
    matchers = _block(view, B.ALERT_MATCHERS)["element"]["initial_value"]
    assert matchers == 'service=checkout, team="pay, \\"ments\\""'
    assert _block(view, B.WATCH_INTERVAL)["element"]["initial_value"] == "20"

    assert _save(bot, opened) == {}
    assert _stored(bot) == stored
    assert _updates(bot) == []

    # Typed into the fields that cannot show them: refused, so nothing is silently dropped.
    answer = _save(bot, _edit(bot), **{B.PROMETHEUS_QUERY: text("sum(up)")})
    assert answer["errors"] == {
        B.PROMETHEUS_QUERY.value: "This service's 3 steady-state probes come from chaos.yaml, "
        "more than this form shows: change them there (leave this empty to keep them)"
    }
    assert _stored(bot) == stored


def test_a_carried_query_prometheus_now_refuses_is_shown_on_the_query_field(
    running_bot: RunningBot,
) -> None:
    """A query of the chaos.yaml-declared probes that stopped returning a number (the metric
    was renamed): Edit checks it again and says so where the hint names those probes."""
    bot = running_bot
    seed_payments(bot.kube)
    policy = CatalogPolicy(allowed_namespaces=frozenset({"payments"}), prometheus=True)
    [document] = load_documents(
        CHAOS_YAML.replace("scalar(sum(checkout_http_requests_total))", "sum(renamed_total)"),
        source="chaos.yaml",
        policy=policy,
    )
    with bot.db.session() as session:
        save_service(
            session=session, spec=document.spec, selector="app=checkout", actor="cli:ci", now=START
        )
    answer = _save(bot, _edit(bot), **{B.TIER: choice("3")})
    assert answer["errors"] == {
        B.PROMETHEUS_QUERY.value: "It returns no series: nothing to compare (is the metric scraped?)"
    }
