"""What every chart of bot/reports draws with: a canvas at twice the size, the palette, the font,
and the PNG it becomes."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "AXIS_TEXT",
    "BACKGROUND",
    "FAILURE",
    "GRID",
    "LINE",
    "SCALE",
    "TEXT",
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


def canvas(size: tuple[int, int]) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A white image of `size` (the PNG's pixels) at SCALE, and its drawing context."""
    width, height = size
    image = Image.new("RGB", (width * SCALE, height * SCALE), BACKGROUND)
    return image, ImageDraw.Draw(image)


def png(image: Image.Image, size: tuple[int, int]) -> bytes:
    """The canvas scaled down to `size` and encoded; the same drawing gives the same bytes."""
    out = io.BytesIO()
    image.resize(size, Image.Resampling.LANCZOS).save(out, format="PNG")
    return out.getvalue()


def px(length: float) -> int:
    """A length in the PNG's pixels, in the canvas's."""
    return round(length * SCALE)


def padded(box: tuple[float, float, float, float], by: int) -> tuple[float, ...]:
    left, top, right, bottom = box
    return (left - by, top - by, right + by, bottom + by)


def font(size: int) -> Font:
    # Pillow's bundled font: no font files on the host are needed, and every host draws alike.
    # It covers Latin letters but not every symbol (an em dash shows as a box).
    return ImageFont.load_default(size=size * SCALE)


def note(draw: ImageDraw.ImageDraw, middle: tuple[int, int], text: str, *, size: int = 14) -> None:
    """A grey note centred on `middle`, on a white patch that hides the grid behind it."""
    face = font(size)
    box = draw.textbbox(middle, text, font=face, anchor="mm")
    draw.rectangle(padded(box, px(6)), fill=BACKGROUND)
    draw.text(middle, text, fill=AXIS_TEXT, font=face, anchor="mm")
