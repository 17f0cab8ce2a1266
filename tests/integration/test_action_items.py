"""Findings and action items everywhere: the findings form after a game day and an ad hoc run,
`/chaos actions` with Done and Reassign, the owners' reminders (once when due, then weekly), and
the weekly digest counting what is overdue."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.audit.models import AuditEvent
from bot.catalog.models import Member, Role, Team
from bot.config.compliance_policy import parse_policy
from bot.db.engine import Database
from bot.findings.flows import remind_due
from bot.findings.models import (
    ActionItem,
    ActionItemStatus,
    Finding,
    FindingKind,
    Hypothesis,
    Severity,
)
from bot.findings.service import (
    NewActionItem,
    NotAllowedToRecord,
    NotAllowedToTouchItem,
    NotEndedYet,
    complete_action_item,
    reassign_action_item,
    record_findings,
)
from bot.gamedays.decisions import approve
from bot.gamedays.models import GameDay, GameDayStatus
from bot.gamedays.service import find_gameday
from bot.outbox.models import OutboxMessage
from bot.runs.models import Run
from bot.runs.service import find_run
from bot.runs.states import RunStatus
from bot.slack.ids import ActionId, CallbackId
from bot.slack.ids import FindingsBlock as F
from bot.slack.run_messages import run_message
from bot.testing.polling import eventually
from tests.fixtures.bot import ADMIN, ALICE, BOB, CAROL, START, TEAM_CHANNEL, RunningBot
from tests.fixtures.gamedays import ADMINS, DAVE, MALLORY, ask, register_service
from tests.fixtures.runs import plan_adhoc, transition
from tests.fixtures.services import Checkout

pytestmark = pytest.mark.storage

TEAM_ADMIN = "U0TEAMADMIN"


def _form(
    items: list[tuple[str, str | None, str | None]],
    *,
    hypothesis: str | None = "partly",
    what: str = "Checkout lost a pod; the retry storm doubled latency",
) -> dict[str, dict[str, dict[str, Any]]]:
    """The findings form's state: items are (text, owner, due day as YYYY-MM-DD)."""
    values: dict[str, dict[str, dict[str, Any]]] = {
        F.HYPOTHESIS.value: {
            F.HYPOTHESIS.value: {
                "type": "radio_buttons",
                "selected_option": {"value": hypothesis} if hypothesis else None,
            }
        },
        F.WHAT_HAPPENED.value: {F.WHAT_HAPPENED.value: {"type": "plain_text_input", "value": what}},
        F.WENT_WELL.value: {F.WENT_WELL.value: {"type": "plain_text_input", "value": "Alerts"}},
        F.SEVERITY.value: {
            F.SEVERITY.value: {"type": "static_select", "selected_option": {"value": "high"}}
        },
    }
    for row, (text, owner, due) in enumerate(items, start=1):
        for block, element in (
            (f"{F.ACTION}:{row}", {"type": "plain_text_input", "value": text}),
            (f"{F.OWNER}:{row}", {"type": "users_select", "selected_user": owner}),
            (f"{F.DUE}:{row}", {"type": "datepicker", "selected_date": due}),
        ):
            values[block] = {block: element}
    return values


def _dms(bot: RunningBot, user: str) -> list[OutboxMessage]:
    with bot.db.session() as session:
        return [
            m
            for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            if m.method == "chat.postMessage" and m.payload.get("channel") == user
        ]


def _at(bot: RunningBot, moment: datetime) -> None:
    bot.clock.advance(moment - bot.clock.now())


@pytest.fixture
def settings_changes() -> dict[str, Any]:
    """Tier 1 may have no overdue action item."""
    policy = parse_policy({"tiers": {1: {"maxOverdueActionItems": 0}}}, source="test")
    return {"compliance_policy": policy}


