"""One run's facts for a report or a JUnit result: its timeline, what its Chaos Toolkit journal
says phase by phase, the steady-state watch's checks and their chart, and what the rollbacks
left behind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.probes import watch
from bot.reports.facts import Activity, Check, Hypothesis, JournalFacts, RunFacts, TimelineLine
from bot.reports.run_chart import Phase
from bot.runs.charts import injected_at, phases_of, run_png
from bot.runs.models import Run, RunMeasurement
from bot.runs.service import measurements_of

__all__ = ["journal_facts", "run_facts"]

_SHORT = 200  # characters of an activity's output or error kept


def run_facts(session: Session, run: Run, *, chart: bool = True) -> RunFacts:
    """The run as a report shows it; `chart` draws the PNG of its checks (a JUnit result needs
    none)."""
    measurements = measurements_of(session=session, run_id=run.id)
    return RunFacts(
        key=run.key,
        experiment=run.experiment,
        service=run.service.name,
        trigger=run.trigger.value,
        status=run.status.value,
        reason=run.reason,
        requested_by=run.requested_by,
        dry_run=run.dry_run,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        abort_requested_by=run.abort_requested_by,
        abort_requested_at=run.abort_requested_at,
        timeline=tuple(
            TimelineLine(at=e.at, status=e.status.value, message=e.message) for e in run.events
        ),
        journal=journal_facts(run.journal) if run.journal else None,
        checks=_checks(run, measurements),
        chart_png=run_png(run, measurements) if chart and measurements else None,
        leftovers=None if run.leftovers is None else tuple(run.leftovers),
        rollback_attempts=run.rollback_attempts,
        cleanup_alerted_at=run.cleanup_alerted_at,
    )


def _checks(run: Run, measurements: Sequence[RunMeasurement]) -> tuple[Check, ...]:
    if not measurements:
        return ()
    start = injected_at(run.events, measurements)
    phases = phases_of(run.events, start=start, end=run.finished_at)
    checks = []
    for m in measurements:
        seconds = (m.at - start).total_seconds()
        checks.append(
            Check(
                seconds=seconds,
                phase=_phase_at(phases, seconds),
                probe=m.probe,
                value=m.value,
                ok=m.ok,
                detail=m.detail,
            )
        )
    return tuple(checks)


def _phase_at(phases: Sequence[Phase], seconds: float) -> str:
    return next((p.label for p in reversed(phases) if p.start <= seconds), "")


def journal_facts(journal: dict[str, Any]) -> JournalFacts:
    """The journal (as the worker stored it: JSON, times as ISO strings) phase by phase."""
    states = journal.get("steady_states")
    states = states if isinstance(states, dict) else {}
    watched = journal.get(watch.JOURNAL_KEY)
    breach = watched.get("breach") if isinstance(watched, dict) else None
    breach = breach if isinstance(breach, dict) else None
    start = _instant(journal.get("start"))
    return JournalFacts(
        status=str(journal.get("status") or "unknown"),
        start=start,
        end=_instant(journal.get("end")),
        before=_hypothesis(states.get("before"), start),
        method=_activities(journal.get("run"), start),
        after=_hypothesis(states.get("after"), start),
        rollbacks=_activities(journal.get("rollbacks"), start),
        breach=None if breach is None else _short(breach.get("reason") or "broken"),
        halted_by_watch=breach is not None and breach.get("halted") is True,
    )


def _hypothesis(state: Any, start: datetime | None) -> Hypothesis | None:
    if not isinstance(state, dict):
        return None
    met = state.get("steady_state_met")
    return Hypothesis(
        met=met if isinstance(met, bool) else None, probes=_activities(state.get("probes"), start)
    )


def _activities(entries: Any, start: datetime | None) -> tuple[Activity, ...]:
    return tuple(_activity(e, start) for e in entries or [] if isinstance(e, dict))


def _activity(entry: dict[str, Any], journal_start: datetime | None) -> Activity:
    """One entry of the journal; when it began is told in seconds after the experiment began:
    the journal's times are the worker's clock, which need not be the platform's."""
    found = entry.get("activity")
    activity: dict[str, Any] = found if isinstance(found, dict) else {}
    tolerance = entry.get("tolerance_met")
    lines = [str(line).strip() for line in entry.get("exception") or [] if str(line).strip()]
    output = entry.get("output")
    return Activity(
        name=str(activity.get("name") or "unnamed"),
        kind=str(activity.get("type") or "activity"),
        status=str(entry.get("status") or "unknown"),
        start=(began := _instant(entry.get("start"))),
        end=_instant(entry.get("end")),
        after_start=(
            None
            if began is None or journal_start is None
            else (began - journal_start).total_seconds()
        ),
        tolerance_met=tolerance if isinstance(tolerance, bool) else None,
        output="" if output is None else _short(output),
        error=_short(lines[-1]) if lines else "",
    )


def _instant(value: Any) -> datetime | None:
    """chaostoolkit-lib writes naive UTC ISO times."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _short(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"
