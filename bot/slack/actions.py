"""`/chaos actions [@person|TEAM]`: open action items, the overdue first, with Done and Reassign
for those allowed; and the owners' reminders by direct message (the ActionItemConversation)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.catalog.namespaces import find_team
from bot.errors import ChaosbotError
from bot.findings.models import ActionItem
from bot.findings.service import (
    complete_action_item,
    may_touch_item,
    open_action_items,
    overdue_days,
    reassign_action_item,
)
from bot.slack.blockkit import button, context, section
from bot.slack.commands import CommandRequest
from bot.slack.ids import ActionId
from bot.slack.mrkdwn import escape
from bot.slack.outbox import enqueue, enqueue_many
from bot.slack.replies import Reply
from bot.slack.responder import Responder
from bot.slack.surface import Surface

__all__ = [
    "ItemControl",
    "SlackActionItemConversation",
    "action_items_blocks",
    "item_line",
    "register",
]

MAX_LISTED = 20
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


@dataclass(frozen=True)
class ItemControl:
    """What a Done button's value and a Reassign select's block_id carry: the item, and the
    list it was shown in (`scope`: "" the clicker's own, a user id, or "team:NAME")."""

    item: str
    scope: str = ""

    def dump(self) -> str:
        return f"{self.item}|{self.scope}"

    @classmethod
    def load(cls, raw: str) -> ItemControl:
        item, _, scope = raw.partition("|")
        return cls(item, scope)


def item_line(item: ActionItem, *, now: datetime) -> str:
    """`ai-3f9e1c` *Add a PDB* · checkout, finding `fd-…` · <@owner> · due Mon 14 Dec (overdue 3
    days); person-supplied text escaped."""
    late = overdue_days(item, now=now)
    finding = item.finding
    when = f"due {item.due_on:%a %d %b %Y}"
    if late:
        when = f":red_circle: {when}, *overdue {late} day{'' if late == 1 else 's'}*"
    return (
        f"`{item.key}` *{escape(item.text)}*\n{escape(finding.service.name)}, finding "
        f"`{finding.key}` ({escape(finding.title)}) · <@{escape(item.owner)}> · {when}"
    )


def action_items_blocks(
    rows: Sequence[ActionItem], *, heading: str, scope: str, touchable: set[str], now: datetime
) -> list[dict[str, Any]]:
    """One section per item; Done and Reassign under those the viewer may close or hand on.
    `heading` is mrkdwn, its person-supplied parts escaped."""
    blocks: list[dict[str, Any]] = [section(f"*{heading}*")]
    if not rows:
        blocks.append(section("No open action item. :tada:"))
    for item in rows[:MAX_LISTED]:
        blocks.append(section(item_line(item, now=now)))
        if item.key in touchable:
            control = ItemControl(item.key, scope).dump()
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"action_item:{control}",
                    "elements": [
                        button(ActionId.COMPLETE_ACTION_ITEM, "Done", control, style="primary"),
                        {
                            "type": "users_select",
                            "action_id": ActionId.REASSIGN_ACTION_ITEM.value,
                            "placeholder": {"type": "plain_text", "text": "Reassign to…"},
                        },
                    ],
                }
            )
    if len(rows) > MAX_LISTED:
        blocks.append(context(f"…and {len(rows) - MAX_LISTED} more."))
    return blocks


def _listing(
    session: Session, *, viewer: str, scope: str, now: datetime, admins: frozenset[str]
) -> Reply:
    if scope.startswith("team:"):
        team = find_team(session=session, name=scope.removeprefix("team:"))
        rows = open_action_items(session=session, team_id=team.id)
        heading = f"Open action items of team {escape(team.name)}"
    else:
        person = scope or viewer
        rows = open_action_items(session=session, owner=person)
        heading = (
            "Your open action items" if person == viewer else f"Open action items of <@{person}>"
        )
    touchable = {
        i.key
        for i in rows[:MAX_LISTED]
        if may_touch_item(session=session, item=i, user_id=viewer, admins=admins)
    }
    blocks = action_items_blocks(rows, heading=heading, scope=scope, touchable=touchable, now=now)
    return Reply(text=heading, blocks=blocks)


