"""The team's own alerts, from a real Alertmanager: its webhook into chaosbot (bearer token,
stored once per firing), the gate that keeps a run from starting while an alert of its service
fires, and blind drills that measure whether the team's monitoring noticed."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.alerts.models import AlertEvent
from bot.catalog.service import find_service
from bot.db.engine import Database
from bot.drills.models import Detection
from bot.findings.models import Finding, FindingKind, Severity
from bot.runs.service import record_measurement
from bot.runs.states import RunStatus
from tests.fixtures.alertmanager import WEBHOOK_TOKEN, Alertmanager, AlertWebhook, free_port
from tests.fixtures.drills import opt_in
from tests.fixtures.engine import Engine
from tests.fixtures.gamedays import register_service
from tests.integration.test_drills import Harness

CHECKOUT_ALERT = {"alertname": "CheckoutHighErrorRate", "service": "checkout"}
SEARCH_ALERT = {"alertname": "SearchSlow", "service": "search"}


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _payload(status: str = "firing", ends_at: str = "0001-01-01T00:00:00Z") -> dict[str, Any]:
    """A webhook body as Alertmanager 0.25 writes it (version 4)."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="CheckoutHighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "chaosbot",
        "groupLabels": {"alertname": "CheckoutHighErrorRate"},
        "commonLabels": CHECKOUT_ALERT,
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": status,
                "labels": CHECKOUT_ALERT,
                "annotations": {},
                "startsAt": "2026-11-30T09:02:10.123456789Z",
                "endsAt": ends_at,
                "generatorURL": "",
                "fingerprint": "0123456789abcdef",
            }
        ],
    }


def _authorised(token: str = WEBHOOK_TOKEN) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}


# --- the webhook ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        _authorised("wrong-token-0123456789abcdef"),
        _authorised(WEBHOOK_TOKEN + "x"),
        {"Content-Type": "application/json", "Authorization": f"Basic {WEBHOOK_TOKEN}"},
        {"Content-Type": "application/json", "Authorization": WEBHOOK_TOKEN},
    ],
)
def test_an_unauthenticated_post_gets_401_and_stores_nothing(
    alert_webhook: AlertWebhook, headers: dict[str, str]
) -> None:
    assert _post(alert_webhook.url, json.dumps(_payload()).encode(), headers) == 401
    assert alert_webhook.stored() == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (json.dumps({**_payload(), "version": "3"}).encode(), 400),
        (json.dumps({**_payload(), "alerts": [{"labels": "x"}]}).encode(), 400),
        (b"[" * 2_000_000, 413),
    ],
)
def test_a_malformed_or_oversized_body_is_refused_and_stores_nothing(
    alert_webhook: AlertWebhook, body: bytes, status: int
) -> None:
    assert _post(alert_webhook.url, body, _authorised()) == status
    assert alert_webhook.stored() == 0


def test_a_delivery_is_stored_once_and_its_resolution_updates_it(
    alert_webhook: AlertWebhook,
) -> None:
    body = json.dumps(_payload()).encode()
    assert _post(alert_webhook.url, body, _authorised()) == 200
    assert _post(alert_webhook.url, body, _authorised()) == 200  # Alertmanager repeats
    resolved = _payload("resolved", ends_at="2026-11-30T09:10:00Z")
    assert _post(alert_webhook.url, json.dumps(resolved).encode(), _authorised()) == 200
    with alert_webhook.db.session() as session:
        (row,) = session.scalars(select(AlertEvent)).all()
        assert row.alertname == "CheckoutHighErrorRate" and row.labels == CHECKOUT_ALERT
        assert row.starts_at == datetime(2026, 11, 30, 9, 2, 10, 123456, tzinfo=UTC)
        assert row.status == "resolved"
        assert row.ends_at == datetime(2026, 11, 30, 9, 10, tzinfo=UTC)


def test_alertmanager_delivers_alerts_to_the_webhook(
    alertmanager: Alertmanager, alert_webhook: AlertWebhook
) -> None:
    alertmanager.fire(CHECKOUT_ALERT)
    alertmanager.fire(SEARCH_ALERT)
    alert_webhook.wait_for(
        lambda rows: {r.alertname for r in rows} == {"CheckoutHighErrorRate", "SearchSlow"}
    )
    with alert_webhook.db.session() as session:
        rows = session.scalars(select(AlertEvent)).all()
        assert {r.status for r in rows} == {"firing"}
        assert all(r.received_at == alert_webhook.clock.now() for r in rows)


