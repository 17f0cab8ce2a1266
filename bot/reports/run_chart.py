"""A PNG of what a run's steady-state watch measured: one panel per probe, over the seconds since
the injection, with the run's phases (injection, hold, rollback) shaded behind the points."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import ImageDraw

from bot.reports.drawing import (
    AXIS_TEXT,
    FAILURE,
    GRID,
    LINE,
    TEXT,
    Font,
    canvas,
    font,
    note,
    png,
    px,
)

__all__ = [
    "MAX_PANELS",
    "PHASE_COLOURS",
    "WIDTH",
    "Phase",
    "Point",
    "ProbeSeries",
    "RunChartLayout",
    "layout_of",
    "render_run_png",
]

WIDTH = 720
MAX_PANELS = 6  # probes drawn; the title says how many more were measured
# The fill of each phase's band and the line that marks where it begins, by label.
PHASE_COLOURS = {
    "injection": ((233, 213, 255), (124, 58, 237)),
    "hold": ((254, 243, 199), (217, 119, 6)),
    "rollback": ((204, 251, 241), (13, 148, 136)),
}
_OTHER_PHASE = ((241, 245, 249), (100, 116, 139))

# The page, top to bottom, in the PNG's pixels: title, phase labels, panels, the seconds axis.
_LEFT, _RIGHT = 64, 20
_TITLE, _STRIP, _HEAD, _PLOT, _GAP, _AXIS = 34, 18, 20, 92, 10, 42
_INSET = 8  # between a plot's edge and its first or last point
_TOP_ROOM, _BASELINE_ROOM = 8, 16  # above the highest value; below the lowest, for the baseline
_TICKS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
_MOST_TICKS = 8
_NOTHING = "nothing was measured"
_ONLY_ERRORS = "no value: every check failed with an error"


@dataclass(frozen=True, kw_only=True)
class Point:
    """One check of a probe: when (seconds since the injection), what it measured, and whether it
    passed. A value of None (or NaN) is an error with nothing measured: drawn on the baseline."""

    seconds: float
    value: float | None
    ok: bool


@dataclass(frozen=True, kw_only=True)
class ProbeSeries:
    """Every check of one probe over the run, in order."""

    probe: str
    points: tuple[Point, ...]


@dataclass(frozen=True, kw_only=True)
class Phase:
    """A stretch of the run (`label`: a key of PHASE_COLOURS), in seconds since the injection."""

    label: str
    start: float
    end: float


@dataclass(frozen=True)
class RunChartLayout:
    """Where things fall in the PNG (its pixels): the plot of each drawn probe, and the x of a
    moment. The renderer draws with it, so tests can ask where a point must be."""

    size: tuple[int, int]
    plots: tuple[tuple[int, int, int, int], ...]  # (left, top, right, bottom) per drawn probe
    start: float  # the seconds at the left and right of the plots
    end: float
    strip: tuple[int, int, int, int]  # where the phases are named, above the first plot

    def x(self, seconds: float) -> float:
        left, _, right, _ = self.strip
        inner = (right - _INSET) - (left + _INSET)
        return left + _INSET + (seconds - self.start) / (self.end - self.start) * inner


def layout_of(probes: Sequence[ProbeSeries], phases: Sequence[Phase]) -> RunChartLayout:
    """The geometry of the chart of these probes and phases."""
    panels = max(1, min(len(probes), MAX_PANELS))
    top = _TITLE + _STRIP
    tops = [top + i * (_HEAD + _PLOT + _GAP) + _HEAD for i in range(panels)]
    plots = tuple((_LEFT, y, WIDTH - _RIGHT, y + _PLOT) for y in tops)
    height = plots[-1][3] + _AXIS
    moments = [p.seconds for s in probes for p in s.points] + [
        t for phase in phases for t in (phase.start, phase.end)
    ]
    start = min([0.0, *moments])
    end = max([start + 1.0, *moments])
    return RunChartLayout(
        size=(WIDTH, height),
        plots=plots,
        start=start,
        end=end,
        strip=(_LEFT, _TITLE, WIDTH - _RIGHT, top),
    )


def render_run_png(probes: Sequence[ProbeSeries], phases: Sequence[Phase], *, title: str) -> bytes:
    """The chart: the title, the phases named above the panels and shaded across them, a panel
    per probe (passed checks in blue, failed ones in red; errors on a baseline at the bottom),
    and the seconds since the injection below.

    The same input gives the same bytes. At most MAX_PANELS probes are drawn.
    """
    layout = layout_of(probes, phases)
    image, draw = canvas(layout.size)
    drawn = probes[:MAX_PANELS]
    more = len(probes) - len(drawn)
    heading = f"{title} ({len(drawn)} of {len(probes)} probes)" if more else title
    draw.text(
        (px(12), px(10)),
        _cut(draw, heading, font(14), px(WIDTH - 140)),
        fill=TEXT,
        font=font(14),
        anchor="lt",
    )
    _draw_legend(draw)
    _draw_phases(draw, layout, phases)
    _draw_axis(draw, layout)
    if not drawn:
        left, top, right, bottom = layout.plots[0]
        note(draw, (px((left + right) / 2), px((top + bottom) / 2)), _NOTHING)
    for series, plot in zip(drawn, layout.plots, strict=False):
        _draw_panel(draw, layout, plot, series)
    return png(image, layout.size)


def _draw_legend(draw: ImageDraw.ImageDraw) -> None:
    small = font(11)
    x = px(WIDTH - _RIGHT)
    for label, colour in (("failed", FAILURE), ("passed", LINE)):
        x -= round(draw.textlength(label, font=small))
        draw.text((x, px(17)), label, fill=AXIS_TEXT, font=small, anchor="lm")
        x -= px(10)
        _dot(draw, (x, px(17)), colour)
        x -= px(14)


def _draw_phases(
    draw: ImageDraw.ImageDraw, layout: RunChartLayout, phases: Sequence[Phase]
) -> None:
    """Each phase's band across the strip and every plot, a line where it begins, its name in
    the strip (moved aside when it would touch the previous name or the edge, left out when
    there is no room)."""
    small = font(11)
    _, strip_top, strip_right, strip_bottom = layout.strip
    boxes = [(strip_top, strip_bottom)] + [(top, bottom) for _, top, _, bottom in layout.plots]
    spans = [(phase, px(layout.x(phase.start)), px(layout.x(phase.end))) for phase in phases]
    for phase, x0, x1 in spans:
        fill, edge = PHASE_COLOURS.get(phase.label, _OTHER_PHASE)
        for top, bottom in boxes:
            draw.rectangle([(x0, px(top)), (max(x0, x1), px(bottom))], fill=fill)
            draw.line([(x0, px(top)), (x0, px(bottom))], fill=edge, width=px(1))
    named_to = 0  # names go on top of every band: a short phase's name spills into the next
    for phase, x0, x1 in spans:
        width = round(draw.textlength(phase.label, font=small))
        at = max((x0 + x1) // 2 - width // 2, x0 + px(3))
        at = max(min(at, px(strip_right) - width), named_to + px(6))  # a last, short phase
        if at + width <= px(strip_right):
            draw.text(
                (at, px(strip_top + _STRIP / 2)), phase.label, fill=TEXT, font=small, anchor="lm"
            )
            named_to = at + width


def _draw_axis(draw: ImageDraw.ImageDraw, layout: RunChartLayout) -> None:
    """A grid line at each tick through every plot; the ticks' seconds under the last plot."""
    small = font(10)
    step = next((s for s in _TICKS if (layout.end - layout.start) / s <= _MOST_TICKS), _TICKS[-1])
    bottom = layout.plots[-1][3]
    first = math.ceil(layout.start / step)
    for index in range(first, math.floor(layout.end / step) + 1):
        tick = round(index * step, 6)  # 0.30000000000000004 would be labelled so
        x = px(layout.x(tick))
        for _, top, _, plot_bottom in layout.plots:
            draw.line([(x, px(top)), (x, px(plot_bottom))], fill=GRID, width=px(1))
        draw.text((x, px(bottom + 6)), f"{tick:g}", fill=AXIS_TEXT, font=small, anchor="mt")
    middle = px((layout.plots[-1][0] + layout.plots[-1][2]) / 2)
    draw.text(
        (middle, px(bottom + 24)),
        "seconds since the injection",
        fill=AXIS_TEXT,
        font=small,
        anchor="mt",
    )


