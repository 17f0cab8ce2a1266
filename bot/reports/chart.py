"""A small PNG line chart of a weekly resilience score, for Slack messages and digests."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw

from bot.reports.drawing import (
    AXIS_TEXT,
    GRID,
    LINE,
    SCALE,
    TEXT,
    Box,
    Font,
    canvas,
    font,
    note,
    png,
    px,
)

__all__ = ["CHART_SIZE", "TrendChart", "render_trend_png"]

CHART_SIZE = (640, 240)
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 40, 44, 44, 28
_GRID_SCORES = (0, 25, 50, 75, 100)
_LABEL_GAP = 10  # the least space between two x labels
_NO_SCORE = "no score yet"


@dataclass(frozen=True)
class TrendChart:
    """A trend chart to draw later: its title and its (label, score) points, as JSON can hold
    them. The weekly digest queues its charts so (the outbox draws each when it uploads it),
    rather than a thousand PNGs drawn in the pass and stored in its transaction.

    Raises ValueError for a score outside 0..100, here rather than when it is drawn.
    """

    title: str
    series: tuple[tuple[str, float | None], ...]

    def __post_init__(self) -> None:
        _check(self.series)

    def png(self) -> bytes:
        """The PNG (render_trend_png): the same chart always gives the same bytes."""
        return render_trend_png(self.series, title=self.title)

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "series": [[label, score] for label, score in self.series]}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> TrendChart:
        """The chart `to_json` gave; ValueError if `value` is not one."""
        try:
            title, points = value["title"], value["series"]
            series = tuple((label, score) for label, score in points)
        except (KeyError, TypeError, ValueError):
            raise ValueError("not a trend chart") from None
        if not isinstance(title, str) or not all(
            isinstance(label, str)
            and (score is None or (isinstance(score, int | float) and not isinstance(score, bool)))
            for label, score in series
        ):
            raise ValueError("not a trend chart")
        return cls(title=title, series=series)


def _check(series: Sequence[tuple[str, float | None]]) -> None:
    for label, score in series:
        if score is not None and not 0 <= score <= 100:  # also rejects NaN
            raise ValueError(f"score {score!r} for {label!r} is outside 0..100")


def render_trend_png(series: Sequence[tuple[str, float | None]], *, title: str) -> bytes:
    """A line chart of scores 0..100, one point per (label, score); None leaves a gap.

    The same input gives the same bytes. Raises ValueError for a score outside 0..100.
    """
    _check(series)
    background, scaled = _background(tuple(label for label, _ in series))
    image = background.copy()
    draw = ImageDraw.Draw(image)
    drawn = [
        _draw_title(draw, title),
        _draw_scores(draw, _Frame(points=len(series)), [score for _, score in series]),
    ]
    # Only what was drawn on the shared background is scaled down again; zlib level 3 instead
    # of 6 takes a third less time (a digest encodes a chart per team) for a 15 KB file, not 12.
    return png(image, CHART_SIZE, scaled=scaled, drawn=drawn, compress_level=3)


@lru_cache(maxsize=8)
def _background(labels: tuple[str, ...]) -> tuple[Image.Image, Image.Image]:
    """The grid and the week labels, drawn once for every chart of these weeks (a digest draws
    one chart per team, all of the same weeks), and the same scaled down to CHART_SIZE.
    Callers copy them: never drawn on."""
    image, draw = canvas(CHART_SIZE)
    _draw_axes(draw, _Frame(points=len(labels)), list(labels))
    return image, image.resize(CHART_SIZE, Image.Resampling.LANCZOS)


def _draw_title(draw: ImageDraw.ImageDraw, title: str) -> Box:
    """The title, above the grid (drawn before or after it, the pixels are the same)."""
    face, position = font(14), (px(12), px(10))
    draw.text(position, title, fill=TEXT, font=face, anchor="lt")
    return draw.textbbox(position, title, font=face, anchor="lt")


def _draw_axes(draw: ImageDraw.ImageDraw, frame: _Frame, labels: list[str]) -> None:
    """The grid with its scores, and as many week labels as fit."""
    small = font(11)
    for score in _GRID_SCORES:
        y = frame.y(score)
        draw.line([(frame.left, y), (frame.right, y)], fill=GRID, width=px(1))
        draw.text((frame.left - px(8), y), str(score), fill=AXIS_TEXT, font=small, anchor="rm")
    for index in _labelled(labels, frame, draw, small):
        position = (frame.x(index), frame.bottom + px(8))
        draw.text(position, labels[index], fill=AXIS_TEXT, font=small, anchor="mt")


def _draw_scores(draw: ImageDraw.ImageDraw, frame: _Frame, scores: list[float | None]) -> Box:
    """The line broken where a week has no score, a dot per score, and the latest one's value;
    returns the box they lie within."""
    points = [(frame.x(i), frame.y(score)) for i, score in enumerate(scores) if score is not None]
    if not points:
        middle = ((frame.left + frame.right) // 2, (frame.top + frame.bottom) // 2)
        return note(draw, middle, _NO_SCORE)
    for run in _runs(scores, frame):
        if len(run) > 1:
            draw.line(run, fill=LINE, width=px(2), joint="curve")
    radius = px(3.5)
    for x, y in points:
        draw.ellipse([(x - radius, y - radius), (x + radius, y + radius)], fill=LINE)
    latest = next(score for score in reversed(scores) if score is not None)
    x, y = points[-1]
    value = ((x + px(8), y), f"{latest:.0f}")
    draw.text(value[0], value[1], fill=TEXT, font=font(14), anchor="lm")
    # The dots and the line's width (its curved joints included) stay within `reach` of them.
    reach = px(6)
    xs, ys = [x for x, _ in points], [y for _, y in points]
    text = draw.textbbox(value[0], value[1], font=font(14), anchor="lm")
    return (
        min(min(xs) - reach, text[0]),
        min(min(ys) - reach, text[1]),
        max(max(xs) + reach, text[2]),
        max(max(ys) + reach, text[3]),
    )


@dataclass(frozen=True)
class _Frame:
    """Where the plot area is, in the pixels of the drawing, and where a point falls in it."""

    points: int
    left: int = _MARGIN_LEFT * SCALE
    right: int = (CHART_SIZE[0] - _MARGIN_RIGHT) * SCALE
    top: int = _MARGIN_TOP * SCALE
    bottom: int = (CHART_SIZE[1] - _MARGIN_BOTTOM) * SCALE

    @property
    def step(self) -> float:
        """The distance between two weeks; each week sits in the middle of its slot."""
        return (self.right - self.left) / max(self.points, 1)

    def x(self, index: int) -> int:
        return round(self.left + (index + 0.5) * self.step)

    def y(self, score: float) -> int:
        return round(self.bottom - score / 100 * (self.bottom - self.top))


def _labelled(
    labels: Sequence[str],
    frame: _Frame,
    draw: ImageDraw.ImageDraw,
    face: Font,
) -> range:
    """The indexes of the x labels to draw: every k-th, counted back from the latest week, with k
    the smallest step at which neighbouring labels do not touch."""
    if not labels:
        return range(0)
    widest = max(draw.textlength(label, font=face) for label in labels)
    every = max(1, math.ceil((widest + px(_LABEL_GAP)) / frame.step))
    return range(len(labels) - 1, -1, -every)


def _runs(scores: list[float | None], frame: _Frame) -> list[list[tuple[int, int]]]:
    """The points of the line, split where a week has no score."""
    runs: list[list[tuple[int, int]]] = [[]]
    for index, score in enumerate(scores):
        if score is None:
            runs.append([])
        else:
            runs[-1].append((frame.x(index), frame.y(score)))
    return [run for run in runs if run]
