"""The ack's budget: work that ends in time answers at once; work that does not goes on and its
outcome reaches the follow-up, once (no timing: the late work waits on an event)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from bot.slack.budget import AckBudget, OutOfTime
from bot.slack.views import refilled


def test_work_that_ends_in_time_answers_with_its_result_or_its_exception() -> None:
    budget = AckBudget(60.0)
    assert budget.deadline().run(lambda: 42) == 42
    with pytest.raises(TimeoutError, match="the work's own"):
        budget.deadline().run(_raise(TimeoutError("the work's own")))


def test_late_work_goes_on_and_its_outcome_reaches_the_follow_up_once() -> None:
    release, answered = threading.Event(), threading.Event()
    outcomes: list[object] = []

    def slow() -> str:
        release.wait()
        return "stored"

    with pytest.raises(OutOfTime) as late:
        AckBudget(0.0).deadline().run(slow)

    def follow_up(outcome: Callable[[], str]) -> None:
        outcomes.append(outcome())
        answered.set()

    late.value.then(follow_up)
    assert outcomes == []  # not before the work ends
    release.set()
    assert answered.wait(30)
    assert outcomes == ["stored"]


def test_a_late_failure_reaches_the_follow_up_as_the_exception() -> None:
    release, answered = threading.Event(), threading.Event()
    seen: list[str] = []

    def failing() -> None:
        release.wait()
        raise ValueError("refused")

    with pytest.raises(OutOfTime) as late:
        AckBudget(0.0).deadline().run(failing)

    def follow_up(outcome: Callable[[], None]) -> None:
        try:
            outcome()
        except ValueError as exc:
            seen.append(str(exc))
        answered.set()

    late.value.then(follow_up)
    release.set()
    assert answered.wait(30)
    assert seen == ["refused"]


def test_a_refused_form_comes_back_filled_in_with_each_problem_under_its_block() -> None:
    view: dict[str, Any] = {
        "id": "V1",
        "hash": "h",
        "type": "modal",
        "callback_id": "onboard",
        "title": {"type": "plain_text", "text": "Onboard"},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [
            {"type": "input", "block_id": "name", "element": {"action_id": "name"}},
            {"type": "input", "block_id": "tier", "element": {"action_id": "tier"}},
            {"type": "input", "block_id": "owners", "element": {"action_id": "owners"}},
        ],
        "state": {
            "values": {
                "name": {"name": {"type": "plain_text_input", "value": "checkout"}},
                "tier": {"tier": {"type": "static_select", "selected_option": {"value": "2"}}},
                "owners": {"owners": {"type": "multi_users_select", "selected_users": ["U1"]}},
            }
        },
    }
    again = refilled(view, {"tier": "Tier 2 needs &lt;x&gt;"}, heading="Not saved:")
    assert set(again) == {"type", "callback_id", "title", "submit", "blocks"}  # no id, hash
    blocks = again["blocks"]
    assert blocks[0]["elements"][0]["text"] == "Not saved:"
    assert blocks[1]["element"]["initial_value"] == "checkout"
    assert blocks[2]["element"]["initial_option"] == {"value": "2"}
    assert blocks[3]["elements"][0]["text"] == ":warning: Tier 2 needs &lt;x&gt;"
    assert blocks[4]["element"]["initial_users"] == ["U1"]
    assert "initial_value" not in view["blocks"][0]["element"]  # the submitted view is untouched


def _raise(error: Exception) -> Callable[[], None]:
    def fail() -> None:
        raise error

    return fail
