"""Slack surface of blind drills: the incident buttons, the findings modal, `/chaos drills`."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from sqlalchemy.exc import IntegrityError

from bot.config import Settings
from bot.context import BotContext
from bot.db.idempotency import claim, was_claimed
from bot.drills.flows import acknowledge, escalate, resolve
from bot.drills.service import find_drill, recent_drills, upcoming_drills
from bot.errors import ChaosbotError
from bot.findings.models import Severity
from bot.findings.service import NewActionItem, record_drill_findings
from bot.runs.supervisor import abort_run
from bot.slack.commands import CommandRequest
from bot.slack.drill_blocks import ACTION_ROWS, drills_list, findings_modal
from bot.slack.drill_conversation import thread_note
from bot.slack.ids import ActionId, CallbackId, FindingsBlock
from bot.slack.mrkdwn import escape
from bot.slack.replies import Reply
from bot.slack.responder import Responder
from bot.slack.surface import Surface
from bot.slack.views import DrillFindingsModal, view_key

__all__ = ["check_may_see_plan", "read_findings", "register"]

log = logging.getLogger(__name__)
# Until the form asks for a due day, action items are due two weeks after they are recorded.
DUE_AFTER = timedelta(days=14)


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
    """Add `/chaos drills`, the Acknowledge / Resolve / Escalate buttons and the findings modal."""
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
    surface.button(ActionId.RECORD_FINDINGS, drills.open_findings)
    surface.app.view(CallbackId.DRILL_FINDINGS.value)(drills.submit_findings)


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

    # --- findings -----------------------------------------------------------------------------

    def open_findings(self, body: dict[str, Any], _respond: Responder, client: WebClient) -> None:
        with self.ctx.db.session() as session:
            drill = find_drill(session=session, ref=_ref(body))
            view = findings_modal(drill, channel=drill.slack_channel)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def submit_findings(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Validate inside the ack (problems go onto their blocks), then store one finding."""
        ref = DrillFindingsModal.load(view.get("private_metadata")).drill
        read, errors = read_findings(view["state"]["values"], today=self._now().date())
        if read is None:
            ack(response_action="errors", errors=errors)
            return
        what, well, severity, items = read
        key, user, now = view_key(view), _user(body), self._now()
        try:
            with self.ctx.db.session() as session:
                if was_claimed(session=session, key=key):
                    ack()
                    return
                claim(session=session, key=key, now=now)
                drill = find_drill(session=session, ref=ref)
                finding = record_drill_findings(
                    session=session,
                    drill=drill,
                    by=user,
                    now=now,
                    what_happened=what,
                    went_well=well,
                    severity=severity,
                    action_items=items,
                )
                owners = (
                    ", ".join(f"<@{escape(i.owner)}> ({escape(i.text)})" for i in items) or "none"
                )
                thread_note(
                    session,
                    drill,
                    f":memo: <@{user}> recorded finding `{finding.key}` ({severity.value}). "
                    f"Action items: {owners}.",
                    now=now,
                    name=f"finding:{finding.key}",
                )
        except ChaosbotError as refused:
            ack(response_action="errors", errors={FindingsBlock.WHAT_HAPPENED.value: str(refused)})
            return
        except IntegrityError:
            with self.ctx.db.session() as session:
                if not was_claimed(session=session, key=key):
                    raise
        self.ctx.outbox_ready()
        ack()

    def _now(self) -> datetime:
        return self.ctx.clock.now()


def _ref(body: dict[str, Any]) -> str:
    return str(body["actions"][0]["value"])


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


def read_findings(
    values: dict[str, Any], *, today: date
) -> tuple[tuple[str, str, Severity, list[NewActionItem]] | None, dict[str, str]]:
    """The modal's values, or the errors by block: every action item needs a text and an owner."""
    errors: dict[str, str] = {}

    def value(block: str) -> Any:
        return values.get(block, {}).get(block, {})

    what = (value(FindingsBlock.WHAT_HAPPENED).get("value") or "").strip()
    if not what:
        errors[FindingsBlock.WHAT_HAPPENED.value] = "Say what happened."
    well = (value(FindingsBlock.WENT_WELL).get("value") or "").strip()
    chosen = (value(FindingsBlock.SEVERITY).get("selected_option") or {}).get("value", "medium")
    try:
        severity = Severity(chosen)
    except ValueError:
        errors[FindingsBlock.SEVERITY.value] = f"{chosen!r} is not a severity."
        severity = Severity.MEDIUM
    items = []
    for row in range(1, ACTION_ROWS + 1):
        action_block, owner_block = f"{FindingsBlock.ACTION}:{row}", f"{FindingsBlock.OWNER}:{row}"
        text = (value(action_block).get("value") or "").strip()
        owner = value(owner_block).get("selected_user") or ""
        if text and not owner:
            errors[owner_block] = "Every action item needs an owner."
        elif owner and not text:
            errors[action_block] = "Say what the owner is to do, or clear the owner."
        elif text:
            items.append(NewActionItem(text=text, owner=str(owner), due_on=today + DUE_AFTER))
    if errors:
        return None, errors
    return (what, well, severity, items), {}
