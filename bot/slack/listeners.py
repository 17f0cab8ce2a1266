"""Registers every Slack listener on an App; each surface module has its own `register`."""

from __future__ import annotations

from slack_bolt import App

from bot.slack import commands, home
from bot.slack.commands import CommandRouter
from bot.slack.errors import ErrorReporter

__all__ = ["register_listeners"]


def register_listeners(app: App, *, reporter: ErrorReporter, router: CommandRouter) -> None:
    """Wire up every surface; each adds its `/chaos` subcommands to the router."""
    commands.register(app, router=router, reporter=reporter)
    home.register(app, router=router)
