"""A blind drill's whole conversation through the Slack and Kubernetes test servers: the alert,
Acknowledge, Escalate, Resolve (which rolls the fault back), the reveal, the findings modal,
and `/chaos drills` for platform admins."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.drills.models import Drill, DrillStatus
from bot.findings.models import Finding, Hypothesis, Severity
from bot.runs.models import Freeze, Run
from bot.runs.states import RunStatus
from bot.slack.ids import ActionId, CallbackId, FindingsBlock
from bot.testing.polling import eventually
from tests.fixtures.bot import ADMIN, ALICE, BOB, TEAM_CHANNEL, RunningBot
from tests.fixtures.drills import opt_in
from tests.fixtures.gamedays import register_service
from tests.fixtures.services import Checkout


@pytest.fixture
def bot(running_bot: RunningBot, checkout: Checkout) -> RunningBot:
    """`checkout` (tier 2, team payments in Europe/Berlin) opted in: a drill every workday."""
    register_service(running_bot.db, tier=2, probe_url=checkout.url)
    opt_in(running_bot.db, mean_days=1, duration_minutes=30)
    drills = running_bot.server.gamedays.drills
    assert drills is not None
    drills.rng = random.Random(5)
    return running_bot


def _wait(what: str, check: Any, timeout: float = 60) -> Any:
    return eventually(check, what=what, timeout=timeout, interval=0.1)


def _drill(bot: RunningBot) -> Drill:
    with bot.db.session() as session:
        drill = session.scalars(
            select(Drill).where(Drill.status != DrillStatus.NONE).order_by(Drill.planned_at)
        ).first()
        assert drill is not None
        drill.run  # noqa: B018 - loaded with the session open
        return drill


def _click(bot: RunningBot, action: ActionId, ts: str, user: str, value: str) -> None:
    bot.simulator.block_action(
        action.value, user_id=user, channel_id=TEAM_CHANNEL, message={"ts": ts}, value=value
    )


def _findings_form(
    what: str, action: str = "", owner: str | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    def text(block: str, value: str) -> tuple[str, dict[str, dict[str, Any]]]:
        return block, {block: {"type": "plain_text_input", "value": value}}

    return dict(
        [
            (
                FindingsBlock.HYPOTHESIS.value,
                {
                    FindingsBlock.HYPOTHESIS.value: {
                        "type": "radio_buttons",
                        "selected_option": {"value": "not_held"},
                    }
                },
            ),
            text(FindingsBlock.WHAT_HAPPENED.value, what),
            text(FindingsBlock.WENT_WELL.value, "Alerting fired within a minute"),
            (
                FindingsBlock.SEVERITY.value,
                {
                    FindingsBlock.SEVERITY.value: {
                        "type": "static_select",
                        "selected_option": {"value": "high"},
                    }
                },
            ),
            text(f"{FindingsBlock.ACTION}:1", action),
            (
                f"{FindingsBlock.OWNER}:1",
                {f"{FindingsBlock.OWNER}:1": {"type": "users_select", "selected_user": owner}},
            ),
            (
                f"{FindingsBlock.DUE}:1",
                {f"{FindingsBlock.DUE}:1": {"type": "datepicker", "selected_date": "2026-12-14"}},
            ),
        ]
    )


def test_alert_acknowledge_escalate_resolve_reveal_and_findings(bot: RunningBot) -> None:
    bot.server.gamedays.reconcile()
    drill = _drill(bot)
    assert drill.status is DrillStatus.PLANNED and drill.planned_at is not None
    bot.clock.advance(drill.planned_at - bot.clock.now())
    bot.server.gamedays.reconcile()

    # The alert: an incident, with nothing that says drill.
    alert = bot.slack.wait_for(
        "chat.postMessage", where=lambda c: "incident" in str(c.body.get("blocks"))
    )[0]
    ts = str(alert.response["ts"])
    shown = str(alert.body).lower()
    assert "sev3" in shown and "checkout" in shown
    # Raised before anything was measured, so it claims no symptom (and quotes no probe).
    assert "no symptom measured yet" in shown and checkout_url(bot) not in shown
    assert "drill" not in shown and "pod-kill" not in shown

    # The fault is really injected: the worker holds it.
    run_id = _drill(bot).run_id
    assert run_id is not None

    def run_status() -> RunStatus:
        with bot.db.session() as session:
            run = session.get(Run, run_id)
            assert run is not None
            return run.status

    _wait("the fault to be held", lambda: run_status() is RunStatus.HOLDING, timeout=90)

    _click(bot, ActionId.ACKNOWLEDGE_INCIDENT, ts, ALICE, drill.key)
    bot.slack.wait_for("chat.update", where=lambda c: "Acknowledged by" in str(c.body))
    before = len(bot.slack.responses)
    _click(bot, ActionId.ACKNOWLEDGE_INCIDENT, ts, BOB, drill.key)
    assert "already" in bot.reply(before + 1)["text"]
    _click(bot, ActionId.ESCALATE_INCIDENT, ts, ALICE, drill.key)
    paged = bot.slack.wait_for(
        "chat.postMessage", where=lambda c: "escalated" in str(c.body.get("text"))
    )[0]
    assert paged.body["thread_ts"] == ts and f"<@{BOB}>" in paged.body["text"]

    # Resolve: chaosbot rolls the fault back now, then the same message tells the truth.
    _click(bot, ActionId.RESOLVE_INCIDENT, ts, BOB, drill.key)
    _wait("the run to end", lambda: run_status() is RunStatus.ABORTED, timeout=90)
    _wait("the reveal", lambda: _drill(bot).status is DrillStatus.REVEALED, timeout=30)
    revealed = bot.slack.wait_for(
        "chat.update",
        where=lambda c: c.body.get("ts") == ts and "blind drill" in str(c.body.get("blocks")),
    )[0]
    story = str(revealed.body["blocks"])
    assert "pod-kill" in story and "time to acknowledge" in story
    assert f"resolved by <@{BOB}>" in story and "rolled back by chaosbot" in story
    with bot.db.session() as session:
        run = session.get(Run, run_id)
        assert (
            run is not None
            and not run.leftovers
            and run.abort_requested_by == (f"{BOB} (incident resolved)")
        )

    # Record findings: an action item without an owner is refused on its block.
    _click(bot, ActionId.RECORD_FINDINGS, ts, ALICE, drill.key)
    opened = bot.opened_view(CallbackId.FINDINGS)
    view_id = opened.response["view"]["id"]
    refused = bot.simulator.view_submission(
        CallbackId.FINDINGS.value,
        values=_findings_form("Checkout lost a pod", action="Add a PDB"),
        user_id=ALICE,
        view_id=view_id,
        private_metadata=opened.body["view"]["private_metadata"],
    )
    assert refused.json()["errors"] == {
        f"{FindingsBlock.OWNER}:1": "Every action item needs an owner."
    }
    accepted = bot.simulator.view_submission(
        CallbackId.FINDINGS.value,
        values=_findings_form("Checkout lost a pod", action="Add a PDB", owner=BOB),
        user_id=ALICE,
        view_id=view_id,
        private_metadata=opened.body["view"]["private_metadata"],
    )
    assert accepted.status == 200 and accepted.text == ""
    with bot.db.session() as session:
        finding = session.scalars(select(Finding)).one()
        items = [(i.text, i.owner, i.due_on) for i in finding.action_items]
    assert finding.severity is Severity.HIGH and finding.created_by == ALICE
    assert finding.hypothesis is Hypothesis.NOT_HELD
    assert items == [("Add a PDB", BOB, date(2026, 12, 14))]
    assert finding.drill_id == drill.id
    bot.slack.wait_for(
        "chat.postMessage",
        where=lambda c: c.body.get("thread_ts") == ts and finding.key in str(c.body.get("text")),
    )

    # Buttons of the closed incident answer that it is closed.
    before = len(bot.slack.responses)
    _click(bot, ActionId.RESOLVE_INCIDENT, ts, BOB, drill.key)
    assert "closed" in bot.reply(before + 1)["text"]


def checkout_url(bot: RunningBot) -> str:
    with bot.db.session() as session:
        drill = session.scalars(select(Drill)).first()
        assert drill is not None
        return str(drill.service.probes[0]["url"]).lower()


def test_only_platform_admins_see_the_drill_plan(bot: RunningBot) -> None:
    bot.server.gamedays.reconcile()
    drill = _drill(bot)
    before = len(bot.slack.responses)
    bot.command("drills", user=ALICE)
    assert "Only platform admins" in bot.reply(before + 1)["text"]
    bot.command("drills", user=ADMIN)
    shown = str(bot.reply(before + 2)["blocks"])
    assert drill.key in shown and "pod-kill" in shown and "CET" in shown


def test_a_declared_real_incident_rolls_back_the_drill_and_pauses_the_team(
    bot: RunningBot,
) -> None:
    bot.server.gamedays.reconcile()
    drill = _drill(bot)
    assert drill.planned_at is not None
    bot.clock.advance(drill.planned_at - bot.clock.now())
    bot.server.gamedays.reconcile()
    run_id = _drill(bot).run_id

    def held() -> bool:
        with bot.db.session() as session:
            run = session.get(Run, run_id)
            return run is not None and run.status is RunStatus.HOLDING

    _wait("the fault to be held", held, timeout=90)
    before = len(bot.slack.responses)
    bot.command("incident INC-4711 payments API errors", user=BOB)
    reply = bot.reply(before + 1)
    assert reply["response_type"] == "in_channel"
    assert "declared a real incident: INC-4711 payments API errors" in reply["text"]
    assert "1 drill(s) under way are being rolled back" in reply["text"]
    _wait("the reveal", lambda: _drill(bot).status is DrillStatus.REVEALED, timeout=90)
    with bot.db.session() as session:
        run = session.get(Run, run_id)
        assert run is not None and run.status is RunStatus.ABORTED
        assert run.abort_requested_by == f"{BOB} (real incident declared)"
    # The team is frozen for four hours: no drill, run or game day starts meanwhile.
    with bot.db.session() as session:
        (frozen,) = session.scalars(select(Freeze)).all()
    assert frozen.reason == "real incident: INC-4711 payments API errors"
    assert frozen.ends_at - frozen.starts_at == timedelta(hours=4)
    assert frozen.team_id is not None and frozen.ends_at > bot.clock.now()
