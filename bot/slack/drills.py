"""Slack surface of blind drills: the incident buttons and `/chaos drills` (the findings form
is bot/slack/findings_form.py, shared with game days and runs)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from bot.config import Settings
from bot.context import BotContext
from bot.drills.flows import acknowledge, escalate, resolve
from bot.drills.service import recent_drills, upcoming_drills
from bot.errors import ChaosbotError
from bot.runs.supervisor import abort_run
from bot.slack.commands import CommandRequest
from bot.slack.drill_blocks import drills_list
from bot.slack.ids import ActionId
from bot.slack.replies import Reply
from bot.slack.responder import Responder
from bot.slack.surface import Surface

__all__ = ["check_may_see_plan", "register"]

log = logging.getLogger(__name__)


class NotAPlatformAdmin(ChaosbotError):
    def __init__(self) -> None:
        super().__init__("Only platform admins see the drill plan (CHAOSBOT_PLATFORM_ADMINS).")


class NotTheAdminChannel(ChaosbotError):
    def __init__(self, channel: str) -> None:
        super().__init__(
            f"The drill plan is shown only in the platform admin channel <#{channel}>, "
            "so no team sees when its next drill comes."
        )


def check_may_see_plan(settings: Settings, *, user: str, channel: str | None) -> None:
    """The plan is for platform admins, and only in the admin channel when there is one."""
    if user not in settings.platform_admins:
        raise NotAPlatformAdmin()
    if settings.admin_channel and channel != settings.admin_channel:
        raise NotTheAdminChannel(settings.admin_channel)


def register(surface: Surface) -> None:
    """Add `/chaos drills` and the Acknowledge / Resolve / Escalate buttons."""
    drills = _Drills(surface.context)
    surface.subcommand(
        "drills",
        "/chaos drills",
        "planned and recent blind drills (platform admins, in the admin channel)",
        drills.list,
    )

    surface.button(ActionId.ACKNOWLEDGE_INCIDENT, drills.acknowledge)
    surface.button(ActionId.RESOLVE_INCIDENT, drills.resolve)
    surface.button(ActionId.ESCALATE_INCIDENT, drills.escalate)


class _Drills:
    def __init__(self, context: BotContext) -> None:
        self.ctx = context

    # --- /chaos drills ------------------------------------------------------------------------

    def list(self, request: CommandRequest) -> Reply:
        check_may_see_plan(self.ctx.settings, user=request.user_id, channel=request.channel_id)
        now = self.ctx.clock.now()
        with self.ctx.db.session() as session:
            blocks = drills_list(
                upcoming_drills(session=session, now=now),
                recent_drills(session=session, now=now),
                now=now,
            )
        return Reply(text="Blind drills", blocks=blocks)

    # --- the incident buttons (anyone in the channel may answer an incident) -------------------

    def acknowledge(self, body: dict[str, Any], respond: Responder, _client: WebClient) -> None:
        with self.ctx.db.session() as session:
            first = acknowledge(session=session, ref=_ref(body), user=_user(body), now=self._now())
        self._changed(respond, None if first else "Someone acknowledged it already.")

    def escalate(self, body: dict[str, Any], respond: Responder, _client: WebClient) -> None:
        with self.ctx.db.session() as session:
            paged = escalate(session=session, ref=_ref(body), user=_user(body), now=self._now())
        self._changed(respond, None if paged else "It was escalated already.")

    def resolve(self, body: dict[str, Any], respond: Responder, _client: WebClient) -> None:
        user, now = _user(body), self._now()
        with self.ctx.db.session() as session:
            run_id = resolve(session=session, ref=_ref(body), user=user, now=now)
        if run_id is not None:
            # Mitigated: roll the fault back now; the reveal follows when the run has ended.
            abort_run(
                db=self.ctx.db,
                ref=run_id,
                by=f"{user} (incident resolved)",
                now=now,
                roll_back=self.ctx.roll_back,
                executor=self.ctx.executor,
            )
        self._changed(respond, None)
        self.ctx.schedule_changed()

    def _changed(self, respond: Responder, note: str | None) -> None:
        self.ctx.outbox_ready()
        if note:
            respond(
                **Reply.markdown(f":information_source: {note}").as_response(),
                replace_original=False,
            )

    def _now(self) -> datetime:
        return self.ctx.clock.now()


def _ref(body: dict[str, Any]) -> str:
    return str(body["actions"][0]["value"])


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])
