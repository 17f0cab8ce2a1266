"""App Home: what a person sees on chaosbot's Home tab."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.commands import CommandRouter

__all__ = ["home_view", "register"]

log = logging.getLogger(__name__)


def home_view(router: CommandRouter) -> dict[str, Any]:
    """The Home tab: a greeting and the commands available."""
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "chaosbot"}},
            *router.help().blocks,
        ],
    }


def register(app: App, *, router: CommandRouter) -> None:
    """Publish the Home tab whenever someone opens it."""

    @app.event("app_home_opened")
    def publish_home(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") != "home":
            return
        client.views_publish(user_id=event["user"], view=home_view(router))
