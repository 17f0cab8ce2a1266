"""The hold step of every experiment: keep the fault in place for a while, interruptibly."""

from __future__ import annotations

import time
from typing import Any

from chaoslib.exceptions import ActivityFailed

from bot.faults.args import as_float

__all__ = ["hold"]

# Sleep in small steps: chaoslib's SIGUSR1 handler raises in the main thread, and a short step
# bounds how long anything else that only checks between steps would wait.
STEP_SECONDS = 0.25


def hold(seconds: Any = 60) -> dict[str, float]:
    """Wait `seconds` while the fault stays in place; returns how long it held."""
    total = as_float(seconds, "seconds")
    if total < 0:
        raise ActivityFailed(f"seconds must not be negative, not {total}")
    started = time.monotonic()
    deadline = started + total
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(STEP_SECONDS, left))
    return {"held_seconds": round(time.monotonic() - started, 3)}
