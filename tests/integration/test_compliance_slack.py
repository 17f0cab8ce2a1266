"""Compliance in Slack: `/chaos compliance`, the weekly digest sent by the running bot's
scheduler, and the App Home with its Approve and Resolve buttons."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.findings.models import Finding, FindingStatus, Severity
from bot.gamedays.models import GameDay, GameDayStatus
from bot.slack.ids import ActionId
from tests.fixtures.bot import ADMIN, ALICE, START, TEAM_CHANNEL, RunningBot
from tests.integration.test_digest import seed

DAY = timedelta(days=1)


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    seed(running_bot.db)  # team payments: checkout, search, ledger, cart
    return running_bot


def _reply(bot: RunningBot, text: str, user: str = ALICE) -> dict[str, object]:
    before = len(bot.slack.responses)
    bot.command(text, user=user)
    return bot.reply(before + 1)


def test_chaos_compliance_shows_the_digest_on_demand(bot: RunningBot) -> None:
    shown = str(_reply(bot, "compliance")["blocks"])
    assert "*Weekly chaos digest: team payments* (2026-W49)" in shown
    assert "4 service(s): *2 covered*, 1 due soon, *1 overdue*, *1 failing*." in shown
    everyone = str(_reply(bot, "compliance all")["blocks"])
    assert "1 team(s), 4 service(s)" in everyone
    assert "There is no team nobody" in str(_reply(bot, "compliance nobody"))


def test_the_scheduler_sends_the_weekly_digest_once(bot: RunningBot) -> None:
    report = bot.server.gamedays.send_digests()
    assert report is not None and report.teams == ["payments"]
    bot.server.context.outbox_ready()
    posted = bot.slack.wait_for(
        "chat.postMessage", where=lambda c: "Weekly chaos digest" in str(c.body.get("text"))
    )
    assert posted[0].body["channel"] == TEAM_CHANNEL
    bot.slack.wait_for("files.completeUploadExternal")
    again = bot.server.gamedays.send_digests()
    assert again is not None and again.teams == [] and again.messages == 0


def _open_home(bot: RunningBot, user: str, count: int = 1) -> str:
    bot.simulator.event({"type": "app_home_opened", "user": user, "tab": "home"})
    bot.slack.wait_for("views.publish", count=count, where=lambda c: c.body["user_id"] == user)
    home = bot.slack.home(user)
    assert home is not None
    return str(home)


def test_app_home_shows_services_approvals_and_findings_with_buttons(bot: RunningBot) -> None:
    home = _open_home(bot, ALICE)
    assert "Your services" in home
    assert "*cart* (tier 2) · failing: its latest game day failed · score 0" in home
    assert "*checkout* (tier 1) · compliant · score 79 · 1 open finding(s)" in home
    assert "Open findings" in home and ActionId.HOME_RESOLVE_FINDING.value in home
    assert "Waiting for your approval" not in home

    with bot.db.session() as session:
        critical = session.scalars(
            select(Finding).where(Finding.severity == Severity.CRITICAL)
        ).one()
        key = critical.key
    bot.simulator.block_action(
        ActionId.HOME_RESOLVE_FINDING.value,
        user_id=ALICE,
        value=key,
        view=bot.slack.home(ALICE),
    )
    bot.slack.wait_for("views.publish", count=2, where=lambda c: c.body["user_id"] == ALICE)
    assert f"Resolved `{key}`" in str(bot.slack.home(ALICE))
    with bot.db.session() as session:
        assert session.scalars(select(Finding.status).where(Finding.key == key)).one() is (
            FindingStatus.RESOLVED
        )


def _pending_gameday(bot: RunningBot) -> str:
    """Make the first game day one waiting for approval; its key."""
    with bot.db.session() as session:
        gameday = session.scalars(select(GameDay)).first()
        assert gameday is not None
        gameday.status, gameday.starts_at = GameDayStatus.PENDING, START + 3 * DAY
        gameday.expires_at, gameday.finished_at = START + 2 * DAY, None
        return gameday.key


def test_app_home_approves_a_game_day(bot: RunningBot) -> None:
    key = _pending_gameday(bot)
    home = _open_home(bot, ADMIN)
    assert "Waiting for your approval" in home and key in home
    bot.simulator.block_action(
        ActionId.HOME_APPROVE_GAMEDAY.value, user_id=ADMIN, value=key, view=bot.slack.home(ADMIN)
    )
    bot.slack.wait_for("views.publish", count=2, where=lambda c: c.body["user_id"] == ADMIN)
    assert "Approved" in str(bot.slack.home(ADMIN))
    with bot.db.session() as session:
        assert session.scalars(select(GameDay.status).where(GameDay.key == key)).one() is (
            GameDayStatus.APPROVED
        )


def test_reject_on_a_home_tab_opened_before_someone_else_decided_answers_on_the_tab(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    key = _pending_gameday(bot)
    home = _open_home(bot, ADMIN)
    assert "Waiting for your approval" in home and key in home
    stale = bot.slack.home(ADMIN)
    with bot.db.session() as session:  # meanwhile, another approver approved it in the channel
        decided = session.scalars(select(GameDay).where(GameDay.key == key)).one()
        decided.status = GameDayStatus.APPROVED
    caplog.set_level(logging.WARNING)
    # A Home tab's button comes without a response_url: the answer is the tab itself, again.
    bot.simulator.block_action(ActionId.REJECT_GAMEDAY.value, user_id=ADMIN, value=key, view=stale)
    bot.slack.wait_for("views.publish", count=2, where=lambda c: c.body["user_id"] == ADMIN)
    home = str(bot.slack.home(ADMIN))
    assert f"Game day {key} is approved already." in home
    assert "Waiting for your approval" not in home
    assert bot.slack.responses == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
