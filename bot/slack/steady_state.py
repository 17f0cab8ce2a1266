"""How Slack words a service's steady state: its probes, and the stop conditions of the watch
(a run's message, the game-day approval, the service's details all say it alike)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.catalog.spec import HttpProbe, PrometheusProbe, SteadyStateWatch, probe_from_stored
from bot.probes.tolerance import bounds_text
from bot.slack.mrkdwn import escape

__all__ = ["probe_line", "stop_conditions", "watch_text"]


def probe_line(stored: Mapping[str, Any]) -> str:
    """One of a service's probes as stored (services.probes), in mrkdwn with what a person
    wrote (a URL, a query) escaped."""
    probe, _ = probe_from_stored(stored)
    if isinstance(probe, HttpProbe):
        return (
            f"`{escape(probe.url)}` answers {probe.expected_status} within "
            f"{probe.latency_budget_ms} ms"
        )
    if isinstance(probe, PrometheusProbe):
        return f"Prometheus `{escape(probe.query)}` {bounds_text(probe.min, probe.max)}"
    return f"pods ready {bounds_text(probe.min_ready_percent, None, '%')}"


def stop_conditions(*, interval_seconds: float, fail_after: int) -> str:
    """When the probes are checked while a fault is in place, and when a run halts."""
    return (
        f"every {interval_seconds:g} s from the injection to the end of the rollback "
        f"({fail_after} failed checks in a row halt the run)"
    )


def watch_text(probes: Sequence[Mapping[str, Any]], watch: SteadyStateWatch) -> str:
    """A service's steady state and stop conditions, as a game day's approvers approve them."""
    lines = [f"• {probe_line(p)}" for p in probes] or ["• none"]
    return (
        "*Steady state* (checked "
        + stop_conditions(interval_seconds=watch.interval_seconds, fail_after=watch.fail_after)
        + "; a halted run stops the game day's remaining experiments):\n"
        + "\n".join(lines)
    )
