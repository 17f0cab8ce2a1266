"""The run lifecycle: its states and the only transitions allowed between them."""

from __future__ import annotations

import enum

__all__ = ["ACTIVE", "IN_CLUSTER", "TERMINAL", "TRANSITIONS", "RunStatus", "Trigger"]


class RunStatus(enum.StrEnum):
    """Where a run is. Terminal states never change again."""

    SCHEDULED = "scheduled"
    PREFLIGHT = "preflight"
    INJECTING = "injecting"
    HOLDING = "holding"
    ROLLING_BACK = "rolling_back"
    COMPLETED = "completed"  # the steady state held before and after
    DEVIATED = "deviated"  # the steady state did not hold: a finding
    HALTED = "halted"  # the steady state broke while the fault held: stopped at once, a finding
    ABORTED = "aborted"  # halted by a person (or refused by preflight before any write)
    FAILED = "failed"  # the run itself broke (API errors, a rollback failed, the worker died)


class Trigger(enum.StrEnum):
    """Why a run happened."""

    GAMEDAY = "gameday"
    BLIND = "blind"
    ADHOC = "adhoc"
    CI = "ci"


TERMINAL = frozenset(
    {
        RunStatus.COMPLETED,
        RunStatus.DEVIATED,
        RunStatus.HALTED,
        RunStatus.ABORTED,
        RunStatus.FAILED,
    }
)
ACTIVE = frozenset(RunStatus) - TERMINAL - {RunStatus.SCHEDULED}
# States in which the cluster may hold a fault of this run.
IN_CLUSTER = frozenset({RunStatus.INJECTING, RunStatus.HOLDING, RunStatus.ROLLING_BACK})

_ENDINGS = {RunStatus.ABORTED, RunStatus.FAILED}
TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.SCHEDULED: frozenset({RunStatus.PREFLIGHT} | _ENDINGS),
    RunStatus.PREFLIGHT: frozenset({RunStatus.INJECTING} | _ENDINGS),
    RunStatus.INJECTING: frozenset({RunStatus.HOLDING, RunStatus.ROLLING_BACK} | _ENDINGS),
    RunStatus.HOLDING: frozenset({RunStatus.ROLLING_BACK} | _ENDINGS),
    RunStatus.ROLLING_BACK: frozenset(TERMINAL),
    **{state: frozenset() for state in TERMINAL},
}
