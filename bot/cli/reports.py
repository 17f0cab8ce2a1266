"""`chaosbot report gameday KEY` and `chaosbot report run KEY`: a game day's or a run's report,
as one self-contained HTML file or the same in Markdown."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.options import configured_settings
from bot.db.engine import Database
from bot.errors import ChaosbotError
from bot.reports.render import Format

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `report` command to the chaosbot parser."""
    report = subparsers.add_parser(
        "report",
        help="write the report of a game day or a run (HTML or Markdown)",
        description="Write the report of a game day or of one run from the database as it is "
        "now: the plan and its approvals, each experiment's timeline and outcome, the steady "
        "state's charts, halts and their reasons, the leftover check, who responded, findings "
        "and action items. HTML is one self-contained file (charts embedded, nothing fetched); "
        "Markdown shows the charts as tables of their values.",
    )
    kinds = report.add_subparsers(title="what", required=True, metavar="WHAT")
    for kind, help in (
        ("gameday", "a game day's report (KEY: gd-...)"),
        ("run", "one run's report, the same sections for its one experiment (KEY: r-...)"),
    ):
        parser = kinds.add_parser(kind, help=help, description=help)
        parser.add_argument("key", metavar="KEY")
        parser.add_argument(
            "--format",
            choices=[f.value for f in Format],
            default=Format.HTML.value,
            help="html (default) or md",
        )
        parser.add_argument(
            "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
        )
        parser.set_defaults(command=_report, kind=kind)


def _report(args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from bot.db.migrate import ensure_migrated
    from bot.gamedays.report import gameday_report, run_report
    from bot.reports.render import render_report

    settings = configured_settings(quiet=True)
    db = Database(settings.database_url)
    gather = gameday_report if args.kind == "gameday" else run_report
    try:
        ensure_migrated(db)
        with db.session() as session:
            report = gather(session=session, ref=args.key, now=SystemClock().now())
            text = render_report(report, Format(args.format))
    finally:
        db.dispose()
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ChaosbotError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"wrote the report of {args.key} to {args.output}")
    return 0
