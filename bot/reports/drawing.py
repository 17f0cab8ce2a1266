"""What every chart of bot/reports draws with: a canvas at twice the size, the palette, the font,
and the PNG it becomes."""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "AXIS_TEXT",
    "BACKGROUND",
    "FAILURE",
    "GRID",
    "LINE",
    "SCALE",
    "TEXT",
    "Box",
    "Font",
    "canvas",
    "font",
    "note",
    "padded",
    "png",
    "px",
]

# Drawn at twice the size and scaled down: Pillow draws lines without anti-aliasing.
SCALE = 2

BACKGROUND = (255, 255, 255)
GRID = (228, 228, 231)
AXIS_TEXT = (113, 113, 122)
TEXT = (39, 39, 42)
LINE = (37, 99, 235)
FAILURE = (220, 38, 38)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Box = tuple[float, float, float, float]  # left, top, right, bottom


def canvas(size: tuple[int, int]) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A white image of `size` (the PNG's pixels) at SCALE, and its drawing context."""
    width, height = size
    image = Image.new("RGB", (width * SCALE, height * SCALE), BACKGROUND)
    return image, ImageDraw.Draw(image)


def png(
    image: Image.Image,
    size: tuple[int, int],
    *,
    scaled: Image.Image | None = None,
    drawn: Sequence[Box] = (),
    compress_level: int = 6,
) -> bytes:
    """The canvas scaled down to `size` and encoded; the same drawing gives the same bytes.

    `scaled`: the canvas `image` was copied from, before `drawn` (boxes in the canvas's pixels
    holding everything drawn since) was drawn on it, already scaled down. Only the drawn boxes
    are scaled then, each with the pixels around it that the filter reads: the same pixels as
    scaling the whole canvas, for a fraction of the work. `compress_level`: zlib's, 1 to 9
    (the pixels are the same; a lower level is faster and the file larger).
    """
    if scaled is None:
        result = image.resize(size, Image.Resampling.LANCZOS)
    else:
        result = scaled.copy()
        for box in drawn:
            _rescale(image, result, box)
    out = io.BytesIO()
    result.save(out, format="PNG", compress_level=compress_level)
    return out.getvalue()


def _rescale(image: Image.Image, into: Image.Image, box: Box) -> None:
    # An output pixel reads the canvas pixels within the filter's support (Lanczos: 3 of the
    # output's pixels either way): every output pixel that can see the box is scaled again.
    reach = 4
    left, top, right, bottom = box
    width, height = into.size
    part = (
        max(0, math.floor(left / SCALE) - reach),
        max(0, math.floor(top / SCALE) - reach),
        min(width, math.ceil(right / SCALE) + reach),
        min(height, math.ceil(bottom / SCALE) + reach),
    )
    if part[0] >= part[2] or part[1] >= part[3]:
        return
    redone = image.resize(
        (part[2] - part[0], part[3] - part[1]),
        Image.Resampling.LANCZOS,
        box=(part[0] * SCALE, part[1] * SCALE, part[2] * SCALE, part[3] * SCALE),
    )
    into.paste(redone, part[:2])


def px(length: float) -> int:
    """A length in the PNG's pixels, in the canvas's."""
    return round(length * SCALE)


def padded(box: tuple[float, float, float, float], by: int) -> tuple[float, ...]:
    left, top, right, bottom = box
    return (left - by, top - by, right + by, bottom + by)


def font(size: int) -> Font:
    # Pillow's bundled font: no font files on the host are needed, and every host draws alike.
    # It covers Latin letters but not every symbol (an em dash shows as a box).
    # Loaded once per size and thread (a digest draws a chart per team; a FreeType face is
    # not for two threads at once).
    fonts: dict[int, Font] = _FONTS.__dict__.setdefault("by_size", {})
    face = fonts.get(size)
    if face is None:
        face = fonts[size] = ImageFont.load_default(size=size * SCALE)
    return face


_FONTS = threading.local()


def note(draw: ImageDraw.ImageDraw, middle: tuple[int, int], text: str, *, size: int = 14) -> Box:
    """A grey note centred on `middle`, on a white patch that hides the grid behind it; returns
    the patch."""
    face = font(size)
    box = draw.textbbox(middle, text, font=face, anchor="mm")
    patch = padded(box, px(6))
    draw.rectangle(patch, fill=BACKGROUND)
    draw.text(middle, text, fill=AXIS_TEXT, font=face, anchor="mm")
    return (patch[0], patch[1], patch[2], patch[3])
