"""What the catalogue asks the platform's metrics, as one small port.

`bot.probes.prometheus.Prometheus` answers it; the onboarding check (`check_queries` in
bot/catalog/flows.py) and its tests only see this Protocol.
"""

from __future__ import annotations

from typing import Protocol

from bot.probes.prometheus import QueryRefused

__all__ = ["MetricsView", "QueryRefused"]


class MetricsView(Protocol):
    """Read-only questions the catalogue asks the platform's Prometheus."""

    def instant_value(self, query: str) -> float:
        """The one number the query returns now; QueryRefused says why there is none (it
        does not parse, it returns no series or several, Prometheus cannot be reached)."""
        ...
