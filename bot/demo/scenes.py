"""The demo's scenes, in the order a new team would meet chaosbot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.demo import TEAM_CHANNEL, DemoWorld
from bot.gamedays.models import GameDay
from bot.slack.ids import ActionId, CallbackId
from bot.slack.ids import GameDayBlock as G
from bot.slack.ids import OnboardBlock as B
from bot.testing.slack_forms import choice, onboarding_form, text

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
# Generous: on a busy machine a worker process takes a while to start.
WAIT = 60.0

__all__ = ["SCENES"]

# checkout is critical: tier 1 (two approvals per game day), Carol approves besides its owners,
# and the team works on Berlin time.
TIER_1: dict[str, dict[str, Any]] = {
    B.TIER: choice("1"),
    B.APPROVERS: {"type": "multi_users_select", "selected_users": [CAROL]},
    B.TEAM_TIMEZONE: text("Europe/Berlin"),
}


def asking_for_help(world: DemoWorld) -> None:
    """A newcomer asks what chaosbot does."""
    simulator = world.simulator
    world.transcript.scene("Meeting chaosbot")
    world.transcript.person("alice", "#payments", "/chaos help")
    response = simulator.slash_command("/chaos", "help", user_id="UALICE", channel_id=TEAM_CHANNEL)
    world.transcript.bot("#payments", response.json(), only_visible_to="alice")
    world.transcript.person("alice", "#payments", "/chaos onbaord")
    response = simulator.slash_command(
        "/chaos", "onbaord", user_id="UALICE", channel_id=TEAM_CHANNEL
    )
    world.transcript.bot("#payments", response.json(), only_visible_to="alice")


def onboarding(world: DemoWorld) -> None:
    """Alice registers checkout: one mistake caught on its field, then the confirmation."""
    t, slack = world.transcript, world.slack
    t.scene("Onboarding a service")
    t.person("alice", "#payments", "/chaos onboard")
    world.simulator.slash_command("/chaos", "onboard", user_id=ALICE, channel_id=TEAM_CHANNEL)
    [opened] = slack.wait_for("views.open", timeout=WAIT)
    t.modal("alice", opened.body["view"])
    view_id = opened.response["view"]["id"]

    bad_probe: dict[str, dict[str, Any]] = {
        B.PROBE_URL: text("http://169.254.169.254/latest/meta-data")
    }
    t.note("alice fills it in, with the cloud metadata endpoint as the health probe")
    answer = world.simulator.view_submission(
        CallbackId.ONBOARD.value,
        values=onboarding_form({**bad_probe, **TIER_1}, owner_ids=(ALICE, BOB)),
        user_id=ALICE,
        view_id=view_id,
    ).json()
    t.field_errors(answer["errors"])

    t.note("alice corrects the probe URL (a stand-in for checkout's /healthz) and submits again")
    world.simulator.view_submission(
        CallbackId.ONBOARD.value,
        values=onboarding_form(
            {B.PROBE_URL: text(world.health_url), **TIER_1}, owner_ids=(ALICE, BOB)
        ),
        user_id=ALICE,
        view_id=view_id,
    )
    [posted] = slack.wait_for(
        "chat.postMessage", where=lambda c: c.body["channel"] == TEAM_CHANNEL, timeout=WAIT
    )
    t.bot("#payments", posted.body)

    t.person("bob", "#payments", "/chaos services")
    world.simulator.slash_command("/chaos", "services", user_id=BOB, channel_id=TEAM_CHANNEL)
    [listed] = slack.wait_for_response(timeout=WAIT)
    t.bot("#payments", listed.body, only_visible_to="bob")


def _run(world: DemoWorld, who: str, user: str, command: str) -> None:
    world.transcript.person(who, "#payments", f"/chaos {command}")
    replies = len(world.slack.responses)
    world.simulator.slash_command("/chaos", command, user_id=user, channel_id=TEAM_CHANNEL)
    started = world.slack.wait_for_response(count=replies + 1, timeout=WAIT)[-1]
    world.transcript.bot("#payments", started.body, only_visible_to=who)


def _run_message(world: DemoWorld, experiment: str, state: str) -> dict[str, Any]:
    """The run's canonical message once it says `state`."""
    world.slack.wait_for(
        "chat.update",
        where=lambda c: experiment in str(c.body.get("text")) and state in str(c.body.get("text")),
        timeout=WAIT,
    )
    return next(
        m
        for m in world.slack.messages(TEAM_CHANNEL)
        if experiment in m.get("text", "") and not m.get("thread_ts")
    )


def run_and_abort(world: DemoWorld) -> None:
    """Preflight refuses a run that is too wide; a narrower one runs until Bob halts it."""
    t, slack = world.transcript, world.slack
    t.scene("A run refused, a run halted")
    _run(world, "alice", ALICE, "run checkout blackhole direction=ingress")
    t.bot("#payments", _run_message(world, "blackhole", "aborted"))

    _run(world, "alice", ALICE, "run checkout upstream-latency latency_ms=300 percent=30 hold=300")
    message = _run_message(world, "upstream-latency", "holding")
    t.bot("#payments", message)
    chaos = world.kube.list("networkchaos", "payments")
    t.note(
        "in the cluster now: " + ", ".join("networkchaos/" + c["metadata"]["name"] for c in chaos)
    )

    t.person("bob", "#payments", "[clicks Abort]")
    replies = len(slack.responses)
    world.simulator.block_action(
        ActionId.ABORT_RUN.value, user_id=BOB, channel_id=TEAM_CHANNEL, message=message
    )
    t.bot("#payments", slack.wait_for_response(count=replies + 1, timeout=WAIT)[-1].body)
    t.bot("#payments", _run_message(world, "upstream-latency", "aborted"))
    thread = [
        m["text"]
        for m in slack.messages(TEAM_CHANNEL)
        if m.get("thread_ts") == message["ts"] and m["ts"] != message["ts"]
    ]
    t.note("its thread: " + " / ".join(thread))
    left = world.kube.list("networkchaos", "payments")
    t.note(f"in the cluster now: {len(left)} NetworkChaos objects")


