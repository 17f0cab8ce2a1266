"""Block Kit of game days: the approval message, its thread lines, and `/chaos gamedays`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.catalog.spec import SteadyStateWatch
from bot.gamedays.models import GameDay, GameDayStatus
from bot.gamedays.timing import local_label
from bot.runs.models import Run
from bot.runs.states import RunStatus
from bot.slack.blockkit import button, context, section
from bot.slack.ids import ActionId
from bot.slack.mrkdwn import escape
from bot.slack.steady_state import watch_text

__all__ = ["gameday_message", "gamedays_list", "reminder_text", "results_text"]

MAX_LISTED = 20
_STATUS = {
    GameDayStatus.PENDING: ":hourglass_flowing_sand: Waiting for approval",
    GameDayStatus.APPROVED: ":white_check_mark: Approved and scheduled",
    GameDayStatus.RUNNING: ":arrow_forward: Running",
    GameDayStatus.COMPLETED: ":checkered_flag: Completed",
    GameDayStatus.HALTED: ":octagonal_sign: Halted",
    GameDayStatus.REJECTED: ":no_entry: Rejected",
    GameDayStatus.EXPIRED: ":hourglass: Expired",
    GameDayStatus.CANCELLED: ":heavy_multiplication_x: Cancelled",
    GameDayStatus.MISSED: ":zzz: Missed",
}
_RUN_ICONS = {
    RunStatus.COMPLETED: ":white_check_mark:",
    RunStatus.DEVIATED: ":warning:",
    RunStatus.HALTED: ":rotating_light:",
    RunStatus.ABORTED: ":octagonal_sign:",
    RunStatus.FAILED: ":x:",
}


def _people(users: Sequence[str]) -> str:
    return ", ".join(f"<@{escape(u)}>" for u in users) or "nobody"


def when(gameday: GameDay) -> str:
    return local_label(gameday.starts_at, gameday.timezone)


def gameday_message(
    gameday: GameDay, deciders: Sequence[str], *, runs: Sequence[Run]
) -> dict[str, Any]:
    """The approval message: the plan, what it would hit, the rollbacks, the steady state and
    when it stops a run, the decision so far."""
    service = escape(gameday.service.name)
    headline = (
        f":calendar: *Game day `{gameday.key}` for {service}* (tier {gameday.service.tier})\n"
        f"{when(gameday)} · {gameday.duration_minutes} min · each fault held "
        f"{gameday.hold_seconds} s · requested by <@{escape(gameday.requested_by)}>"
    )
    blocks: list[dict[str, Any]] = [section(headline)]
    if gameday.notes:
        blocks.append(context(f"Notes: {escape(gameday.notes)}"))
    blocks.extend(_plan(gameday))
    # What the approvers approve besides the faults: when each run is stopped. Read from the
    # service, as each run is rendered from it when it starts.
    steady = SteadyStateWatch.from_document(gameday.service.steady_state)
    blocks.append(section(watch_text(gameday.service.probes, steady)))
    blocks.append(section(_state(gameday, deciders, runs)))
    if gameday.status is GameDayStatus.PENDING:
        blocks.append(
            {
                "type": "actions",
                "block_id": "gameday_decision",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ActionId.APPROVE_GAMEDAY.value,
                        "text": {"type": "plain_text", "text": "Approve"},
                        "style": "primary",
                        "value": gameday.key,
                    },
                    {
                        "type": "button",
                        "action_id": ActionId.REJECT_GAMEDAY.value,
                        "text": {"type": "plain_text", "text": "Reject"},
                        "style": "danger",
                        "value": gameday.key,
                    },
                ],
            }
        )
    elif gameday.status in (GameDayStatus.COMPLETED, GameDayStatus.HALTED):
        # Over: what the team learned is recorded from here (bot/slack/findings_form.py).
        blocks.append(
            {
                "type": "actions",
                "block_id": "gameday_findings",
                "elements": [
                    button(
                        ActionId.RECORD_GAMEDAY_FINDINGS,
                        "Record findings",
                        gameday.key,
                        style="primary",
                    )
                ],
            }
        )
    elif gameday.status in (GameDayStatus.EXPIRED, GameDayStatus.MISSED):
        # Not decided, just out of time: it can be asked for again at another time.
        blocks.append(
            {
                "type": "actions",
                "block_id": "gameday_again",
                "elements": [_reschedule_button(gameday)],
            }
        )
    text = f"Game day {gameday.key} for {escape(gameday.service.name)}: {gameday.status.value}"
    return {"text": text, "blocks": blocks}


def _reschedule_button(gameday: GameDay) -> dict[str, Any]:
    return button(ActionId.RESCHEDULE_GAMEDAY, "Reschedule", gameday.key)


def _plan(gameday: GameDay) -> list[dict[str, Any]]:
    preview = gameday.preview or {}
    blocks: list[dict[str, Any]] = []
    if preview.get("pending"):
        blocks.append(
            context(
                ":hourglass_flowing_sand: The cluster is slow to answer: the targets it would hit "
                "show here in a moment."
            )
        )
    elif preview.get("error"):
        blocks.append(
            context(
                f":warning: Could not read the cluster for a preview: {escape(preview['error'])}. "
                "Targets are checked again before each experiment injects."
            )
        )
    elif preview:
        blocks.append(
            context(
                f"Targets as the cluster has them now: {preview.get('pods', 0)} pods "
                f"({preview.get('ready', 0)} ready). Pods are picked when each experiment runs."
            )
        )
    entries = {e.get("experiment"): e for e in preview.get("experiments") or []}
    for position, experiment in enumerate(gameday.experiments, start=1):
        entry = entries.get(experiment, {})
        title = escape(str(entry.get("title") or experiment))
        lines = [
            f"*{position}. {title}* (`{escape(experiment)}`, {escape(str(entry.get('category', '?')))}, "
            f"risk {escape(str(entry.get('risk', '?')))})"
        ]
        if entry.get("every_pod"):
            lines.append(f":warning: Every pod: {escape(entry['every_pod'])}")
        if "targets" in entry:
            cap_mark = ":white_check_mark:" if entry.get("within_cap") else ":no_entry:"
            cap = f"cap {entry.get('cap', '?')}%"
            if entry.get("cap_is_platform_maximum"):
                cap += f", the platform maximum for {gameday.service.environment.value}"
            lines.append(
                f"Hits: {escape(entry['targets'])} · blast radius {entry.get('share', 0)}% "
                f"({cap}) {cap_mark}"
            )
            if entry.get("refusal"):
                lines.append(f"Preflight would refuse it: {escape(entry['refusal'])}")
            candidates = ", ".join(escape(c) for c in entry.get("candidates") or [])
            if entry.get("more"):
                candidates += f" and {entry['more']} more"
            if candidates:
                lines.append(f"Now: {candidates}")
        rollbacks = ", ".join(f"`{escape(r)}`" for r in entry.get("rollbacks") or [])
        lines.append(f"Rollback: {rollbacks or 'none recorded'} (always run)")
        blocks.append(section("\n".join(lines)))
    return blocks


def _state(gameday: GameDay, deciders: Sequence[str], runs: Sequence[Run]) -> str:
    status = _STATUS[gameday.status]
    approvers = [a.slack_user_id for a in gameday.current_approvals()]
    if gameday.status is GameDayStatus.PENDING:
        missing = gameday.approvals_needed - len(approvers)
        eligible = [d for d in deciders if d != gameday.requested_by and d not in approvers]
        lines = [
            f"{status}: {len(approvers)} of {gameday.approvals_needed} approvals"
            + (f" (approved by {_people(approvers)})" if approvers else ""),
            f"Still needed: {missing} more from {_people(eligible)}. "
            "The requester cannot approve their own game day.",
            f"Expires {local_label(gameday.expires_at, gameday.timezone)} if not approved.",
        ]
        return "\n".join(lines)
    lines = [status]
    if approvers:
        lines.append(f"Approved by {_people(approvers)}.")
    if gameday.status in (GameDayStatus.REJECTED, GameDayStatus.CANCELLED) and gameday.decided_by:
        verb = "Rejected" if gameday.status is GameDayStatus.REJECTED else "Cancelled"
        lines.append(f"{verb} by <@{escape(gameday.decided_by)}>.")
    if gameday.reason:
        lines.append(f"Reason: {escape(gameday.reason)}")
    if runs:
        lines.append(_runs_line(runs))
    return "\n".join(lines)


def _runs_line(runs: Sequence[Run]) -> str:
    parts = []
    for run in runs:
        icon = _RUN_ICONS.get(run.status, ":hourglass:")
        parts.append(f"{icon} `{escape(run.experiment)}` {run.status.value.replace('_', ' ')}")
    return " · ".join(parts)


def results_text(runs: Sequence[Run], status: GameDayStatus, reason: str | None) -> str:
    """The thread's last line: how each experiment ended."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status.value] = counts.get(run.status.value, 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    head = (
        ":checkered_flag: Game day completed"
        if status is GameDayStatus.COMPLETED
        else f":octagonal_sign: Game day halted ({escape(reason or '')})"
    )
    if not runs:
        return f"{head}. Nothing was injected."
    return f"{head}: {summary}.\n{_runs_line(runs)}"


