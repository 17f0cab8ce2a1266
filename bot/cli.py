"""The `chaosbot` command: serve, migrate, demo (and more as the platform grows)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from bot import __version__
from bot.config import Settings, load_settings
from bot.db.engine import Database
from bot.errors import ChaosbotError, SettingsError
from bot.logs import configure_logging
from bot.runs import cli as runs_cli

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
    migrate.set_defaults(command=_migrate)

    demo = sub.add_parser(
        "demo",
        help="an offline rehearsal: no Slack, no cluster needed",
        description="Start chaosbot with a temporary SQLite database against local Slack and "
        "Kubernetes test servers, play a scripted session and print it as Slack would show it.",
    )
    demo.set_defaults(command=_demo)
    runs_cli.add_parsers(sub)
    return parser


def _settings() -> Settings:
    settings = load_settings()
    configure_logging(settings.log_level, settings.secrets())
    return settings


def _serve(_args: argparse.Namespace) -> int:
    from bot.serve import serve

    settings = _settings()
    settings.require_slack()
    serve(settings, db=Database(settings.database_url))
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from bot.db.migrate import upgrade

    settings = _settings()
    db = Database(settings.database_url)
    try:
        revision = upgrade(db)
    finally:
        db.dispose()
    print(f"database migrated to revision {revision}")
    return 0


def _demo(_args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    # The transcript is the output; only problems are logged.
    configure_logging("WARNING", [])
    return run_demo(out=sys.stdout)
