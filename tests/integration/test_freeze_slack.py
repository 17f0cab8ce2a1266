"""`/chaos freeze` and `/chaos unfreeze`: a team's (or everything's) pause, who may, and what it
stops."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.audit.models import AuditEvent
from bot.gamedays.rules import RequestInvalid
from bot.runs.models import Freeze
from tests.fixtures.bot import ADMIN, ALICE, START, TEAM_CHANNEL, RunningBot
from tests.fixtures.gamedays import MALLORY, ask, register_service


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    register_service(running_bot.db, tier=2)
    return running_bot


def _say(
    bot: RunningBot, text: str, user: str = ALICE, channel: str = TEAM_CHANNEL
) -> dict[str, Any]:
    before = len(bot.slack.responses)
    bot.command(text, user=user, channel=channel)
    return bot.reply(before + 1)


def _freezes(bot: RunningBot) -> list[Freeze]:
    with bot.db.session() as session:
        return list(session.scalars(select(Freeze).order_by(Freeze.id)))


def test_a_team_freeze_stops_new_game_days_until_it_is_lifted(bot: RunningBot) -> None:
    said = _say(bot, "freeze 2d release week")
    assert said["response_type"] == "in_channel"
    assert "froze team *payments* until Wed 02 Dec 2026, 10:00 CET" in said["text"]
    (row,) = _freezes(bot)
    assert (row.starts_at, row.ends_at, row.reason) == (
        START,
        START + timedelta(days=2),
        "release week",
    )
    with pytest.raises(RequestInvalid, match="release week"):
        ask(bot.db, starts_at=START + timedelta(days=1))
    assert "team payments until" in _say(bot, "freeze")["text"]
    assert "lifted the freeze of team *payments*" in _say(bot, "unfreeze")["text"]
    assert "No freeze is in force." in _say(bot, "freeze")["text"]
    ask(bot.db, starts_at=START + timedelta(days=1))  # now it may be booked
    with bot.db.session() as session:
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("freeze.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert actions == ["freeze.started", "freeze.ended"]


@pytest.mark.parametrize(
    ("text", "user", "channel", "words"),
    [
        ("freeze 4h no", MALLORY, TEAM_CHANNEL, "Only members of team payments"),
        ("freeze all 4h incident", ALICE, TEAM_CHANNEL, "Only platform admins"),
        ("freeze 4 hours", ALICE, TEAM_CHANNEL, "is not a duration"),
        ("freeze 90d forever", ALICE, TEAM_CHANNEL, "between a minute and 30 days"),
        ("freeze 4h", ALICE, TEAM_CHANNEL, "Usage"),
        ("freeze 4h why", ALICE, "C0ELSEWHERE", "no team's"),
    ],
)
def test_freezes_that_are_refused_write_nothing(
    bot: RunningBot, text: str, user: str, channel: str, words: str
) -> None:
    assert words in _say(bot, text, user=user, channel=channel)["text"]
    assert _freezes(bot) == []


def test_a_platform_admin_freezes_everything(bot: RunningBot) -> None:
    said = _say(bot, "freeze all 3h <!channel> incident", user=ADMIN)
    assert "froze everything" in said["text"] and "&lt;!channel&gt;" in said["text"]
    (row,) = _freezes(bot)
    assert row.team_id is None
    with pytest.raises(RequestInvalid):
        ask(bot.db, starts_at=START + timedelta(hours=1))
    assert "No freeze of this scope" in _say(bot, "unfreeze")["text"]  # the team has none
    assert "lifted the freeze of everything" in _say(bot, "unfreeze all", user=ADMIN)["text"]