# --- the gate ---------------------------------------------------------------------------------


def _name_alerts(db: Database, matchers: dict[str, str]) -> None:
    with db.session() as session:
        find_service(session=session, name="checkout").alerting = {"matchers": matchers}


def _wait_active(alertmanager: Alertmanager, name: str) -> None:
    for _ in range(100):
        if any(a["labels"].get("alertname") == name for a in alertmanager.active()):
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never became active")


@pytest.mark.executors("local", "kubernetes")
def test_a_run_is_refused_while_an_alert_of_its_service_fires(
    engine: Engine, alertmanager: Alertmanager
) -> None:
    _name_alerts(engine.db, {"service": "checkout"})
    alertmanager.fire(CHECKOUT_ALERT)
    _wait_active(alertmanager, "CheckoutHighErrorRate")
    engine.env["CHAOSBOT_ALERTMANAGER_URL"] = alertmanager.url
    run_id, key = engine.create()
    assert engine.run(run_id) == 4  # aborted
    run = engine.row(run_id)
    assert run.status is RunStatus.ABORTED
    assert (
        run.reason == "refused by preflight: alert CheckoutHighErrorRate is firing for this service"
    )
    assert engine.policies(key) == []  # nothing was injected


def test_an_alert_of_another_service_lets_the_run_start(
    engine: Engine, alertmanager: Alertmanager
) -> None:
    _name_alerts(engine.db, {"service": "checkout"})
    alertmanager.fire(SEARCH_ALERT)
    _wait_active(alertmanager, "SearchSlow")
    engine.env["CHAOSBOT_ALERTMANAGER_URL"] = alertmanager.url
    run_id, _key = engine.create()
    assert engine.run(run_id) == 0
    assert engine.status(run_id) is RunStatus.COMPLETED


def test_an_unreachable_alertmanager_refuses_the_run(engine: Engine) -> None:
    _name_alerts(engine.db, {"service": "checkout"})
    engine.env["CHAOSBOT_ALERTMANAGER_URL"] = f"http://127.0.0.1:{free_port()}"
    run_id, _key = engine.create()
    assert engine.run(run_id) == 4
    reason = engine.row(run_id).reason or ""
    assert reason.startswith("refused by preflight: Alertmanager could not say whether an alert")
    assert "no run starts without knowing" in reason


# --- blind drills -----------------------------------------------------------------------------


def _drill_harness(db: Database, *, tier: int, announce_after: int | None = None) -> Harness:
    register_service(db, tier=tier)
    opt_in(db)
    alerting: dict[str, Any] = {"matchers": {"service": "checkout"}}
    if announce_after is not None:
        alerting["announceAfterMinutes"] = announce_after
    with db.session() as session:
        find_service(session=session, name="checkout").alerting = alerting
    harness = Harness(db)
    harness.tick()
    return harness


def _findings(db: Database, kind: FindingKind) -> list[tuple[Severity, str]]:
    with db.session() as session:
        return [
            (f.severity, f.title)
            for f in session.scalars(select(Finding).where(Finding.kind == kind))
        ]


def test_a_drill_detected_by_an_alertmanager_alert_says_so_at_the_reveal(
    db: Database, alertmanager: Alertmanager, alert_webhook: AlertWebhook
) -> None:
    harness = _drill_harness(db, tier=2)
    drill = harness.fire_next()
    assert drill.run_id is not None and drill.fired_at is not None
    harness.worker(drill.run_id, injected_after=timedelta(seconds=20))
    injected = drill.fired_at + timedelta(seconds=20)
    # Another service's alert, before this one's, is not this drill's detection.
    alertmanager.fire(SEARCH_ALERT, starts_at=injected + timedelta(minutes=1))
    alertmanager.fire(CHECKOUT_ALERT, starts_at=injected + timedelta(minutes=2, seconds=10))
    alert_webhook.wait_for(lambda rows: len(rows) == 2)
    harness.at(drill.fired_at + timedelta(minutes=30, seconds=30))
    harness.end_run(drill.run_id)
    harness.scheduler.run_finished(drill.run_id)
    revealed = harness.drill(drill.key)
    assert revealed.detection is Detection.DETECTED
    assert revealed.detected_alert == "CheckoutHighErrorRate"
    shown = str(harness.messages(drill.key)[-2].payload["blocks"])
    assert "Your monitoring fired `CheckoutHighErrorRate` 2m 10s after the fault." in shown
    assert _findings(db, FindingKind.UNDETECTED) == []


