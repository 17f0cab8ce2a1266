"""Forms that ask the cluster inside their ack, against a Kubernetes API that answers late.

The bot's budget for the cluster inside an ack is cut to a tenth of a second and the Kubernetes
test server delays the lookups by more than that (less than the client's read time-out), so
every submission here takes the late path: acked as "checking the cluster", answered after.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.audit.models import AuditEvent
from bot.catalog.models import Service
from bot.gamedays.models import GameDay
from bot.outbox.models import OutboxMessage
from bot.slack.ids import CallbackId
from bot.slack.ids import OnboardBlock as B
from bot.testing.slack.api import ApiCall
from bot.testing.slack.forms import choice, onboarding_form
from tests.fixtures.bot import ALICE, TEAM_CHANNEL, RunningBot, seed_payments
from tests.fixtures.gamedays import register_service
from tests.fixtures.services import Checkout

# Well past the budget below, well inside the kube client's 2 s read time-out.
SLOW = 0.6


@pytest.fixture
def settings_changes() -> dict[str, Any]:
    return {"ack_budget_seconds": 0.1}


@pytest.fixture
def slow_bot(running_bot: RunningBot) -> Iterator[RunningBot]:
    yield running_bot
    running_bot.kube.clear_faults()


def _count(bot: RunningBot, model: type[object]) -> int:
    with bot.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _open_onboarding(bot: RunningBot) -> str:
    assert bot.command("onboard").status == 200
    return str(bot.opened_view(CallbackId.ONBOARD).response["view"]["id"])


def _submit(bot: RunningBot, view_id: str, **fields: dict[str, object]) -> dict[str, Any]:
    response = bot.simulator.view_submission(
        CallbackId.ONBOARD.value, values=onboarding_form(fields), user_id=ALICE, view_id=view_id
    )
    assert response.status == 200
    return response.json() if response.text else {}


def _answer_on(bot: RunningBot, view_id: str) -> ApiCall:
    # Each lookup is slow: a generous bound on waiting, not a claim about speed.
    [update] = bot.slack.wait_for(
        "views.update", where=lambda c: c.body["view_id"] == view_id, timeout=30
    )
    return update


def test_a_late_onboarding_is_acked_as_checking_then_saved_on_the_modal_once(
    slow_bot: RunningBot,
) -> None:
    bot = slow_bot
    seed_payments(bot.kube)
    view_id = _open_onboarding(bot)
    bot.kube.inject_latency("GET", r"/namespaces/payments/", SLOW)

    ack = _submit(bot, view_id)
    assert ack["response_action"] == "update"
    assert ack["view"]["title"]["text"] == "Checking the cluster"
    assert "submit" not in ack["view"]  # kept open honestly: nothing to press twice

    answer = _answer_on(bot, view_id).body["view"]
    assert answer["title"]["text"] == "Saved"
    assert "*checkout* is saved" in str(answer["blocks"])
    [post] = bot.slack.wait_for(
        "chat.postMessage", where=lambda c: c.body["channel"] == TEAM_CHANNEL, timeout=30
    )
    assert "Pods matched: 3 (3 ready)" in str(post.body["blocks"])

    # Slack retries the submission: closed again, nothing written or posted twice.
    bot.kube.clear_faults()
    assert _submit(bot, view_id) == {}
    assert _count(bot, Service) == 1
    assert _count(bot, AuditEvent) == 2  # the namespace claimed, the service onboarded
    assert _count(bot, OutboxMessage) == 1
    assert len(bot.slack.calls_to("views.update")) == 1


def test_a_late_refusal_brings_the_form_back_as_filled_in_with_its_problem(
    slow_bot: RunningBot,
) -> None:
    bot = slow_bot
    seed_payments(bot.kube)
    view_id = _open_onboarding(bot)
    bot.kube.inject_latency("GET", r"/namespaces/payments/", SLOW)

    ack = _submit(bot, view_id, **{B.WORKLOAD: choice("Deployment/basket", "external_select")})
    assert ack["response_action"] == "update"

    answer = _answer_on(bot, view_id).body["view"]
    assert answer["callback_id"] == CallbackId.ONBOARD.value
    assert answer["submit"]["text"]  # the form again, to fix and send
    shown = str(answer["blocks"])
    assert "could not be saved as it is" in shown
    assert ":warning: There is no Deployment called basket in payments" in shown
    name = next(b for b in answer["blocks"] if b.get("block_id") == B.NAME.value)
    assert name["element"]["initial_value"] == "checkout"  # what Alice typed is kept
    assert _count(bot, Service) == 0
    assert bot.slack.invalid_payloads == []


def test_a_late_gameday_preview_is_recorded_pending_then_shown_on_its_message(
    slow_bot: RunningBot, checkout: Checkout
) -> None:
    bot = slow_bot
    register_service(bot.db, tier=1, probe_url=checkout.url)
    bot.command("gameday checkout", user=ALICE)
    view_id = bot.opened_view(CallbackId.REQUEST_GAMEDAY).response["view"]["id"]
    bot.kube.inject_latency("GET", r"/namespaces/payments/pods", SLOW)

    response = bot.simulator.view_submission(
        CallbackId.REQUEST_GAMEDAY.value, values=_gameday_form(), user_id=ALICE, view_id=view_id
    )
    assert response.status == 200 and response.text == ""  # recorded: the modal closes

    [posted] = bot.slack.wait_for(
        "chat.postMessage", where=lambda c: "Game day" in str(c.body.get("text"))
    )
    assert "The cluster is slow to answer" in str(posted.body["blocks"])
    bot.slack.wait_for(
        "chat.postMessage",
        where=lambda c: "The cluster answered" in str(c.body.get("text")),
        timeout=30,
    )
    bot.slack.wait_for("chat.update", timeout=30)
    shown = bot.slack.message(TEAM_CHANNEL, posted.response["ts"])
    assert shown is not None
    assert "1 of 3 pods, picked when it runs" in str(shown["blocks"])
    assert "slow to answer" not in str(shown["blocks"])
    with bot.db.session() as session:
        [gameday] = session.scalars(select(GameDay)).all()
        assert "pending" not in gameday.preview and gameday.preview["pods"] == 3


def _gameday_form() -> dict[str, dict[str, dict[str, Any]]]:
    from bot.slack.ids import GameDayBlock as G

    return {
        G.EXPERIMENTS.value: {
            G.EXPERIMENTS.value: {
                "type": "multi_static_select",
                "selected_options": [{"value": "pod-kill"}],
            }
        },
        G.DATE.value: {G.DATE.value: {"type": "datepicker", "selected_date": "2026-12-01"}},
        G.TIME.value: {G.TIME.value: {"type": "timepicker", "selected_time": "10:00"}},
        G.DURATION.value: {
            G.DURATION.value: {"type": "static_select", "selected_option": {"value": "15"}}
        },
        G.HOLD.value: {G.HOLD.value: {"type": "static_select", "selected_option": {"value": "1"}}},
        G.NOTES.value: {G.NOTES.value: {"type": "plain_text_input", "value": ""}},
    }
