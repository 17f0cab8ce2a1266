"""`chaosbot audit`: the audit trail, oldest first, as JSON lines or CSV."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.audit.models import AuditEvent
from bot.audit.service import trail
from bot.cli.options import configured_settings
from bot.db.engine import Database
from bot.errors import ChaosbotError

__all__ = ["add_parser", "audit_command"]

FIELDS = ("at", "actor", "action", "subject_kind", "subject_ref", "detail")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `audit` command to the chaosbot parser."""
    audit = subparsers.add_parser(
        "audit",
        help="export the audit trail (JSON lines or CSV)",
        description="Write the audit trail, oldest first: when, who (a Slack user id, "
        "chaosbot, or cli:NAME), what, the kind and reference of the thing it was done to, and "
        "the detail. Rows are read and written a batch at a time, however long the trail.",
    )
    audit.add_argument(
        "--since",
        type=since_time,
        metavar="DATE",
        help="only events at or after DATE: YYYY-MM-DD (midnight UTC) or an ISO 8601 time "
        "(UTC unless it has an offset)",
    )
    audit.add_argument(
        "--service",
        metavar="NAME",
        help="only the events about this service: its own, its suite's, its game days', "
        "drills' and findings' (an offboarded service's too)",
    )
    audit.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        default="jsonl",
        help="jsonl: one JSON object per line; csv: a header row, the detail as a JSON string "
        "(default: %(default)s)",
    )
    audit.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )
    audit.set_defaults(command=audit_command)


def since_time(text: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 time (UTC unless it says otherwise), for argparse."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date (YYYY-MM-DD) or an ISO 8601 time: {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def audit_command(args: argparse.Namespace) -> int:
    """Write the events the options select; with --output, say how many."""
    from bot.catalog.service import find_service
    from bot.db.migrate import ensure_migrated

    settings = configured_settings(quiet=True)
    db = Database(settings.database_url)
    try:
        ensure_migrated(db)
        with db.session() as session, ExitStack() as files:
            if args.service is not None:
                find_service(session=session, name=args.service, offboarded=True)
            out = sys.stdout if args.output is None else files.enter_context(_open(args.output))
            events = trail(session=session, since=args.since, service=args.service)
            written = _write(events, out, args.format)
    finally:
        db.dispose()
    if args.output is not None:
        print(f"wrote {written} audit event{'' if written == 1 else 's'} to {args.output}")
    return 0


def as_row(event: AuditEvent) -> dict[str, Any]:
    """What the export says of one event."""
    return {
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "subject_kind": event.subject_type,
        "subject_ref": event.subject_id,
        "detail": event.detail,
    }


def _write(events: Iterable[AuditEvent], out: TextIO, form: str) -> int:
    """Write each event as it is read; how many were written."""
    written = 0
    if form == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        for event in events:
            row = as_row(event)
            writer.writerow({**row, "detail": json.dumps(row["detail"], ensure_ascii=False)})
            written += 1
        return written
    for event in events:
        out.write(json.dumps(as_row(event), ensure_ascii=False) + "\n")
        written += 1
    return written


def _open(path: str) -> TextIO:
    try:
        # newline="": the csv module writes its own line endings.
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise ChaosbotError(f"cannot write {path}: {exc.strerror}") from None