def test_a_drill_no_alert_of_the_team_fired_for_is_a_high_finding_for_tier_1(
    db: Database, alertmanager: Alertmanager, alert_webhook: AlertWebhook
) -> None:
    harness = _drill_harness(db, tier=1)
    drill = harness.fire_next()
    assert drill.run_id is not None and drill.fired_at is not None
    harness.worker(drill.run_id, injected_after=timedelta(seconds=20))
    injected = drill.fired_at + timedelta(seconds=20)
    alertmanager.fire(SEARCH_ALERT, starts_at=injected + timedelta(minutes=1))
    # This service's alert, but from before the fault: not a detection of it.
    alertmanager.fire(CHECKOUT_ALERT, starts_at=injected - timedelta(minutes=5))
    alert_webhook.wait_for(lambda rows: len(rows) == 2)
    harness.at(drill.fired_at + timedelta(minutes=30, seconds=30))
    harness.end_run(drill.run_id)
    harness.scheduler.run_finished(drill.run_id)
    assert harness.drill(drill.key).detection is Detection.MISSED
    shown = str(harness.messages(drill.key)[-2].payload["blocks"])
    assert "No alert of yours fired during the drill: a finding." in shown
    assert _findings(db, FindingKind.UNDETECTED) == [
        (Severity.HIGH, "No alert fired during a blind drill (pod-kill)")
    ]


def test_with_announce_after_chaosbot_stays_silent_when_the_team_alert_fires_first(
    db: Database, alertmanager: Alertmanager, alert_webhook: AlertWebhook
) -> None:
    harness = _drill_harness(db, tier=2, announce_after=5)
    drill = harness.fire_next()
    assert drill.run_id is not None and drill.fired_at is None  # no alert of chaosbot's yet
    assert harness.messages(drill.key) == []
    start = harness.clock.now()
    harness.worker(drill.run_id, injected_after=timedelta(seconds=20))
    injected = start + timedelta(seconds=20)
    alertmanager.fire(CHECKOUT_ALERT, starts_at=injected + timedelta(minutes=1, seconds=5))
    alert_webhook.wait_for(lambda rows: len(rows) == 1)
    harness.at(injected + timedelta(minutes=5))
    assert harness.tick().announced == []
    assert harness.messages(drill.key) == []  # the team's own alert carries the incident
    assert harness.drill(drill.key).detection is Detection.DETECTED
    harness.at(start + timedelta(minutes=30, seconds=30))
    harness.end_run(drill.run_id)
    assert harness.tick().revealed == [drill.key]
    (reveal,) = harness.messages(drill.key)  # the reveal is its first message
    assert reveal.method == "chat.postMessage"
    shown = str(reveal.payload["blocks"])
    assert "Your monitoring fired `CheckoutHighErrorRate` 1m 05s after the fault." in shown
    assert "chaosbot raised no alert of its own" in shown
    assert _findings(db, FindingKind.SLOW_RESPONSE) == []  # nothing of chaosbot's to answer


def test_with_announce_after_chaosbot_alerts_with_what_was_measured_when_nothing_fired(
    db: Database,
) -> None:
    harness = _drill_harness(db, tier=2, announce_after=5)
    drill = harness.fire_next()
    assert drill.run_id is not None
    start = harness.clock.now()
    harness.worker(drill.run_id, injected_after=timedelta(seconds=20))
    injected = start + timedelta(seconds=20)
    with db.session() as session:
        record_measurement(
            session=session,
            run_id=drill.run_id,
            at=injected + timedelta(minutes=4),
            probe="health",
            ok=False,
            value=None,
            detail="got 503, expected 200",
        )
    harness.at(injected + timedelta(minutes=4, seconds=59))
    assert harness.tick().announced == []
    harness.at(injected + timedelta(minutes=5))
    assert harness.tick().announced == [drill.key]
    assert harness.tick().announced == []  # once
    (alert,) = harness.messages(drill.key)
    shown = str(alert.payload)
    measured = injected + timedelta(minutes=4)
    assert f"latest steady-state check at {measured:%H:%M:%S} UTC" in shown  # its own time
    assert "health failing (got 503, expected 200)" in shown
    assert harness.drill(drill.key).fired_at == injected + timedelta(minutes=5)
    harness.at(start + timedelta(minutes=30, seconds=30))
    harness.end_run(drill.run_id)
    assert harness.tick().revealed == [drill.key]
    assert harness.drill(drill.key).detection is Detection.MISSED
