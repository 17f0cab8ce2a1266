"""A run's canonical message follows it, and its Abort button halts it, through the test servers."""

from __future__ import annotations

import pytest

from bot.runs.states import TERMINAL, RunStatus
from bot.slack.ids import ActionId, CallbackId
from bot.slack.views import FindingsModal
from tests.fixtures.bot import ADMIN, ALICE, TEAM_CHANNEL, RunningBot
from tests.fixtures.engine import Engine


@pytest.fixture
def slack_engine(engine: Engine, running_bot: RunningBot) -> Engine:
    """Workers that also post to the Slack test server the bot uses."""
    engine.env.update(
        SLACK_BOT_TOKEN=running_bot.slack.bot_token,
        SLACK_API_URL=running_bot.slack.base_url,
        SLACK_SIGNING_SECRET="unused-by-workers",
    )
    return engine


def _buttons(message: dict[str, object]) -> list[str]:
    blocks = message.get("blocks") or []
    assert isinstance(blocks, list)
    return [e["action_id"] for b in blocks if b.get("type") == "actions" for e in b["elements"]]


def test_the_abort_button_halts_the_run_and_the_message_follows(
    slack_engine: Engine, running_bot: RunningBot
) -> None:
    bot, engine = running_bot, slack_engine
    run_id, key = engine.create(hold=60)
    process = engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    bot.slack.wait_for("chat.update", where=lambda c: "holding" in str(c.body.get("text")))
    [message] = [
        m
        for m in bot.slack.messages(TEAM_CHANNEL)
        if not m.get("thread_ts") or m.get("thread_ts") == m["ts"]
    ]
    assert "holding" in message["text"]
    assert _buttons(message) == [ActionId.ABORT_RUN.value]

    # Someone chaosbot does not know may not halt; an owner may.
    bot.simulator.block_action(
        ActionId.ABORT_RUN.value, user_id="U0STRANGER", channel_id=TEAM_CHANNEL, message=message
    )
    assert "Only people chaosbot knows" in bot.reply(1)["text"]
    bot.simulator.block_action(
        ActionId.ABORT_RUN.value, user_id=ALICE, channel_id=TEAM_CHANNEL, message=message
    )
    assert f"halted run `{key}`" in bot.reply(2)["text"]

    assert process.wait(timeout=30) == 4
    assert engine.status(run_id) is RunStatus.ABORTED
    assert engine.policies(key) == []
    bot.slack.wait_for("chat.update", where=lambda c: "aborted" in str(c.body.get("text")))
    final = bot.slack.message(TEAM_CHANNEL, message["ts"])
    # Ended: no Abort; what the team learned is recorded from here.
    assert final is not None and _buttons(final) == [ActionId.RECORD_RUN_FINDINGS.value]
    bot.simulator.block_action(
        ActionId.RECORD_RUN_FINDINGS.value, user_id=ALICE, channel_id=TEAM_CHANNEL, message=final
    )
    form = bot.opened_view(CallbackId.FINDINGS).body["view"]
    assert FindingsModal.load(form["private_metadata"]).ref == key
    assert f"run `{key}`" in str(form["blocks"])
    assert "nothing left behind" in str(final["blocks"])
    thread = [
        m["text"]
        for m in bot.slack.messages(TEAM_CHANNEL)
        if m.get("thread_ts") == message["ts"] and m["ts"] != message["ts"]
    ]
    assert any("injecting" in t for t in thread) and any("aborted" in t for t in thread)


def test_abort_all_halts_every_run(slack_engine: Engine, running_bot: RunningBot) -> None:
    bot, engine = running_bot, slack_engine
    run_id, key = engine.create(hold=60)
    process = engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    bot.command("abort all", user=ALICE)
    assert f"`{key}`" in bot.reply(1)["text"]
    assert process.wait(timeout=30) == 4
    assert engine.wait_for(run_id, *TERMINAL) is RunStatus.ABORTED
    bot.command("abort all", user=ALICE)
    assert "nothing to halt" in bot.reply(2)["text"]


def test_the_kill_switch_halts_everything_and_refuses_new_runs(
    slack_engine: Engine, running_bot: RunningBot
) -> None:
    bot, engine = running_bot, slack_engine
    bot.command("killswitch on incident 42", user=ALICE)
    assert "Only platform admins" in bot.reply(1)["text"]

    run_id, key = engine.create(hold=60)
    process = engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    bot.command("killswitch on incident 42", user=ADMIN)
    assert "engaged the kill switch: incident 42" in bot.reply(2)["text"]
    assert process.wait(timeout=30) == 4
    assert engine.policies(key) == []

    refused, _ = engine.create()
    assert engine.run(refused) == 4
    assert "the kill switch is engaged by U0ADMIN: incident 42" in (
        engine.row(refused).reason or ""
    )

    bot.command("killswitch off", user=ADMIN)
    assert "lifted the kill switch" in bot.reply(3)["text"]
    allowed, _ = engine.create()
    assert engine.run(allowed) == 0
