"""The `chaosbot` command: serve, migrate, apply, export, demo, cleanup (and more as it grows)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot import __version__
from bot.cli import runs as runs_cli
from bot.cli.audit import add_parser as add_audit_parser
from bot.cli.experiments import add_parser as add_experiments_parser
from bot.cli.options import add_actor, add_file, configured_settings
from bot.cli.rbac import add_parser as add_rbac_parser
from bot.cli.reports import add_parser as add_report_parser
from bot.db.engine import Database
from bot.errors import ChaosbotError, SettingsError
from bot.logs import configure_logging

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_FAILURE = 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except SettingsError as exc:
        print(f"chaosbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ChaosbotError as exc:
        print(f"chaosbot: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`chaosbot experiments list | head`): stop quietly, as the
        # Python docs advise, so the interpreter's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaosbot",
        description="A self-hosted, Slack-native chaos-engineering platform.",
        epilog="Configuration comes from the environment; see the README's configuration table.",
    )
    parser.add_argument("--version", action="version", version=f"chaosbot {__version__}")
    sub = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="answer Slack (HTTP on CHAOSBOT_HTTP_PORT, or Socket Mode with SLACK_APP_TOKEN)",
        description="Serve the Slack app: /slack/events, /healthz and /readyz over HTTP, or "
        "Socket Mode when SLACK_APP_TOKEN is set. The database must be migrated first.",
    )
    serve.set_defaults(command=_serve)

    migrate = sub.add_parser(
        "migrate",
        help="create or upgrade the database schema",
        description="Upgrade the database in CHAOSBOT_DATABASE_URL to the newest schema.",
    )
    migrate.add_argument(
        "--wait",
        type=_seconds,
        metavar="SECONDS",
        help="migrate nothing: wait up to SECONDS until another process (the migration Job) "
        "has brought the database to this version's schema; exit code 1 if it has not",
    )
    migrate.set_defaults(command=_migrate)

    apply = sub.add_parser(
        "apply",
        help="create or update the services declared in a chaos.yaml",
        description="Create or update the services a chaos.yaml declares, all of them or none. "
        "Each is checked against its cluster first (its workload or selector must match pods). "
        "Applying an unchanged file changes nothing. Problems are listed one per line as "
        "FILE:LINE: FIELD: MESSAGE, with exit code 1.",
        epilog="Reference of the file: docs/chaos-yaml.md. `chaosbot export` writes one.",
    )
    add_file(apply, "the chaos.yaml to apply (one or more Service documents separated by ---)")
    apply.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would be created or changed, and write nothing",
    )
    add_actor(apply)
    apply.set_defaults(command=_apply)

    export = sub.add_parser(
        "export",
        help="write services as a chaos.yaml",
        description="Write the declaration of registered services as a chaos.yaml, one "
        "document per service, ready to keep in the service's repository and apply again.",
    )
    export.add_argument("services", nargs="+", metavar="SERVICE", help="a service's name")
    export.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write to FILE instead of standard output",
    )
    export.set_defaults(command=_export)
    add_audit_parser(sub)

    namespaces = sub.add_parser(
        "namespaces",
        help="assign namespaces to teams from a file",
        description="Assign the namespaces a file lists to their teams (`namespaces:` mapping "
        "NAMESPACE: TEAM), all of them or none, each recorded in the audit trail. Namespaces "
        "the file does not list keep their team.",
    )
    namespaces_sub = namespaces.add_subparsers(title="actions", required=True, metavar="ACTION")
    namespaces_apply = namespaces_sub.add_parser(
        "apply", help="assign the file's namespaces to their teams"
    )
    add_file(namespaces_apply)
    add_actor(namespaces_apply)
    namespaces_apply.set_defaults(command=_namespaces_apply)

    demo = sub.add_parser(
        "demo",
        help="an offline rehearsal: no Slack, no cluster needed",
        description="Start chaosbot with a temporary SQLite database against local Slack and "
        "Kubernetes test servers, play a scripted session and print it as Slack would show it.",
    )
    demo.add_argument(
        "--report-dir",
        type=Path,
        metavar="DIR",
        help="also write the report of the demo's game day there (HTML and Markdown), as it "
        "was last uploaded to its thread",
    )
    demo.set_defaults(command=_demo)

    cleanup = sub.add_parser(
        "cleanup",
        help="remove every fault chaosbot left on a cluster (break glass; needs no database)",
        description="Find every object carrying the chaosbot.io/run-id label on the nodes and "
        "in the namespaces; delete what chaosbot created and restore what it changed from its "
        "chaosbot.io/original record. Only the cluster is needed: it works while the database "
        "or Slack is down. Exit code 0 when nothing is left, 1 when something could not be "
        "removed or restored.",
    )
    cleanup.add_argument(
        "--context",
        metavar="C",
        help="the kubeconfig context (default: CHAOSBOT_KUBE_CONTEXT, else the current one)",
    )
    cleanup.add_argument(
        "-n",
        "--namespace",
        dest="namespaces",
        action="append",
        metavar="N",
        help="a namespace to clean, repeatable (default: CHAOSBOT_ALLOWED_NAMESPACES)",
    )
    cleanup.add_argument(
        "--expired-only",
        action="store_true",
        help="only objects whose chaosbot.io/expires-at has passed (as the janitor does)",
    )
    cleanup.add_argument("--run", metavar="RUN_ID", help="only the objects of this run")
    cleanup.add_argument(
        "--dry-run", action="store_true", help="show what would be done, and change nothing"
    )
    cleanup.set_defaults(command=_cleanup)
    runs_cli.add_parsers(sub)
    add_experiments_parser(sub)
    add_rbac_parser(sub)
    add_report_parser(sub)
    return parser


def _serve(_args: argparse.Namespace) -> int:
    from bot.serve import serve

    settings = configured_settings()
    settings.require_slack()
    serve(settings, db=Database(settings.database_url))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from bot.db.migrate import upgrade, wait_until_migrated

    settings = configured_settings()
    db = Database(settings.database_url)
    try:
        if args.wait is not None:
            revision = wait_until_migrated(db, timeout=args.wait)
            print(f"database is at revision {revision}")
            return 0
        revision = upgrade(db)
    finally:
        db.dispose()
    print(f"database migrated to revision {revision}")
    return 0


def _seconds(text: str) -> float:
    """A non-negative number of seconds, for argparse."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return seconds


