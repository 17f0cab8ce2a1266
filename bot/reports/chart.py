"""A small PNG line chart of a weekly resilience score, for Slack messages and digests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import ImageDraw

from bot.reports.drawing import (
    AXIS_TEXT,
    GRID,
    LINE,
    SCALE,
    TEXT,
    Font,
    canvas,
    font,
    note,
    png,
    px,
)

__all__ = ["CHART_SIZE", "render_trend_png"]

CHART_SIZE = (640, 240)
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 40, 44, 44, 28
_GRID_SCORES = (0, 25, 50, 75, 100)
_LABEL_GAP = 10  # the least space between two x labels
_NO_SCORE = "no score yet"


def render_trend_png(series: Sequence[tuple[str, float | None]], *, title: str) -> bytes:
    """A line chart of scores 0..100, one point per (label, score); None leaves a gap.

    The same input gives the same bytes. Raises ValueError for a score outside 0..100.
    """
    for label, score in series:
        if score is not None and not 0 <= score <= 100:  # also rejects NaN
            raise ValueError(f"score {score!r} for {label!r} is outside 0..100")
    image, draw = canvas(CHART_SIZE)
    frame = _Frame(points=len(series))
    _draw_axes(draw, frame, [label for label, _ in series], title)
    _draw_scores(draw, frame, [score for _, score in series])
    return png(image, CHART_SIZE)


def _draw_axes(draw: ImageDraw.ImageDraw, frame: _Frame, labels: list[str], title: str) -> None:
    """The title, the grid with its scores, and as many week labels as fit."""
    small = font(11)
    draw.text((px(12), px(10)), title, fill=TEXT, font=font(14), anchor="lt")
    for score in _GRID_SCORES:
        y = frame.y(score)
        draw.line([(frame.left, y), (frame.right, y)], fill=GRID, width=px(1))
        draw.text((frame.left - px(8), y), str(score), fill=AXIS_TEXT, font=small, anchor="rm")
    for index in _labelled(labels, frame, draw, small):
        position = (frame.x(index), frame.bottom + px(8))
        draw.text(position, labels[index], fill=AXIS_TEXT, font=small, anchor="mt")


def _draw_scores(draw: ImageDraw.ImageDraw, frame: _Frame, scores: list[float | None]) -> None:
    """The line broken where a week has no score, a dot per score, and the latest one's value."""
    points = [(frame.x(i), frame.y(score)) for i, score in enumerate(scores) if score is not None]
    if not points:
        note(draw, ((frame.left + frame.right) // 2, (frame.top + frame.bottom) // 2), _NO_SCORE)
        return
    for run in _runs(scores, frame):
        if len(run) > 1:
            draw.line(run, fill=LINE, width=px(2), joint="curve")
    radius = px(3.5)
    for x, y in points:
        draw.ellipse([(x - radius, y - radius), (x + radius, y + radius)], fill=LINE)
    latest = next(score for score in reversed(scores) if score is not None)
    x, y = points[-1]
    draw.text((x + px(8), y), f"{latest:.0f}", fill=TEXT, font=font(14), anchor="lm")


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
