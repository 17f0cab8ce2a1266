"""A run's one canonical Slack message: rendered from its row, posted once, then updated."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.db.engine import Database
from bot.probes import watch
from bot.runs.events import RunObserver
from bot.runs.models import Run
from bot.runs.states import TERMINAL, RunStatus, Trigger
from bot.slack.blockkit import button, context, message, section
from bot.slack.ids import ActionId
from bot.slack.mrkdwn import escape
from bot.slack.outbox import enqueue
from bot.slack.steady_state import stop_conditions

__all__ = [
    "SlackCleanupAlerts",
    "SlackRunPublisher",
    "cleanup_alert",
    "run_message",
    "timeline_line",
]

log = logging.getLogger(__name__)

_ICONS = {
    RunStatus.SCHEDULED: ":hourglass:",
    RunStatus.PREFLIGHT: ":mag:",
    RunStatus.INJECTING: ":boom:",
    RunStatus.HOLDING: ":stopwatch:",
    RunStatus.ROLLING_BACK: ":rewind:",
    RunStatus.COMPLETED: ":white_check_mark:",
    RunStatus.DEVIATED: ":warning:",
    RunStatus.HALTED: ":rotating_light:",
    RunStatus.ABORTED: ":octagonal_sign:",
    RunStatus.FAILED: ":x:",
}


def run_message(run: Run) -> dict[str, Any]:
    """Text and blocks of the run's message; an Abort button while it is not finished, and
    Record findings once an ad hoc run has ended."""
    service = escape(run.service.name)
    experiment = escape(run.experiment)
    headline = (
        f"{_ICONS[run.status]} *{experiment}* on *{service}*: {run.status.value.replace('_', ' ')}"
    )
    details = f"Run `{run.key}` · {run.trigger.value} · requested by <@{escape(run.requested_by)}>"
    blocks: list[dict[str, Any]] = [
        section(headline),
        context(details),
    ]
    plan = watch.plan_of(run.document or {})
    if plan is not None and plan.probes:
        blocks.append(context(_watched(plan)))
    if run.reason and run.status in TERMINAL:
        blocks.append(section(escape(run.reason)))
    if run.leftovers:
        left = ", ".join(f"`{escape(item)}`" for item in run.leftovers)
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f":rotating_light: Left behind after rollback: {left}",
                },
            }
        )
    elif run.status in TERMINAL and run.leftovers == []:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "Leftover check: nothing left behind."}],
            }
        )
    if run.status not in TERMINAL:
        blocks.append(
            {
                "type": "actions",
                "block_id": "run_actions",
                "elements": [button(ActionId.ABORT_RUN, "Abort", run.key, style="danger")],
            }
        )
    elif run.trigger is Trigger.ADHOC and not run.dry_run:
        # Ended: what the team learned is recorded from here (bot/slack/findings_form.py).
        blocks.append(
            {
                "type": "actions",
                "block_id": "run_findings",
                "elements": [button(ActionId.RECORD_RUN_FINDINGS, "Record findings", run.key)],
            }
        )
    return message(f"{experiment} on {service}: {run.status.value}", blocks)


def _watched(plan: watch.WatchPlan) -> str:
    """What the run watches while its fault is in place, and when it halts."""
    probes = "; ".join(escape(p) for p in plan.probes)
    when = stop_conditions(interval_seconds=plan.interval_seconds, fail_after=plan.fail_after)
    return f"Steady state watched {when}: {probes}"


def timeline_line(status: RunStatus, message: str) -> str:
    """One reply in the run's thread."""
    return f"{_ICONS[status]} {escape(message)}"


class SlackRunPublisher(RunObserver):
    """Keeps a run's canonical message in step with its row, and its thread with its timeline.

    Used by the worker after every transition. Slack being slow or down never stops a run:
    failures are logged and the next transition renders the message from the row again.

    The one exception to "every message goes through the outbox": the worker edits this message
    live, in place (`chat.update` after each transition), from its own process, which runs no
    outbox sender (the bot's OutboxPump does); a message missed here is repaired by the next
    transition's re-render, not by a retry.
    """

    def __init__(self, *, db: Database, client: WebClient) -> None:
        self._db, self._client = db, client

    def run_updated(self, run_id: int, status: RunStatus, message: str) -> None:
        try:
            self._publish(run_id, status, message)
        except Exception:
            log.exception("could not update the Slack message of run %s", run_id)

    def _publish(self, run_id: int, status: RunStatus, message: str) -> None:
        with self._db.session() as session:
            run = session.get(Run, run_id)
            if run is None or not run.slack_channel:
                return
            body, channel, ts = run_message(run), run.slack_channel, run.slack_ts
            parent, experiment = run.slack_thread_ts, run.experiment
        if ts is None:
            # A game day's run is a reply in the game day's thread; any other run is a message
            # of its own, with its timeline as its thread.
            posted = self._client.chat_postMessage(channel=channel, thread_ts=parent, **body)
            ts = str(posted["ts"])
            with self._db.session() as session:
                session.execute(
                    update(Run).where(Run.id == run_id, Run.slack_ts.is_(None)).values(slack_ts=ts)
                )
        else:
            self._client.chat_update(channel=channel, ts=ts, **body)
        line = timeline_line(status, message)
        if parent:
            line = f"*{escape(experiment)}* {line}"
        self._client.chat_postMessage(channel=channel, thread_ts=parent or ts, text=line)


# How many leftovers an alert names before it says how many more there are.
SHOWN_LEFTOVERS = 20


class SlackCleanupAlerts:
    """The critical alert for a fault chaosbot could not remove: to the service's team and to
    the platform's admin channel, through the outbox (in the janitor's transaction)."""

    def __init__(self, *, admin_channel: str | None) -> None:
        self._admin_channel = admin_channel

    def left_behind(self, *, session: Session, run: Run, now: datetime) -> None:
        body = cleanup_alert(run)
        channels = dict.fromkeys(
            c for c in (run.service.team.slack_channel_id, self._admin_channel) if c
        )
        for channel in channels:
            enqueue(
                session=session,
                now=now,
                method="chat.postMessage",
                payload={"channel": channel, **body},
                dedupe_key=f"run:{run.key}:left-behind:{channel}",
            )


def cleanup_alert(run: Run) -> dict[str, Any]:
    """Names every object still left by the run and the commands that remove it."""
    left = list(run.leftovers or [])
    shown = ", ".join(f"`{escape(item)}`" for item in left[:SHOWN_LEFTOVERS])
    more = f" and {len(left) - SHOWN_LEFTOVERS} more" if len(left) > SHOWN_LEFTOVERS else ""
    namespace = escape(run.service.namespace)
    headline = (
        f":rotating_light: *Critical: run `{run.key}` ({escape(run.experiment)} on "
        f"*{escape(run.service.name)}*) left a fault in the cluster that chaosbot could not "
        f"remove* after {run.rollback_attempts} attempt(s). It keeps trying."
    )
    commands = (
        f"Still there: {shown}{more}.\nTo remove it by hand:\n"
        f"```chaosbot cleanup --namespace {namespace}\n"
        f"kubectl get networkpolicies,deployments,statefulsets,secrets,configmaps,nodes "
        f"-A -l chaosbot.io/run-id={run.key}```"
    )
    return {
        "text": f"Critical: run {run.key} left a fault chaosbot could not remove",
        "blocks": [
            section(headline),
            section(commands),
        ],
    }
