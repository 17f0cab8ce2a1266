"""Every slash command, action_id, block_id and callback_id the bot answers, in one place."""

from __future__ import annotations

import enum

__all__ = ["ActionId", "CallbackId", "OnboardBlock", "SlashCommand"]


class SlashCommand(enum.StrEnum):
    """Slash commands declared in deploy/slack-app-manifest.yaml."""

    CHAOS = "/chaos"


class CallbackId(enum.StrEnum):
    """Modal callback ids."""

    ONBOARD = "onboard_service"
    EDIT_SERVICE = "edit_service"


class ActionId(enum.StrEnum):
    """Interactive elements' action ids (buttons, selects)."""

    EDIT_SERVICE = "service_edit"
    OFFBOARD_SERVICE = "service_offboard"
    ABORT_RUN = "run_abort"


class OnboardBlock(enum.StrEnum):
    """Block ids of the onboarding modal; field errors are reported against them."""

    NAME = "service_name"
    TEAM = "team"
    NEW_TEAM = "new_team"
    TEAM_CHANNEL = "team_channel"
    TIER = "tier"
    ENVIRONMENT = "environment"
    CLUSTER = "cluster"
    NAMESPACE = "namespace"
    WORKLOAD = "workload"
    SELECTOR = "selector"
    OWNERS = "owners"
    PROBE_URL = "probe_url"
    PROBE_STATUS = "probe_status"
    PROBE_LATENCY = "probe_latency"
    BLIND_ENABLED = "blind_enabled"
    BLIND_DAYS = "blind_days"
    BLIND_HOURS = "blind_hours"
    BLIND_TIMEZONE = "blind_timezone"