def reminder_text(gameday: GameDay, *, lead: timedelta, people: Sequence[str]) -> str:
    minutes = max(1, round(lead.total_seconds() / 60))
    soon = f"{minutes} minutes" if minutes < 120 else f"{round(minutes / 60)} hours"
    experiments = ", ".join(f"`{escape(e)}`" for e in gameday.experiments)
    return (
        f":alarm_clock: Game day `{gameday.key}` for *{escape(gameday.service.name)}* starts in "
        f"{soon} ({when(gameday)}): {experiments}. {_people(list(dict.fromkeys(people)))} "
        "`/chaos gamedays` to move or cancel it."
    )


def gamedays_list(
    gamedays: Sequence[GameDay], *, heading: str, manageable: set[str]
) -> dict[str, Any]:
    """Upcoming game days, soonest first, with Reschedule and Cancel where the viewer may."""
    if not gamedays:
        text = f"{escape(heading)}: nothing planned. Ask for one with `/chaos gameday SERVICE`."
        return {"text": text, "blocks": [section(text)]}
    blocks: list[dict[str, Any]] = [section(f"*{escape(heading)}*")]
    for gameday in gamedays[:MAX_LISTED]:
        approvals = len(gameday.current_approvals())
        line = (
            f"`{gameday.key}` *{escape(gameday.service.name)}* · {when(gameday)} · "
            f"{gameday.duration_minutes} min · {_STATUS[gameday.status]}"
        )
        if gameday.status is GameDayStatus.PENDING:
            line += f" ({approvals} of {gameday.approvals_needed} approvals)"
        line += "\n" + ", ".join(f"`{escape(e)}`" for e in gameday.experiments)
        blocks.append(section(line))
        if gameday.key in manageable and gameday.status in (
            GameDayStatus.PENDING,
            GameDayStatus.APPROVED,
        ):
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"gameday_manage:{gameday.key}",
                    "elements": [
                        _reschedule_button(gameday),
                        {
                            "type": "button",
                            "action_id": ActionId.CANCEL_GAMEDAY.value,
                            "text": {"type": "plain_text", "text": "Cancel"},
                            "style": "danger",
                            "value": gameday.key,
                            "confirm": {
                                "title": {"type": "plain_text", "text": "Cancel this game day?"},
                                "text": {
                                    "type": "mrkdwn",
                                    "text": f"Game day `{gameday.key}` will not run.",
                                },
                                "confirm": {"type": "plain_text", "text": "Cancel it"},
                                "deny": {"type": "plain_text", "text": "Keep it"},
                            },
                        },
                    ],
                }
            )
    if len(gamedays) > MAX_LISTED:
        blocks.append(context(f"And {len(gamedays) - MAX_LISTED} more."))
    return {"text": heading, "blocks": blocks}