def test_a_game_days_findings_remind_their_owner_once_count_in_the_digest_and_close(
    running_bot: RunningBot, checkout: Checkout
) -> None:
    bot = running_bot
    register_service(bot.db, tier=1, probe_url=checkout.url, suite=("pod-kill",))
    key = ask(bot.db, experiments=("pod-kill",), duration_minutes=15, hold_seconds=1)
    with bot.db.session() as session:
        for user in (BOB, CAROL):
            approve(session=session, ref=key, user_id=user, now=START, admins=ADMINS)
    posted = bot.slack.wait_for(
        "chat.postMessage", where=lambda c: f"Game day {key}" in str(c.body.get("text"))
    )[0]
    ts = str(posted.response["ts"])

    # The game day runs and ends: its message now offers Record findings.
    with bot.db.session() as session:
        starts_at = find_gameday(session=session, ref=key).starts_at
    _at(bot, starts_at)
    bot.server.gamedays.reconcile()

    def settled() -> bool:
        with bot.db.session() as session:
            return find_gameday(session=session, ref=key).status is GameDayStatus.COMPLETED

    eventually(settled, what="the game day to end", timeout=90, interval=0.1)
    bot.slack.wait_for(
        "chat.update",
        where=lambda c: (
            c.body.get("ts") == ts
            and ActionId.RECORD_GAMEDAY_FINDINGS.value in str(c.body.get("blocks"))
        ),
        timeout=30,
    )
    bot.simulator.block_action(
        ActionId.RECORD_GAMEDAY_FINDINGS.value,
        user_id=ALICE,
        channel_id=TEAM_CHANNEL,
        message={"ts": ts},
    )
    opened = bot.opened_view(CallbackId.FINDINGS)
    assert "Did the hypothesis hold?" in str(opened.body["view"]["blocks"])

    def submit(values: dict[str, dict[str, dict[str, Any]]]) -> Any:
        return bot.simulator.view_submission(
            CallbackId.FINDINGS.value,
            values=values,
            user_id=ALICE,
            view_id=opened.response["view"]["id"],
            private_metadata=opened.body["view"]["private_metadata"],
        )

    # Field errors: a due day in the past (Berlin's today is 1 December), an item without owner.
    refused = submit(
        _form([("Add a PDB", BOB, "2026-11-30"), ("Fix the retry storm", None, "2026-12-20")])
    )
    assert refused.json()["errors"] == {
        f"{F.DUE}:1": "The due day 30 Nov 2026 is in the past.",
        f"{F.OWNER}:2": "Every action item needs an owner.",
    }
    accepted = submit(
        _form([("Add a PDB", BOB, "2026-12-03"), ("Fix the retry storm", CAROL, "2026-12-20")])
    )
    assert accepted.status == 200 and accepted.text == ""
    with bot.db.session() as session:
        finding = session.scalars(select(Finding)).one()
        gameday = find_gameday(session=session, ref=key)
        items = [(i.key, i.text, i.owner, i.due_on) for i in finding.action_items]
    assert finding.kind is FindingKind.REVIEW and finding.gameday_id == gameday.id
    assert finding.hypothesis is Hypothesis.PARTLY and finding.severity is Severity.HIGH
    pdb = items[0][0]
    assert [i[1:] for i in items] == [
        ("Add a PDB", BOB, date(2026, 12, 3)),
        ("Fix the retry storm", CAROL, date(2026, 12, 20)),
    ]
    note = bot.slack.wait_for(
        "chat.postMessage",
        where=lambda c: c.body.get("thread_ts") == ts and finding.key in str(c.body.get("text")),
    )[0]
    assert "Add a PDB" in note.body["text"] and f"<@{CAROL}>" in note.body["text"]
    # The report comes again in the thread, now with the finding and its two items.
    reissued = eventually(
        lambda: next(
            (
                u
                for u in bot.slack.uploads
                if u.completed
                and u.filename == f"gameday-{key}.html"
                and u.thread_ts == ts
                and finding.key in (u.initial_comment or "")
            ),
            None,
        ),
        what="the report with the finding",
        timeout=30,
        interval=0.1,
    )
    assert "Add a PDB" in reissued.data.decode() and "Fix the retry storm" in reissued.data.decode()

    # 3 December, 08:00 in Berlin: Bob's item falls due. Two passes, one reminder.
    _at(bot, datetime(2026, 12, 3, 7, 0, tzinfo=UTC))
    assert bot.server.gamedays.remind_action_items() == [pdb]
    assert bot.server.gamedays.remind_action_items() == []
    (dm,) = bot.slack.wait_for("chat.postMessage", where=lambda c: c.body["channel"] == BOB)
    assert "is due today" in dm.body["text"] and "Add a PDB" in str(dm.body["blocks"])
    assert len(_dms(bot, BOB)) == 1 and _dms(bot, CAROL) == []

    # Monday 7 December, 09:00 in Berlin: no reminder yet (a week has not passed); the digest
    # counts the item overdue, and the policy makes tier 1 overdue for it.
    _at(bot, datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    assert bot.server.gamedays.remind_action_items() == []
    report = bot.server.gamedays.send_digests()
    assert report is not None and report.teams == ["payments"]
    digest = bot.slack.wait_for(
        "chat.postMessage", where=lambda c: "Weekly chaos digest" in str(c.body.get("text"))
    )[0]
    shown = str(digest.body["blocks"])
    assert "*Overdue action items*: *1*" in shown
    assert "1 action item(s) past their due day (none allowed)" in shown  # the policy's reason
    assert "· 1 overdue action item(s)" in shown  # checkout's line

    # `/chaos actions`: Bob's overdue item first, with Done; a stranger gets no buttons and
    # cannot close it.
    before = len(bot.slack.responses)
    bot.command("actions", user=BOB)
    mine = str(bot.reply(before + 1)["blocks"])
    assert pdb in mine and "overdue 4 days" in mine
    assert ActionId.COMPLETE_ACTION_ITEM.value in mine
    bot.command("actions payments", user=MALLORY)
    theirs = str(bot.reply(before + 2)["blocks"])
    assert theirs.index(pdb) < theirs.index("Fix the retry storm")  # the overdue first
    assert ActionId.COMPLETE_ACTION_ITEM.value not in theirs
    bot.simulator.block_action(
        ActionId.COMPLETE_ACTION_ITEM.value,
        user_id=MALLORY,
        channel_id=TEAM_CHANNEL,
        value=f"{pdb}|",
        message={"ts": "1"},
    )
    assert "Only the action item's owner" in bot.reply(before + 3)["text"]

    # Done closes it; the pass says nothing more of it, however long it waits.
    bot.simulator.block_action(
        ActionId.COMPLETE_ACTION_ITEM.value,
        user_id=BOB,
        channel_id=TEAM_CHANNEL,
        value=f"{pdb}|",
        message={"ts": "1"},
    )
    assert "No open action item" in str(bot.reply(before + 4)["blocks"])
    with bot.db.session() as session:
        item = session.scalars(select(ActionItem).where(ActionItem.key == pdb)).one()
        assert (item.status, item.done_by) == (ActionItemStatus.DONE, BOB)
    _at(bot, datetime(2026, 12, 11, 7, 0, tzinfo=UTC))
    assert bot.server.gamedays.remind_action_items() == []
    assert len(_dms(bot, BOB)) == 1


# --- the domain, without Slack's round trips ------------------------------------------------


def _ended_run(db: Database) -> int:
    run_id = plan_adhoc(db).run_id
    with db.session() as session:
        for step in (
            RunStatus.PREFLIGHT,
            RunStatus.INJECTING,
            RunStatus.ROLLING_BACK,
            RunStatus.COMPLETED,
        ):
            transition(session=session, run_id=run_id, to=step, now=START, message=step)
    return run_id


def _record(db: Database, run_id: int, *items: NewActionItem, by: str = ALICE) -> Finding:
    with db.session() as session:
        finding = record_findings(
            session=session,
            subject=find_run(session=session, ref=run_id),
            by=by,
            now=START,
            admins=ADMINS,
            hypothesis=Hypothesis.HELD,
            what_happened="It held",
            went_well="",
            severity=Severity.LOW,
            action_items=items,
        )
        finding.action_items  # noqa: B018 - loaded with the session open
        return finding


@pytest.fixture
def checkout_db(db: Database) -> Database:
    register_service(db, tier=1)
    return db


def test_findings_need_an_ended_subject_and_a_person_of_the_service(checkout_db: Database) -> None:
    db = checkout_db
    key = ask(db)
    with db.session() as session, pytest.raises(NotEndedYet, match="game day is over"):
        record_findings(
            session=session,
            subject=find_gameday(session=session, ref=key),
            by=ALICE,
            now=START,
            admins=ADMINS,
            hypothesis=Hypothesis.HELD,
            what_happened="x",
            went_well="",
            severity=Severity.LOW,
            action_items=[],
        )
    run_id = _ended_run(db)
    with pytest.raises(NotAllowedToRecord, match="members of its team"):
        _record(db, run_id, by=MALLORY)
    finding = _record(db, run_id, by=DAVE)  # a member of the team, not an owner
    assert finding.run_id == run_id and finding.kind is FindingKind.REVIEW
    assert _record(db, run_id, by=ADMIN).key != finding.key  # reviews are not once per run


def test_done_and_reassign_are_for_the_owner_team_admins_and_platform_admins(
    checkout_db: Database,
) -> None:
    db = checkout_db
    finding = _record(db, _ended_run(db), NewActionItem("Add a PDB", BOB, date(2026, 12, 3)))
    (item,) = finding.action_items
    with db.session() as session, pytest.raises(NotAllowedToTouchItem, match="close"):
        complete_action_item(
            session=session, ref=item.key, user_id=MALLORY, now=START, admins=ADMINS
        )
    # Dave is a member of the team, not one of its admins.
    with db.session() as session, pytest.raises(NotAllowedToTouchItem, match="reassign"):
        reassign_action_item(
            session=session, ref=item.key, to=DAVE, user_id=DAVE, now=START, admins=ADMINS
        )
    with db.session() as session:
        moved, changed = reassign_action_item(
            session=session, ref=item.key, to=CAROL, user_id=BOB, now=START, admins=ADMINS
        )
        assert changed and moved.owner == CAROL
    with db.session() as session:
        team = session.scalars(select(Team)).one()
        team.members.append(Member(slack_user_id=TEAM_ADMIN, role=Role.ADMIN))
    with db.session() as session:
        _, changed = complete_action_item(
            session=session, ref=item.key, user_id=TEAM_ADMIN, now=START, admins=ADMINS
        )
        assert changed
    with db.session() as session:
        _, again = complete_action_item(
            session=session, ref=item.key, user_id=ADMIN, now=START, admins=ADMINS
        )
        assert not again  # done twice changes nothing
        events = session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_id == item.key)
        ).all()
    assert sorted(events) == ["action_item.done", "action_item.reassigned"]


