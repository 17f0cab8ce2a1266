"""`/chaos audit SERVICE`: the service's last audit events, newest first, for those who may."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from bot.audit.models import AuditEvent
from bot.audit.service import recent_events
from bot.catalog.access import check_may_read_audit
from bot.catalog.service import find_service
from bot.errors import ChaosbotError
from bot.slack.blockkit import section
from bot.slack.commands import CommandRequest
from bot.slack.mrkdwn import escape
from bot.slack.replies import Reply
from bot.slack.surface import Surface

__all__ = ["MAX_LISTED", "audit_blocks", "register"]

MAX_LISTED = 20
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")


def audit_blocks(service: str, events: Sequence[AuditEvent]) -> list[dict[str, Any]]:
    """A heading, then one section per event: when, who, what, to which thing, the detail."""
    name = escape(service)
    if not events:
        return [section(f"*Audit trail of {name}*: no event recorded yet.")]
    last = "the last event" if len(events) == 1 else f"the last {len(events)} events, newest first"
    blocks = [section(f"*Audit trail of {name}*: {last}")]
    blocks.extend(section(_event_text(event)) for event in events)
    return blocks


def _event_text(event: AuditEvent) -> str:
    stamp = int(event.at.timestamp())
    when = f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{event.at:%Y-%m-%d %H:%M} UTC>"
    actor = event.actor
    who = f"<@{actor}>" if _USER_ID.fullmatch(actor) else escape(actor)
    what = f"*{escape(event.action)}*"
    # The service's own events need no subject; the others say which game day, drill, finding.
    if event.subject_type != "service":
        what += f" {escape(event.subject_type)} `{escape(event.subject_id)}`"
    text = f"{when} · {who} · {what}"
    if event.detail:
        shown = json.dumps(event.detail, ensure_ascii=False).replace("`", "'")
        text += f"\n`{escape(shown)}`"
    return text


def register(surface: Surface) -> None:
    context = surface.context
    admins = context.settings.platform_admins

    def audit_command(request: CommandRequest) -> Reply:
        if len(request.args) != 1:
            raise ChaosbotError("Usage: `/chaos audit SERVICE`.")
        with context.db.session() as session:
            service = find_service(session=session, name=request.args[0], offboarded=True)
            check_may_read_audit(
                session=session, service=service, user_id=request.user_id, admins=admins
            )
            events = recent_events(session=session, service=service.name, limit=MAX_LISTED)
            blocks = audit_blocks(service.name, events)
            return Reply(text=f"Audit trail of {escape(service.name)}", blocks=blocks)

    surface.subcommand(
        "audit",
        "/chaos audit SERVICE",
        f"the service's last {MAX_LISTED} audit events (for its owners and admins)",
        audit_command,
    )
