"""A game day that ran through the Slack and Kubernetes test servers gets its report in its
thread when it ends: the HTML file and the same in Markdown, with the report's summary. The HTML
opens in headless Chromium with every section shown and no request leaving the page."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.findings.models import (
    ActionItem,
    ActionItemStatus,
    Finding,
    FindingKind,
    FindingSource,
    Severity,
)
from bot.gamedays.decisions import approve
from bot.gamedays.models import GameDay, GameDayStatus
from bot.gamedays.report import gameday_report
from bot.reports.render import SECTIONS, Format, render_report
from bot.testing.slack.workspace import Upload
from tests.fixtures.bot import BOB, CAROL, START, RunningBot
from tests.fixtures.chromium import asset_urls, browse
from tests.fixtures.gamedays import ADMINS, ask, register_service
from tests.fixtures.services import Checkout

WAIT = 90.0


@pytest.fixture
def bot(running_bot: RunningBot, checkout: Checkout) -> RunningBot:
    """checkout, tier 1 (two approvals), its steady state watched every second."""
    register_service(
        running_bot.db,
        tier=1,
        probe_url=checkout.url,
        steady_state={"intervalSeconds": 1, "failAfter": 3},
    )
    return running_bot


def _run_a_game_day(bot: RunningBot) -> tuple[str, str]:
    """Ask, approve twice, start it on time, wait for its end: its key and its message's ts."""
    key = ask(
        bot.db,
        now=bot.clock.now(),
        experiments=("pod-kill", "container-kill"),
        duration_minutes=15,
        hold_seconds=3,
    )
    posted = bot.slack.wait_for(
        "chat.postMessage", where=lambda c: key in str(c.body), timeout=WAIT
    )[0]
    for who in (BOB, CAROL):
        with bot.db.session() as session:
            approve(session=session, ref=key, user_id=who, now=bot.clock.now(), admins=ADMINS)
    with bot.db.session() as session:
        starts_at = session.scalars(select(GameDay.starts_at)).one()
    bot.clock.advance(starts_at - bot.clock.now())
    assert len(bot.server.gamedays.reconcile().started) == 1
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with bot.db.session() as session:
            if session.scalars(select(GameDay.status)).one() is GameDayStatus.COMPLETED:
                return key, posted.response["ts"]
        time.sleep(0.2)
    raise AssertionError("the game day did not complete")


def _report_files(bot: RunningBot, key: str) -> dict[str, Upload]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        files = {
            u.filename: u for u in bot.slack.uploads if u.filename.startswith(f"gameday-{key}")
        }
        if len(files) == 2:
            return files
        time.sleep(0.1)
    raise AssertionError(f"the report was not uploaded: {[u.filename for u in bot.slack.uploads]}")


def _record_a_review(bot: RunningBot, key: str) -> None:
    """A finding of the game day with two action items, as the findings form records them."""
    with bot.db.session() as session:
        gameday = session.scalars(select(GameDay).where(GameDay.key == key)).one()
        finding = Finding(
            key="fd-review1",
            service_id=gameday.service_id,
            source=FindingSource.PERSON,
            kind=FindingKind.REVIEW,
            gameday_id=gameday.id,
            severity=Severity.HIGH,
            title="Checkout's <retries> pile up",
            what_happened="Latency rose while one pod was gone.",
            went_well="The rollback was quick.",
            owner=BOB,
            created_at=START,
            created_by=CAROL,
        )
        finding.action_items = [
            ActionItem(
                key="ai-budget1",
                text="Add a PodDisruptionBudget",
                owner=BOB,
                due_on=date(2026, 12, 14),
                created_at=START,
                created_by=CAROL,
            ),
            ActionItem(
                key="ai-alert01",
                text="Alert on the retry rate",
                owner=CAROL,
                due_on=date(2026, 12, 21),
                status=ActionItemStatus.DONE,
                done_at=START,
                done_by=CAROL,
                created_at=START,
                created_by=CAROL,
            ),
        ]
        session.add(finding)


def test_a_game_days_report_is_uploaded_to_its_thread_and_opens_in_chromium(
    bot: RunningBot, tmp_path: Path
) -> None:
    key, ts = _run_a_game_day(bot)
    files = _report_files(bot, key)
    html, markdown = files[f"gameday-{key}.html"], files[f"gameday-{key}.md"]
    assert html.thread_ts == ts and markdown.thread_ts == ts
    summary = (
        f"Game day {key} of checkout completed: 2 experiments (2 completed); no halts; no findings."
    )
    assert html.initial_comment == f":bookmark_tabs: Report: {summary}"
    # Slack shows the comment in the thread, after the game day's results.
    thread = [m["text"] for m in bot.slack.messages("C0PAYMENTS") if m.get("thread_ts") == ts]
    results = next(i for i, text in enumerate(thread) if "Game day completed" in text)
    assert any(text.endswith(summary) for text in thread[results + 1 :])
    uploaded = html.data.decode()
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in uploaded
        assert f"## {section}\n" in markdown.data.decode()
    assert uploaded.count('src="data:image/png;base64,') == 2  # a chart per experiment

    # Reviewed afterwards: the report written again shows the finding and its action items.
    _record_a_review(bot, key)
    with bot.db.session() as session:
        report = gameday_report(session=session, ref=key, now=bot.clock.now())
    assert [f.key for f in report.findings] == ["fd-review1"]
    page = tmp_path / "report.html"
    page.write_text(render_report(report, Format.HTML), encoding="utf-8")
    for tag, url in asset_urls(page.read_text()):
        assert url.startswith(("data:", "#")), f"<{tag}> refers to {url[:80]}"

    browsed = browse(page, tmp_path)
    assert browsed.page_requests == []
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in browsed.dom
    for shown in (
        "Checkout's &lt;retries&gt; pile up",
        "ai-budget1",
        "Add a PodDisruptionBudget",
        f"{CAROL}</td><td>recorded finding fd-review1",
        f"{BOB}</td>",  # an approver
        "nothing left",
    ):
        assert shown in browsed.dom
    assert browsed.screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_request_check_sees_a_page_that_fetches(tmp_path: Path) -> None:
    """The proof above can fail: a page with an external image is caught both ways."""
    page = tmp_path / "fetching.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="https://example.com/x.png"></body></html>'
    )
    assert asset_urls(page.read_text()) == [("img", "https://example.com/x.png")]
    assert browse(page, tmp_path).page_requests == ["https://example.com/x.png"]
