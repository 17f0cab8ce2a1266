"""What a drill's alert states, as plain text kept on its row: severity, symptom, durations."""

from __future__ import annotations

from datetime import timedelta

from bot.runs.models import RunMeasurement

__all__ = ["duration_text", "severity_of", "symptom_of"]


def severity_of(tier: int) -> str:
    """An alert's severity from the service's tier: tier 1 is SEV2, tier 2 SEV3, else SEV4."""
    return f"SEV{min(tier + 1, 4)}"


def symptom_of(latest: RunMeasurement | None, namespace: str) -> str:
    """What the alert says is wrong: only what was measured by the moment it is raised.

    A drill that alerts as it starts has measured nothing yet, so it claims no symptom; one
    that waited (alerting.announceAfterMinutes) quotes the latest steady-state check.
    """
    if latest is None:
        # Nor may it name chaosbot: until the reveal, it is an incident like any other.
        return f"the service in {namespace} needs a look; no symptom measured yet"
    verdict = "passing" if latest.ok else "failing"
    return (
        f"latest steady-state check at {latest.at:%H:%M:%S} UTC: {latest.probe} {verdict} "
        f"({latest.detail})"
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
