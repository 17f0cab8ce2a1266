"""A Chaos Toolkit control that ends a run "failed" when one of its actions failed.

chaostoolkit-lib records a failed action (an API error while injecting, a rollback that could
not restore) as a failed activity but still ends the journal "completed" (a long-standing
choice, see chaostoolkit/chaostoolkit#115 and chaostoolkit-kubernetes#102). For chaosbot a
fault that was not injected, or not undone, is not a successful experiment, so every template
declares this control; it only touches a journal that chaostoolkit-lib called "completed".
"""

from __future__ import annotations

from typing import Any

__all__ = ["after_experiment_control", "failed_actions"]


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


def after_experiment_control(context: dict[str, Any], state: dict[str, Any], **_: Any) -> None:
    """chaostoolkit-lib's hook after a run: a completed journal with a failed action fails."""
    if isinstance(state, dict) and state.get("status") == "completed" and failed_actions(state):
        state["status"] = "failed"
