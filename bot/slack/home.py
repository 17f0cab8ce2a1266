"""App Home: what a person sees on chaosbot's Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack.commands import CommandRouter

__all__ = ["home_view", "register"]


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

    def ack_event(ack: Ack) -> None:
        ack()

    def publish_home(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") != "home":
            return
        client.views_publish(user_id=event["user"], view=home_view(router))

    app.event("app_home_opened")(ack=ack_event, lazy=[publish_home])
