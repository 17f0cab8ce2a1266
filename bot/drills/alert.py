"""What a drill's alert states, as plain text kept on its row: severity, symptom, durations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

__all__ = ["duration_text", "severity_of", "symptom_of"]


def severity_of(tier: int) -> str:
    """An alert's severity from the service's tier: tier 1 is SEV2, tier 2 SEV3, else SEV4."""
    return f"SEV{min(tier + 1, 4)}"


def symptom_of(probes: Sequence[dict[str, Any]], namespace: str) -> str:
    """What the alert says is wrong: the first steady-state probe's promise, broken."""
    http = [p for p in probes if p.get("kind", "http") == "http"]
    if not http:
        return f"pods of the service in {namespace} are not ready"
    probe = http[0]
    return (
        f"steady-state probe failing: GET {probe['url']} should answer "
        f"{probe.get('expectedStatus', 200)} within {probe.get('latencyBudgetMs', 1000)} ms"
    )


def duration_text(delta: timedelta) -> str:
    """`45s`, `3m 05s`, `1h 02m`."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
