"""Every slash command, action_id, block_id and callback_id the bot answers, in one place."""

from __future__ import annotations

import enum

__all__ = [
    "ActionId",
    "CallbackId",
    "FindingsBlock",
    "GameDayBlock",
    "OnboardBlock",
    "SlashCommand",
    "SuiteBlock",
]


class SlashCommand(enum.StrEnum):
    """Slash commands declared in deploy/slack-app-manifest.yaml."""

    CHAOS = "/chaos"


class CallbackId(enum.StrEnum):
    """Modal callback ids."""

    ONBOARD = "onboard_service"
    EDIT_SERVICE = "edit_service"
    SUITE_PARAMETERS = "suite_parameters"
    REQUEST_GAMEDAY = "gameday_request"
    REJECT_GAMEDAY = "gameday_reject"
    RESCHEDULE_GAMEDAY = "gameday_reschedule"
    FINDINGS = "drill_findings"  # the findings form of a drill, a game day or a run


class ActionId(enum.StrEnum):
    """Interactive elements' action ids (buttons, selects)."""

    EDIT_SERVICE = "service_edit"
    OFFBOARD_SERVICE = "service_offboard"
    ABORT_RUN = "run_abort"
    LIBRARY_CATEGORY = "library_category"
    ADD_TO_SUITE = "suite_add"
    EDIT_SUITE_PARAMETERS = "suite_edit_parameters"
    REMOVE_FROM_SUITE = "suite_remove"
    APPROVE_GAMEDAY = "gameday_approve"
    REJECT_GAMEDAY = "gameday_reject"
    RESCHEDULE_GAMEDAY = "gameday_reschedule"
    CANCEL_GAMEDAY = "gameday_cancel"
    ACKNOWLEDGE_INCIDENT = "incident_acknowledge"
    RESOLVE_INCIDENT = "incident_resolve"
    ESCALATE_INCIDENT = "incident_escalate"
    RECORD_FINDINGS = "drill_record_findings"
    RECORD_GAMEDAY_FINDINGS = "gameday_record_findings"
    RECORD_RUN_FINDINGS = "run_record_findings"
    RESOLVE_FINDING = "finding_resolve"
    COMPLETE_ACTION_ITEM = "action_item_done"
    REASSIGN_ACTION_ITEM = "action_item_reassign"  # a users_select; its block_id names the item
    HOME_APPROVE_GAMEDAY = "home_gameday_approve"
    HOME_RESOLVE_FINDING = "home_finding_resolve"
    HOME_COMPLETE_ACTION_ITEM = "home_action_item_done"


class OnboardBlock(enum.StrEnum):
    """Block ids of the onboarding modal; field errors are reported against them."""

    NAME = "service_name"
    TEAM = "team"
    NEW_TEAM = "new_team"
    TEAM_CHANNEL = "team_channel"
    TEAM_TIMEZONE = "team_timezone"
    TIER = "tier"
    ENVIRONMENT = "environment"
    CLUSTER = "cluster"
    NAMESPACE = "namespace"
    WORKLOAD = "workload"
    SELECTOR = "selector"
    BLAST_RADIUS = "blast_radius"
    OWNERS = "owners"
    APPROVERS = "approvers"
    PROBE_URL = "probe_url"
    PROBE_STATUS = "probe_status"
    PROBE_LATENCY = "probe_latency"
    PROMETHEUS_QUERY = "prometheus_query"
    PROMETHEUS_MAX = "prometheus_max"
    PROMETHEUS_MIN = "prometheus_min"
    PODS_MIN_READY = "pods_min_ready"
    WATCH_INTERVAL = "watch_interval"
    WATCH_FAIL_AFTER = "watch_fail_after"
    ALERT_MATCHERS = "alert_matchers"
    ANNOUNCE_AFTER = "announce_after"
    BLIND_ENABLED = "blind_enabled"
    BLIND_DAYS = "blind_days"
    BLIND_HOURS = "blind_hours"
    BLIND_TIMEZONE = "blind_timezone"
    BLIND_EXPERIMENTS = "blind_experiments"
    BLIND_MEAN_DAYS = "blind_mean_days"
    BLIND_MIN_SPACING = "blind_min_spacing"
    BLIND_HOLIDAY_COUNTRY = "blind_holiday_country"
    BLIND_DURATION = "blind_duration"
    BLIND_FREEZE_WINDOWS = "blind_freeze_windows"


class SuiteBlock(enum.StrEnum):
    """Block ids of the suite parameters modal.

    Each parameter's input block is `PARAMETER:<name>` (the names come from the library), with
    `PARAMETER` as its action_id; field errors are reported against that block. The load
    profile's inputs (with CHAOSBOT_LOAD_PROFILES) are `LOAD_*`, each its own action_id.
    """

    INTRO = "suite_intro"
    PARAMETER = "suite_parameter"
    LOAD_INTRO = "suite_load_intro"
    LOAD_TOOL = "suite_load_tool"
    LOAD_SCRIPT = "suite_load_script"
    LOAD_CONFIG_MAP_NAME = "suite_load_config_map_name"
    LOAD_CONFIG_MAP_KEY = "suite_load_config_map_key"
    LOAD_USERS = "suite_load_users"
    LOAD_RAMP_UP = "suite_load_ramp_up"
    LOAD_DURATION = "suite_load_duration"
    LOAD_HOST = "suite_load_host"


class GameDayBlock(enum.StrEnum):
    """Block ids of the game-day modals (request, reschedule, reject); each input's action_id is
    its block id."""

    EXPERIMENTS = "gameday_experiments"
    DATE = "gameday_date"
    TIME = "gameday_time"
    DURATION = "gameday_duration"
    HOLD = "gameday_hold"
    NOTES = "gameday_notes"
    REASON = "gameday_reason"


class FindingsBlock(enum.StrEnum):
    """Block ids of the findings modal; each input's action_id is its block id. The action
    items are rows `ACTION:<n>` (what), `OWNER:<n>` (who) and `DUE:<n>` (by when)."""

    HYPOTHESIS = "findings_hypothesis"
    WHAT_HAPPENED = "findings_what_happened"
    WENT_WELL = "findings_went_well"
    SEVERITY = "findings_severity"
    ACTION = "findings_action"
    OWNER = "findings_owner"
    DUE = "findings_due"
