"""Block Kit of blind drills: the incident alert, the same message revealed as a drill (with
Record findings: bot/slack/findings_form.py), and `/chaos drills` for platform admins.

Until the reveal nothing in the alert says "drill": not the text, not the header, not the
incident id. Its buttons carry only the incident id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.drills.alert import duration_text
from bot.drills.models import Detection, Drill, DrillStatus
from bot.gamedays.timing import local_label, zone
from bot.runs.models import Run
from bot.runs.states import RunStatus
from bot.slack.blockkit import (
    button,
    context,
    message,
    section,
)
from bot.slack.ids import ActionId
from bot.slack.mrkdwn import escape

__all__ = ["alert_message", "drills_list"]

_OUTCOME = {
    RunStatus.COMPLETED: "the steady state held before and after",
    RunStatus.DEVIATED: "the steady state did not hold: a finding",
    RunStatus.HALTED: "the steady state broke while the fault held: halted at once, a finding",
    RunStatus.ABORTED: "halted, and rolled back",
    RunStatus.FAILED: "the run itself failed; check its rollback",
}


def _clock(moment: datetime, timezone: str) -> str:
    return local_label(moment, timezone)


def _at(moment: datetime, timezone: str) -> str:
    """`21:13:02`: a timeline's time of day, to the second, on the team's clock."""
    return f"{moment.astimezone(zone(timezone)):%H:%M:%S}"


def incident_id(drill: Drill) -> str:
    return drill.key.upper()


def alert_message(drill: Drill, *, timezone: str, run: Run | None) -> dict[str, Any]:
    """The alert as the row says now: an incident until the reveal, then the drill's story."""
    if drill.status is DrillStatus.REVEALED:
        return _revealed(drill, timezone=timezone, run=run)
    return _incident(drill, timezone=timezone)


def _incident(drill: Drill, *, timezone: str) -> dict[str, Any]:
    service = escape(drill.service.name)
    assert drill.fired_at is not None
    header = f":rotating_light: *{drill.severity} · {service}* · incident `{incident_id(drill)}`"
    facts = (
        f"*Symptom*: {escape(drill.symptom or '')}\n"
        f"*Service*: {service} (tier {drill.service.tier}, namespace `{escape(drill.service.namespace)}`)\n"
        f"*Started*: {_clock(drill.fired_at, timezone)}"
    )
    state = []
    if drill.acknowledged_at:
        state.append(
            f":eyes: Acknowledged by <@{escape(drill.acknowledged_by or '')}> at "
            f"{_clock(drill.acknowledged_at, timezone)}"
        )
    if drill.escalated_at:
        state.append(f":mega: Escalated by <@{escape(drill.escalated_by or '')}>")
    if drill.resolved_at:
        state.append(
            f":white_check_mark: Resolved by <@{escape(drill.resolved_by or '')}> at "
            f"{_clock(drill.resolved_at, timezone)}; waiting for recovery"
        )
    blocks = [section(f"{header}\n{facts}")]
    if state:
        blocks.append(context("\n".join(state)))
    if not drill.resolved_at:
        value = drill.key
        buttons = []
        if not drill.acknowledged_at:
            buttons.append(
                button(ActionId.ACKNOWLEDGE_INCIDENT, "Acknowledge", value, style="primary")
            )
        buttons.append(button(ActionId.RESOLVE_INCIDENT, "Resolve", value))
        if not drill.escalated_at:
            buttons.append(button(ActionId.ESCALATE_INCIDENT, "Escalate", value, style="danger"))
        blocks.append({"type": "actions", "block_id": "incident_actions", "elements": buttons})
    text = f"{drill.severity} incident on {service}: {escape(drill.symptom or '')}"
    return message(text, blocks)


def timeline(drill: Drill, *, timezone: str) -> list[str]:
    """The drill's lines: injected, detected, alerted, acknowledged, mitigated, rolled back,
    with the measures, in the order they happened."""
    timed: list[tuple[datetime, str]] = []
    injected = drill.injected_at
    if injected:
        timed.append(
            (
                injected,
                f"• {_at(injected, timezone)}: fault injected ({escape(drill.experiment or '')})",
            )
        )
    if drill.detection is Detection.DETECTED and drill.detected_at:
        after = (
            f" ({duration_text(drill.detected_at - injected)} after the fault)" if injected else ""
        )
        timed.append(
            (
                drill.detected_at,
                f"• {_at(drill.detected_at, timezone)}: your monitoring fired "
                f"`{escape(drill.detected_alert or '')}`{after}",
            )
        )
    if drill.fired_at:
        timed.append(
            (
                drill.fired_at,
                f"• {_at(drill.fired_at, timezone)}: alert raised by chaosbot "
                f"({_clock(drill.fired_at, timezone)})",
            )
        )
    lines = [line for _, line in sorted(timed, key=lambda pair: pair[0])]
    if drill.acknowledged_at and drill.fired_at:
        measures = f"time to acknowledge {duration_text(drill.acknowledged_at - drill.fired_at)}"
        if injected:
            measures += f", time to detect {duration_text(drill.acknowledged_at - injected)}"
        lines.append(
            f"• {_at(drill.acknowledged_at, timezone)}: acknowledged by "
            f"<@{escape(drill.acknowledged_by or '')}> ({measures})"
        )
    if drill.escalated_at:
        lines.append(
            f"• {_at(drill.escalated_at, timezone)}: escalated by <@{escape(drill.escalated_by or '')}>"
        )
    if drill.resolved_at:
        measure = (
            f" (time to resolve {duration_text(drill.resolved_at - injected)})" if injected else ""
        )
        lines.append(
            f"• {_at(drill.resolved_at, timezone)}: mitigated, resolved by "
            f"<@{escape(drill.resolved_by or '')}>{measure}"
        )
    if drill.rolled_back_at:
        lines.append(f"• {_at(drill.rolled_back_at, timezone)}: rolled back by chaosbot")
    return lines


