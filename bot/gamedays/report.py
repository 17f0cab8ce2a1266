"""The report of a game day, or of one run: the plan and who approved it, each experiment's
facts (bot/runs/report.py), the halts and their reasons, who responded, the findings and their
action items; gathered from the rows as they are now (bot/reports/render.py writes it out)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from bot.drills.models import Drill
from bot.findings.models import Finding
from bot.gamedays.models import GameDay, GameDayStatus
from bot.gamedays.service import find_gameday, runs_of
from bot.reports.facts import (
    Approval,
    FindingFacts,
    Halt,
    ItemFacts,
    Plan,
    Report,
    Response,
)
from bot.runs.models import Run
from bot.runs.report import run_facts
from bot.runs.service import find_run
from bot.runs.states import RunStatus

__all__ = ["gameday_report", "report_of", "run_report"]

# A run ending so stopped early; its reason says why.
_STOPPED = frozenset({RunStatus.HALTED, RunStatus.ABORTED, RunStatus.FAILED})
_GAMEDAY_STOPPED = frozenset({GameDayStatus.HALTED, GameDayStatus.MISSED})
_CHAOSBOT = "chaosbot"


def gameday_report(*, session: Session, ref: str, now: datetime) -> Report:
    """The report of game day `ref` (its key)."""
    return report_of(session, find_gameday(session=session, ref=ref), now=now)


def report_of(session: Session, gameday: GameDay, *, now: datetime) -> Report:
    """The report of a game day already loaded (as it settles, in its own transaction)."""
    runs = runs_of(session=session, gameday=gameday)
    halts = []
    if gameday.status in _GAMEDAY_STOPPED:
        halts.append(
            Halt(
                what=f"game day {gameday.key}",
                status=gameday.status.value,
                reason=gameday.reason or "",
                at=gameday.finished_at,
            )
        )
    return Report(
        kind="game day",
        key=gameday.key,
        service=gameday.service.name,
        team=gameday.service.team.name,
        timezone=gameday.timezone,
        status=gameday.status.value,
        reason=gameday.reason,
        generated_at=now,
        plan=_plan(gameday),
        runs=tuple(run_facts(session, run) for run in runs),
        halts=(*halts, *_run_halts(runs)),
        responses=_responses(session, runs, gameday_id=gameday.id),
        findings=_findings(session, runs, gameday_id=gameday.id),
    )


def run_report(*, session: Session, ref: str, now: datetime) -> Report:
    """The report of run `ref` (its key): the same sections for its one experiment."""
    run = find_run(session=session, ref=ref)
    return Report(
        kind="run",
        key=run.key,
        service=run.service.name,
        team=run.service.team.name,
        timezone=run.service.team.timezone,
        status=run.status.value,
        reason=run.reason,
        generated_at=now,
        plan=None,
        runs=(run_facts(session, run),),
        halts=_run_halts([run]),
        responses=_responses(session, [run], gameday_id=None),
        findings=_findings(session, [run], gameday_id=None),
    )


def _plan(gameday: GameDay) -> Plan:
    return Plan(
        experiments=tuple(gameday.experiments),
        starts_at=gameday.starts_at,
        duration_minutes=gameday.duration_minutes,
        hold_seconds=gameday.hold_seconds,
        notes=gameday.notes,
        requested_by=gameday.requested_by,
        requested_at=gameday.requested_at,
        approvals_needed=gameday.approvals_needed,
        approvals=tuple(
            Approval(who=a.slack_user_id, at=a.approved_at) for a in gameday.current_approvals()
        ),
    )


def _run_halts(runs: Sequence[Run]) -> tuple[Halt, ...]:
    return tuple(
        Halt(
            what=f"run {run.key} ({run.experiment})",
            status=run.status.value,
            reason=run.reason or "",
            at=run.finished_at,
        )
        for run in runs
        if run.status in _STOPPED
    )


def _drills(session: Session, runs: Sequence[Run]) -> Sequence[Drill]:
    ids = [run.id for run in runs]
    return session.scalars(select(Drill).where(Drill.run_id.in_(ids)).order_by(Drill.id)).all()


def _responses(
    session: Session, runs: Sequence[Run], *, gameday_id: int | None
) -> tuple[Response, ...]:
    """Who acted, from the rows that say so, in the order they acted (undated last)."""
    said: list[Response] = []
    for run in runs:
        if run.abort_requested_by:
            said.append(
                Response(
                    who=run.abort_requested_by,
                    did=f"asked to abort run {run.key} ({run.experiment})",
                    at=run.abort_requested_at,
                )
            )
    for drill in _drills(session, runs):
        for who, did, at in (
            (drill.acknowledged_by, "acknowledged", drill.acknowledged_at),
            (drill.escalated_by, "escalated", drill.escalated_at),
            (drill.resolved_by, "resolved", drill.resolved_at),
        ):
            if who:
                said.append(Response(who=who, did=f"{did} incident {drill.key}", at=at))
    for finding in _finding_rows(session, runs, gameday_id=gameday_id):
        if finding.created_by != _CHAOSBOT:
            said.append(
                Response(
                    who=finding.created_by,
                    did=f"recorded finding {finding.key}",
                    at=finding.created_at,
                )
            )
        for item in finding.action_items:
            if item.done_by:
                said.append(
                    Response(who=item.done_by, did=f"did action item {item.key}", at=item.done_at)
                )
    dated = sorted((r for r in said if r.at is not None), key=lambda r: r.at or datetime.min)
    return (*dated, *(r for r in said if r.at is None))


def _finding_rows(
    session: Session, runs: Sequence[Run], *, gameday_id: int | None
) -> Sequence[Finding]:
    """The findings of the runs, of their drills, and of the game day itself."""
    drills = [d.id for d in _drills(session, runs)]
    about: list[ColumnElement[bool]] = [Finding.run_id.in_([run.id for run in runs])]
    if drills:
        about.append(Finding.drill_id.in_(drills))
    if gameday_id is not None:
        about.append(Finding.gameday_id == gameday_id)
    return session.scalars(select(Finding).where(or_(*about)).order_by(Finding.id)).all()


def _findings(
    session: Session, runs: Sequence[Run], *, gameday_id: int | None
) -> tuple[FindingFacts, ...]:
    keys = {run.id: run.key for run in runs}
    return tuple(
        FindingFacts(
            key=f.key,
            title=f.title,
            severity=f.severity.value,
            kind=f.kind.value,
            status=f.status.value,
            owner=f.owner,
            run_key=keys.get(f.run_id) if f.run_id is not None else None,
            created_by=f.created_by,
            what_happened=f.what_happened,
            went_well=f.went_well,
            hypothesis=f.hypothesis.value.replace("_", " ") if f.hypothesis else None,
            action_items=tuple(
                ItemFacts(
                    key=i.key,
                    text=i.text,
                    owner=i.owner,
                    due_on=i.due_on,
                    status=i.status.value,
                    done_by=i.done_by,
                )
                for i in f.action_items
            ),
        )
        for f in _finding_rows(session, runs, gameday_id=gameday_id)
    )
