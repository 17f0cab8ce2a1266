"""A game day's whole conversation through the Slack and Kubernetes test servers: asked for in a
modal, approved by two people with buttons, run by the scheduler, results in its thread."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.audit.models import AuditEvent
from bot.gamedays.models import GameDay, GameDayStatus
from bot.runs.models import Run
from bot.runs.states import RunStatus
from bot.slack.ids import ActionId, CallbackId
from bot.slack.ids import GameDayBlock as B
from tests.fixtures.bot import ADMIN, ALICE, BOB, CAROL, TEAM_CHANNEL, RunningBot
from tests.fixtures.gamedays import MALLORY, register_service
from tests.fixtures.services import Checkout


@pytest.fixture
def bot(running_bot: RunningBot, checkout: Checkout) -> RunningBot:
    """`checkout`, tier 1, team timezone Europe/Berlin, its pods in the Kubernetes test server."""
    register_service(running_bot.db, tier=1, probe_url=checkout.url)
    return running_bot


def _form(
    *,
    experiments: tuple[str, ...] = ("pod-kill", "container-kill"),
    day: str = "2026-12-01",
    at: str = "10:00",
    duration: str = "15",
    hold: str = "1",
    notes: str = "Watch the checkout dashboard",
) -> dict[str, dict[str, dict[str, Any]]]:
    def one(block: B, element: dict[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
        return block.value, {block.value: element}

    return dict(
        [
            one(
                B.EXPERIMENTS,
                {
                    "type": "multi_static_select",
                    "selected_options": [{"value": e} for e in experiments],
                },
            ),
            one(B.DATE, {"type": "datepicker", "selected_date": day}),
            one(B.TIME, {"type": "timepicker", "selected_time": at}),
            one(B.DURATION, {"type": "static_select", "selected_option": {"value": duration}}),
            one(B.HOLD, {"type": "static_select", "selected_option": {"value": hold}}),
            one(B.NOTES, {"type": "plain_text_input", "value": notes}),
        ]
    )


def _ask(bot: RunningBot, **form: Any) -> Any:
    bot.command("gameday checkout", user=ALICE)
    opened = bot.opened_view(CallbackId.REQUEST_GAMEDAY)
    view_id = opened.response["view"]["id"]
    return bot.simulator.view_submission(
        CallbackId.REQUEST_GAMEDAY.value, values=_form(**form), user_id=ALICE, view_id=view_id
    )


def _approval_message(bot: RunningBot) -> dict[str, Any]:
    call = bot.slack.wait_for(
        "chat.postMessage", where=lambda c: "Game day" in str(c.body.get("text"))
    )[0]
    return {"ts": call.response["ts"], **call.body}


def _click(
    bot: RunningBot, action: ActionId, ts: str, user: str, *, value: str | None = None
) -> dict[str, Any]:
    """A click on the message as it is shown (or, with `value`, as an old rendering had it)."""
    before = len(bot.slack.responses)
    bot.simulator.block_action(
        action.value, user_id=user, channel_id=TEAM_CHANNEL, message={"ts": ts}, value=value
    )
    return bot.reply(before + 1)


def _shown(bot: RunningBot, ts: str) -> str:
    message = bot.slack.message(TEAM_CHANNEL, ts)
    assert message is not None
    return str(message.get("blocks"))


def _updates(bot: RunningBot, count: int) -> None:
    bot.slack.wait_for("chat.update", count=count)


def _gameday(bot: RunningBot) -> GameDay:
    with bot.db.session() as session:
        gameday = session.scalars(select(GameDay)).one()
        gameday.approvals  # noqa: B018 - loaded with the session open
        return gameday


def test_the_modal_offers_the_suite_in_the_team_timezone(bot: RunningBot) -> None:
    bot.command("gameday checkout", user=ALICE)
    view = bot.opened_view(CallbackId.REQUEST_GAMEDAY).body["view"]
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    offered = [o["value"] for o in blocks[B.EXPERIMENTS]["element"]["options"]]
    assert offered == ["pod-kill", "container-kill"]
    assert "Europe/Berlin" in blocks[B.TIME]["label"]["text"]
    assert blocks[B.DATE]["element"]["initial_date"] == "2026-12-01"  # tomorrow, in Berlin


def test_field_errors_come_back_on_their_blocks_and_nothing_is_written(bot: RunningBot) -> None:
    skipped = _ask(bot, day="2027-03-28", at="02:30")  # clocks go forward in Berlin
    assert skipped.json()["response_action"] == "errors"
    assert "does not exist" in skipped.json()["errors"][B.TIME]
    too_long = _ask(bot, hold="1800", duration="15")
    assert "do not fit" in too_long.json()["errors"][B.HOLD]
    with bot.db.session() as session:
        assert session.scalars(select(GameDay)).all() == []


def test_request_two_approvals_run_and_results_in_the_thread(bot: RunningBot) -> None:
    response = _ask(bot)
    assert response.status == 200 and response.text == ""
    message = _approval_message(bot)
    ts, shown = message["ts"], str(message["blocks"])
    # The plan: the targets as the cluster has them now, the blast radius, the rollback plan.
    assert "Tue 01 Dec 2026, 10:00 CET (UTC+01:00)" in shown
    assert "1 of 3 pods, picked when it runs" in shown
    assert "checkout-" in shown and "node-" in shown
    assert "`wait-for-pods-ready`" in shown
    assert "Watch the checkout dashboard" in shown
    # The stop conditions being approved: the service's probe, how often, after how many.
    assert "answers 200 within 2000 ms" in shown
    assert "every 10 s from the injection to the end of the rollback" in shown
    assert "2 failed checks in a row halt the run" in shown
    for decider in (BOB, CAROL, ADMIN):
        assert f"<@{decider}>" in shown

    assert "someone else" in _click(bot, ActionId.APPROVE_GAMEDAY, ts, ALICE)["text"]
    assert "owners and approvers" in _click(bot, ActionId.APPROVE_GAMEDAY, ts, MALLORY)["text"]
    assert "1 more approval" in _click(bot, ActionId.APPROVE_GAMEDAY, ts, BOB)["text"]
    assert "already approved" in _click(bot, ActionId.APPROVE_GAMEDAY, ts, BOB)["text"]
    _updates(bot, 1)
    assert "1 of 2 approvals" in _shown(bot, ts)
    assert "scheduled" in _click(bot, ActionId.APPROVE_GAMEDAY, ts, CAROL)["text"]
    _updates(bot, 2)
    assert "Approved and scheduled" in _shown(bot, ts)
    assert ActionId.APPROVE_GAMEDAY.value not in _shown(bot, ts)  # decided: no buttons

    listed = _command_reply(bot, "gamedays", BOB)
    assert _gameday(bot).key in str(listed["blocks"])
    assert ActionId.CANCEL_GAMEDAY.value in str(listed["blocks"])

    # The start comes: the scheduler hands the runs to workers, one after another.
    gameday = _gameday(bot)
    bot.clock.advance(gameday.starts_at - bot.clock.now())
    report = bot.server.gamedays.reconcile()
    assert len(report.started) == 1
    _wait_for_status(bot, GameDayStatus.COMPLETED, timeout=90)
    with bot.db.session() as session:
        runs = session.scalars(select(Run).order_by(Run.id)).all()
    assert [(r.experiment, r.status) for r in runs] == [
        ("pod-kill", RunStatus.COMPLETED),
        ("container-kill", RunStatus.COMPLETED),
    ]
    # Everything about the run is in the game day's thread, the results last.
    thread = bot.slack.wait_for(
        "chat.postMessage",
        where=lambda c: (
            c.body.get("thread_ts") == ts and "Game day completed" in str(c.body.get("text"))
        ),
    )
    assert "2 completed" in thread[-1].body["text"]
    in_thread = [c for c in bot.slack.calls_to("chat.postMessage") if c.body.get("thread_ts") == ts]
    assert any("pod-kill on checkout" in str(c.body.get("text")) for c in in_thread)
    assert all(r.slack_thread_ts == ts for r in runs)
    bot.slack.wait_for(
        "chat.update",
        where=lambda c: "Completed" in str(c.body.get("blocks")) and c.body.get("ts") == ts,
    )


def test_the_approval_shows_the_services_own_steady_state_escaped(
    running_bot: RunningBot, checkout: Checkout
) -> None:
    url = f"{checkout.url}?from=chaosbot&deep=1"
    register_service(
        running_bot.db,
        tier=1,
        probe_url=url,
        steady_state={"intervalSeconds": 5, "failAfter": 3},
    )
    _ask(running_bot)
    shown = str(_approval_message(running_bot)["blocks"])
    assert f"`{url.replace('&', '&amp;')}` answers 200 within 2000 ms" in shown
    assert "every 5 s from the injection" in shown
    assert "3 failed checks in a row halt the run" in shown
    assert "?from=chaosbot&deep" not in shown  # a bare & would be Slack markup


def test_concurrent_clicks_and_retries_make_one_decision_and_one_run(bot: RunningBot) -> None:
    """Bob and Carol each click twice at the same moment; then Slack retries one of the clicks."""
    _ask(bot, experiments=("pod-kill",))
    ts = _approval_message(bot)["ts"]
    before = len(bot.slack.responses)
    clicks = [
        threading.Thread(
            target=bot.simulator.block_action,
            args=(ActionId.APPROVE_GAMEDAY.value,),
            kwargs={"user_id": user, "channel_id": TEAM_CHANNEL, "message": {"ts": ts}},
        )
        for user in (BOB, CAROL, BOB, CAROL)
    ]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    answers = [r.body["text"] for r in bot.slack.wait_for_response(count=before + 4)[before:]]
    # Two clicks counted (one each), two found the approval already made.
    assert sum(a.startswith(":white_check_mark:") for a in answers) == 2, answers
    assert sum("already" in a for a in answers) == 2, answers
    bot.simulator.block_action(
        ActionId.APPROVE_GAMEDAY.value,
        user_id=CAROL,
        channel_id=TEAM_CHANNEL,
        message={"ts": ts},
        value=_gameday(bot).key,
        retry_num=1,
        retry_reason="http_timeout",
    )
    assert "approved already" in bot.reply(before + 5)["text"]
    gameday = _gameday(bot)
    assert gameday.status is GameDayStatus.APPROVED and len(gameday.current_approvals()) == 2
    with bot.db.session() as session:
        decisions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "gameday.approved")
        ).all()
    assert len(decisions) == 1
    bot.clock.advance(gameday.starts_at - bot.clock.now())
    racing = [threading.Thread(target=bot.server.gamedays.reconcile) for _ in range(3)]
    for thread in racing:
        thread.start()
    for thread in racing:
        thread.join()
    _wait_for_status(bot, GameDayStatus.COMPLETED, timeout=60)
    with bot.db.session() as session:
        assert len(session.scalars(select(Run)).all()) == 1


def test_reject_asks_for_a_reason_and_closes_the_request(bot: RunningBot) -> None:
    _ask(bot)
    ts = _approval_message(bot)["ts"]
    bot.simulator.block_action(
        ActionId.REJECT_GAMEDAY.value, user_id=BOB, channel_id=TEAM_CHANNEL, message={"ts": ts}
    )
    opened = bot.opened_view(CallbackId.REJECT_GAMEDAY)
    view_id = opened.response["view"]["id"]
    reason = {B.REASON.value: {B.REASON.value: {"type": "plain_text_input", "value": ""}}}
    blank = bot.simulator.view_submission(
        CallbackId.REJECT_GAMEDAY.value, values=reason, user_id=BOB, view_id=view_id
    )
    assert blank.json()["response_action"] == "errors"
    reason[B.REASON.value][B.REASON.value]["value"] = "Release week"
    done = bot.simulator.view_submission(
        CallbackId.REJECT_GAMEDAY.value, values=reason, user_id=BOB, view_id=view_id
    )
    assert done.status == 200 and done.text == ""
    assert _gameday(bot).status is GameDayStatus.REJECTED
    bot.slack.wait_for("chat.update", where=lambda c: "Rejected" in str(c.body.get("blocks")))
    assert "Release week" in _shown(bot, ts) and ActionId.APPROVE_GAMEDAY.value not in _shown(
        bot, ts
    )
    # A click on a screen that still shows the buttons changes nothing.
    late = _click(bot, ActionId.APPROVE_GAMEDAY, ts, CAROL, value=_gameday(bot).key)
    assert "rejected already" in late["text"]


def test_reschedule_from_the_list_resets_the_approvals(bot: RunningBot) -> None:
    _ask(bot)
    ts = _approval_message(bot)["ts"]
    _click(bot, ActionId.APPROVE_GAMEDAY, ts, BOB)
    listed = _command_reply(bot, "gamedays", ALICE)
    key = _gameday(bot).key
    bot.simulator.block_action(
        ActionId.RESCHEDULE_GAMEDAY.value,
        user_id=ALICE,
        channel_id=TEAM_CHANNEL,
        message={"ts": "1", "text": listed["text"], "blocks": listed["blocks"]},
        value=key,
    )
    view_id = bot.opened_view(CallbackId.RESCHEDULE_GAMEDAY).response["view"]["id"]
    values = {
        k: v
        for k, v in _form(day="2026-12-03", at="14:30", duration="30").items()
        if k in (B.DATE, B.TIME, B.DURATION)
    }
    done = bot.simulator.view_submission(
        CallbackId.RESCHEDULE_GAMEDAY.value, values=values, user_id=ALICE, view_id=view_id
    )
    assert done.status == 200 and done.text == ""
    gameday = _gameday(bot)
    assert (gameday.status, gameday.round, gameday.current_approvals()) == (
        GameDayStatus.PENDING,
        2,
        [],
    )
    assert gameday.starts_at == datetime(2026, 12, 3, 13, 30, tzinfo=UTC)  # 14:30 in Berlin
    bot.slack.wait_for("chat.update", where=lambda c: "Thu 03 Dec 2026, 14:30" in str(c.body))
    assert ActionId.APPROVE_GAMEDAY.value in _shown(bot, ts)  # the buttons are back

    # Cancel, from the list: somebody else may not; the requester may.
    listed = _command_reply(bot, "gamedays", ALICE)
    shown = {"ts": "2", "text": listed["text"], "blocks": listed["blocks"]}
    for user, words in ((MALLORY, "can cancel it"), (ALICE, "Cancelled game day")):
        before = len(bot.slack.responses)
        bot.simulator.block_action(
            ActionId.CANCEL_GAMEDAY.value, user_id=user, channel_id=TEAM_CHANNEL, message=shown
        )
        assert words in bot.reply(before + 1)["text"]
    assert _gameday(bot).status is GameDayStatus.CANCELLED
    bot.slack.wait_for("chat.update", where=lambda c: "Cancelled" in str(c.body.get("blocks")))
    assert "'actions'" not in _shown(bot, ts)  # cancelled: no buttons


def _command_reply(bot: RunningBot, text: str, user: str) -> dict[str, Any]:
    before = len(bot.slack.responses)
    bot.command(text, user=user)
    return bot.reply(before + 1)


def _wait_for_status(bot: RunningBot, status: GameDayStatus, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gameday(bot).status is status:
            return
        time.sleep(0.1)
    raise AssertionError(f"game day is {_gameday(bot).status}, not {status}")


def test_the_service_shows_who_approves_its_game_days(bot: RunningBot) -> None:
    shown = str(_command_reply(bot, "service checkout", ALICE)["blocks"])
    assert f"*Game-day approvers besides the owners*: <@{CAROL}>" in shown
    assert "team timezone Europe/Berlin" in shown
