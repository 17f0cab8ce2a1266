"""The resilience-score trend chart: a PNG whose line follows the scores and breaks at gaps."""

from __future__ import annotations

import io
import json
import math
import statistics

import pytest
from PIL import Image

from bot.reports.chart import CHART_SIZE, TrendChart, render_trend_png

LABEL_BAND = 26  # the bottom rows of the chart, where the week labels are


def _image(series: list[tuple[str, float | None]]) -> Image.Image:
    image = Image.open(io.BytesIO(render_trend_png(series, title="checkout resilience")))
    assert image.format == "PNG"
    return image.convert("RGB")


def _weeks(*scores: float | None) -> list[tuple[str, float | None]]:
    return [(f"W{44 + i}", score) for i, score in enumerate(scores)]


def _line_pixels(image: Image.Image) -> list[tuple[int, int]]:
    """The (x, y) of every pixel of the line's blue, including its blended edges; text and grid
    are grey, so they never count."""
    width, height = image.size
    data = image.tobytes()
    found = []
    for y in range(height):
        for x in range(width):
            r, g, b = data[3 * (y * width + x) : 3 * (y * width + x) + 3]
            if b - r > 80 and b - g > 40:
                found.append((x, y))
    return found


def _clusters(positions: set[int], *, joining_gap: int = 1) -> list[tuple[int, int]]:
    """Runs of positions, as (first, last), merging runs whose gap is at most `joining_gap`."""
    runs: list[tuple[int, int]] = []
    for position in sorted(positions):
        if runs and position - runs[-1][1] <= joining_gap + 1:
            runs[-1] = (runs[-1][0], position)
        else:
            runs.append((position, position))
    return runs


@pytest.mark.parametrize(
    "series",
    [
        [],
        _weeks(None, None, None),
        _weeks(73),
        _weeks(*(50 + 40 * math.sin(i / 4) for i in range(52))),
    ],
    ids=["empty", "no-scores", "one-week", "a-year"],
)
def test_the_chart_is_a_png_of_the_chart_size(series: list[tuple[str, float | None]]) -> None:
    assert _image(series).size == CHART_SIZE == (640, 240)


def test_a_week_without_a_score_leaves_a_gap_in_the_line() -> None:
    unbroken = _clusters({x for x, _ in _line_pixels(_image(_weeks(80, 80, 80)))})
    broken = _clusters({x for x, _ in _line_pixels(_image(_weeks(80, None, 80)))})

    assert len(unbroken) == 1
    (first, last), (second, _) = broken  # two dots, nothing between them
    assert second - last > CHART_SIZE[0] // 3
    assert first < unbroken[0][0] + 10


def test_a_higher_score_draws_the_line_higher() -> None:
    heights = [
        statistics.median(y for _, y in _line_pixels(_image(_weeks(score, score, score))))
        for score in (10, 50, 90)
    ]

    assert heights == sorted(heights, reverse=True)
    assert heights[0] - heights[2] > CHART_SIZE[1] // 3


def test_a_single_week_is_one_dot() -> None:
    pixels = _line_pixels(_image(_weeks(60)))

    assert len(_clusters({x for x, _ in pixels})) == 1
    assert len(_clusters({y for _, y in pixels})) == 1


def test_no_scores_draws_no_line_and_says_so() -> None:
    middle = (CHART_SIZE[0] // 2 - 60, CHART_SIZE[1] // 2 - 12, CHART_SIZE[0] // 2 + 60, 140)

    def darkest_in_the_middle(image: Image.Image) -> int:
        darkest, _ = image.crop(middle).convert("L").getextrema()
        assert isinstance(darkest, int)
        return darkest

    for series in ([], _weeks(None, None)):
        image = _image(series)
        assert _line_pixels(image) == []
        assert darkest_in_the_middle(image) < 160  # the note's text
    assert darkest_in_the_middle(_image(_weeks(95, 95))) > 200  # only the grid line at 50


def test_a_year_of_week_labels_is_thinned_so_none_overlap() -> None:
    image = _image(_weeks(*([70] * 52)))
    band = image.crop((0, CHART_SIZE[1] - LABEL_BAND, CHART_SIZE[0], CHART_SIZE[1])).convert("L")
    ink = band.tobytes()
    inked = {i % band.width for i, grey in enumerate(ink) if grey < 200}

    labels = _clusters(inked, joining_gap=3)  # the glyphs of one label sit closer than that
    assert 5 <= len(labels) < 52
    assert max(last - first for first, last in labels) < 30  # one label each, not a smear
    last_dot = max(x for x, _ in _line_pixels(image))
    assert labels[-1][0] < last_dot and labels[-1][1] > last_dot - 10  # the latest week is labelled


def test_the_same_series_gives_the_same_bytes() -> None:
    series = _weeks(55, None, 61.5, 70)
    first = render_trend_png(series, title="payments")

    assert render_trend_png(list(series), title="payments") == first
    assert render_trend_png(_weeks(55, None, 61.5, 71), title="payments") != first


@pytest.mark.parametrize("score", [-1, 100.5, float("nan")])
def test_a_score_outside_0_to_100_is_refused(score: float) -> None:
    with pytest.raises(ValueError, match="W45"):
        render_trend_png(_weeks(50, score), title="payments")
    # A chart queued to be drawn later is refused when it is made, not when it is drawn.
    with pytest.raises(ValueError, match="W45"):
        TrendChart(title="payments", series=tuple(_weeks(50, score)))


def test_a_chart_to_draw_later_survives_json_and_draws_the_same_bytes() -> None:
    chart = TrendChart(title="payments", series=tuple(_weeks(55, None, 61.5, 70)))
    stored = json.loads(json.dumps(chart.to_json()))  # as the outbox's JSON column keeps it
    assert TrendChart.from_json(stored) == chart
    assert TrendChart.from_json(stored).png() == render_trend_png(
        _weeks(55, None, 61.5, 70), title="payments"
    )
    for broken in ({}, {"title": "t", "series": [["W45"]]}, {"title": 1, "series": []}):
        with pytest.raises(ValueError, match="not a trend chart"):
            TrendChart.from_json(broken)


def test_the_shared_background_gives_the_pixels_of_a_whole_drawing() -> None:
    """A digest draws each team's chart on one shared background and scales down only what it
    drew: the pixels are those of drawing and scaling the whole chart."""
    import random

    from bot.reports import chart
    from bot.reports.drawing import canvas, png

    rng = random.Random(7)
    cases: list[list[tuple[str, float | None]]] = [
        _weeks(None, None, None),
        _weeks(0),
        _weeks(100, 0, 100, 0),
        _weeks(*(float(12 * i) for i in range(9))),
    ]
    for _ in range(12):
        weeks = rng.choice((1, 2, 8, 12, 52))
        cases.append(
            _weeks(*(None if rng.random() < 0.2 else rng.uniform(0, 100) for _ in range(weeks)))
        )
    for series in cases:
        title = f"team {rng.randint(0, 999)}: resilience score" * rng.choice((1, 4))
        image, draw = canvas(CHART_SIZE)
        frame = chart._Frame(points=len(series))
        chart._draw_title(draw, title)
        chart._draw_axes(draw, frame, [label for label, _ in series])
        chart._draw_scores(draw, frame, [score for _, score in series])
        whole = Image.open(io.BytesIO(png(image, CHART_SIZE)))
        shared = Image.open(io.BytesIO(render_trend_png(series, title=title)))
        assert shared.tobytes() == whole.tobytes(), series
