"""The chart of a run's steady state: a panel per probe over the seconds since the injection,
failed checks in red where they happened, the run's phases shaded behind them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from bot.reports.drawing import FAILURE, LINE
from bot.reports.run_chart import (
    MAX_PANELS,
    PHASE_COLOURS,
    WIDTH,
    Phase,
    Point,
    ProbeSeries,
    layout_of,
    render_run_png,
)
from bot.runs.charts import phases_of, series_of
from bot.runs.models import RunEvent, RunMeasurement
from bot.runs.states import RunStatus

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PHASES = (
    Phase(label="injection", start=0, end=1),
    Phase(label="hold", start=1, end=40),
    Phase(label="rollback", start=40, end=60),
)


def _image(probes: list[ProbeSeries], phases: tuple[Phase, ...] = PHASES) -> Image.Image:
    image = Image.open(io.BytesIO(render_run_png(probes, phases, title="pod-kill on checkout")))
    assert image.format == "PNG"
    return image.convert("RGB")


def _latency(*, failing_at: tuple[float, ...] = ()) -> ProbeSeries:
    """A check every 5 s from 2 s: 120 ms when it passed, 900 ms when it failed."""
    points = tuple(
        Point(seconds=s, value=900.0 if s in failing_at else 120.0, ok=s not in failing_at)
        for s in range(2, 60, 5)
    )
    return ProbeSeries(probe="GET http://checkout/healthz answers 200 within 300 ms", points=points)


def _pixels(
    image: Image.Image, box: tuple[int, int, int, int], colour: tuple[int, ...]
) -> list[tuple[int, int]]:
    """The (x, y) in `box` whose colour is `colour`'s hue at full strength: the heart of a dot,
    not its blended edge, never a phase's pale band or the grey text."""
    left, top, right, bottom = box
    found = []
    for y in range(top, bottom + 1):
        for x in range(left, right + 1):
            if _near(image.getpixel((x, y)), colour):
                found.append((x, y))
    return found


def _centres(xs: list[int]) -> list[float]:
    """The middle of each run of neighbouring x positions."""
    runs: list[list[int]] = []
    for x in sorted(set(xs)):
        if runs and x - runs[-1][-1] <= 1:
            runs[-1].append(x)
        else:
            runs.append([x])
    return [(run[0] + run[-1]) / 2 for run in runs]


def test_the_chart_is_one_panel_per_probe_up_to_the_most_it_draws() -> None:
    heights = [_image([_latency()] * n).size[1] for n in (1, 2, MAX_PANELS, MAX_PANELS + 3)]
    assert _image([_latency()]).size[0] == WIDTH
    step = heights[1] - heights[0]
    assert step > 80
    assert heights[2] == heights[0] + (MAX_PANELS - 1) * step
    assert heights[3] == heights[2]  # the title says how many more were measured


def test_failed_checks_are_red_at_their_moment_and_passed_ones_blue() -> None:
    failing = (17.0, 22.0, 47.0)
    series = _latency(failing_at=failing)
    layout = layout_of([series], PHASES)
    image = _image([series])
    plot = layout.plots[0]

    red = _pixels(image, plot, FAILURE)
    assert _centres([x for x, _ in red]) == pytest.approx([layout.x(s) for s in failing], abs=1)
    # Each passed check is a blue dot at the same height (120 ms), below the failed ones (900).
    first = round(layout.x(2))
    dot = [y for x, y in _pixels(image, plot, LINE) if x == first]
    assert dot
    passed_y = (min(dot) + max(dot)) // 2
    for point in series.points:
        if point.ok:
            assert _near(image.getpixel((round(layout.x(point.seconds)), passed_y)), LINE)
    assert max(y for _, y in red) < min(dot)


def _near(pixel: object, colour: tuple[int, ...], *, by: int = 40) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) <= by for a, b in zip(pixel, colour, strict=True))


