"""The demo's scenes, in the order a new team would meet chaosbot."""

from __future__ import annotations

from collections.abc import Callable

from bot.demo import TEAM_CHANNEL, DemoWorld

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


SCENES: list[Callable[[DemoWorld], None]] = [asking_for_help]
