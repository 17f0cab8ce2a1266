"""Arbitrary modal values never break the bot: no 500, no traceback in Slack, no partial row."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.audit.models import AuditEvent
from bot.catalog.models import NamespaceOwner, Service, ServiceOwner, Team
from bot.slack.ids import CallbackId
from bot.slack.ids import OnboardBlock as B
from bot.testing.slack.forms import choice, onboarding_form, text
from tests.fixtures.bot import ALICE, RunningBot, seed_payments

junk = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.sampled_from(
        [
            "checkout",
            "payments",
            "kube-system",
            "app=checkout",
            "app in (",
            "1",
            "0",
            "-5",
            "10:00-16:00",
            "http://169.254.169.254/",
            "http://checkout/healthz",
            "Europe/Berlin",
            "Deployment/checkout",
            "StatefulSet/x",
            "__new__",
            "<!channel>",
            "' OR 1=1 --",
        ]
    ),
)
users = st.lists(st.sampled_from(["U0ALICE", "U0BOB", "W0CAROL", "x", "", "U"]), max_size=4)


@st.composite
def modal_values(draw: st.DrawFn) -> dict[str, Any]:
    """A valid form with any subset of its fields replaced by arbitrary values."""
    replacements: dict[str, dict[str, Any]] = {}
    for block in draw(st.sets(st.sampled_from(list(B)), max_size=6)):
        value = draw(junk)
        if block in (B.TEAM, B.TIER, B.ENVIRONMENT):
            replacements[block] = choice(value)
        elif block is B.WORKLOAD:
            replacements[block] = choice(value, "external_select")
        elif block in (B.OWNERS, B.APPROVERS):
            replacements[block] = {"type": "multi_users_select", "selected_users": draw(users)}
        elif block is B.BLIND_DAYS:
            days = draw(
                st.lists(
                    st.one_of(st.sampled_from(["mon", "fri", "sun"]), st.text(max_size=5)),
                    max_size=3,
                )
            )
            replacements[block] = {
                "type": "multi_static_select",
                "selected_options": [{"value": d} for d in days],
            }
        elif block is B.BLIND_EXPERIMENTS:
            experiments = draw(
                st.lists(
                    st.one_of(
                        st.sampled_from(["pod-kill", "cpu-pressure", "pod-explode"]),
                        st.text(max_size=8),
                    ),
                    max_size=3,
                )
            )
            replacements[block] = {
                "type": "multi_static_select",
                "selected_options": [{"value": e} for e in experiments],
            }
        elif block is B.BLIND_ENABLED:
            replacements[block] = {
                "type": "checkboxes",
                "selected_options": draw(st.sampled_from([[], [{"value": "enabled"}]])),
            }
        elif block is B.TEAM_CHANNEL:
            replacements[block] = {"type": "conversations_select", "selected_conversation": value}
        else:
            replacements[block] = text(value)
    return onboarding_form(replacements)


def _counts(bot: RunningBot) -> tuple[int, ...]:
    with bot.db.session() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Service, Team, ServiceOwner, AuditEvent)
        )


def test_arbitrary_submissions_are_answered_with_field_errors_or_stored_whole(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    seed_payments(bot.kube)
    known_blocks = {b.value for b in B}
    opened = 0
    outcomes = {"stored": 0, "refused": 0}

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(values=modal_values())
    def check(values: dict[str, Any]) -> None:
        nonlocal opened
        # A fresh modal each time, so idempotency does not hide what a submission does.
        bot.command("onboard")
        opened += 1
        view_id = bot.opened_view(CallbackId.ONBOARD, opened).response["view"]["id"]
        before = _counts(bot)
        response = bot.simulator.view_submission(
            CallbackId.ONBOARD.value, values=values, user_id=ALICE, view_id=view_id
        )
        assert response.status == 200, response.text
        assert "Traceback" not in response.text
        after = _counts(bot)
        if not response.text:
            # Stored: a service, its owners and one audit event arrived together (and a
            # second, the namespace claimed, since each example starts with it unassigned).
            assert after[0] == before[0] + 1 and after[3] == before[3] + 2
            outcomes["stored"] += 1
            with bot.db.session() as session:
                for model in (ServiceOwner, Service, AuditEvent, NamespaceOwner):
                    session.query(model).delete()
            return
        answer = response.json()
        assert answer["response_action"] == "errors", answer
        assert set(answer["errors"]) <= known_blocks
        assert all(isinstance(m, str) and m for m in answer["errors"].values())
        assert after == before
        outcomes["refused"] += 1

    check()
    assert outcomes["stored"] > 0 and outcomes["refused"] > 0, outcomes
