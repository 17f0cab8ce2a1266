"""The alert gate: no run injects while an alert of its service fires.

The domain asks a `FiringAlerts` (bot.alertmanager.AlertmanagerClient answers it from
Alertmanager's API); it never learns where Alertmanager is or how it is asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from bot.errors import ChaosbotError

__all__ = ["AlertsUnavailable", "FiringAlerts", "alert_refusal"]


class AlertsUnavailable(ChaosbotError):
    """Alertmanager could not say which alerts fire; `reason` names no secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FiringAlerts(Protocol):
    """Which of the team's alerts fire now."""

    def firing(self, matchers: Mapping[str, str]) -> list[str]:
        """Names of the alerts firing now (neither silenced nor inhibited) whose labels carry
        every matcher; raises AlertsUnavailable when that cannot be known."""
        ...


def alert_refusal(alerts: FiringAlerts | None, matchers: Mapping[str, str]) -> str | None:
    """Why a run of a service with these matchers may not start, or None.

    Fails safe: when Alertmanager is configured but cannot answer, nobody knows whether the
    service is already on fire, so the run does not start.
    """
    if alerts is None or not matchers:
        return None
    try:
        names = alerts.firing(matchers)
    except AlertsUnavailable as unavailable:
        return (
            f"Alertmanager could not say whether an alert of this service fires "
            f"({unavailable.reason}); no run starts without knowing"
        )
    if not names:
        return None
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    verb = "is" if len(names) == 1 else "are"
    return f"alert {shown} {verb} firing for this service"
