"""The findings form, one for a drill, a game day and an ad hoc run: did the hypothesis hold,
what happened, what went well, severity, and action items each with an owner and a due day.
Its private_metadata (bot/slack/views.py FindingsModal) says what it reviews."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.context import BotContext
from bot.db.idempotency import claim, was_claimed
from bot.drills.models import Drill
from bot.drills.service import find_drill
from bot.errors import ChaosbotError
from bot.findings.models import Finding, Hypothesis, Severity
from bot.findings.service import (
    NewActionItem,
    NotAllowedToRecord,
    Reviewed,
    local_today,
    may_record,
    record_findings,
)
from bot.gamedays.models import GameDay
from bot.gamedays.service import find_gameday
from bot.runs.service import find_run
from bot.slack.blockkit import input_block, option, plain_text, section
from bot.slack.drill_conversation import thread_note as drill_note
from bot.slack.gameday_conversation import reissue_report
from bot.slack.gameday_conversation import thread_note as gameday_note
from bot.slack.ids import ActionId, CallbackId, FindingsBlock
from bot.slack.mrkdwn import escape
from bot.slack.outbox import enqueue
from bot.slack.responder import Responder
from bot.slack.surface import Surface
from bot.slack.views import FindingsModal, Reviewing, view_key

__all__ = ["ACTION_ROWS", "FindingsForm", "findings_modal", "read_findings", "register"]

ACTION_ROWS = 3  # action items the form offers
SEVERITIES = (("low", "Low"), ("medium", "Medium"), ("high", "High"), ("critical", "Critical"))
HYPOTHESES = (
    (Hypothesis.HELD, "Yes, it held"),
    (Hypothesis.PARTLY, "Partly"),
    (Hypothesis.NOT_HELD, "No, it did not hold"),
)
_BUTTONS = {
    ActionId.RECORD_FINDINGS: Reviewing.DRILL,
    ActionId.RECORD_GAMEDAY_FINDINGS: Reviewing.GAMEDAY,
    ActionId.RECORD_RUN_FINDINGS: Reviewing.RUN,
}


@dataclass(frozen=True)
class FindingsForm:
    """What a submitted form says."""

    hypothesis: Hypothesis
    what_happened: str
    went_well: str
    severity: Severity
    action_items: list[NewActionItem]


def _find(session: Session, metadata: FindingsModal) -> Reviewed:
    if metadata.reviewing is Reviewing.DRILL:
        return find_drill(session=session, ref=metadata.ref)
    if metadata.reviewing is Reviewing.GAMEDAY:
        return find_gameday(session=session, ref=metadata.ref)
    return find_run(session=session, ref=metadata.ref)


def _describe(subject: Reviewed) -> str:
    service = escape(subject.service.name)
    if isinstance(subject, Drill):
        return (
            f"Findings of the drill of *{service}* (`{escape(subject.experiment or '')}`, "
            f"incident `{subject.key.upper()}`)."
        )
    if isinstance(subject, GameDay):
        return f"Findings of game day `{subject.key}` of *{service}*."
    return f"Findings of run `{subject.key}` (`{escape(subject.experiment)}`) of *{service}*."


def _title(subject: Reviewed) -> str:
    if isinstance(subject, Drill):
        return "Drill findings"
    return "Game day findings" if isinstance(subject, GameDay) else "Run findings"


def findings_modal(subject: Reviewed, metadata: FindingsModal) -> dict[str, Any]:
    """The form: the hypothesis, what happened, what went well, severity, and action items,
    each with an owner and a due day."""
    blocks: list[dict[str, Any]] = [
        section(_describe(subject)),
        input_block(
            FindingsBlock.HYPOTHESIS,
            "Did the hypothesis hold?",
            {
                "type": "radio_buttons",
                "options": [option(value.value, label) for value, label in HYPOTHESES],
            },
            hint="The steady state the experiment assumed: did the service keep it?",
        ),
        input_block(
            FindingsBlock.WHAT_HAPPENED,
            "What happened",
            {"type": "plain_text_input", "multiline": True, "max_length": 3000},
        ),
        input_block(
            FindingsBlock.WENT_WELL,
            "What went well",
            {"type": "plain_text_input", "multiline": True, "max_length": 3000},
            optional=True,
        ),
        input_block(
            FindingsBlock.SEVERITY,
            "Severity",
            {
                "type": "static_select",
                "options": [option(v, label) for v, label in SEVERITIES],
                "initial_option": option("medium", "Medium"),
            },
        ),
    ]
    for row in range(1, ACTION_ROWS + 1):
        blocks += [
            input_block(
                f"{FindingsBlock.ACTION}:{row}",
                f"Action item {row}",
                {"type": "plain_text_input", "max_length": 200},
                optional=True,
            ),
            input_block(
                f"{FindingsBlock.OWNER}:{row}",
                f"Owner of action item {row}",
                {"type": "users_select"},
                optional=True,
            ),
            input_block(
                f"{FindingsBlock.DUE}:{row}",
                f"Action item {row} is due on",
                {"type": "datepicker"},
                optional=True,
                hint="A day on your team's clock; its owner is reminded then, and weekly after.",
            ),
        ]
    return {
        "type": "modal",
        "callback_id": CallbackId.FINDINGS.value,
        "private_metadata": metadata.dump(),
        "title": plain_text(_title(subject), limit=24),
        "submit": plain_text("Record"),
        "close": plain_text("Cancel"),
        "blocks": blocks,
    }


def read_findings(
    values: dict[str, Any], *, today: date
) -> tuple[FindingsForm | None, dict[str, str]]:
    """The form's values, or the errors by block: every action item needs a text, an owner and
    a due day that is not in the past (`today`, on the team's clock)."""
    errors: dict[str, str] = {}

    def value(block: str) -> Any:
        return values.get(block, {}).get(block, {})

    chosen = (value(FindingsBlock.HYPOTHESIS).get("selected_option") or {}).get("value")
    hypothesis = Hypothesis.PARTLY
    try:
        hypothesis = Hypothesis(str(chosen or ""))
    except ValueError:
        errors[FindingsBlock.HYPOTHESIS.value] = "Say whether the hypothesis held."
    what = (value(FindingsBlock.WHAT_HAPPENED).get("value") or "").strip()
    if not what:
        errors[FindingsBlock.WHAT_HAPPENED.value] = "Say what happened."
    well = (value(FindingsBlock.WENT_WELL).get("value") or "").strip()
    picked = (value(FindingsBlock.SEVERITY).get("selected_option") or {}).get("value", "medium")
    severity = Severity.MEDIUM
    try:
        severity = Severity(picked)
    except ValueError:
        errors[FindingsBlock.SEVERITY.value] = f"{picked!r} is not a severity."
    items = []
    for row in range(1, ACTION_ROWS + 1):
        action_block, owner_block = f"{FindingsBlock.ACTION}:{row}", f"{FindingsBlock.OWNER}:{row}"
        due_block = f"{FindingsBlock.DUE}:{row}"
        text = (value(action_block).get("value") or "").strip()
        owner = value(owner_block).get("selected_user") or ""
        picked_day = value(due_block).get("selected_date") or ""
        if not text:
            if owner or picked_day:
                errors[action_block] = "Say what is to be done, or clear its owner and due day."
            continue
        if not owner:
            errors[owner_block] = "Every action item needs an owner."
        due = _day(picked_day)
        if due is None:
            errors[due_block] = "Every action item needs a due day."
        elif due < today:
            errors[due_block] = f"The due day {due:%d %b %Y} is in the past."
        if owner and due is not None and due >= today:
            items.append(NewActionItem(text=text, owner=str(owner), due_on=due))
    if errors:
        return None, errors
    return FindingsForm(hypothesis, what, well, severity, items), {}


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def note_text(finding: Finding, *, by: str) -> str:
    """The thread's line for a recorded finding: its key, severity, hypothesis, items (escaped)."""
    items = (
        ", ".join(
            f"<@{escape(i.owner)}> ({escape(i.text)}) due {i.due_on:%a %d %b}"
            for i in finding.action_items
        )
        or "none"
    )
    held = (finding.hypothesis or Hypothesis.PARTLY).value.replace("_", " ")
    return (
        f":memo: <@{escape(by)}> recorded finding `{finding.key}` ({finding.severity.value}; "
        f"hypothesis {held}). Action items: {items}."
    )


def _thread_note(
    session: Session, subject: Reviewed, finding: Finding, *, by: str, now: datetime
) -> None:
    """The note in the reviewed thing's thread (a run posted nowhere gets none)."""
    text, name = note_text(finding, by=by), f"finding:{finding.key}"
    if isinstance(subject, Drill):
        drill_note(session, subject, text, now=now, name=name)
    elif isinstance(subject, GameDay):
        gameday_note(session, subject, text, now=now, name=name)
        reissue_report(session, subject, finding=finding.key, now=now)
    elif subject.slack_channel:
        enqueue(
            session=session,
            now=now,
            method="chat.postMessage",
            payload={
                "channel": subject.slack_channel,
                "thread_ts": subject.slack_thread_ts or subject.slack_ts,
                "text": text,
            },
            dedupe_key=f"run:{subject.key}:note:{name}",
        )


def register(surface: Surface) -> None:
    """The Record findings buttons (a drill's, a game day's, a run's) and the form's submission."""
    form = _Form(surface.context)
    for action in _BUTTONS:
        surface.button(action, form.open)
    surface.app.view(CallbackId.FINDINGS.value)(form.submit)


class _Form:
    def __init__(self, context: BotContext) -> None:
        self.ctx = context

    def open(self, body: dict[str, Any], _respond: Responder, client: WebClient) -> None:
        action = body["actions"][0]
        reviewing = _BUTTONS[ActionId(action["action_id"])]
        user = str(body["user"]["id"])
        admins = self.ctx.settings.platform_admins
        with self.ctx.db.session() as session:
            metadata = FindingsModal(reviewing, str(action["value"]))
            subject = _find(session, metadata)
            if not may_record(session=session, subject=subject, user_id=user, admins=admins):
                raise NotAllowedToRecord(subject.service.name)
            channel = (body.get("channel") or {}).get("id")
            view = findings_modal(subject, FindingsModal(reviewing, metadata.ref, channel))
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def submit(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Validate inside the ack (problems go onto their blocks), then store one finding."""
        metadata = FindingsModal.load(view.get("private_metadata"))
        key, user, now = view_key(view), str(body["user"]["id"]), self.ctx.clock.now()
        try:
            with self.ctx.db.session() as session:
                subject = _find(session, metadata)
                today = local_today(now, subject.service.team.timezone)
                read, errors = read_findings(view["state"]["values"], today=today)
                if read is None:
                    ack(response_action="errors", errors=errors)
                    return
                if was_claimed(session=session, key=key):
                    ack()
                    return
                claim(session=session, key=key, now=now)
                finding = record_findings(
                    session=session,
                    subject=subject,
                    by=user,
                    now=now,
                    admins=self.ctx.settings.platform_admins,
                    hypothesis=read.hypothesis,
                    what_happened=read.what_happened,
                    went_well=read.went_well,
                    severity=read.severity,
                    action_items=read.action_items,
                )
                _thread_note(session, subject, finding, by=user, now=now)
        except ChaosbotError as refused:
            ack(response_action="errors", errors={FindingsBlock.WHAT_HAPPENED.value: str(refused)})
            return
        except IntegrityError:
            with self.ctx.db.session() as session:
                if not was_claimed(session=session, key=key):
                    raise
        self.ctx.outbox_ready()
        ack()
