"""Block Kit checks of what the bot sends, with slack_sdk's own models, as Slack would make them.

Slack refuses a message or view it cannot show with `invalid_blocks` and a reason; the test
server answers the same, so the test that sent it fails where it sent it.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

__all__ = ["message_problem", "view_problem"]

_MESSAGE_TEXT = 40_000
_MESSAGE_BLOCKS = 50
_PRIVATE_METADATA = 3000


def _blocks_problem(blocks: Any, limit: int) -> str | None:
    if not isinstance(blocks, list):
        return "blocks must be a list"
    if len(blocks) > limit:
        return f"no more than {limit} items allowed (blocks has {len(blocks)})"
    for index, block in enumerate(blocks):
        if not isinstance(block, dict):
            return f"blocks[{index}] must be an object"
        try:
            parsed = Block.parse(block)
            if parsed is None:
                return f"blocks[{index}]: unknown block type {block.get('type')!r}"
            parsed.validate_json()
        except (SlackObjectFormationError, TypeError, KeyError, AttributeError) as problem:
            return f"blocks[{index}] ({block.get('type')}): {problem}"
    return None


def message_problem(body: dict[str, Any]) -> str | None:
    """Why Slack would refuse this message's content (chat.*, a response_url, an ack), or None."""
    text = body.get("text")
    if isinstance(text, str) and len(text) > _MESSAGE_TEXT:
        return f"text has {len(text):,} characters; Slack takes {_MESSAGE_TEXT:,}"
    if body.get("blocks") in (None, ""):
        return None
    return _blocks_problem(body["blocks"], _MESSAGE_BLOCKS)


def view_problem(view: Any) -> str | None:
    """Why Slack would refuse this view (views.open/push/update/publish), or None."""
    if not isinstance(view, dict):
        return "view must be an object"
    metadata = view.get("private_metadata") or ""
    if len(metadata) > _PRIVATE_METADATA:
        return f"private_metadata has {len(metadata):,} characters; Slack takes 3,000"
    problem = _blocks_problem(view.get("blocks", []), 100)
    if problem is not None:
        return problem
    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError, KeyError, AttributeError) as error:
        return f"view: {error}"
    return None