def _draw_panel(
    draw: ImageDraw.ImageDraw,
    layout: RunChartLayout,
    plot: tuple[int, int, int, int],
    series: ProbeSeries,
) -> None:
    """The probe's name and tally above its plot, its value range, its points."""
    left, top, right, bottom = plot
    label = font(11)
    failed = sum(1 for p in series.points if not p.ok)
    tally = f"{len(series.points)} checks, {failed} failed"
    draw.text((px(right), px(top - 4)), tally, fill=AXIS_TEXT, font=label, anchor="rb")
    room = px(right - left) - round(draw.textlength(tally, font=label)) - px(16)
    draw.text(
        (px(left), px(top - 4)),
        _cut(draw, series.probe, label, room),
        fill=TEXT,
        font=label,
        anchor="lb",
    )
    draw.rectangle([(px(left), px(top)), (px(right), px(bottom))], outline=GRID, width=px(1))
    scale = _Values(plot, [v for v in map(_value, series.points) if v is not None])
    scale.draw_axis(draw, errors=any(_value(p) is None for p in series.points))
    _draw_points(draw, layout, scale, series.points)


class _Values:
    """Where a value falls in one plot: between its lowest and highest value, above the baseline
    that carries the checks with no value."""

    def __init__(self, plot: tuple[int, int, int, int], values: list[float]) -> None:
        self.plot, self.values = plot, values
        lowest, highest = (min(values), max(values)) if values else (0.0, 0.0)
        if highest == lowest:  # one value: in the middle of the plot
            lowest, highest = lowest - 1, highest + 1
        self.lowest, self.highest = lowest, highest
        self.baseline = plot[3] - 5

    def y(self, value: float | None) -> float:
        if value is None:
            return self.baseline
        _, top, _, bottom = self.plot
        room = (bottom - _BASELINE_ROOM) - (top + _TOP_ROOM)
        share = (value - self.lowest) / (self.highest - self.lowest)
        return bottom - _BASELINE_ROOM - share * room

    def draw_axis(self, draw: ImageDraw.ImageDraw, *, errors: bool) -> None:
        """The lowest and highest value at the left (or a note when there is none), and the
        baseline when some check measured nothing."""
        left, top, right, bottom = self.plot
        small = font(10)
        for value in sorted({min(self.values), max(self.values)} if self.values else set()):
            draw.text(
                (px(left - 6), px(self.y(value))),
                _number(value),
                fill=AXIS_TEXT,
                font=small,
                anchor="rm",
            )
        if not self.values:
            draw.text(
                (px((left + right) / 2), px((top + bottom) / 2 - 6)),
                _ONLY_ERRORS,
                fill=AXIS_TEXT,
                font=font(11),
                anchor="mm",
            )
        if errors:
            draw.line(
                [(px(left), px(self.baseline)), (px(right), px(self.baseline))],
                fill=AXIS_TEXT,
                width=px(0.5),
            )
            draw.text(
                (px(left - 6), px(self.baseline)), "error", fill=AXIS_TEXT, font=small, anchor="rm"
            )


