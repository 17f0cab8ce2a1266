"""Registers every Slack listener on an App; each surface module has its own `register`."""

from __future__ import annotations

from slack_bolt import App

from bot.context import BotContext
from bot.slack import catalog, commands, gamedays, home, runs, suite
from bot.slack.commands import CommandRouter
from bot.slack.errors import ErrorReporter

__all__ = ["register_listeners"]


def register_listeners(
    app: App, *, reporter: ErrorReporter, router: CommandRouter, context: BotContext
) -> None:
    """Wire up every surface; each adds its `/chaos` subcommands to the router."""
    catalog.register(app, router=router, reporter=reporter, context=context)
    runs.register(app, router=router, reporter=reporter, context=context)
    suite.register(app, router=router, reporter=reporter, context=context)
    gamedays.register(app, router=router, reporter=reporter, context=context)
    commands.register(app, router=router, reporter=reporter)
    home.register(app, router=router)
