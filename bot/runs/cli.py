"""`chaosbot worker RUN_ID`: the process that executes one run (started by the bot)."""

from __future__ import annotations

import argparse
from typing import Any

from bot.app import build_client
from bot.clock import SystemClock
from bot.config import Settings, load_settings
from bot.db.engine import Database
from bot.k8s.client import ClientFactory
from bot.k8s.runs import KubeRunCluster
from bot.logs import configure_logging
from bot.runs.states import RunStatus
from bot.runs.supervisor import replay_rollbacks
from bot.runs.worker import Observer, execute_run
from bot.slack.run_messages import SlackRunPublisher

__all__ = ["EXIT_CODES", "add_parsers"]

# Exit codes of a worker (and of `chaosbot run`), so CI pipelines can tell outcomes apart.
EXIT_CODES = {
    RunStatus.COMPLETED: 0,
    RunStatus.FAILED: 1,
    RunStatus.DEVIATED: 3,
    RunStatus.ABORTED: 4,
}


def add_parsers(sub: Any) -> None:
    worker = sub.add_parser(
        "worker",
        help="execute one run (the bot starts these; not for interactive use)",
        description="Execute run RUN_ID with chaostoolkit-lib: preflight, inject, hold, roll back "
        "(always), record. SIGUSR1 aborts it (the rollbacks still run). With --rollback, replay "
        "the rollbacks of a run whose worker died.",
    )
    worker.add_argument("run_id", type=int, metavar="RUN_ID")
    worker.add_argument("--rollback", action="store_true", help="only replay the rollbacks")
    worker.set_defaults(command=_worker)


def _observer(settings: Settings, db: Database) -> Observer:
    """The run's Slack message follows its state when Slack is configured (not in bare CI)."""
    if settings.slack_bot_token is None:
        return lambda run_id, status, message: None
    return SlackRunPublisher(db=db, client=build_client(settings))


def _worker(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.secrets())
    db = Database(settings.database_url)
    clock = SystemClock()
    clients = ClientFactory.from_settings(settings)
    try:
        if args.rollback:
            status = replay_rollbacks(args.run_id, db=db, now=clock.now())
        else:
            status = execute_run(
                args.run_id,
                db=db,
                clock=clock,
                cluster=KubeRunCluster(clients),
                policy=settings,
                observer=_observer(settings, db),
            )
    finally:
        clients.close()
        db.dispose()
    return EXIT_CODES.get(status, 1)
