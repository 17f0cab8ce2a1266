"""A Chaos Toolkit control that ends a run "failed" when it failed or never started, and the
journal readings the worker shares with it.

chaostoolkit-lib records a failed action (an API error while injecting, a rollback that could
not restore) as a failed activity but still ends the journal "completed" (a long-standing
choice, see chaostoolkit/chaostoolkit#115 and chaostoolkit-kubernetes#102). It also ends a run
"completed" when the steady state did not hold before the method, so it played no method at all
(only the rollbacks). For chaosbot neither is a successful experiment, so every template
declares this control; it only touches a journal that chaostoolkit-lib called "completed", and
the worker reads its verdict from the steady-state checks, not from this status.
"""

from __future__ import annotations

from typing import Any

__all__ = ["after_experiment_control", "failed_actions", "not_started"]


def failed_actions(journal: dict[str, Any]) -> list[str]:
    """The names of the method's and the rollbacks' actions that failed."""
    runs = list(journal.get("run") or []) + list(journal.get("rollbacks") or [])
    return [
        str(run.get("activity", {}).get("name"))
        for run in runs
        if isinstance(run, dict)
        and run.get("status") == "failed"
        and run.get("activity", {}).get("type") == "action"
    ]


def not_started(journal: dict[str, Any]) -> bool:
    """Whether the steady state did not hold before the method, which chaostoolkit-lib then skips."""
    states = journal.get("steady_states")
    before = states.get("before") if isinstance(states, dict) else None
    return isinstance(before, dict) and before.get("steady_state_met") is False


def after_experiment_control(context: dict[str, Any], state: dict[str, Any], **_: Any) -> None:
    """chaostoolkit-lib's hook after a run: a completed journal that failed or never started fails."""
    if (
        isinstance(state, dict)
        and state.get("status") == "completed"
        and (failed_actions(state) or not_started(state))
    ):
        state["status"] = "failed"
