"""How long a run may stay in each state before the janitor ends it (after rolling back).

Every state that is not terminal has a deadline, derived from the run's own hold and the time
each step may take; a run past it is stuck (a worker hung in an API call, a hand-over that never
happened), and a run is never left in a non-terminal state for ever.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.runs.models import Run
from bot.runs.states import TERMINAL, RunStatus

__all__ = ["BUDGETS", "deadline", "hold_of"]

# The time each step may take, beyond the hold itself.
SCHEDULED_WAIT = timedelta(hours=6)  # a recorded run that no worker ever picked up
PREFLIGHT_TIME = timedelta(minutes=2)
INJECT_TIME = timedelta(minutes=5)  # the method's actions, around the hold
ROLLBACK_TIME = timedelta(minutes=10)

# From the run's start (preflight), how long it may take to be past each state, not counting the
# hold; INJECTING and HOLDING also get the hold.
BUDGETS: dict[RunStatus, timedelta] = {
    RunStatus.PREFLIGHT: PREFLIGHT_TIME,
    RunStatus.INJECTING: PREFLIGHT_TIME + INJECT_TIME,
    RunStatus.HOLDING: PREFLIGHT_TIME + INJECT_TIME,
    RunStatus.ROLLING_BACK: PREFLIGHT_TIME + INJECT_TIME + ROLLBACK_TIME,
}
_HELD = frozenset({RunStatus.INJECTING, RunStatus.HOLDING, RunStatus.ROLLING_BACK})

if set(BUDGETS) | {RunStatus.SCHEDULED} | TERMINAL != set(RunStatus):  # pragma: no cover
    raise RuntimeError("every non-terminal run state needs a deadline")


def hold_of(run: Run) -> timedelta:
    """How long the run holds its fault, from its rendered experiment."""
    value = (run.document.get("configuration") or {}).get("hold_seconds", 0)
    try:
        return timedelta(seconds=max(0.0, float(value)))
    except (TypeError, ValueError):
        return timedelta(0)


def deadline(run: Run) -> datetime | None:
    """When the run must have left its current state; None once it is terminal."""
    if run.status in TERMINAL:
        return None
    if run.status is RunStatus.SCHEDULED:
        return (run.scheduled_for or run.created_at) + SCHEDULED_WAIT
    started = run.started_at or run.created_at
    budget = BUDGETS[run.status]
    if run.status in _HELD:
        budget += hold_of(run)
    return started + budget
