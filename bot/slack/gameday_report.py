"""At a game day's end, its thread gets its report: the HTML file (self-contained) and the same
in Markdown, uploaded through the outbox in the transaction that settles it, with the report's
summary line as the comment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.gamedays.models import GameDay
from bot.gamedays.report import report_of
from bot.outbox.service import queued, ts_of
from bot.reports.render import Format, render_report, summary_line
from bot.slack.mrkdwn import escape
from bot.slack.outbox import UPLOAD_METHOD, enqueue, upload_payload

__all__ = ["queue_report", "report_key"]


def report_key(gameday_key: str, kind: Format, *, after: str | None = None) -> str:
    """The outbox dedupe key of one file of a game day's report: each is uploaded once, at the
    end and again after each finding people record (`after`: the finding's key)."""
    revision = f":after:{after}" if after else ""
    return f"gameday:{gameday_key}:report:{kind.value}{revision}"


def queue_report(
    session: Session,
    gameday: GameDay,
    *,
    thread_of: str,
    now: datetime,
    after: str | None = None,
) -> None:
    """Queue both files of the report into the thread of the message queued under `thread_of`.

    The charts are drawn here, in the transaction that settles the game day: its runs have all
    ended (their workers exited), so every check is stored, and the report and the change it
    reports commit together or not at all. A finding recorded later (`after`, its key) issues
    the report again with it, so the last one in the thread is the one to share.
    """
    if queued(session=session, dedupe_key=report_key(gameday.key, Format.HTML, after=after)):
        return
    report = report_of(session, gameday, now=now)
    heading = f"Report, with finding `{escape(after)}`" if after else "Report"
    comment = f":bookmark_tabs: {heading}: {escape(summary_line(report))}"
    for kind, title in ((Format.HTML, "HTML"), (Format.MARKDOWN, "Markdown")):
        payload = upload_payload(
            channel=gameday.slack_channel,
            filename=f"gameday-{gameday.key}.{kind.value}",
            title=f"Report of game day {gameday.key} ({title})",
            content=render_report(report, kind).encode("utf-8"),
            initial_comment=comment if kind is Format.HTML else None,
            thread_ts=ts_of(thread_of),
        )
        enqueue(
            session=session,
            now=now,
            method=UPLOAD_METHOD,
            payload=payload,
            dedupe_key=report_key(gameday.key, kind, after=after),
        )
