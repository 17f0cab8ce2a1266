"""What listeners and flows need, built once at start-up and passed explicitly (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.catalog.cluster import ClusterView
from bot.catalog.metrics import MetricsView
from bot.catalog.spec import CatalogPolicy, catalog_policy
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db.engine import Database
from bot.probes.prometheus import Prometheus
from bot.runs.supervisor import Executor

__all__ = ["BotContext"]


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
    # Where runs execute (the bot's WorkerLauncher or JobLauncher): whether a worker is gone,
    # whether it can be signalled from here. None: processes of this host.
    executor: Executor | None = None
    # Game days or drills changed (approved, moved, resolved): the scheduler, if it runs here,
    # re-reads them.
    schedule_changed: Callable[[], None] = _nothing

    @property
    def policy(self) -> CatalogPolicy:
        return catalog_policy(self.settings)

    @property
    def metrics(self) -> MetricsView | None:
        """The platform's Prometheus, which checks prometheus probes' queries at onboarding."""
        return Prometheus.from_settings(self.settings)
