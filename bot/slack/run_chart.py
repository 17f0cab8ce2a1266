"""At the end of a run, its Slack thread gets a PNG of what its steady-state watch measured: each
probe's values over the run, with the injection, the hold and the rollback marked."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.db.engine import Database
from bot.outbox.service import queued
from bot.runs.charts import run_png
from bot.runs.events import RunObserver
from bot.runs.models import Run, RunMeasurement
from bot.runs.service import measurements_of
from bot.runs.states import TERMINAL, RunStatus
from bot.slack.mrkdwn import escape
from bot.slack.outbox import UPLOAD_METHOD, enqueue, upload_payload

__all__ = ["SlackRunChart", "chart_key", "steady_state_upload"]

log = logging.getLogger(__name__)


def chart_key(run_key: str) -> str:
    """The outbox dedupe key of a run's chart: one per run, whoever ends it and however often."""
    return f"run:{run_key}:steady-state-chart"


class SlackRunChart(RunObserver):
    """Queues the chart when a run has ended, through the outbox (the bot's OutboxPump sends it;
    a worker, which ends most runs, runs no sender).

    Heard after the commit of the change that ended the run, by the process that made it, so
    every check the watch stored is in (the worker ends a run after its watch has stopped) and
    drawing the PNG holds no transaction of the run. Skipped for a run without measurements
    (it never reached its method) or without a Slack message (a drill's, or Slack was down).
    A failure is logged: a chart never stops a run from ending.
    """

    def __init__(self, *, db: Database) -> None:
        self._db = db

    def run_updated(self, run_id: int, status: RunStatus, message: str) -> None:
        if status not in TERMINAL:
            return
        try:
            self._queue(run_id)
        except Exception:
            log.exception("could not queue the steady-state chart of run %s", run_id)

    def _queue(self, run_id: int) -> None:
        with self._db.session() as session:
            run = session.get(Run, run_id)
            if run is None or run.slack_channel is None or run.slack_ts is None:
                return
            key = chart_key(run.key)
            if queued(session=session, dedupe_key=key):
                return
            measurements = measurements_of(session=session, run_id=run_id)
            if not measurements:
                return
            # A game day's run replies in the game day's thread (Slack has no thread in a
            # thread): its chart goes there too.
            thread = run.slack_thread_ts or run.slack_ts
            payload = steady_state_upload(
                run, measurements, channel=run.slack_channel, thread_ts=thread
            )
            enqueue(
                session=session,
                now=run.finished_at or measurements[-1].at,
                method=UPLOAD_METHOD,
                payload=payload,
                dedupe_key=key,
            )


def steady_state_upload(
    run: Run, measurements: Sequence[RunMeasurement], *, channel: str, thread_ts: str
) -> dict[str, Any]:
    """The upload (UPLOAD_METHOD) of the run's chart, with a line saying what it shows."""
    png = run_png(run, measurements)
    failed = sum(1 for m in measurements if not m.ok)
    comment = (
        f"Steady state of *{escape(run.service.name)}* during run `{run.key}` "
        f"({escape(run.experiment)}): {len(measurements)} checks, {failed} failed."
    )
    return upload_payload(
        channel=channel,
        filename=f"steady-state-{run.key}.png",
        title=f"Steady state of {run.service.name} during run {run.key}",
        content=png,
        initial_comment=comment,
        thread_ts=thread_ts,
    )
