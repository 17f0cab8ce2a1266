"""What every Slack surface's `register` is handed, and the two ways each of them listens."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt import App

from bot.context import BotContext
from bot.slack.budget import AckBudget
from bot.slack.commands import CommandRouter, Handler, Subcommand
from bot.slack.errors import ActionHandler, ErrorReporter, ack_only
from bot.slack.ids import ActionId

__all__ = ["Surface"]


@dataclass(frozen=True)
class Surface:
    """The Bolt app, the `/chaos` router, the error reporter, the bot's context, and how long
    a listener may wait on the cluster inside its ack (`budget`)."""

    app: App
    router: CommandRouter
    reporter: ErrorReporter
    context: BotContext
    budget: AckBudget

    def subcommand(self, name: str, usage: str, summary: str, handler: Handler) -> None:
        """Add `/chaos NAME`: acked at once, answered after the ack."""
        self.router.add(Subcommand(name, usage, summary, handler))

    def button(self, action: ActionId, handler: ActionHandler) -> None:
        """Listen for a button: acked at once; `handler` runs after the ack and its errors are
        reported to the person who clicked."""
        self.app.action(action.value)(ack=ack_only, lazy=[self.reporter.reported(handler)])
