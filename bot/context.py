"""What listeners and flows need, built once at start-up and passed explicitly (no globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from slack_sdk import WebClient

from bot.catalog.cluster import ClusterView
from bot.catalog.spec import CatalogPolicy, catalog_policy
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db.engine import Database
from bot.findings.auto import AutomaticFindings
from bot.runs.events import RunObserver, RunObservers
from bot.runs.states import RunStatus
from bot.slack.run_messages import SlackRunPublisher

__all__ = ["BotContext", "RunMessage", "run_observers"]


def _nothing() -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class BotContext:
    """Settings, storage, time, the cluster, and a way to say "the outbox has news"."""

    settings: Settings
    db: Database
    cluster: ClusterView
    clock: Clock = field(default_factory=SystemClock)
    outbox_ready: Callable[[], None] = _nothing
    # Starts a worker process for a recorded run (the bot's WorkerLauncher).
    start_run: Callable[[int], None] = field(default=lambda run_id: None)
    # Replays a run's rollbacks in a process of its own (the bot's WorkerLauncher.roll_back):
    # an abort of a run whose worker is gone rolls it back at once.
    roll_back: Callable[[int], object] | None = None
    # Game days or drills changed (approved, moved, resolved): the scheduler, if it runs here,
    # re-reads them.
    schedule_changed: Callable[[], None] = _nothing

    @property
    def policy(self) -> CatalogPolicy:
        return catalog_policy(self.settings)


class RunMessage(RunObserver):
    """The run's canonical Slack message follows every committed change of the run."""

    def __init__(self, publisher: SlackRunPublisher) -> None:
        self._publisher = publisher

    def run_updated(self, run_id: int, status: RunStatus, message: str) -> None:
        self._publisher(run_id, status, message)


def run_observers(
    *,
    db: Database,
    client: WebClient | None,
    follow_ups: Iterable[RunObserver] = (),
) -> RunObservers:
    """Who hears a run change, in every process that changes runs (bot, worker, `chaosbot run`).

    The automatic findings (in the transaction that ends a run), the run's Slack message when
    Slack is configured, and the `follow_ups` of the bot's scheduler: a game day's next
    experiment, a drill's reveal.
    """
    observers: list[RunObserver] = [AutomaticFindings()]
    if client is not None:
        observers.append(RunMessage(SlackRunPublisher(db=db, client=client)))
    return RunObservers([*observers, *follow_ups])