def test_the_app_home_lists_ones_items_and_reassign_is_refused_to_a_stranger(
    running_bot: RunningBot,
) -> None:
    register_service(running_bot.db, tier=2)
    finding = _record(
        running_bot.db,
        _ended_run(running_bot.db),
        NewActionItem("Add a PDB", BOB, date(2026, 12, 3)),
    )
    item = finding.action_items[0].key
    # Bob's App Home lists his open items, each with Done.
    running_bot.simulator.event({"type": "app_home_opened", "user": BOB, "tab": "home"})
    running_bot.slack.wait_for("views.publish", where=lambda c: c.body["user_id"] == BOB)
    home = str(running_bot.slack.home(BOB))
    assert "Your action items" in home and item in home and "Add a PDB" in home
    assert ActionId.HOME_COMPLETE_ACTION_ITEM.value in home
    before = len(running_bot.slack.responses)
    running_bot.simulator.block_action(
        ActionId.REASSIGN_ACTION_ITEM.value,
        user_id=MALLORY,
        channel_id=TEAM_CHANNEL,
        message={"ts": "1"},
        block_id=f"action_item:{item}|",
        selected_user=MALLORY,
        action_type="users_select",
    )
    assert "Only the action item's owner" in running_bot.reply(before + 1)["text"]
    running_bot.simulator.block_action(
        ActionId.REASSIGN_ACTION_ITEM.value,
        user_id=BOB,
        channel_id=TEAM_CHANNEL,
        message={"ts": "1"},
        block_id=f"action_item:{item}|",
        selected_user=CAROL,
        action_type="users_select",
    )
    assert "No open action item" in str(running_bot.reply(before + 2)["blocks"])
    told = running_bot.slack.wait_for(
        "chat.postMessage", where=lambda c: c.body["channel"] == CAROL
    )
    assert "gave you an action item" in told[0].body["text"]


