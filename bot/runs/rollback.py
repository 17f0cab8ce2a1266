"""A run's rollbacks played again outside its worker: the worker died, or something was left.

`chaosbot worker --rollback RUN_ID` calls `replay_rollbacks` in a process of its own (chaoslib
installs signal handlers, so it cannot run in one of the bot's threads). Rollbacks find their
work by the run label and restore what the objects themselves recorded, so replaying them is
always safe: twice, after a partial rollback, or when nothing was injected at all.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta
from typing import Any, Protocol

from chaoslib.experiment import run_experiment

from bot.clock import Clock
from bot.db.engine import Database
from bot.runs.events import RunObserver
from bot.runs.service import find_run, note, transition
from bot.runs.states import TERMINAL, RunStatus

__all__ = ["LeftoverCheck", "replay_rollbacks", "retry_delay"]

log = logging.getLogger(__name__)

RETRY_MAX = timedelta(minutes=5)
# A worker that died while injecting may have had a write in flight, which the API server
# completes after the worker is gone (and after our first check): for this long after the run
# ended, which covers the API server's own request timeout (one minute by default), the label
# is checked again from time to time even when nothing was found.
SETTLE = timedelta(seconds=90)


class LeftoverCheck(Protocol):
    def leftovers(
        self, key: str, *, context: str | None, kinds: Collection[str] | None = None
    ) -> list[str]:
        """What still carries the run's label, among the kinds its experiment `creates`."""
        ...


# Hears every change (bot.runs.events): the run's end in its transaction, then after the commit.
Observer = RunObserver


def retry_delay(attempts: int, base: timedelta) -> timedelta:
    """How long after a rollback attempt that left something behind the next one comes."""
    delay: timedelta = base * 2 ** max(0, attempts - 1)
    return min(delay, RETRY_MAX)


def replay_rollbacks(
    run_id: int,
    *,
    db: Database,
    clock: Clock,
    cluster: LeftoverCheck,
    observer: Observer,
    retry_base: timedelta,
) -> RunStatus:
    """Play the run's rollbacks, check what is left by its label, and record the outcome.

    A run that is not finished (its worker is gone or stuck) ends here: aborted when someone
    asked for that, failed otherwise. A finished run with objects left behind keeps its verdict
    and gets a new attempt on its timeline. Until nothing is left, the next attempt is due at
    `rollback_retry_at`, later after every failure.
    """
    with db.session() as session:
        run = find_run(session=session, ref=run_id)
        status = run.status
        if status in TERMINAL and not run.leftovers and run.rollback_retry_at is None:
            return status
        attempt = run.rollback_attempts + 1
        document, key, context = run.document, run.key, run.cluster_context
        creates = list(run.creates or [])
        aborted_by = run.abort_requested_by
        previous = list(run.leftovers or [])
        finished_at = run.finished_at
        settle = status is RunStatus.INJECTING or (status in TERMINAL and not previous)
        injected = status is not RunStatus.PREFLIGHT and status is not RunStatus.SCHEDULED
        if status not in TERMINAL:
            what = f"the worker is gone while {status.value.replace('_', ' ')}"
        elif previous:
            what = "objects were left behind"
        else:
            what = "a write may still have been in flight when the worker died"
        note(
            session=session,
            run=run,
            now=clock.now(),
            message=f"rollback attempt {attempt} by chaosbot: {what}",
        )
    failed = _play(document) if injected else []
    if failed:
        with db.session() as session:
            for name, error in failed:
                note(
                    session=session,
                    run=find_run(session=session, ref=run_id),
                    now=clock.now(),
                    message=f"rollback attempt {attempt}: {name} failed: {error}",
                )
    try:
        left = cluster.leftovers(key, context=context, kinds=creates)
        unchecked = None
    except Exception as exc:
        unchecked = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
        left = previous or ["unknown (the leftover check failed)"]
    clean = not left and unchecked is None
    now = clock.now()
    settling = settle and (finished_at is None or now - finished_at < SETTLE)
    values: dict[str, Any] = {
        "leftovers": left,
        "rollback_attempts": attempt,
        "rollback_retry_at": (
            None if clean and not settling else now + retry_delay(attempt, retry_base)
        ),
    }
    outcome = "nothing left behind" if clean else "still left: " + ", ".join(left)
    if unchecked:
        outcome += f" (the leftover check failed: {unchecked})"
    if status not in TERMINAL:
        return _end(
            run_id,
            db=db,
            clock=clock,
            observer=observer,
            status=status,
            aborted_by=aborted_by,
            outcome=outcome,
            values=values,
            injected=injected,
        )
    with db.session() as session:
        run = find_run(session=session, ref=run_id)
        for field, value in values.items():
            setattr(run, field, value)
        note(session=session, run=run, now=now, message=f"rollback attempt {attempt}: {outcome}")
    if left != previous or unchecked:  # the message changes only when what is left does
        observer.run_updated(run_id, status, f"rollback attempt {attempt}: {outcome}")
    return status


def _end(
    run_id: int,
    *,
    db: Database,
    clock: Clock,
    observer: Observer,
    status: RunStatus,
    aborted_by: str | None,
    outcome: str,
    values: dict[str, Any],
    injected: bool,
) -> RunStatus:
    where = status.value.replace("_", " ")
    if aborted_by:
        end = RunStatus.ABORTED
        reason = f"aborted by {aborted_by}; its worker was gone, so chaosbot rolled back"
    elif injected:
        end = RunStatus.FAILED
        reason = f"its worker stopped while {where}; chaosbot rolled back"
    else:
        end = RunStatus.FAILED
        reason = f"its worker stopped in {where}, before anything was injected"
    reason += f": {outcome}"
    with db.session() as session:
        moved = transition(
            session=session,
            run_id=run_id,
            to=end,
            now=clock.now(),
            message=reason,
            values={**values, "reason": reason},
            observer=observer,
        )
        if not moved:  # the worker (or another replay) ended it meanwhile
            return find_run(session=session, ref=run_id).status
    observer.run_updated(run_id, end, reason)
    return end


def _play(document: dict[str, Any]) -> list[tuple[str, str]]:
    """Run the rollbacks as a method; the (name, error) of each that failed."""
    replay = {
        "title": f"rollback of {document.get('title', 'a run')}",
        "description": "Rollbacks replayed by chaosbot",
        "configuration": document.get("configuration", {}),
        "secrets": document.get("secrets", {}),
        "method": document.get("rollbacks", []),
        "rollbacks": [],
    }
    journal = run_experiment(replay, settings={"runtime": {"rollbacks": {"strategy": "never"}}})
    return [
        (str(r["activity"].get("name")), _error(r))
        for r in journal.get("run") or []
        if r.get("status") == "failed"
    ]


def _error(run: dict[str, Any]) -> str:
    """The last line of what chaoslib recorded for a failed activity."""
    exception = run.get("exception") or "failed"
    lines = "".join(exception) if isinstance(exception, list) else str(exception)
    return (lines.strip().splitlines() or ["failed"])[-1][:300]