def _apply(args: argparse.Namespace) -> int:
    from bot.catalog.apply import apply_documents
    from bot.catalog.chaosfile import ChaosfileInvalid, read_chaosfile
    from bot.catalog.spec import catalog_policy
    from bot.clock import SystemClock
    from bot.db.migrate import ensure_migrated
    from bot.k8s.client import ClientFactory
    from bot.k8s.cluster import KubeCluster
    from bot.probes.prometheus import Prometheus

    settings = configured_settings(quiet=True)
    db = Database(settings.database_url)
    clients = ClientFactory.from_settings(settings)
    try:
        documents = read_chaosfile(args.file, policy=catalog_policy(settings))
        ensure_migrated(db)
        outcomes = apply_documents(
            db,
            documents,
            cluster=KubeCluster(clients),
            metrics=Prometheus.from_settings(settings),
            actor=args.actor,
            now=SystemClock().now(),
            dry_run=args.dry_run,
            platform_admins=settings.platform_admins,
        )
    except ChaosfileInvalid as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        print(f"chaosbot: {args.file} was not applied", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        clients.close()
        db.dispose()
    for outcome in outcomes:
        print(outcome)
    if args.dry_run:
        print("dry run: nothing was written")
    return 0


def _namespaces_apply(args: argparse.Namespace) -> int:

    from bot.catalog.namespaces import apply_assignments, parse_namespaces_file
    from bot.clock import SystemClock
    from bot.db.migrate import ensure_migrated

    settings = configured_settings(quiet=True)
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ChaosbotError(f"cannot read {args.file}: {exc.strerror}") from None
    assignments = parse_namespaces_file(text)
    db = Database(settings.database_url)
    try:
        ensure_migrated(db)
        with db.session() as session:
            outcomes = apply_assignments(
                session=session, assignments=assignments, actor=args.actor, now=SystemClock().now()
            )
    finally:
        db.dispose()
    for outcome in outcomes:
        print(outcome)
    return 0


def _export(args: argparse.Namespace) -> int:
    from bot.catalog.chaosfile import dump_documents, write_chaosfile
    from bot.catalog.service import find_service, spec_of
    from bot.db.migrate import ensure_migrated

    settings = configured_settings(quiet=True)
    db = Database(settings.database_url)
    try:
        ensure_migrated(db)
        with db.session() as session:
            specs = [spec_of(find_service(session=session, name=name)) for name in args.services]
    finally:
        db.dispose()
    if args.output is None:
        sys.stdout.write(dump_documents(specs))
        return 0
    write_chaosfile(args.output, specs)
    print(f"wrote {', '.join(args.services)} to {args.output}")
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    from collections import Counter
    from datetime import UTC, datetime

    from chaoslib.exceptions import ActivityFailed
    from urllib3.exceptions import HTTPError

    from bot.k8s.client import ClientFactory
    from bot.k8s.sweep import SweepRecord, sweep
    from bot.library.catalogue import load_catalogue

    settings = configured_settings(quiet=True)
    namespaces = sorted(set(args.namespaces or settings.allowed_namespaces))
    if not namespaces:
        print(
            "chaosbot: no --namespace and CHAOSBOT_ALLOWED_NAMESPACES is empty: "
            "only nodes are cleaned (when node experiments are enabled)",
            file=sys.stderr,
        )
    # Nodes only when a node experiment is enabled: otherwise none was changed, and the
    # identity may not list them.
    nodes = load_catalogue().touches_nodes
    clients = ClientFactory.from_settings(settings)
    now = datetime.now(UTC)
    try:
        api = clients.api_client(args.context)

        def clean(*, dry_run: bool) -> list[SweepRecord]:
            return sweep(
                api,
                namespaces=namespaces,
                now=now,
                expired_only=args.expired_only,
                dry_run=dry_run,
                run_key=args.run,
                nodes=nodes,
            )

        records = clean(dry_run=args.dry_run)
        # What is still there afterwards decides the exit code (a dry run changes nothing).
        left = [] if args.dry_run else clean(dry_run=True)
    except (ActivityFailed, HTTPError, ValueError) as exc:
        print(f"chaosbot: cleanup stopped: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        clients.close()
    for record in records:
        print(record)
    where = ", ".join(namespaces) or "no namespace"
    counts = Counter(str(record.action) for record in records)
    print(
        ", ".join(f"{n} {action}" for action, n in counts.items())
        or f"nothing carries chaosbot.io/run-id on the nodes or in {where}"
    )
    for record in left:
        print(f"still there: {record.ref}", file=sys.stderr)
    if args.dry_run:
        print("dry run: nothing was changed")
    return EXIT_FAILURE if left or not all(r.ok for r in records) else 0


def _demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    # The transcript is the output; only problems are logged.
    configure_logging("WARNING", [])
    return run_demo(out=sys.stdout, report_dir=args.report_dir)