def _draw_points(
    draw: ImageDraw.ImageDraw, layout: RunChartLayout, scale: _Values, points: Sequence[Point]
) -> None:
    """A line through the measured values (broken by an error), and a dot per check: passed in
    blue, failed in red, drawn last so that none hides under a passed one."""
    stretch: list[tuple[int, int]] = []
    for point in points:
        value = _value(point)
        if value is not None:
            stretch.append((px(layout.x(point.seconds)), px(scale.y(value))))
            continue
        if len(stretch) > 1:
            draw.line(stretch, fill=LINE, width=px(1.5), joint="curve")
        stretch = []
    if len(stretch) > 1:
        draw.line(stretch, fill=LINE, width=px(1.5), joint="curve")
    for point in sorted(points, key=lambda p: not p.ok):
        at = (px(layout.x(point.seconds)), px(scale.y(_value(point))))
        _dot(draw, at, LINE if point.ok else FAILURE)


def _value(point: Point) -> float | None:
    """What the check measured; None for an error (or a NaN, e.g. a ratio of no traffic)."""
    return point.value if point.value is not None and math.isfinite(point.value) else None


def _dot(draw: ImageDraw.ImageDraw, at: tuple[int, int], colour: tuple[int, int, int]) -> None:
    x, y = at
    radius = px(3)
    draw.ellipse([(x - radius, y - radius), (x + radius, y + radius)], fill=colour)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _cut(draw: ImageDraw.ImageDraw, text: str, face: Font, room: int) -> str:
    """`text`, shortened with "..." to fit `room` (the bundled font has no ellipsis glyph)."""
    if draw.textlength(text, font=face) <= room:
        return text
    while text and draw.textlength(text + "...", font=face) > room:
        text = text[:-1]
    return text.rstrip() + "..."
