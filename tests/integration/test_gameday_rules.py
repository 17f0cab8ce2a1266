"""The rules of game days, each with the case that must be refused, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.audit.models import AuditEvent
from bot.catalog.service import find_service
from bot.db.engine import Database
from bot.gamedays.decisions import approve, cancel, expire_due, reject, request_gameday, reschedule
from bot.gamedays.models import GameDay, GameDayApproval, GameDayStatus
from bot.gamedays.rules import GameDayPlan, NotAllowedToDecide, RequestInvalid, check_plan
from bot.gamedays.service import find_gameday
from bot.outbox.models import OutboxMessage
from bot.runs.models import Freeze
from bot.slack.ids import ActionId
from tests.fixtures.bot import ADMIN, ALICE, BOB, CAROL, START
from tests.fixtures.gamedays import ADMINS, DAVE, MALLORY, TTL, ask, register_service


@pytest.fixture
def tier1(db: Database) -> Database:
    register_service(db, tier=1)
    return db


def _approve(db: Database, key: str, user: str, *, now: Any = START) -> Any:
    with db.session() as session:
        return approve(session=session, ref=key, user_id=user, now=now, admins=ADMINS)


def _gameday(db: Database, key: str) -> GameDay:
    with db.session() as session:
        gameday = find_gameday(session=session, ref=key)
        gameday.approvals  # noqa: B018 - loaded while the session is open
        return gameday


def _audit(db: Database, key: str) -> list[str]:
    with db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_type == "gameday", AuditEvent.subject_id == key)
                .order_by(AuditEvent.id)
            )
        )


def _messages(db: Database, key: str) -> list[OutboxMessage]:
    with db.session() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.dedupe_key.like(f"gameday:{key}:%"))
                .order_by(OutboxMessage.id)
            )
        )


def _buttons(payload: dict[str, Any]) -> list[str]:
    return [
        element["action_id"]
        for block in payload["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def test_a_request_is_pending_and_asks_the_deciders_with_the_buttons(tier1: Database) -> None:
    key = ask(tier1)
    gameday = _gameday(tier1, key)
    assert gameday.status is GameDayStatus.PENDING
    assert gameday.approvals_needed == 2  # tier 1
    assert gameday.timezone == "Europe/Berlin"
    post = _messages(tier1, key)[0]
    assert post.method == "chat.postMessage"
    assert post.payload["channel"] == "C0PAYMENTS"
    assert _buttons(post.payload) == [ActionId.APPROVE_GAMEDAY, ActionId.REJECT_GAMEDAY]
    text = str(post.payload["blocks"])
    for decider in (BOB, CAROL, DAVE, ADMIN):
        assert f"<@{decider}>" in text
    assert _audit(tier1, key) == ["gameday.requested"]


def test_a_tier_2_service_needs_one_approval(db: Database) -> None:
    register_service(db, tier=2)
    key = ask(db)
    assert _gameday(db, key).approvals_needed == 1
    assert _approve(db, key, BOB).changed
    assert _gameday(db, key).status is GameDayStatus.APPROVED


def test_somebody_chaosbot_does_not_know_cannot_ask(tier1: Database) -> None:
    with pytest.raises(NotAllowedToDecide):
        ask(tier1, by=MALLORY)
    with tier1.session() as session:
        assert session.scalar(select(func.count()).select_from(GameDay)) == 0


def test_tier_1_needs_two_distinct_approvers_and_never_the_requester(tier1: Database) -> None:
    key = ask(tier1, by=ALICE)
    with pytest.raises(NotAllowedToDecide, match="someone else"):
        _approve(tier1, key, ALICE)
    assert _approve(tier1, key, BOB).changed
    assert _gameday(tier1, key).status is GameDayStatus.PENDING
    again = _approve(tier1, key, BOB)  # a double click
    assert not again.changed and "already approved" in again.message
    assert _gameday(tier1, key).status is GameDayStatus.PENDING
    assert _approve(tier1, key, CAROL).changed
    gameday = _gameday(tier1, key)
    assert gameday.status is GameDayStatus.APPROVED
    assert {a.slack_user_id for a in gameday.current_approvals()} == {BOB, CAROL}
    assert _audit(tier1, key) == ["gameday.requested", "gameday.approval", "gameday.approved"]


def test_only_owners_approvers_and_admins_decide(tier1: Database) -> None:
    key = ask(tier1, by=ALICE)
    with pytest.raises(NotAllowedToDecide, match="owners and approvers"):
        _approve(tier1, key, MALLORY)
    assert _approve(tier1, key, DAVE).changed  # the team's approver
    assert _approve(tier1, key, ADMIN).changed  # a platform admin
    assert _gameday(tier1, key).status is GameDayStatus.APPROVED


def test_the_approval_message_is_re_rendered_after_every_change(tier1: Database) -> None:
    key = ask(tier1, by=ALICE)
    _approve(tier1, key, BOB)
    _approve(tier1, key, CAROL)
    updates = [m for m in _messages(tier1, key) if m.method == "chat.update"]
    assert len(updates) == 2
    first, second = (u.payload for u in updates)
    assert first["ts"] == {"$ts_of": f"gameday:{key}:message"}  # filled in at delivery
    assert "1 of 2 approvals" in str(first["blocks"]) and "1 more" in str(first["blocks"])
    assert _buttons(first) == [ActionId.APPROVE_GAMEDAY, ActionId.REJECT_GAMEDAY]
    assert "Approved and scheduled" in str(second["blocks"])
    assert f"<@{BOB}>" in str(second["blocks"]) and f"<@{CAROL}>" in str(second["blocks"])
    assert _buttons(second) == []  # decided: no buttons


def test_a_request_not_approved_in_time_expires(tier1: Database) -> None:
    start = START + timedelta(days=5)
    key = ask(tier1, starts_at=start)
    assert _gameday(tier1, key).expires_at == START + TTL  # sooner than the start
    with tier1.session() as session:
        assert (
            expire_due(session=session, now=START + TTL - timedelta(seconds=1), admins=ADMINS) == []
        )
        assert expire_due(session=session, now=START + TTL, admins=ADMINS) == [key]
    assert _gameday(tier1, key).status is GameDayStatus.EXPIRED
    late = _approve(tier1, key, BOB, now=START + TTL)
    assert not late.changed and "expired" in late.message
    assert "gameday.expired" in _audit(tier1, key)


def test_a_click_after_the_expiry_expires_it_instead_of_approving(tier1: Database) -> None:
    key = ask(tier1, starts_at=START + timedelta(hours=2))  # expires at its start
    decision = _approve(tier1, key, BOB, now=START + timedelta(hours=2))
    assert not decision.changed
    assert _gameday(tier1, key).status is GameDayStatus.EXPIRED


def test_rejecting_needs_a_reason_and_a_decider(tier1: Database) -> None:
    key = ask(tier1, by=ALICE)
    with tier1.session() as session, pytest.raises(RequestInvalid) as blank:
        reject(session=session, ref=key, user_id=BOB, reason="  ", now=START, admins=ADMINS)
    assert "reason" in blank.value.problems
    with tier1.session() as session, pytest.raises(NotAllowedToDecide):
        reject(session=session, ref=key, user_id=MALLORY, reason="no", now=START, admins=ADMINS)
    with tier1.session() as session:
        reject(
            session=session,
            ref=key,
            user_id=BOB,
            reason="<!channel> freeze week",
            now=START,
            admins=ADMINS,
        )
    gameday = _gameday(tier1, key)
    assert gameday.status is GameDayStatus.REJECTED and gameday.decided_by == BOB
    assert not _approve(tier1, key, CAROL).changed
    note = _messages(tier1, key)[-1].payload
    assert "&lt;!channel&gt; freeze week" in note["text"]  # a reason cannot ping the channel
    assert _audit(tier1, key)[-1] == "gameday.rejected"


def test_cancel_is_for_the_requester_and_the_deciders(tier1: Database) -> None:
    key = ask(tier1, by=ALICE)
    with tier1.session() as session, pytest.raises(NotAllowedToDecide):
        cancel(session=session, ref=key, user_id=MALLORY, now=START, admins=ADMINS)
    with tier1.session() as session:
        assert cancel(session=session, ref=key, user_id=ALICE, now=START, admins=ADMINS).changed
    assert _gameday(tier1, key).status is GameDayStatus.CANCELLED
    assert not _approve(tier1, key, BOB).changed


def test_rescheduling_resets_the_approvals(tier1: Database) -> None:
    key = ask(tier1, by=ALICE)
    _approve(tier1, key, BOB)
    _approve(tier1, key, CAROL)
    later = START + timedelta(days=3)
    with tier1.session() as session:
        moved = reschedule(
            session=session,
            ref=key,
            user_id=ALICE,
            starts_at=later,
            duration_minutes=30,
            now=START,
            admins=ADMINS,
            approval_ttl=TTL,
        )
    assert moved.changed
    gameday = _gameday(tier1, key)
    assert (gameday.status, gameday.round, gameday.starts_at) == (GameDayStatus.PENDING, 2, later)
    assert gameday.current_approvals() == []
    assert _approve(tier1, key, BOB).changed
    assert _gameday(tier1, key).status is GameDayStatus.PENDING  # round 1's approvals don't count
    with tier1.session() as session:
        assert session.scalar(select(func.count()).select_from(GameDayApproval)) == 3
    assert "gameday.rescheduled" in _audit(tier1, key)


def _plan(**changes: Any) -> GameDayPlan:
    values: dict[str, Any] = {
        "experiments": ("pod-kill",),
        "starts_at": START + timedelta(days=1),
        "duration_minutes": 60,
        "hold_seconds": 300,
    }
    values.update(changes)
    return GameDayPlan(**values)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"experiments": ()}, "experiments", "at least one"),
        ({"experiments": ("zone-outage",)}, "experiments", "Not in checkout's suite"),
        ({"starts_at": START + timedelta(minutes=5)}, "time", "15 minutes"),
        ({"starts_at": START - timedelta(days=1)}, "time", "15 minutes"),
        ({"starts_at": START + timedelta(days=400)}, "date", "180 days"),
        ({"duration_minutes": 0}, "duration", "1 to 480"),
        ({"hold_seconds": 0}, "hold", "1 to 3600"),
        (
            {"experiments": ("pod-kill", "container-kill"), "duration_minutes": 5},
            "hold",
            "do not fit",
        ),
    ],
)
def test_a_plan_that_breaks_a_rule_is_refused_on_its_field(
    tier1: Database, changes: dict[str, Any], field: str, words: str
) -> None:
    with tier1.session() as session, pytest.raises(RequestInvalid) as refused:
        check_plan(
            session=session,
            service=find_service(session=session, name="checkout"),
            plan=_plan(**changes),
            now=START,
        )
    assert words in refused.value.problems[field]


def test_a_game_day_may_not_overlap_another_or_a_freeze(tier1: Database) -> None:
    first = ask(tier1)
    with pytest.raises(RequestInvalid, match=first):
        ask(tier1, starts_at=START + timedelta(days=1, minutes=30))
    ask(tier1, starts_at=START + timedelta(days=1, minutes=60))  # right after it: fine
    with tier1.session() as session:
        session.add(
            Freeze(
                team_id=None,
                starts_at=START + timedelta(days=2),
                ends_at=START + timedelta(days=3),
                reason="black friday",
                created_by=ADMIN,
            )
        )
    with pytest.raises(RequestInvalid, match="black friday"):
        ask(tier1, starts_at=START + timedelta(days=2, hours=1))


def test_concurrent_clicks_make_exactly_one_decision(tier1: Database) -> None:
    """Bob and Carol click at once, each twice (two replicas each getting one click)."""
    key = ask(tier1, by=ALICE)
    barrier = threading.Barrier(4)
    results: list[Any] = []
    errors: list[BaseException] = []

    def click(user: str) -> None:
        barrier.wait()
        try:
            results.append(_approve(tier1, key, user))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=click, args=(u,)) for u in (BOB, CAROL, BOB, CAROL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(1 for r in results if r.changed) == 2  # one per person
    gameday = _gameday(tier1, key)
    assert gameday.status is GameDayStatus.APPROVED
    assert len(gameday.current_approvals()) == 2
    assert _audit(tier1, key).count("gameday.approved") == 1


def test_two_game_days_of_one_request_cannot_be_made_by_a_retry(tier1: Database) -> None:
    """The modal's idempotency key is the Slack layer's; here: the same plan twice clashes."""
    ask(tier1)
    with pytest.raises(RequestInvalid):
        ask(tier1)


def test_request_checks_the_plan_before_writing_anything(tier1: Database) -> None:
    with tier1.session() as session, pytest.raises(RequestInvalid):
        request_gameday(
            session=session,
            service="checkout",
            plan=_plan(experiments=()),
            requested_by=ALICE,
            now=START,
            admins=ADMINS,
            approval_ttl=TTL,
            preview={},
        )
    with tier1.session() as session:
        assert session.scalar(select(func.count()).select_from(GameDay)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
