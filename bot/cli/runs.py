"""`chaosbot worker RUN_ID` (the process that executes one run, started by the bot) and
`chaosbot run` (one run now, for CI): the entry points that wire the engine to Kubernetes and Slack."""

from __future__ import annotations

import argparse
import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.alertmanager import AlertmanagerClient
from bot.app import build_client
from bot.cli.options import (
    add_hold_seconds,
    add_values,
    configured_settings,
    parameter_overrides,
)
from bot.clock import Clock, SystemClock, clock_from_env
from bot.config import Settings
from bot.db.engine import Database
from bot.errors import ChaosbotError
from bot.k8s.client import ClientFactory
from bot.k8s.runs import KubeRunCluster
from bot.runs.rollback import replay_rollbacks
from bot.runs.service import logged_run
from bot.runs.states import RunStatus, Trigger
from bot.runs.worker import Observer, execute_run
from bot.wiring import run_observers

if TYPE_CHECKING:
    from bot.reports.facts import RunFacts

__all__ = ["EXIT_CODES", "EXIT_NOT_MINE", "add_parsers"]

# Exit codes of a worker (and of `chaosbot run`), so CI pipelines can tell outcomes apart.
EXIT_CODES = {
    RunStatus.COMPLETED: 0,
    RunStatus.FAILED: 1,
    RunStatus.DEVIATED: 3,
    RunStatus.ABORTED: 4,
    RunStatus.HALTED: 5,
}
# A worker that found its run already claimed by another worker (running it or done with it)
# exits with this, having touched nothing.
EXIT_NOT_MINE = 6


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

    template = sub.add_parser(
        "worker-template",
        help="fork warm workers for the bot (it starts this; not for interactive use)",
        description="Import everything a run needs, then fork one `chaosbot worker` per run id "
        "the bot sends on the socket it passed (CHAOSBOT_WARM_WORKERS).",
    )
    template.set_defaults(command=_worker_template)

    run = sub.add_parser(
        "run",
        help="run one experiment against one service now (for CI after a deploy)",
        description="Render EXPERIMENT for SERVICE, record the run, and execute it here: "
        "preflight, inject, hold, roll back (always), check the steady state again. Exit code 0 "
        "when the steady state held, 3 when it deviated, 4 when aborted or refused by preflight, "
        "1 when the run failed.",
    )
    run.add_argument("--service", required=True, help="a registered service's name")
    run.add_argument(
        "--experiment", required=True, help="an experiment id (`chaosbot experiments list`)"
    )
    add_values(run, "a parameter (repeatable)")
    add_hold_seconds(run, 30.0)
    run.add_argument(
        "--dry-run", action="store_true", help="list the pods and nodes it would touch, and stop"
    )
    run.add_argument(
        "--junit",
        metavar="FILE",
        help="also write the run's result as JUnit XML to FILE, for CI: a testcase per phase "
        "(preflight, steady state before, method, steady state during and after the fault, "
        "rollbacks, leftover check, outcome)",
    )
    run.set_defaults(command=_run)


def _observer(settings: Settings, db: Database) -> Observer:
    """The run's Slack message follows its state when Slack is configured (not in bare CI); a
    game day's run is annotated in Grafana when one is configured."""
    client = None if settings.slack_bot_token is None else build_client(settings)
    return run_observers(db=db, client=client, settings=settings)


def _execute(
    run_id: int, *, settings: Settings, db: Database, clock: Clock, clients: ClientFactory
) -> RunStatus | None:
    """Execute the recorded run here, against the cluster the settings name, gated by the
    team's Alertmanager when the platform has one; None when another worker has the run."""
    url = settings.alertmanager_url
    alerts = AlertmanagerClient(url) if url else None
    try:
        return execute_run(
            run_id,
            db=db,
            clock=clock,
            cluster=KubeRunCluster(clients, namespaces=settings.allowed_namespaces),
            policy=settings,
            observer=_observer(settings, db),
            alerts=alerts,
        )
    finally:
        if alerts is not None:
            alerts.close()


