"""A run's steady-state checks as the chart draws them: each probe's series and the run's phases,
in seconds since the injection; and the chart itself (bot/reports/run_chart.py draws it).

Shared by the chart posted when a run ends (bot/slack/run_chart.py) and the reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.reports.run_chart import Phase, Point, ProbeSeries, render_run_png
from bot.runs.models import Run, RunEvent, RunMeasurement
from bot.runs.states import RunStatus

__all__ = ["injected_at", "phases_of", "run_png", "series_of"]

# The phases the chart marks, by the state the run is in while it lasts.
_PHASES = {
    RunStatus.INJECTING: "injection",
    RunStatus.HOLDING: "hold",
    RunStatus.ROLLING_BACK: "rollback",
}


def run_png(run: Run, measurements: Sequence[RunMeasurement]) -> bytes:
    """The PNG of the run's checks, titled with the experiment, the service, the run and its state."""
    start = injected_at(run.events, measurements)
    status = run.status.value.replace("_", " ")
    return render_run_png(
        series_of(measurements, start=start),
        phases_of(run.events, start=start, end=run.finished_at),
        title=f"{run.experiment} on {run.service.name}, run {run.key}: {status}",
    )


def series_of(measurements: Sequence[RunMeasurement], *, start: datetime) -> list[ProbeSeries]:
    """Each probe's checks, in the order the probes were first checked."""
    points: dict[str, list[Point]] = {}
    for m in measurements:
        seconds = (m.at - start).total_seconds()
        points.setdefault(m.probe, []).append(Point(seconds=seconds, value=m.value, ok=m.ok))
    return [ProbeSeries(probe=probe, points=tuple(p)) for probe, p in points.items()]


def phases_of(events: Sequence[RunEvent], *, start: datetime, end: datetime | None) -> list[Phase]:
    """The injection, the hold and the rollback as the timeline has them: each from the first
    line of its state to the first line of the next state (the run's end for the last)."""
    stretches: list[tuple[RunStatus, datetime]] = []
    for event in events:
        if not stretches or event.status is not stretches[-1][0]:
            stretches.append((event.status, event.at))
    ends = [at for _, at in stretches[1:]]
    if stretches:
        ends.append(end or stretches[-1][1])
    return [
        Phase(
            label=_PHASES[status],
            start=(began - start).total_seconds(),
            end=(ended - start).total_seconds(),
        )
        for (status, began), ended in zip(stretches, ends, strict=True)
        if status in _PHASES
    ]


def injected_at(events: Sequence[RunEvent], measurements: Sequence[RunMeasurement]) -> datetime:
    """The moment the chart counts from: the injection, or the first check if none is recorded."""
    injected = next((e.at for e in events if e.status is RunStatus.INJECTING), None)
    return injected or min(m.at for m in measurements)
