"""blockkit.fit: the one helper that cuts text to Slack's limits, and the builders that use it."""

from __future__ import annotations

import pytest
from slack_sdk.models.blocks import Block

from bot.slack.blockkit import (
    BUTTON_TEXT,
    MESSAGE_BLOCKS,
    SECTION_TEXT,
    button,
    fit,
    header,
    message,
    option,
    private_metadata,
    section,
)
from bot.slack.mrkdwn import escape


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize("length", [0, 1, 2999, 3000])
def test_text_within_the_limit_is_untouched(length: int) -> None:
    text = "a" * length
    assert fit(text, 3000) is text


def test_one_character_over_is_cut_and_says_how_much() -> None:
    cut = fit("a" * 3001, 3000)
    assert len(cut) == 3000
    note = "… (cut: 28 more characters)"  # 2,973 kept of 3,001
    assert cut == "a" * (3000 - len(note)) + note


def test_the_note_counts_with_thousands_separators() -> None:
    cut = fit("b" * 100_000, 3000)
    assert len(cut) == 3000
    assert cut.endswith(f"… (cut: {100_000 - cut.index('…'):,} more characters)")
    assert "97,0" in cut


def test_short_limits_get_a_bare_ellipsis() -> None:
    cut = fit("Record the findings of this very long drill name " * 3, BUTTON_TEXT)
    assert len(cut) == BUTTON_TEXT and cut.endswith("…") and "cut:" not in cut


def test_multi_byte_characters_count_as_slack_counts_them_and_are_never_split() -> None:
    # Each emoji is one Python character but two UTF-16 units; each "é" is e + a combining mark.
    emoji = fit("🔥" * 3000, 3000)
    assert _utf16(emoji) <= 3000 and emoji.endswith("more characters)")
    assert emoji.count("🔥") >= (3000 - 40) // 2
    assert emoji.encode("utf-16-le").decode("utf-16-le") == emoji
    accents = fit("e\u0301" * 2000, 3000)
    assert len(accents) <= 3000
    assert accents.split("…")[0].endswith("e\u0301")
    family = "👩\u200d👩\u200d👧"
    joined = fit(family * 1000, 3000)
    kept = joined.split("…")[0]
    assert kept.endswith("👧") and not kept.endswith("\u200d")


def test_escaped_text_is_not_cut_inside_an_entity_or_a_mention() -> None:
    text = escape("x" * 2960 + "&&&&&&&&&&" * 10)
    assert not fit(text, 3000).split("…")[0].endswith(("&", "&a", "&am", "&amp"))
    mention = "y" * 2965 + "<@U0123456789>" * 10
    kept = fit(mention, 3000).split("…")[0]
    assert kept.count("<") == kept.count(">")
    plain = fit("a < b " + "c" * 3000, 3000)  # a bare "<" far back is kept, with what follows
    assert plain.startswith("a < b ccc") and len(plain) == 3000


def test_builders_give_blocks_slack_accepts() -> None:
    huge = "z" * 100_000
    for block in (
        section(huge),
        header(huge),
        {"type": "actions", "elements": [button("a", huge, "v")]},
    ):
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
    assert len(option("v", huge)["text"]["text"]) == 75
    assert len(section(huge)["text"]["text"]) == SECTION_TEXT


def test_a_message_keeps_at_most_50_blocks_and_says_how_many_were_cut() -> None:
    blocks = [section(str(i)) for i in range(120)]
    fitted = message("t" * 50_000, blocks)
    assert len(fitted["text"]) == 40_000 and len(fitted["blocks"]) == MESSAGE_BLOCKS
    assert fitted["blocks"][:49] == blocks[:49]
    assert "cut: 71 more blocks" in str(fitted["blocks"][-1])
    assert message("short", blocks[:3]) == {"text": "short", "blocks": blocks[:3]}


def test_private_metadata_is_refused_rather_than_cut() -> None:
    assert private_metadata("k" * 3000) == "k" * 3000
    with pytest.raises(ValueError, match="3,001"):
        private_metadata("k" * 3001)
