"""The platform's Prometheus: the instant query of a steady-state `prometheus` probe, its Chaos
Toolkit provider `probe_prometheus`, and the answer to the onboarding check
(bot.catalog.metrics.MetricsView).

The query goes through chaostoolkit-prometheus (`chaosprometheus.probes.query`, the platform's
URL passed as its `prometheus_base_url` configuration), so an exported experiment runs the same
request under a plain `chaos run`. That function sets no client timeout, so it runs in a thread
waited on for the probe's budget: a Prometheus that accepts the connection and never answers
fails the probe instead of stalling the run. The URL comes from the settings when the probe runs
(CHAOSBOT_PROMETHEUS_URL, the worker's or yours), never from the experiment: teams give queries.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from typing import Any

from chaoslib.exceptions import ActivityFailed

from bot.config import Settings, load_settings
from bot.errors import ChaosbotError, SettingsError

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "FUNC",
    "MODULE",
    "Prometheus",
    "QueryRefused",
    "probe_prometheus",
    "short_query",
]

MODULE = "bot.probes.prometheus"
FUNC = "probe_prometheus"
DEFAULT_TIMEOUT_SECONDS = 5.0
SHORT_QUERY = 32  # characters of a query quoted in a probe's name: a halt reason quotes it
_REASON = 300  # characters of Prometheus' own error kept


class QueryRefused(ChaosbotError):
    """The query did not give one number: Prometheus refused it or could not be asked, or it
    returned no series, several, or something else than a number."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Prometheus:
    """The platform's Prometheus, asked for one number."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    @classmethod
    def from_settings(
        cls, settings: Settings, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> Prometheus | None:
        """The platform's Prometheus, or None when it has none (CHAOSBOT_PROMETHEUS_URL)."""
        return cls(settings.prometheus_url, timeout=timeout) if settings.prometheus_url else None

    def instant_value(self, query: str) -> float:
        """The one number `query` returns now (a vector of one sample, or a scalar)."""
        return _one_number(self._ask(query))

    def _ask(self, query: str) -> dict[str, Any]:
        # Imported here: chaostoolkit-prometheus pulls in dateparser and maya, which only the
        # processes that query need.
        from chaosprometheus.probes import query as prometheus_query

        # Its logzero logger writes every query at DEBUG to stderr.
        logging.getLogger("logzero_default").setLevel(logging.INFO)
        answer: dict[str, Any] = {}

        def ask() -> None:
            try:
                answer["document"] = prometheus_query(
                    query,
                    timeout=self.timeout,  # Prometheus' own evaluation timeout
                    configuration={"prometheus_base_url": self.url},
                )
            except Exception as error:
                answer["error"] = error

        thread = threading.Thread(target=ask, name="prometheus-query", daemon=True)
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            raise QueryRefused(f"Prometheus did not answer within {self.timeout:g} s")
        if "error" in answer:
            raise QueryRefused(_refusal(answer["error"])) from None
        document = answer["document"]
        if not isinstance(document, dict) or document.get("status") != "success":
            raise QueryRefused(f"Prometheus answered {_shorten(str(document), _REASON)}")
        return document


def probe_prometheus(query: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> float:
    """The number `query` returns now on the platform's Prometheus, within timeout seconds.

    A query Prometheus refuses, one that returns no series or several, NaN or infinity, or no
    Prometheus configured, fails the probe with the reason.
    """
    try:
        prometheus = Prometheus.from_settings(load_settings(), timeout=float(timeout))
        if prometheus is None:
            raise QueryRefused("the platform has no Prometheus (CHAOSBOT_PROMETHEUS_URL)")
        return prometheus.instant_value(query)
    except (QueryRefused, SettingsError) as error:
        raise ActivityFailed(str(error)) from None


def short_query(query: str) -> str:
    """The query as a probe's name quotes it: one line, at most SHORT_QUERY characters."""
    return _shorten(" ".join(query.split()), SHORT_QUERY)


def _one_number(document: dict[str, Any]) -> float:
    data = document.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return _finite(result[1])
    if kind != "vector":
        raise QueryRefused(f"it returns a {kind}, not one number (use an instant vector)")
    if not result:
        raise QueryRefused("it returns no series: nothing to compare (is the metric scraped?)")
    if len(result) > 1:
        raise QueryRefused(
            f"it returns {len(result)} series, not one number: aggregate them (sum, max, ...)"
        )
    return _finite(result[0]["value"][1])


def _finite(text: Any) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise QueryRefused(
            f"it returns {text}, not a finite number (a ratio with nothing to divide by? "
            "add `or vector(0)`)"
        )
    return value


def _refusal(error: Exception) -> str:
    """Prometheus' own words when it answered with an error, or why it could not be asked."""
    text = str(error)
    _, said, body = text.rpartition(" failed: ")  # chaosprometheus: "... failed: <body>"
    if said:
        try:
            reason = json.loads(body).get("error") or body
        except (ValueError, AttributeError):
            reason = body
        reason = str(reason).removeprefix('invalid parameter "query": ')
        return f"Prometheus refused it: {_shorten(str(reason), _REASON)}"
    return f"Prometheus could not be asked: {type(error).__name__}: {_shorten(text, _REASON)}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
