"""Answering the person who pressed a button, wherever the button was.

A button in a message comes with a `response_url`, and Bolt's `respond` answers through it. A
button on the App Home tab comes without one, and Bolt's `respond` raises there; the answer is
then the Home tab itself, published again from the current state with the answer as its first
line. Any other button without a `response_url` (one in a modal) is answered by a direct message
from the app. Listeners call a `Responder` as they would call `respond`; they never need to know
which surface the button was on (a Home tab opened before someone else decided still has every
button it had).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

__all__ = ["HomeNote", "Responder"]

log = logging.getLogger(__name__)

# Publishes a person's Home tab from the current state, with a line (mrkdwn) above it.
HomeNote = Callable[[WebClient, str, str | None], None]


class Responder:
    """`respond` for a button's listener, answering the person on the surface they acted on."""

    def __init__(
        self,
        *,
        body: dict[str, Any],
        respond: Respond | None,
        client: WebClient,
        home: HomeNote | None,
    ) -> None:
        self._body = body
        self._respond = respond if respond is not None and respond.response_url else None
        self._client = client
        self._home = home

    @property
    def on_home(self) -> bool:
        """Whether the button was on the App Home tab."""
        view = self._body.get("view")
        return isinstance(view, dict) and view.get("type") == "home"

    def __call__(
        self, text: str = "", *, blocks: list[dict[str, Any]] | None = None, **options: Any
    ) -> None:
        """Answer with `text` (and `blocks`, where the surface can show them); `options` are the
        response_url's (`replace_original`, `response_type`), which only a message has."""
        if self._respond is not None:
            self._respond(text=text, blocks=blocks, **options)
            return
        user = (self._body.get("user") or {}).get("id")
        if not isinstance(user, str) or not user:
            log.info("an answer had nowhere to go: no response_url and no user")
            return
        if self.on_home and self._home is not None:
            self._home(self._client, user, text or None)
            return
        self._client.chat_postMessage(channel=user, text=text, blocks=blocks)