def _scope(args: tuple[str, ...]) -> str:
    if not args:
        return ""
    if len(args) > 1:
        raise ChaosbotError("Usage: `/chaos actions [@person|TEAM]`.")
    mention = _MENTION.match(args[0])
    if mention:
        return mention.group(1)
    if args[0].startswith("@"):
        raise ChaosbotError("Pick the person from Slack's list, so the mention names them.")
    return f"team:{args[0]}"


def register(surface: Surface) -> None:
    """Add `/chaos actions` and its Done and Reassign controls."""
    ctx = surface.context
    admins = ctx.settings.platform_admins

    def actions_command(request: CommandRequest) -> Reply:
        with ctx.db.session() as session:
            return _listing(
                session,
                viewer=request.user_id,
                scope=_scope(request.args),
                now=ctx.clock.now(),
                admins=admins,
            )

    surface.subcommand(
        "actions",
        "/chaos actions [@person|TEAM]",
        "open action items (yours unless told), the overdue first, with Done and Reassign",
        actions_command,
    )

    def done(body: dict[str, Any], respond: Responder, _client: WebClient) -> None:
        user, control = body["user"]["id"], ItemControl.load(body["actions"][0]["value"])
        now = ctx.clock.now()
        with ctx.db.session() as session:
            complete_action_item(
                session=session, ref=control.item, user_id=user, now=now, admins=admins
            )
        with ctx.db.session() as session:
            reply = _listing(session, viewer=user, scope=control.scope, now=now, admins=admins)
        respond(**reply.as_response(), replace_original=True)

    def reassign(body: dict[str, Any], respond: Responder, _client: WebClient) -> None:
        action = body["actions"][0]
        user, to = body["user"]["id"], str(action.get("selected_user") or "")
        control = ItemControl.load(str(action["block_id"]).removeprefix("action_item:"))
        now = ctx.clock.now()
        if not to:
            return
        with ctx.db.session() as session:
            item, changed = reassign_action_item(
                session=session, ref=control.item, to=to, user_id=user, now=now, admins=admins
            )
            if changed:
                enqueue(
                    session=session,
                    now=now,
                    method="chat.postMessage",
                    payload={
                        "channel": to,
                        "text": f":handshake: <@{escape(user)}> gave you an action item: "
                        + item_line(item, now=now),
                    },
                    # One per click: a retry of the same click carries the same action_ts.
                    dedupe_key=f"action-item:{item.key}:to:{to}:{action.get('action_ts', '')}",
                )
        ctx.outbox_ready()
        with ctx.db.session() as session:
            reply = _listing(session, viewer=user, scope=control.scope, now=now, admins=admins)
        respond(**reply.as_response(), replace_original=True)

    surface.button(ActionId.COMPLETE_ACTION_ITEM, done)
    surface.button(ActionId.REASSIGN_ACTION_ITEM, reassign)


class SlackActionItemConversation:
    """The ActionItemConversation (bot/findings/conversation.py): a direct message to the owner,
    through the outbox, once per item and day."""

    def remind(
        self, session: Session, reminders: Sequence[tuple[ActionItem, int]], *, now: datetime
    ) -> None:
        enqueue_many(
            session=session,
            now=now,
            calls=[
                (
                    "chat.postMessage",
                    _reminder(item, overdue_days=late, now=now),
                    f"action-item:{item.key}:reminder:{now:%Y-%m-%d}",
                )
                for item, late in reminders
            ],
            skip_queued=True,
        )


def _reminder(item: ActionItem, *, overdue_days: int, now: datetime) -> dict[str, Any]:
    when = (
        "is due today"
        if not overdue_days
        else f"is overdue by {overdue_days} day{'' if overdue_days == 1 else 's'}"
    )
    text = f":alarm_clock: Your action item {when}."
    control = ItemControl(item.key).dump()
    return {
        "channel": item.owner,
        "text": f"{text} {escape(item.text)}",
        "blocks": [
            section(text),
            section(
                item_line(item, now=now),
                accessory=button(ActionId.COMPLETE_ACTION_ITEM, "Done", control),
            ),
            context("`/chaos actions` lists all of yours."),
        ],
    }
