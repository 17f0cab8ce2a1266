"""How Slack words a service's steady state: its probes, and the stop conditions of the watch
(a run's message, the game-day approval, the service's details all say it alike)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.catalog.spec import SteadyStateWatch
from bot.slack.mrkdwn import escape

__all__ = ["probe_line", "stop_conditions", "watch_text"]


def probe_line(probe: Mapping[str, Any]) -> str:
    """One of a service's probes as stored ({url, expectedStatus, latencyBudgetMs}), in mrkdwn
    with its URL escaped; a probe of another shape is quoted field by field, escaped."""
    if "url" in probe:
        return (
            f"`{escape(str(probe['url']))}` answers {probe.get('expectedStatus', 200)} "
            f"within {probe.get('latencyBudgetMs', 1000)} ms"
        )
    return escape(", ".join(f"{key}: {value}" for key, value in probe.items()))


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
