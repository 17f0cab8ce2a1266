"""The demo's scenes, in the order a new team would meet chaosbot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.demo import TEAM_CHANNEL, DemoWorld
from bot.slack.ids import ActionId, CallbackId
from bot.slack.ids import OnboardBlock as B
from bot.testing.slack_forms import onboarding_form, text

ALICE, BOB = "U0ALICE", "U0BOB"
# Generous: on a busy machine a worker process takes a while to start.
WAIT = 60.0

__all__ = ["SCENES"]


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
        values=onboarding_form(bad_probe, owner_ids=(ALICE, BOB)),
        user_id=ALICE,
        view_id=view_id,
    ).json()
    t.field_errors(answer["errors"])

    t.note("alice corrects the probe URL (a stand-in for checkout's /healthz) and submits again")
    world.simulator.view_submission(
        CallbackId.ONBOARD.value,
        values=onboarding_form({B.PROBE_URL: text(world.health_url)}, owner_ids=(ALICE, BOB)),
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


SCENES: list[Callable[[DemoWorld], None]] = [asking_for_help, onboarding, run_and_abort]
