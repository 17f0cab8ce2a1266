"""Filled-in onboarding modals, as Slack sends their `view.state.values`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.slack.ids import OnboardBlock as B

Values = dict[str, dict[str, dict[str, Any]]]


def text(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def choice(value: str | None, kind: str = "static_select") -> dict[str, Any]:
    return {"type": kind, "selected_option": {"value": value} if value is not None else None}


def picked(*values: str) -> dict[str, Any]:
    return {"type": "multi_static_select", "selected_options": [{"value": v} for v in values]}


def users(*user_ids: str) -> dict[str, Any]:
    return {"type": "multi_users_select", "selected_users": list(user_ids)}


def conversation(channel_id: str | None) -> dict[str, Any]:
    return {"type": "conversations_select", "selected_conversation": channel_id}


def number(value: str | None) -> dict[str, Any]:
    return {"type": "number_input", "value": value}


def as_opened(view: Mapping[str, Any]) -> Values:
    """The `state.values` Slack submits for `view` when nobody changed a field: each input
    block's initial value."""
    values: Values = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block["element"]
        kind = element["type"]
        state: dict[str, Any] = {"type": kind}
        if kind in ("plain_text_input", "number_input"):
            state["value"] = element.get("initial_value")
        elif kind in ("static_select", "external_select", "radio_buttons"):
            initial = element.get("initial_option")
            state["selected_option"] = {"value": initial["value"]} if initial else None
        elif kind in ("multi_static_select", "checkboxes"):
            state["selected_options"] = [
                {"value": o["value"]} for o in element.get("initial_options", [])
            ]
        elif kind == "multi_users_select":
            state["selected_users"] = list(element.get("initial_users", []))
        elif kind == "conversations_select":
            state["selected_conversation"] = element.get("initial_conversation")
        else:
            raise ValueError(f"no initial state known for a {kind} element")
        values[block["block_id"]] = {element["action_id"]: state}
    return values


def onboarding_form(
    fields: Mapping[str, dict[str, Any]] | None = None,
    *,
    owner_ids: tuple[str, ...] = ("U0ALICE", "U0BOB"),
    channel_id: str = "C0PAYMENTS",
) -> Values:
    """A valid onboarding of `checkout` (team payments, new) with `fields` replacing blocks."""
    base: dict[str, dict[str, Any]] = {
        B.NAME: text("checkout"),
        B.TEAM: choice("__new__"),
        B.NEW_TEAM: text("payments"),
        B.TEAM_CHANNEL: conversation(channel_id),
        B.TEAM_TIMEZONE: text("UTC"),
        B.TIER: choice("2"),
        B.ENVIRONMENT: choice("staging", "radio_buttons"),
        B.CLUSTER: text(None),
        B.NAMESPACE: text("payments"),
        B.WORKLOAD: choice("Deployment/checkout", "external_select"),
        B.SELECTOR: text(None),
        B.BLAST_RADIUS: number("50"),
        B.OWNERS: users(*owner_ids),
        B.APPROVERS: users(),
        B.PROBE_URL: text("http://checkout.payments.svc/healthz"),
        B.PROBE_STATUS: number("200"),
        B.PROBE_LATENCY: number("300"),
        B.PROMETHEUS_QUERY: text(None),
        B.PROMETHEUS_MAX: number(None),
        B.PROMETHEUS_MIN: number(None),
        B.PODS_MIN_READY: number(None),
        B.WATCH_INTERVAL: number("10"),
        B.WATCH_FAIL_AFTER: number("2"),
        B.ALERT_MATCHERS: text(None),
        B.ANNOUNCE_AFTER: number(None),
        B.BLIND_ENABLED: {"type": "checkboxes", "selected_options": [{"value": "enabled"}]},
        B.BLIND_DAYS: picked("mon", "tue", "wed"),
        B.BLIND_HOURS: text("10:00-16:00"),
        B.BLIND_TIMEZONE: text("Europe/Berlin"),
        B.BLIND_EXPERIMENTS: picked("pod-kill"),
        B.BLIND_MEAN_DAYS: text("10"),
        B.BLIND_MIN_SPACING: text("24"),
        B.BLIND_HOLIDAY_COUNTRY: text(None),
        B.BLIND_DURATION: text("30"),
        B.BLIND_FREEZE_WINDOWS: text(None),
    }
    base.update({str(k): v for k, v in (fields or {}).items()})
    return {str(block): {str(block): element} for block, element in base.items()}
