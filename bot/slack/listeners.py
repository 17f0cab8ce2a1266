"""Registers every Slack listener on an App; each surface module has its own `register`."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.context import BotContext
from bot.slack import (
    actions,
    audit,
    catalog,
    commands,
    compliance,
    drills,
    findings,
    findings_form,
    gamedays,
    home,
    runs,
    suite,
    teams,
)
from bot.slack.budget import AckBudget
from bot.slack.commands import CommandRouter
from bot.slack.errors import ErrorReporter
from bot.slack.surface import Surface

__all__ = ["home_tab", "register_listeners"]


def home_tab(*, router: CommandRouter, context: BotContext) -> home.HomeTab:
    """The App Home tab, with each person's part read from the database."""
    settings, db, clock = context.settings, context.db, context.clock

    def personal(user: str, note: str | None) -> list[dict[str, Any]]:
        with db.session() as session:
            return home.personal_blocks(
                session,
                user_id=user,
                now=clock.now(),
                admins=settings.platform_admins,
                policy=settings.compliance_policy,
                note=note,
            )

    return home.HomeTab(router=router, personal=personal)


def register_listeners(
    app: App,
    *,
    reporter: ErrorReporter,
    router: CommandRouter,
    context: BotContext,
    home_tab: home.HomeTab,
) -> None:
    """Wire up every surface; each adds its `/chaos` subcommands to the router."""
    surface = Surface(
        app=app,
        router=router,
        reporter=reporter,
        context=context,
        budget=AckBudget(context.settings.ack_budget_seconds),
    )
    # First: Bolt tries listeners in order, and `/chaos` is what people send most.
    commands.register(app, router=router, reporter=reporter)
    for each in (
        catalog,
        runs,
        suite,
        gamedays,
        drills,
        findings_form,
        findings,
        actions,
        compliance,
        teams,
        audit,
    ):
        each.register(surface)

    approve_for, resolve_for, done_for = home.home_actions(
        context.db.session, now=context.clock.now, admins=context.settings.platform_admins
    )

    def approved(key: str, user: str) -> str:
        note = approve_for(key, user)
        context.outbox_ready()
        context.schedule_changed()
        return note

    home.register(
        app,
        home=home_tab,
        reporter=reporter,
        approve_for=approved,
        resolve_for=resolve_for,
        done_for=done_for,
    )