def _run(args: argparse.Namespace) -> int:
    from bot.library.catalogue import load_catalogue
    from bot.runs.flows import plan_run
    from bot.runs.report import run_facts
    from bot.runs.service import find_run

    settings = configured_settings(quiet=True)
    template = load_catalogue().get(args.experiment)
    overrides = parameter_overrides(template, args.values)
    db = Database(settings.database_url)
    clock = SystemClock()
    clients = ClientFactory.from_settings(settings)
    try:
        planned = plan_run(
            db,
            service=args.service,
            experiment=template.id,
            trigger=Trigger.CI,
            requested_by=f"cli:{os.environ.get('USER') or 'unknown'}",
            now=clock.now(),
            overrides=overrides,
            hold_seconds=args.hold_seconds,
            default_context=settings.kube_context,
            dry_run=args.dry_run,
        )
        print(f"run {planned.key}: {template.id} against {args.service}", flush=True)
        with logged_run(db, planned.run_id):
            status = _execute(
                planned.run_id, settings=settings, db=db, clock=clock, clients=clients
            )
        with db.session() as session:
            run = find_run(session=session, ref=planned.run_id)
            if status is None:
                print(f"run {run.key}: another worker claimed it ({run.status.value})")
            else:
                print(f"run {run.key}: {status.value}: {run.reason}")
            if run.leftovers:
                print(f"run {run.key}: left behind: {', '.join(run.leftovers)}")
            if args.junit:
                _write_junit(args.junit, run_facts(session, run, chart=False))
    finally:
        clients.close()
        db.dispose()
    return EXIT_NOT_MINE if status is None else EXIT_CODES.get(status, 1)


def _write_junit(path: str, run: RunFacts) -> None:
    from bot.reports.junit import junit_xml

    try:
        Path(path).write_bytes(junit_xml(run))
    except OSError as exc:
        raise ChaosbotError(f"cannot write {path}: {exc.strerror}") from None
    print(f"run {run.key}: JUnit result written to {path}")


def _worker_template(_args: argparse.Namespace) -> int:
    """The warm workers' template: what a worker imports is imported by now (this module's
    imports); the rest of its imports happen here, before any fork."""
    from bot.cli import main
    from bot.runs.warm import serve_template

    configured_settings()
    _preimport()
    return serve_template(main)


def _preimport() -> None:
    """What a worker imports only once it runs, so no child imports it again (its pages would
    be the child's own): the modules chaostoolkit-lib loads by name (the faults, probes and
    controls, chaostoolkit-kubernetes), the Kubernetes APIs they call, and the v1 models
    their answers become (the client loads both lazily)."""
    import importlib
    import pkgutil

    from sqlalchemy.orm import configure_mappers

    for package in _WARM_PACKAGES:
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, f"{package}."):
            _import(module.name)
    models = importlib.import_module("kubernetes.client.models")
    for module in pkgutil.iter_modules(models.__path__):
        if module.name.startswith("v1_"):
            _import(f"kubernetes.client.models.{module.name}")
    for api in _WARM_KUBE_APIS:
        _import(f"kubernetes.client.api.{api}")
    # Every table's mapper, configured once here rather than on each child's first query.
    importlib.import_module("bot.tables")
    configure_mappers()


def _import(name: str) -> None:
    import importlib

    try:
        importlib.import_module(name)
    except Exception:  # an optional extra's module (a run would fail on it anyway)
        return


_WARM_PACKAGES = ("bot.faults", "bot.probes", "bot.load", "chaoslib", "chaosk8s")
_WARM_KUBE_APIS = (
    "core_v1_api",
    "apps_v1_api",
    "batch_v1_api",
    "custom_objects_api",
    "events_v1_api",
    "networking_v1_api",
    "policy_v1_api",
)


def _worker(args: argparse.Namespace) -> int:
    settings = configured_settings()
    db = Database(settings.database_url)
    clock = clock_from_env()
    clients = ClientFactory.from_settings(settings)
    status: RunStatus | None
    try:
        with logged_run(db, args.run_id):
            if args.rollback:
                status = replay_rollbacks(
                    args.run_id,
                    db=db,
                    clock=clock,
                    cluster=KubeRunCluster(clients, namespaces=settings.allowed_namespaces),
                    observer=_observer(settings, db),
                    retry_base=timedelta(seconds=settings.janitor_seconds),
                )
            else:
                status = _execute(
                    args.run_id, settings=settings, db=db, clock=clock, clients=clients
                )
    finally:
        clients.close()
        db.dispose()
    if status is None:
        return EXIT_NOT_MINE
    return EXIT_CODES.get(status, 1)
