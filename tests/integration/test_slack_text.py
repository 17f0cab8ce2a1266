"""Person-supplied text in Slack: escaped so it cannot ping or link, and cut to Slack's limits so
an answer is never refused. The Slack test server refuses (invalid_blocks) and the `slack_api`
fixture fails on anything slack_sdk's Block Kit models reject."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.catalog.models import Service
from bot.catalog.service import save_service
from bot.catalog.spec import CatalogPolicy
from bot.catalog.spec_fields import MAX_SELECTOR
from bot.catalog.spec_parse import parse_service_spec
from bot.drills.alert import symptom_of
from bot.drills.models import Drill, DrillStatus
from bot.runs.models import RunMeasurement
from bot.slack.drill_conversation import post_alert
from bot.slack.ids import CallbackId, FindingsBlock
from bot.testing.slack.validation import message_problem
from tests.fixtures.bot import ALICE, BOB, START, TEAM_CHANNEL, RunningBot
from tests.fixtures.gamedays import register_service

HUGE = "<!channel>" + "x" * 100_000  # one word of 100 KB
PING = "<!channel>"
ESCAPED_PING = "&lt;!channel&gt;"


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    register_service(
        running_bot.db, tier=2, probe_url="http://checkout.payments.svc/healthz?a=1&b=<!channel>"
    )
    return running_bot


def _drill(bot: RunningBot, status: DrillStatus) -> str:
    """A drill of checkout, fired at START, its alert queued; returns its key."""
    with bot.db.session() as session:
        service = session.scalars(select(Service).where(Service.name == "checkout")).one()
        drill = Drill(
            key="inc-0a1b2c",
            service=service,
            day=START.date(),
            status=status,
            planned_at=START,
            planned_when=START,
            experiment="pod-kill",
            policy="test",
            severity="SEV3",
            # A measured symptom quotes the probe's failure, which names its URL.
            symptom=symptom_of(
                RunMeasurement(
                    at=START,
                    probe="health",
                    ok=False,
                    value=None,
                    detail=f"GET {service.probes[0]['url']} answered 503",
                ),
                service.namespace,
            ),
            slack_channel=TEAM_CHANNEL,
            fired_at=START,
            revealed_at=START if status is DrillStatus.REVEALED else None,
        )
        session.add(drill)
        session.flush()
        post_alert(session, drill, now=START)
    bot.server.context.outbox_ready()
    return "inc-0a1b2c"


def _answer(bot: RunningBot, text: str) -> dict[str, Any]:
    """The answer to `/chaos TEXT`, in the ack or on the response_url, checked like Slack does."""
    before = len(bot.slack.responses)
    acked = bot.command(text)
    assert acked.status == 200
    answer = acked.json() if acked.text.startswith("{") else bot.reply(before + 1)
    assert message_problem(answer) is None
    return answer


def _shown(answer: dict[str, Any]) -> str:
    return str(answer.get("text")) + str(answer.get("blocks"))


def test_drill_action_items_are_escaped_in_the_thread(bot: RunningBot) -> None:
    key = _drill(bot, DrillStatus.REVEALED)
    alert = bot.slack.wait_for("chat.postMessage")[0]

    def text(block: str, value: str) -> tuple[str, dict[str, Any]]:
        return block, {block: {"type": "plain_text_input", "value": value}}

    severity = FindingsBlock.SEVERITY.value
    owner, due = f"{FindingsBlock.OWNER}:1", f"{FindingsBlock.DUE}:1"
    hypothesis, held = FindingsBlock.HYPOTHESIS.value, {"value": "held"}
    values = dict(
        [
            (hypothesis, {hypothesis: {"type": "radio_buttons", "selected_option": held}}),
            text(FindingsBlock.WHAT_HAPPENED.value, "Checkout lost a pod"),
            text(FindingsBlock.WENT_WELL.value, ""),
            (severity, {severity: {"type": "static_select", "selected_option": {"value": "high"}}}),
            text(f"{FindingsBlock.ACTION}:1", f"Tell {PING} & <https://evil.example|docs>"),
            (owner, {owner: {"type": "users_select", "selected_user": BOB}}),
            (due, {due: {"type": "datepicker", "selected_date": "2026-12-14"}}),
        ]
    )
    accepted = bot.simulator.view_submission(
        CallbackId.FINDINGS.value,
        values=values,
        user_id=ALICE,
        private_metadata=f"{key}|{TEAM_CHANNEL}",
    )
    assert accepted.status == 200

    (note,) = bot.slack.wait_for(
        "chat.postMessage", where=lambda c: c.body.get("thread_ts") == alert.response["ts"]
    )
    said = note.body["text"]
    assert f"Tell {ESCAPED_PING} &amp; &lt;https://evil.example|docs&gt;" in said
    assert PING not in said and "<https" not in said


def test_the_alerts_fallback_text_escapes_the_measured_probe_url(bot: RunningBot) -> None:
    _drill(bot, DrillStatus.ACTIVE)
    (alert,) = bot.slack.wait_for("chat.postMessage")
    text = alert.body["text"]
    assert "healthz?a=1&amp;b=&lt;!channel&gt;" in text
    assert PING not in text
    assert PING not in str(alert.body["blocks"])


@pytest.mark.parametrize(
    "command",
    [f"freeze 4h {HUGE} and more", f"freeze {HUGE} release", f"service {HUGE}", HUGE],
    ids=["freeze-reason", "freeze-duration", "service", "unknown-subcommand"],
)
def test_100kb_of_text_gets_a_valid_cut_answer(bot: RunningBot, command: str) -> None:
    shown = _shown(_answer(bot, command))
    assert "more characters)" in shown
    assert PING not in shown


def test_a_service_with_50_probes_and_a_long_selector_shows_validly(bot: RunningBot) -> None:
    selector = "app in (" + ",".join(f"v{i:04d}" for i in range(MAX_SELECTOR // 6)) + ")"
    selector = selector[: MAX_SELECTOR - 1] + ")"
    probes = [
        {"url": f"http://checkout.payments.svc/healthz/{i:02d}/{'p' * 60}", "latencyBudgetMs": 900}
        for i in range(50)
    ]
    spec = parse_service_spec(
        {
            "name": "wide",
            "team": "payments",
            "teamChannel": TEAM_CHANNEL,
            "tier": 2,
            "namespace": "payments",
            "selector": selector,
            "owners": [ALICE],
            "probes": probes,
        },
        policy=CatalogPolicy(allowed_namespaces=frozenset({"payments"})),
    )
    with bot.db.session() as session:
        save_service(session=session, spec=spec, selector=selector, actor="test", now=START)

    shown = _shown(_answer(bot, "service wide"))
    assert "healthz/00/" in shown and "more characters)" in shown
