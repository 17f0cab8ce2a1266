"""Reads and writes of runs. Every state change is a conditional update, so two processes
(a worker and a person pressing Abort, two bot replicas) can never both move the same run."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.audit.service import Auditor, Subject
from bot.catalog.models import Service
from bot.db.engine import Database
from bot.errors import ChaosbotError
from bot.faults.marks import RUN_LABEL
from bot.logs import log_context
from bot.runs.events import RunObserver
from bot.runs.models import Freeze, KillSwitch, Run, RunEvent, RunMeasurement
from bot.runs.states import ACTIVE, TERMINAL, TRANSITIONS, RunStatus, Trigger

__all__ = [
    "RUN_LABEL",
    "RunNotFound",
    "active_runs",
    "audit",
    "create_run",
    "end_unstarted",
    "engage_kill_switch",
    "find_run",
    "freezes_covering",
    "kill_switch_engaged",
    "logged_run",
    "measurements_of",
    "record_measurement",
    "release_kill_switch",
    "transition",
]


class RunNotFound(ChaosbotError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"There is no run `{ref}`.")


def new_run_key() -> str:
    """A label-safe, unguessable run id such as `r-5f2c9a1b7e`."""
    return f"r-{secrets.token_hex(5)}"


def _subject(run: Run) -> Subject:
    return Subject("run", run.key, {"service": run.service.name, "experiment": run.experiment})


# Who asked for a run and how it ended are in the audit trail as well as on the run's row, so
# that `chaosbot audit --service` tells a service's whole story.
audit = Auditor(_subject)


def create_run(
    *,
    session: Session,
    service: Service,
    experiment: str,
    document: dict[str, Any],
    rollback_plan: list[dict[str, Any]],
    creates: Sequence[str],
    parameters: dict[str, Any],
    trigger: Trigger,
    requested_by: str,
    now: datetime,
    key: str,
    dry_run: bool = False,
    scheduled_for: datetime | None = None,
) -> Run:
    """Record a run with its rollback plan and labels, before anything touches the cluster."""
    if not rollback_plan and not dry_run:
        raise ChaosbotError(f"{experiment} has no rollbacks: chaosbot never injects without a plan")
    run = Run(
        key=key,
        service=service,
        experiment=experiment,
        trigger=trigger,
        status=RunStatus.SCHEDULED,
        dry_run=dry_run,
        parameters=parameters,
        document=document,
        rollback_plan=rollback_plan,
        labels={RUN_LABEL: key},
        creates=list(creates),
        cluster_context=service.cluster_context,
        requested_by=requested_by,
        created_at=now,
        scheduled_for=scheduled_for,
        slack_channel=service.team.slack_channel_id,
    )
    session.add(run)
    session.flush()
    _event(session, run.id, now, RunStatus.SCHEDULED, f"{experiment} requested by {requested_by}")
    audit(
        session,
        run,
        requested_by,
        now,
        "run.requested",
        {"trigger": trigger.value, "dry_run": dry_run},
    )
    return run


def find_run(*, session: Session, ref: str | int) -> Run:
    """A run by its id or key."""
    query = (
        select(Run).where(Run.key == ref)
        if isinstance(ref, str) and not ref.isdigit()
        else select(Run).where(Run.id == int(ref))
    )
    run = session.scalar(query)
    if run is None:
        raise RunNotFound(str(ref))
    return run


@contextmanager
def logged_run(db: Database, run_id: int) -> Iterator[None]:
    """While open, this thread's log records carry the run's id and key (and its game day's)."""
    with db.session() as session:
        found = session.execute(
            select(Run.key, Run.gameday_id).where(Run.id == run_id)
        ).one_or_none()
    key, gameday_id = found if found is not None else (None, None)
    with log_context(run_id=run_id, run_key=key, gameday_id=gameday_id):
        yield


def transition(
    *,
    session: Session,
    run_id: int,
    to: RunStatus,
    now: datetime,
    message: str,
    detail: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    observer: RunObserver | None = None,
) -> bool:
    """Move the run to `to` if that is allowed from where it is now; False if it was not.

    The check and the write are one UPDATE ... WHERE status IN (allowed sources), so a
    concurrent transition (an abort racing the worker) makes exactly one of them win. The
    `observer` hears the change in this transaction (the automatic findings are written so).
    """
    sources = [state for state, targets in TRANSITIONS.items() if to in targets]
    changes: dict[str, Any] = {"status": to, **(values or {})}
    if to in TERMINAL:
        changes["finished_at"] = now
    if to is RunStatus.PREFLIGHT:
        changes["started_at"] = now
    result = session.execute(
        update(Run).where(Run.id == run_id, Run.status.in_(sources)).values(**changes)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    _event(session, run_id, now, to, message, detail)
    if observer is None and to not in TERMINAL:
        return True
    run = session.get(Run, run_id, populate_existing=True)
    if run is None:
        return True
    if to in TERMINAL:
        audit(session, run, "chaosbot", now, f"run.{to.value}", {"reason": message[:500]})
    if observer is not None:
        observer.run_changed(session=session, run=run, message=message, now=now)
    return True


def end_unstarted(
    *,
    session: Session,
    run_id: int,
    now: datetime,
    reason: str,
    observer: RunObserver | None = None,
) -> bool:
    """End a run that no worker has started: aborted, with its reason; False if it had moved."""
    return transition(
        session=session,
        run_id=run_id,
        to=RunStatus.ABORTED,
        now=now,
        message=reason,
        values={"reason": reason},
        observer=observer,
    )


def note(
    *, session: Session, run: Run, now: datetime, message: str, detail: dict[str, Any] | None = None
) -> None:
    """Add a timeline line without changing the state."""
    _event(session, run.id, now, run.status, message, detail)


def _event(
    session: Session,
    run_id: int,
    now: datetime,
    status: RunStatus,
    message: str,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        RunEvent(run_id=run_id, at=now, status=status, message=message, detail=detail or {})
    )


def record_measurement(
    *,
    session: Session,
    run_id: int,
    at: datetime,
    probe: str,
    ok: bool,
    value: float | None,
    detail: str,
) -> None:
    """Add one steady-state check to the run's time series."""
    session.add(
        RunMeasurement(
            run_id=run_id, at=at, probe=probe[:128], ok=ok, value=value, detail=detail[:200]
        )
    )


def measurements_of(*, session: Session, run_id: int) -> Sequence[RunMeasurement]:
    """The run's steady-state checks, in the order they were made."""
    return session.scalars(
        select(RunMeasurement).where(RunMeasurement.run_id == run_id).order_by(RunMeasurement.id)
    ).all()


def active_runs(*, session: Session, statuses: Iterable[RunStatus] = ACTIVE) -> Sequence[Run]:
    """Runs in the given states, oldest first."""
    return session.scalars(select(Run).where(Run.status.in_(list(statuses))).order_by(Run.id)).all()


def kill_switch_engaged(*, session: Session) -> KillSwitch | None:
    """The kill switch row when it is engaged, else None."""
    switch = session.get(KillSwitch, 1)
    return switch if switch is not None and switch.engaged else None


def engage_kill_switch(*, session: Session, by: str, now: datetime, reason: str) -> None:
    switch = session.get(KillSwitch, 1) or KillSwitch(id=1)
    switch.engaged, switch.changed_by, switch.changed_at, switch.reason = True, by, now, reason
    session.add(switch)


def release_kill_switch(*, session: Session, by: str, now: datetime) -> None:
    switch = session.get(KillSwitch, 1) or KillSwitch(id=1)
    switch.engaged, switch.changed_by, switch.changed_at, switch.reason = False, by, now, None
    session.add(switch)


def freezes_covering(*, session: Session, team_id: int, at: datetime) -> Sequence[Freeze]:
    """Freezes in force at `at` for the team or for everything."""
    return session.scalars(
        select(Freeze).where(
            (Freeze.team_id == team_id) | Freeze.team_id.is_(None),
            Freeze.starts_at <= at,
            Freeze.ends_at > at,
        )
    ).all()