def _click(
    world: DemoWorld, who: str, user: str, action: ActionId, message: dict[str, Any]
) -> None:
    world.transcript.person(who, "#payments", f"[clicks {action.value.split('_')[-1].title()}]")
    replies = len(world.slack.responses)
    world.simulator.block_action(
        action.value, user_id=user, channel_id=TEAM_CHANNEL, message={"ts": message["ts"]}
    )
    reply = world.slack.wait_for_response(count=replies + 1, timeout=WAIT)[-1]
    world.transcript.bot("#payments", reply.body, only_visible_to=who)


def _shown(world: DemoWorld, ts: str) -> dict[str, Any]:
    message = world.slack.message(TEAM_CHANNEL, ts)
    assert message is not None
    return message


def game_day(world: DemoWorld) -> None:
    """Alice asks for a game day; Bob and Carol approve it; the scheduler runs it at its time."""
    t, slack = world.transcript, world.slack
    t.scene("A game day, approved by two people, run on schedule")
    option = {"text": {"type": "plain_text", "text": "checkout"}, "value": "checkout pod-kill"}
    t.note("alice adds pod-kill to checkout's suite from `/chaos experiments pods`")
    replies = len(slack.responses)
    world.simulator.block_action(
        ActionId.ADD_TO_SUITE.value,
        user_id=ALICE,
        channel_id=TEAM_CHANNEL,
        message={"ts": "1", "text": "The library: pods", "blocks": []},
        selected_option=option,
    )
    added = slack.wait_for_response(count=replies + 1, timeout=WAIT)[-1]
    t.bot("#payments", added.body, only_visible_to="alice")

    t.person("alice", "#payments", "/chaos gameday checkout")
    opened_before = len(slack.calls_to("views.open"))
    world.simulator.slash_command(
        "/chaos", "gameday checkout", user_id=ALICE, channel_id=TEAM_CHANNEL
    )
    opened = slack.wait_for("views.open", count=opened_before + 1, timeout=WAIT)[-1]
    t.modal("alice", opened.body["view"])
    view = opened.body["view"]
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    values = {
        G.EXPERIMENTS: {"type": "multi_static_select", "selected_options": [{"value": "pod-kill"}]},
        G.DATE: {"type": "datepicker", "selected_date": blocks[G.DATE]["element"]["initial_date"]},
        G.TIME: {"type": "timepicker", "selected_time": "10:00"},
        G.DURATION: {"type": "static_select", "selected_option": {"value": "15"}},
        G.HOLD: {"type": "static_select", "selected_option": {"value": "10"}},
        G.NOTES: {"type": "plain_text_input", "value": "Bob watches the checkout dashboard"},
    }
    t.note("alice picks pod-kill, tomorrow at 10:00, 15 minutes, each fault held 10 seconds")
    world.simulator.view_submission(
        CallbackId.REQUEST_GAMEDAY.value,
        values={str(k): {str(k): v} for k, v in values.items()},
        user_id=ALICE,
        view_id=opened.response["view"]["id"],
    )
    [posted] = slack.wait_for(
        "chat.postMessage", where=lambda c: "Game day" in str(c.body.get("text")), timeout=WAIT
    )
    ts = posted.response["ts"]
    t.bot("#payments", posted.body)

    _click(world, "alice", ALICE, ActionId.APPROVE_GAMEDAY, posted.response)
    _click(world, "bob", BOB, ActionId.APPROVE_GAMEDAY, posted.response)
    slack.wait_for("chat.update", where=lambda c: "1 of 2 approvals" in str(c.body), timeout=WAIT)
    _click(world, "carol", CAROL, ActionId.APPROVE_GAMEDAY, posted.response)
    slack.wait_for(
        "chat.update", where=lambda c: "Approved and scheduled" in str(c.body), timeout=WAIT
    )
    t.bot("#payments", _shown(world, ts))

    with world.server.db.session() as session:
        starts_at = session.scalars(select(GameDay.starts_at)).one()
    t.note("the next morning: the clock jumps to the game day's start")
    world.clock.jump(max(starts_at - world.clock.now(), timedelta(0)))
    world.server.gamedays.wake()
    slack.wait_for(
        "chat.postMessage",
        where=lambda c: c.body.get("thread_ts") == ts and "Game day completed" in str(c.body),
        timeout=WAIT * 2,
    )
    slack.wait_for("chat.update", where=lambda c: "Completed" in str(c.body), timeout=WAIT)
    t.bot("#payments", _shown(world, ts))
    thread = [
        m.get("text", "")
        for m in slack.messages(TEAM_CHANNEL)
        if m.get("thread_ts") == ts and m["ts"] != ts
    ]
    t.thread("#payments", thread)


SCENES: list[Callable[[DemoWorld], None]] = [asking_for_help, onboarding, run_and_abort, game_day]
