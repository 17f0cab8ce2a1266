"""Alertmanager, as chaosbot talks to it: its API v2 asked which alerts fire (the gate), and
its webhook payload (version 4) read into alerts the domain stores.

An adapter: the domain sees only bot.alerts.gate.FiringAlerts and bot.alerts.service.ReceivedAlert.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError

from bot.alerts.gate import AlertsUnavailable
from bot.alerts.service import ReceivedAlert

__all__ = ["AlertmanagerClient", "WebhookInvalid", "matcher_filter", "read_webhook"]

TIMEOUT_SECONDS = 5.0
JSON = "application/json"
# A receiver's max_alerts is 0 (all of a group) unless set; a delivery bigger than this is not
# one of a service's alert groups.
MAX_ALERTS = 1000
_STATUSES = frozenset({"firing", "resolved"})
# Alertmanager's Go zero time, sent as endsAt of an alert that has not resolved.
_ZERO_YEAR = 1


class AlertmanagerClient:
    """The gate's FiringAlerts, answered by Alertmanager's API v2 at `url`."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self._url = url.rstrip("/")
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(total=timeout), retries=False, headers={"Accept": JSON}
        )

    def firing(self, matchers: Mapping[str, str]) -> list[str]:
        """Names of the active alerts, neither silenced nor inhibited, carrying every matcher."""
        fields = [("active", "true"), ("silenced", "false"), ("inhibited", "false")]
        fields += [("filter", matcher_filter(k, v)) for k, v in sorted(matchers.items())]
        try:
            response = self._http.request("GET", f"{self._url}/api/v2/alerts", fields=fields)
        except HTTPError as error:
            raise AlertsUnavailable(f"{self._url} did not answer: {type(error).__name__}") from None
        if response.status != 200:
            raise AlertsUnavailable(f"{self._url} answered HTTP {response.status}")
        try:
            alerts = json.loads(response.data)
        except ValueError:
            raise AlertsUnavailable(f"{self._url} answered something that is not JSON") from None
        if not isinstance(alerts, list):
            raise AlertsUnavailable(f"{self._url} answered something that is not a list")
        names = set()
        for alert in alerts:
            labels = alert.get("labels") if isinstance(alert, dict) else None
            state = (alert.get("status") or {}).get("state") if isinstance(alert, dict) else None
            # Alertmanager filtered already; checked again so a proxy that drops the query
            # parameters cannot make another service's alert this one's.
            if (
                isinstance(labels, dict)
                and state == "active"
                and all(labels.get(k) == v for k, v in matchers.items())
            ):
                names.add(str(labels.get("alertname", "(unnamed)")))
        return sorted(names)

    def close(self) -> None:
        self._http.clear()


def matcher_filter(label: str, value: str) -> str:
    """`label="value"`, the matcher syntax of Alertmanager's `filter` parameter."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{label}="{escaped}"'


class WebhookInvalid(ValueError):
    """A webhook body that is not Alertmanager's version 4 payload; says what is wrong."""


_FINGERPRINT = re.compile(r"[0-9a-f]{1,64}")


def read_webhook(payload: object) -> list[ReceivedAlert]:
    """The alerts of one Alertmanager webhook delivery (payload version "4")."""
    if not isinstance(payload, dict):
        raise WebhookInvalid("the body is not a JSON object")
    if payload.get("version") != "4":
        raise WebhookInvalid('only version "4" of the webhook payload is read')
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise WebhookInvalid("alerts is not a list")
    if len(alerts) > MAX_ALERTS:
        raise WebhookInvalid(f"more than {MAX_ALERTS} alerts in one delivery")
    return [_alert(index, alert) for index, alert in enumerate(alerts)]


def _alert(index: int, alert: Any) -> ReceivedAlert:
    where = f"alerts[{index}]"
    if not isinstance(alert, dict):
        raise WebhookInvalid(f"{where} is not an object")
    labels = alert.get("labels")
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise WebhookInvalid(f"{where}.labels is not a map of text to text")
    status = alert.get("status")
    if status not in _STATUSES:
        raise WebhookInvalid(f"{where}.status is not firing or resolved")
    fingerprint = alert.get("fingerprint")
    if not isinstance(fingerprint, str) or not _FINGERPRINT.fullmatch(fingerprint):
        raise WebhookInvalid(f"{where}.fingerprint is not Alertmanager's hex fingerprint")
    starts_at = _time(alert.get("startsAt"), f"{where}.startsAt")
    ends_at = _time(alert.get("endsAt"), f"{where}.endsAt") if alert.get("endsAt") else None
    if ends_at is not None and ends_at.year == _ZERO_YEAR:
        ends_at = None
    if starts_at.year == _ZERO_YEAR:
        raise WebhookInvalid(f"{where}.startsAt is not set")
    return ReceivedAlert(
        fingerprint=fingerprint,
        alertname=labels.get("alertname", "(unnamed)")[:200],
        labels=labels,
        status=status,
        starts_at=starts_at,
        ends_at=ends_at,
    )


def _time(value: object, where: str) -> datetime:
    """An RFC 3339 time as Alertmanager writes it (nanoseconds, `Z` or an offset), in UTC."""
    if not isinstance(value, str):
        raise WebhookInvalid(f"{where} is not an RFC 3339 time")
    # Python reads at most microseconds: cut Go's nanoseconds to six digits.
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WebhookInvalid(f"{where} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise WebhookInvalid(f"{where} has no time zone")
    return moment.astimezone(UTC)