def test_the_phases_are_shaded_across_every_panel() -> None:
    layout = layout_of([_latency(), _latency()], PHASES)
    image = _image([_latency(), _latency()])
    for phase in PHASES:
        fill, _ = PHASE_COLOURS[phase.label]
        left, right = round(layout.x(phase.start)) + 3, round(layout.x(phase.end)) - 3
        for _, top, _, _ in (*layout.plots, layout.strip):
            row = [image.getpixel((x, top + 3)) for x in range(left, right)]
            # Tick lines and the phase's name cross the band; most of it is its colour.
            assert sum(1 for pixel in row if _near(pixel, fill, by=4)) > len(row) / 2, phase.label
    # Before the injection and after the rollback: no band.
    early = Phase(label="hold", start=10, end=20)
    layout = layout_of([_latency()], (early,))
    image = _image([_latency()], (early,))
    top = layout.plots[0][1] + 3
    assert image.getpixel((round(layout.x(5)), top)) == (255, 255, 255)
    assert image.getpixel((round(layout.x(15)), top)) == PHASE_COLOURS["hold"][0]


def test_a_probe_that_measured_only_errors_shows_its_failures_on_a_baseline() -> None:
    errors = ProbeSeries(
        probe="error ratio",
        points=tuple(Point(seconds=s, value=None, ok=False) for s in (5, 10, 15)),
    )
    nan = ProbeSeries(probe="no traffic", points=(Point(seconds=5, value=float("nan"), ok=False),))
    layout = layout_of([errors, nan], PHASES)
    image = _image([errors, nan])
    for plot, moments in zip(layout.plots, ((5, 10, 15), (5,)), strict=True):
        red = _pixels(image, plot, FAILURE)
        assert _centres([x for x, _ in red]) == pytest.approx([layout.x(s) for s in moments], abs=1)
        bottom = plot[3]
        assert all(bottom - 10 <= y <= bottom for _, y in red)  # on the baseline


def test_the_same_run_gives_the_same_bytes() -> None:
    series = [_latency(failing_at=(22.0,))]
    first = render_run_png(series, PHASES, title="run")
    assert render_run_png(list(series), PHASES, title="run") == first
    assert render_run_png([_latency(failing_at=(27.0,))], PHASES, title="run") != first


def test_no_probe_still_draws_a_chart() -> None:
    assert _image([]).size == layout_of([], PHASES).size


def _event(seconds: float, status: RunStatus) -> RunEvent:
    return RunEvent(at=T0 + timedelta(seconds=seconds), status=status, message=status.value)


def test_the_timeline_gives_the_phases_in_seconds_since_the_injection() -> None:
    events = [
        _event(-3, RunStatus.PREFLIGHT),
        _event(0, RunStatus.INJECTING),
        _event(0.5, RunStatus.INJECTING),  # a note while injecting
        _event(1.5, RunStatus.HOLDING),
        _event(30, RunStatus.HOLDING),
        _event(41, RunStatus.ROLLING_BACK),
        _event(44, RunStatus.HALTED),
    ]
    assert phases_of(events, start=T0, end=T0 + timedelta(seconds=44)) == [
        Phase(label="injection", start=0, end=1.5),
        Phase(label="hold", start=1.5, end=41),
        Phase(label="rollback", start=41, end=44),
    ]
    # A run halted while injecting has no hold; a run still rolling back ends at its last line.
    assert phases_of(events[:2] + events[5:6], start=T0, end=None) == [
        Phase(label="injection", start=0, end=41),
        Phase(label="rollback", start=41, end=41),
    ]


@pytest.mark.parametrize("order", [("b", "a", "b"), ("a", "b", "a")])
def test_measurements_become_one_series_per_probe_in_first_checked_order(
    order: tuple[str, ...],
) -> None:
    measurements = [
        RunMeasurement(at=T0 + timedelta(seconds=i), probe=p, ok=i != 2, value=float(i), detail="")
        for i, p in enumerate(order)
    ]
    series = series_of(measurements, start=T0 - timedelta(seconds=1))
    assert [s.probe for s in series] == list(dict.fromkeys(order))
    first = series[0]
    assert first.points[0] == Point(seconds=1, value=0.0, ok=True)
    assert first.points[-1] == Point(seconds=3, value=2.0, ok=False)
