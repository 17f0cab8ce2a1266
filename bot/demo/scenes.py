"""The demo's scenes, in the order a new team would meet chaosbot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.demo import TEAM_CHANNEL, DemoWorld
from bot.slack.ids import CallbackId
from bot.slack.ids import OnboardBlock as B
from bot.testing.slack_forms import onboarding_form, text

ALICE, BOB = "U0ALICE", "U0BOB"

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
    [opened] = slack.wait_for("views.open")
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

    t.note("alice corrects the probe URL and submits again")
    world.simulator.view_submission(
        CallbackId.ONBOARD.value,
        values=onboarding_form(owner_ids=(ALICE, BOB)),
        user_id=ALICE,
        view_id=view_id,
    )
    [posted] = slack.wait_for("chat.postMessage", where=lambda c: c.body["channel"] == TEAM_CHANNEL)
    t.bot("#payments", posted.body)

    t.person("bob", "#payments", "/chaos services")
    world.simulator.slash_command("/chaos", "services", user_id=BOB, channel_id=TEAM_CHANNEL)
    [listed] = slack.wait_for_response()
    t.bot("#payments", listed.body, only_visible_to="bob")


SCENES: list[Callable[[DemoWorld], None]] = [asking_for_help, onboarding]
