"""Who hears what, wired once per process by the entry points (serve, worker, `chaosbot run`).

The domain declares the interfaces (bot.runs.events.RunObserver); the adapters implement them;
only this module, above both, puts them together.
"""

from __future__ import annotations

from collections.abc import Iterable

from slack_sdk import WebClient

from bot.config import Settings
from bot.db.engine import Database
from bot.findings.auto import AutomaticFindings
from bot.grafana import grafana_annotations
from bot.runs.events import RunObserver, RunObservers
from bot.slack.run_chart import SlackRunChart
from bot.slack.run_messages import SlackRunPublisher

__all__ = ["run_observers"]


def run_observers(
    *,
    db: Database,
    client: WebClient | None,
    follow_ups: Iterable[RunObserver] = (),
    settings: Settings | None = None,
) -> RunObservers:
    """Who hears a run change, in every process that changes runs (bot, worker, `chaosbot run`).

    The automatic findings (in the transaction that ends a run), the run's Slack message and
    the chart of its steady state in its thread (when it has ended) when Slack is configured,
    the Grafana annotation of a game day's run when the `settings` name a Grafana, and the
    `follow_ups` of the bot's scheduler: a game day's next experiment, a drill's reveal.
    """
    observers: list[RunObserver] = [AutomaticFindings()]
    if client is not None:
        observers += [SlackRunPublisher(db=db, client=client), SlackRunChart(db=db)]
    grafana = grafana_annotations(settings, db) if settings is not None else None
    if grafana is not None:
        observers.append(grafana)
    return RunObservers([*observers, *follow_ups])