def _revealed(drill: Drill, *, timezone: str, run: Run | None) -> dict[str, Any]:
    service = escape(drill.service.name)
    minutes = drill.duration_minutes
    head = (
        f":test_tube: *This was a blind drill* of {service}: `{escape(drill.experiment or '')}` "
        f"(incident `{incident_id(drill)}`, {drill.severity})."
    )
    if drill.fired_at is None:
        verdict = (
            ":mute: chaosbot raised no alert of its own: your monitoring fired first. The fault "
            f"was rolled back after its {minutes} minutes."
        )
    elif drill.acknowledged_at is None:
        verdict = (
            f":warning: Nobody acknowledged it within its {minutes} minutes: the fault was "
            "rolled back anyway."
        )
    elif drill.resolved_at is None:
        verdict = (
            f":hourglass: Acknowledged, but not resolved within its {minutes} minutes: the fault "
            "was rolled back anyway."
        )
    else:
        verdict = ":white_check_mark: Acknowledged and resolved."
    monitoring = _monitoring(drill)
    blocks = [
        section(f"{head}\n{verdict}" + (f"\n{monitoring}" if monitoring else "")),
        section("*Timeline*\n" + "\n".join(timeline(drill, timezone=timezone))),
    ]
    if run is not None:
        outcome = _OUTCOME.get(run.status, run.status.value)
        blocks.append(context(f"Run `{escape(run.key)}`: {outcome}."))
    blocks.append(
        {
            "type": "actions",
            "block_id": "drill_actions",
            "elements": [
                button(ActionId.RECORD_FINDINGS, "Record findings", drill.key, style="primary")
            ],
        }
    )
    return message(f"That {drill.severity} incident on {service} was a blind drill.", blocks)


def _monitoring(drill: Drill) -> str | None:
    """Whether the team's own monitoring noticed (services that name their alerts only)."""
    if drill.detection is Detection.DETECTED and drill.detected_at and drill.injected_at:
        return (
            f":bell: Your monitoring fired `{escape(drill.detected_alert or '')}` "
            f"{duration_text(drill.detected_at - drill.injected_at)} after the fault."
        )
    if drill.detection is Detection.MISSED:
        return ":no_bell: No alert of yours fired during the drill: a finding."
    return None


def drills_list(
    upcoming: Sequence[Drill], recent: Sequence[Drill], *, now: datetime
) -> list[dict[str, Any]]:
    """`/chaos drills`: what is planned, and how the last ones went (platform admins only)."""
    blocks = [section(":lock: *Blind drills* — for platform admins only; do not share.")]
    if upcoming:
        lines = [
            f"• `{d.key}` {escape(d.service.name)}: `{escape(d.experiment or '')}` at "
            f"{_clock(d.planned_at, d.service.team.timezone) if d.planned_at else '?'}"
            for d in upcoming[:20]
        ]
        blocks.append(section("*Planned*\n" + "\n".join(lines)))
    else:
        blocks.append(section("*Planned*\nNo drill in the next 7 days."))
    if recent:
        blocks.append(section("*Recent*\n" + "\n".join(_recent_line(d) for d in recent[:20])))
    return blocks


def _recent_line(drill: Drill) -> str:
    head = f"• `{drill.key}` {escape(drill.service.name)} `{escape(drill.experiment or '')}`"
    if drill.status is DrillStatus.SKIPPED:
        return f"{head}: skipped ({escape(drill.skip_reason or '')})"
    if drill.status is DrillStatus.ACTIVE:
        return f"{head}: under way"
    parts = []
    if drill.acknowledged_at and drill.fired_at:
        parts.append(f"acknowledged in {duration_text(drill.acknowledged_at - drill.fired_at)}")
    else:
        parts.append("never acknowledged")
    if drill.resolved_at and drill.injected_at:
        parts.append(f"resolved in {duration_text(drill.resolved_at - drill.injected_at)}")
    return f"{head}: " + ", ".join(parts)