def test_reminders_come_on_the_due_day_of_the_teams_clock_then_weekly(
    checkout_db: Database,
) -> None:
    db = checkout_db
    finding = _record(db, _ended_run(db), NewActionItem("Add a PDB", BOB, date(2026, 12, 2)))
    key = finding.action_items[0].key

    def remind(moment: datetime) -> list[str]:
        with db.session() as session:
            return remind_due(session=session, now=moment)

    # 23:30 on 1 December in Berlin: not due yet; 00:30 on the 2nd: due (UTC still says the 1st).
    assert remind(datetime(2026, 12, 1, 22, 30, tzinfo=UTC)) == []
    first = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert remind(first) == [key]
    assert remind(first + timedelta(days=6, hours=23)) == []
    assert remind(first + timedelta(days=7)) == [key]
    assert remind(first + timedelta(days=7, hours=1)) == []
    with db.session() as session:
        sent = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"action-item:{key}:%"))
        ).all()
        texts = [str(m.payload["text"]) for m in sent]
    assert len(texts) == 2 and "due today" in texts[0] and "overdue by 7 days" in texts[1]
    assert all(m.payload["channel"] == BOB for m in sent)


def test_an_ended_ad_hoc_run_offers_record_findings(checkout_db: Database) -> None:
    db = checkout_db
    run_id = _ended_run(db)
    with db.session() as session:
        ended = str(run_message(find_run(session=session, ref=run_id))["blocks"])
        running = session.get(Run, plan_adhoc(db).run_id)
        assert running is not None
        waiting = str(run_message(running)["blocks"])
    assert ActionId.RECORD_RUN_FINDINGS.value in ended
    assert ActionId.RECORD_RUN_FINDINGS.value not in waiting


def test_a_game_day_that_ended_offers_record_findings_and_one_not_yet_does_not(
    checkout_db: Database,
) -> None:
    from bot.slack.gameday_blocks import gameday_message

    key = ask(checkout_db)
    with checkout_db.session() as session:
        gameday = session.scalars(select(GameDay).where(GameDay.key == key)).one()
        assert ActionId.RECORD_GAMEDAY_FINDINGS.value not in str(
            gameday_message(gameday, [], runs=[])
        )
        gameday.status = GameDayStatus.HALTED
        assert ActionId.RECORD_GAMEDAY_FINDINGS.value in str(gameday_message(gameday, [], runs=[]))
