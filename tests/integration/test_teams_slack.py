"""Teams and roles through signed Slack requests, on SQLite and PostgreSQL: a team's channel,
members and roles change only by its admins or platform admins, its creator is its first admin,
and a team's freeze is set and lifted by its members or platform admins only."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.audit.models import AuditEvent
from bot.catalog.models import Member, Role, Team
from bot.runs.models import Freeze
from bot.slack.ids import OnboardBlock as B
from bot.testing.slack.forms import choice, conversation, text, users
from tests.fixtures.bot import (
    ADMIN,
    ALICE,
    BOB,
    CAROL,
    START,
    TEAM_CHANNEL,
    RunningBot,
    onboard,
    seed_payments,
)

pytestmark = pytest.mark.storage

ORDERS_CHANNEL = "C0ORDERS"
# Carol adds ledger to the existing team payments, with "New team's channel" filled in.
LEDGER_FORM = {
    B.NAME: text("ledger"),
    B.TEAM: choice("payments"),
    B.NEW_TEAM: text(None),
    B.TEAM_CHANNEL: conversation(ORDERS_CHANNEL),
    B.WORKLOAD: choice("Deployment/ledger", "external_select"),
    B.OWNERS: users(CAROL),
}


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    """Team payments, created by Alice onboarding checkout (owners Alice and Bob)."""
    seed_payments(running_bot.kube)
    running_bot.kube.add_deployment("payments", "ledger", replicas=1, labels={"app": "ledger"})
    running_bot.kube.add_deployment("payments", "audit", replicas=1, labels={"app": "audit"})
    assert onboard(running_bot, ALICE) == {}
    return running_bot


def _say(bot: RunningBot, words: str, user: str = ALICE, channel: str = TEAM_CHANNEL) -> str:
    before = len(bot.slack.responses)
    bot.command(words, user=user, channel=channel)
    said: dict[str, Any] = bot.reply(before + 1)
    return str(said["text"])


def _channel(bot: RunningBot) -> str:
    with bot.db.session() as session:
        return session.scalars(select(Team.slack_channel_id).where(Team.name == "payments")).one()


def _roles(bot: RunningBot) -> set[tuple[str, Role]]:
    with bot.db.session() as session:
        return {
            (m.slack_user_id, m.role)
            for m in session.scalars(
                select(Member).join(Member.team).where(Team.name == "payments")
            )
        }


def test_only_a_teams_members_add_services_to_it(bot: RunningBot) -> None:
    quiet = conversation(None)
    answer = onboard(bot, CAROL, **{**LEDGER_FORM, B.TEAM_CHANNEL: quiet})
    assert answer["response_action"] == "errors"
    errors = answer["errors"]
    assert isinstance(errors, dict)
    assert "Only members of team payments (or platform admins) can add services" in errors[B.TEAM]
    _say(bot, f"team payments add <@{CAROL}> member")
    assert onboard(bot, CAROL, **{**LEDGER_FORM, B.TEAM_CHANNEL: quiet}) == {}


def test_onboarding_into_an_existing_team_does_not_move_its_channel(bot: RunningBot) -> None:
    _say(bot, f"team payments add <@{CAROL}> member")
    answer = onboard(bot, CAROL, **LEDGER_FORM)
    assert answer["response_action"] == "errors"
    errors = answer["errors"]
    assert isinstance(errors, dict)
    assert "Team payments already has a channel" in errors[B.TEAM_CHANNEL], errors
    assert _channel(bot) == TEAM_CHANNEL
    # Without the channel, Carol's service joins the team; the team's admin may move it.
    assert (
        onboard(
            bot,
            CAROL,
            **{
                **LEDGER_FORM,
                B.TEAM_CHANNEL: conversation(None),
            },
        )
        == {}
    )
    assert _channel(bot) == TEAM_CHANNEL
    form = {
        **LEDGER_FORM,
        B.NAME: text("audit"),
        B.WORKLOAD: choice("Deployment/audit", "external_select"),
    }
    assert onboard(bot, ALICE, **form) == {}
    assert _channel(bot) == ORDERS_CHANNEL


def test_the_creator_of_a_team_is_its_admin_and_team_shows_its_roles(bot: RunningBot) -> None:
    assert _roles(bot) == {(ALICE, Role.ADMIN), (ALICE, Role.OWNER), (BOB, Role.OWNER)}
    shown = _say(bot, "team payments", user=CAROL)
    assert f"<@{ALICE}>: admin, member" in shown
    assert f"<@{BOB}>: member" in shown
    assert _say(bot, "team") == shown  # the channel's team
    assert "`payments`" in _say(bot, "team", channel="C0ELSEWHERE")


def test_team_admins_change_members_and_roles_and_nobody_else_can(bot: RunningBot) -> None:
    refused = _say(bot, f"team payments add <@{CAROL}|carol> admin", user=CAROL)
    assert (
        "Only the admins of team payments (or platform admins) can change team payments." in refused
    )
    refused = _say(bot, f"team payments remove <@{ALICE}>", user=BOB)
    assert "Only the admins of team payments" in refused
    assert _roles(bot) == {(ALICE, Role.ADMIN), (ALICE, Role.OWNER), (BOB, Role.OWNER)}

    assert "is now approver of team *payments*" in _say(
        bot, f"team payments add <@{CAROL}|carol> approver"
    )
    assert "is no longer in team *payments*" in _say(bot, f"team payments remove <@{BOB}>")
    assert "last admin" in _say(bot, f"team payments remove <@{ALICE}> admin")
    assert "is now admin of team *payments*" in _say(
        bot, f"team payments add {BOB} admin", user=ADMIN
    )
    assert "is no longer admin" in _say(bot, f"team payments remove <@{ALICE}> admin", user=BOB)
    assert _roles(bot) == {(ALICE, Role.OWNER), (CAROL, Role.APPROVER), (BOB, Role.ADMIN)}
    with bot.db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("team.%")).order_by(AuditEvent.id)
        ).all()
        assert [(e.actor, e.action, e.detail["user"], e.detail["roles"]) for e in events] == [
            (ALICE, "team.role_granted", CAROL, ["approver"]),
            (ALICE, "team.role_revoked", BOB, ["member"]),
            (ADMIN, "team.role_granted", BOB, ["admin"]),
            (BOB, "team.role_revoked", ALICE, ["admin"]),
        ]


def test_only_a_teams_members_or_platform_admins_lift_its_freeze(bot: RunningBot) -> None:
    with bot.db.session() as session:  # Carol is known to chaosbot, as a member of orders
        orders = Team(name="orders", slack_channel_id=ORDERS_CHANNEL, created_at=START)
        orders.members.append(Member(slack_user_id=CAROL, role=Role.OWNER))
        session.add(orders)
    assert "declared a real incident" in _say(bot, "incident checkout is down")
    refused = _say(bot, "unfreeze", user=CAROL)
    assert "Only members of team payments (or platform admins) can freeze (or unfreeze)" in refused
    assert "Only members of team payments" in _say(bot, "freeze 1h mine now", user=CAROL)
    with bot.db.session() as session:
        assert [f.ends_at > START for f in session.scalars(select(Freeze))] == [True]
    assert "lifted the freeze of team *payments*" in _say(bot, "unfreeze", user=ADMIN)
