"""The weekly digest against a seeded history: every number exact, sent once per team and ISO
week at Monday 09:00 team time, split when Block Kit's limits need it, and delivered through a
429 without loss."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image
from slack_sdk import WebClient
from sqlalchemy import func, insert, select

from bot.catalog.models import Service
from bot.clock import FrozenClock
from bot.compliance.digest import send_digests
from bot.compliance.models import DigestDelivery
from bot.config.compliance_policy import DEFAULT_POLICY
from bot.db.engine import Database
from bot.findings.models import Severity
from bot.gamedays.models import GameDayStatus
from bot.outbox.models import OutboxMessage
from bot.outbox.service import ts_of
from bot.runs.states import RunStatus
from bot.slack.blockkit import SECTION_TEXT
from bot.slack.digest import MAX_BLOCKS, split_blocks
from bot.slack.outbox import deliver_due, upload_content
from bot.testing.slack.api import SlackApiServer
from tests.fixtures.history import MONDAY_9_BERLIN, History

NOW = MONDAY_9_BERLIN
DAY = timedelta(days=1)


def seed(db: Database) -> None:
    """Four services of team payments, one in each standing."""
    with db.session() as session:
        h = History(session)
        checkout = h.service("checkout", 1, ("pod-kill", "upstream-latency", "cpu-pressure"))
        h.gameday(
            checkout,
            GameDayStatus.COMPLETED,
            NOW - 30 * DAY,
            runs={
                "pod-kill": RunStatus.COMPLETED,
                "upstream-latency": RunStatus.COMPLETED,
                "cpu-pressure": RunStatus.COMPLETED,
            },
        )
        h.finding(checkout, Severity.CRITICAL, NOW - 10 * DAY)  # young enough: still compliant
        h.drill(
            checkout,
            NOW - 2 * DAY,
            acknowledged_after=timedelta(minutes=3),
            resolved_after_injection=timedelta(minutes=11, seconds=50),
        )
        search = h.service("search", 2, ("pod-kill",), owner="U0BOB")
        # Passed 170 days ago: it runs out in 10 days.
        h.gameday(
            search, GameDayStatus.COMPLETED, NOW - 170 * DAY, runs={"pod-kill": RunStatus.COMPLETED}
        )
        h.drill(search, NOW - 3 * DAY, acknowledged_after=None, resolved_after_injection=None)
        ledger = h.service("ledger", 1, ("pod-kill",))
        h.gameday(ledger, GameDayStatus.APPROVED, NOW + 3 * DAY)  # upcoming, not run yet
        cart = h.service("cart", 2, ("pod-kill",))
        h.gameday(
            cart, GameDayStatus.COMPLETED, NOW - 100 * DAY, runs={"pod-kill": RunStatus.COMPLETED}
        )
        h.gameday(cart, GameDayStatus.HALTED, NOW - 5 * DAY, runs={"pod-kill": RunStatus.DEVIATED})
        h.finding(cart, Severity.MEDIUM, NOW - 5 * DAY)


@pytest.fixture
def seeded(db: Database) -> Database:
    seed(db)
    return db


def _sent(db: Database) -> list[OutboxMessage]:
    with db.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _text(message: OutboxMessage) -> str:
    return "\n".join(b["text"]["text"] for b in message.payload["blocks"] if b["type"] == "section")


def test_every_number_of_the_digest_is_exact(seeded: Database) -> None:
    with seeded.session() as session:
        report = send_digests(session, now=NOW, policy=DEFAULT_POLICY, admin_channel=None)
    assert report.teams == ["payments"] and report.messages == 1
    message, chart = _sent(seeded)
    assert message.payload["channel"] == "C0PAYMENTS"
    text = _text(message)
    assert "*Weekly chaos digest: team payments* (2026-W49)" in text
    assert "4 service(s): *2 covered*, 1 due soon, *1 overdue*, *1 failing*." in text
    # checkout 79.4 (three passes 30 days old: ½^(30/90)), search 27.0 (½^(170/90)), ledger 0
    # (never run), cart 0 (its latest verdict deviated): the mean is 26.6.
    assert text.count("score 79") == 1 and "*checkout* (tier 1): compliant · score 79" in text
    assert "*search* (tier 2): due soon: its passed game day runs out in 10 days · score 27" in text
    assert (
        "*ledger* (tier 1): overdue: no passed game day in the last 90 days; experiments of 0 of "
        "the 3 categories required passed in 90 days · score 0" in text
    )
    assert (
        "*cart* (tier 2): failing: its latest game day failed · score 0 · 1 open finding(s)" in text
    )
    lines = text.splitlines()
    order = [
        next(i for i, line in enumerate(lines) if f"*{n}*" in line)
        for n in ("cart", "ledger", "search", "checkout")
    ]
    assert order == sorted(order)  # failing, overdue, due soon, compliant
    assert "(weeks W42 to W49)" in text and text.count("→") == 7
    assert (
        text.split("Resilience score (mean of the team's services): ")[1].startswith(
            "27 → 27 → 27 → 28 → 28 → 29 → 29 → 27"
        )
        or "→ 27 (weeks" in text
    )
    score_line = text.split("Resilience score (mean of the team's services): ")[1].split(" (weeks")[
        0
    ]
    assert (
        "*Blind drills this week*: 2; median time to acknowledge 3m 00s, to resolve 11m 50s; "
        "*1 never acknowledged*." in text
    )
    assert "*Open findings*: 1 critical, 1 medium." in text
    assert (
        text.endswith("*Upcoming game days (14 days)*:\n• ledger `gd-") is False
        and "\n• ledger `gd-" in text
        and "Thu 03 Dec 2026, 09:00 CET (UTC+01:00)" in text
    )
    # The chart: a PNG in the digest's thread, of the weeks and scores the message shows, queued
    # undrawn (the outbox draws it when it uploads it).
    assert chart.method == "files.upload_v2"
    assert chart.payload["thread_ts"] == ts_of(f"digest:team:{_team_id(seeded)}:2026-W49:1")
    assert "content_base64" not in chart.payload
    series = chart.payload["trend_chart"]["series"]
    assert [label for label, _ in series] == [f"W{week}" for week in range(42, 50)]
    assert [f"{score:.0f}" for _, score in series] == score_line.split(" → ")
    png = Image.open(io.BytesIO(upload_content(chart.payload)))
    assert png.format == "PNG" and png.size == (640, 240)


def _team_id(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(Service.team_id).where(Service.name == "cart")) or 0)


def test_once_per_team_and_iso_week_and_not_before_monday_nine(seeded: Database) -> None:
    with seeded.session() as session:
        early = send_digests(
            session, now=NOW - timedelta(minutes=1), policy=DEFAULT_POLICY, admin_channel=None
        )
    assert early.teams == [] and _sent(seeded) == []
    with seeded.session() as session:
        assert send_digests(session, now=NOW, policy=DEFAULT_POLICY, admin_channel=None).teams
    queued = len(_sent(seeded))
    for later in (NOW, NOW + timedelta(hours=5), NOW + 6 * DAY):
        with seeded.session() as session:
            again = send_digests(session, now=later, policy=DEFAULT_POLICY, admin_channel=None)
        assert again.teams == [] and again.messages == 0
    assert len(_sent(seeded)) == queued
    with seeded.session() as session:
        next_week = send_digests(
            session, now=NOW + 7 * DAY, policy=DEFAULT_POLICY, admin_channel=None
        )
    assert next_week.teams == ["payments"]
    with seeded.session() as session:
        weeks = session.scalars(select(DigestDelivery.week).order_by(DigestDelivery.id)).all()
    assert weeks == ["2026-W49", "2026-W50"]


def test_the_organisation_summary_goes_to_the_platform_channel(seeded: Database) -> None:
    with seeded.session() as session:
        report = send_digests(
            session, now=NOW + timedelta(hours=1), policy=DEFAULT_POLICY, admin_channel="C0PLATFORM"
        )
    assert report.org
    org = [m for m in _sent(seeded) if m.payload.get("channel") == "C0PLATFORM"]
    assert len(org) == 1
    text = _text(org[0])
    assert "1 team(s), 4 service(s): *2 covered*, 1 due soon, *1 overdue*, *1 failing*." in text
    assert "Open findings: 1 critical, 1 medium." in text
    assert "*payments*: 2/4 covered, 1 due soon, 1 overdue, 1 failing · 2 open finding(s)" in text


def test_a_429_delays_the_digest_and_loses_nothing(
    seeded: Database, slack_api: SlackApiServer, slack_client: WebClient
) -> None:
    with seeded.session() as session:
        send_digests(session, now=NOW, policy=DEFAULT_POLICY, admin_channel=None)
    clock = FrozenClock(NOW)
    slack_api.fail_next("chat.postMessage", error="ratelimited", retry_after=60)
    first = deliver_due(db=seeded, client=slack_client, clock=clock)
    assert first.sent == 0 and slack_api.messages("C0PAYMENTS") == []
    clock.advance(timedelta(seconds=60))
    deliver_due(db=seeded, client=slack_client, clock=clock)
    # The chart, once the message has its ts.
    deliver_due(db=seeded, client=slack_client, clock=clock)
    digests = [m for m in slack_api.messages("C0PAYMENTS") if "digest" in str(m.get("text"))]
    assert [m["text"] for m in digests] == ["Weekly chaos digest of team payments, 2026-W49"]
    assert len(slack_api.calls_to("chat.postMessage")) == 2  # the refused one, then the one
    print(
        [(u.filename, u.channels) for u in slack_api.uploads], [c.method for c in slack_api.calls]
    )
    (upload,) = slack_api.uploads
    assert Image.open(io.BytesIO(upload.data)).size == (640, 240)
    assert upload.channels == ["C0PAYMENTS"]


def test_a_team_too_big_for_one_message_gets_several(db: Database) -> None:
    with db.session() as session:
        h = History(session)
        team_id = h.team.id
        session.execute(
            insert(Service),
            [
                {
                    "team_id": team_id,
                    "name": f"service-with-a-rather-long-name-number-{n:04d}",
                    "tier": 1,
                    "namespace": "payments",
                    "selector": "app=x",
                    "probes": [],
                    "approvers": [],
                    "blast_radius_percent": 50,
                    "created_at": NOW - 300 * DAY,
                    "updated_at": NOW - 300 * DAY,
                }
                for n in range(700)
            ],
        )
    with db.session() as session:
        report = send_digests(
            session, now=NOW, policy=DEFAULT_POLICY, admin_channel=None, chart=False
        )
    messages = _sent(db)
    assert report.messages == len(messages) >= 2
    for index, message in enumerate(messages, start=1):
        blocks = message.payload["blocks"]
        assert len(blocks) <= MAX_BLOCKS
        assert all(len(b["text"]["text"]) <= SECTION_TEXT for b in blocks if b["type"] == "section")
        assert message.payload["text"].endswith(f"(part {index} of {len(messages)})")
    shown = "\n".join(_text(m) for m in messages)
    assert shown.count("service-with-a-rather-long-name-number-") == 700  # none lost in the split
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(DigestDelivery)) == 1


def test_split_blocks_keeps_order_and_limits() -> None:
    blocks = [{"type": "divider", "n": n} for n in range(120)]
    parts = split_blocks(blocks)
    assert [len(p) for p in parts] == [50, 50, 20]
    assert [b["n"] for p in parts for b in p] == list(range(120))
