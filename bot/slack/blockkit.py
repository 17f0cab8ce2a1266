"""Block Kit builders every surface shares, and the one place text is fitted to Slack's limits.

Slack rejects a whole message or view (`invalid_blocks`) when one text is over its limit, so the
person would get no answer at all. Every builder here cuts what it is given with `fit`, which
ends the text with "…" and says how much was left out.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

__all__ = [
    "BUTTON_TEXT",
    "HEADER_TEXT",
    "MAX_OPTIONS",
    "MESSAGE_BLOCKS",
    "MESSAGE_TEXT",
    "OPTION_TEXT",
    "PRIVATE_METADATA",
    "SECTION_TEXT",
    "VIEW_BLOCKS",
    "button",
    "context",
    "fit",
    "fit_blocks",
    "header",
    "input_block",
    "message",
    "mrkdwn",
    "option",
    "plain_text",
    "private_metadata",
    "section",
]

# Slack's limits (https://api.slack.com/reference/block-kit), in characters.
SECTION_TEXT = 3000  # a section's text, a context element's text, any text object
HEADER_TEXT = 150
BUTTON_TEXT = 75
OPTION_TEXT = 75
LABEL_TEXT = 2000  # an input block's label and hint
MESSAGE_TEXT = 40_000  # a message's top-level `text`
PRIVATE_METADATA = 3000
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MAX_OPTIONS = 100  # in one select

_ELLIPSIS = "…"
_LONGEST_LINK = 500  # a cut `<...>` further back is no link: a bare "<" in plain text
_NOTED_FROM = 150  # limits from which a cut text says how much was cut


def _units(text: str) -> int:
    """Length as Slack may count it: UTF-16 code units, never fewer than Python's characters."""
    return len(text.encode("utf-16-le")) // 2


def _note(cut: int) -> str:
    return f"{_ELLIPSIS} (cut: {cut:,} more character{'' if cut == 1 else 's'})"


def _clean_end(text: str) -> str:
    """`text` without a trailing half: a half-escaped `&amp;`, an unclosed `<...>` link or mention,
    or a character whose combining marks or joined emoji were cut off."""
    amp, semi = text.rfind("&"), text.rfind(";")
    if amp > semi and len(text) - amp <= len("&amp;"):
        text = text[:amp]
    opened, closed = text.rfind("<"), text.rfind(">")
    if opened > closed and len(text) - opened <= _LONGEST_LINK:
        text = text[:opened]
    return text


def _keeps_together(before: str, after: str) -> bool:
    """Whether a cut between these two characters would split what people see as one."""
    return (
        unicodedata.combining(after) != 0
        or after in "\u200d\ufe0e\ufe0f"
        or before == "\u200d"
        or 0x1F3FB <= ord(after) <= 0x1F3FF  # skin tone modifiers
    )


def fit(text: str, limit: int) -> str:
    """`text` if Slack takes it whole, else its beginning, ending with "…" and what was cut.

    The note ("… (cut: 12,345 more characters)") is left out below 150 characters of room (a
    button's or an option's 75 characters keep their words, with a bare "…").
    """
    if _units(text) <= limit:
        return text
    if limit < _NOTED_FROM:
        return _prefix(text, limit - len(_ELLIPSIS)) + _ELLIPSIS
    guess = len(text)
    fitted = _prefix(text, limit - len(_ELLIPSIS)) + _ELLIPSIS
    for _ in range(4):  # the note's length depends on the count it shows, which depends on it
        room = limit - len(_note(guess))
        kept = _prefix(text, room)
        cut = len(text) - len(kept)
        if len(_note(cut)) <= len(_note(guess)):
            fitted = kept + _note(cut)
            if len(_note(cut)) == len(_note(guess)):
                break
        guess = cut
    return fitted


def _prefix(text: str, room: int) -> str:
    """The longest beginning of `text` in `room` UTF-16 units that ends cleanly."""
    kept = text[:room]
    while (excess := _units(kept) - room) > 0:
        kept = kept[: len(kept) - (excess + 1) // 2]  # a character is one or two units
    while kept and len(kept) < len(text) and _keeps_together(kept[-1], text[len(kept)]):
        kept = kept[:-1]
    return _clean_end(kept)


def plain_text(text: str, *, limit: int = SECTION_TEXT) -> dict[str, Any]:
    """A plain_text object (no mrkdwn: escaping does not apply), fitted to `limit`."""
    return {"type": "plain_text", "text": fit(text, limit)}


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object; person-supplied parts of `text` must already be escaped."""
    return {"type": "mrkdwn", "text": fit(text, SECTION_TEXT)}


def section(
    text: str, *, accessory: dict[str, Any] | None = None, block_id: str | None = None
) -> dict[str, Any]:
    """A mrkdwn section, fitted to Slack's 3,000 characters."""
    block: dict[str, Any] = {"type": "section", "text": mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = accessory
    if block_id is not None:
        block["block_id"] = block_id
    return block


def context(*texts: str) -> dict[str, Any]:
    """A context block of mrkdwn elements."""
    return {"type": "context", "elements": [mrkdwn(t) for t in texts]}


def header(text: str) -> dict[str, Any]:
    """A header block (plain text, at most 150 characters)."""
    return {"type": "header", "text": plain_text(text, limit=HEADER_TEXT)}


def button(action_id: str, label: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    """A button whose label is fitted to Slack's 75 characters."""
    result: dict[str, Any] = {
        "type": "button",
        "action_id": str(action_id),
        "text": plain_text(label, limit=BUTTON_TEXT),
        "value": value,
    }
    if style:
        result["style"] = style
    return result


def option(value: str, label: str) -> dict[str, Any]:
    """A select's option, its label fitted to Slack's 75 characters."""
    return {"text": plain_text(label, limit=OPTION_TEXT), "value": value}


def input_block(
    block: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> dict[str, Any]:
    """An input block whose element's action_id is its block_id (how the modals read values)."""
    result: dict[str, Any] = {
        "type": "input",
        "block_id": str(block),
        "label": plain_text(label, limit=LABEL_TEXT),
        "element": {**element, "action_id": str(block)},
        "optional": optional,
    }
    if hint:
        result["hint"] = plain_text(hint, limit=LABEL_TEXT)
    return result


def fit_blocks(blocks: Sequence[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """`blocks` if Slack takes that many, else the first ones and a last line saying how many
    were cut."""
    if len(blocks) <= limit:
        return list(blocks)
    kept = list(blocks[: limit - 1])
    cut = len(blocks) - len(kept)
    return [*kept, context(f"{_ELLIPSIS} (cut: {cut:,} more blocks)")]


def message(text: str, blocks: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A message's content: its fallback text (40,000 characters) and at most 50 blocks."""
    content: dict[str, Any] = {"text": fit(text, MESSAGE_TEXT)}
    if blocks:
        content["blocks"] = fit_blocks(blocks, MESSAGE_BLOCKS)
    return content


def private_metadata(value: str) -> str:
    """A view's private_metadata; it carries ids, which cutting would break, so too long is a bug."""
    if len(value) > PRIVATE_METADATA:
        raise ValueError(f"private_metadata of {len(value):,} characters (Slack takes 3,000)")
    return value
