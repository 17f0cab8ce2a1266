"""The marks a fault writes: the expiry (write + hold + grace), kept from the first write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from chaoslib.exceptions import ActivityFailed

from bot.faults.marks import (
    CREATED,
    DEFAULT_HOLD_SECONDS,
    EXPIRES_AT,
    GRACE_SECONDS,
    ORIGINAL,
    RUN_LABEL,
    Mark,
    claim,
    created_metadata,
    expires_at_of,
    is_created,
    release,
)

NOW = datetime(2026, 12, 6, 10, 13, 0, tzinfo=UTC)


def test_a_write_expires_after_the_hold_and_the_grace_rounded_up_to_the_second() -> None:
    assert GRACE_SECONDS == 120
    assert Mark("r-1", 0).expires_at(NOW) == "2026-12-06T10:15:00Z"
    assert Mark("r-1", 30).expires_at(NOW) == "2026-12-06T10:15:30Z"
    assert Mark("r-1", 0.2).expires_at(NOW) == "2026-12-06T10:15:01Z"
    assert Mark("r-1", 0).expires_at(NOW + timedelta(microseconds=1)) == "2026-12-06T10:15:01Z"
    other_zone = NOW.astimezone(timezone(timedelta(hours=2)))
    assert Mark("r-1", 0).expires_at(other_zone) == "2026-12-06T10:15:00Z"


@pytest.mark.parametrize(
    ("configuration", "hold"),
    [
        ({"hold_seconds": 45}, 45.0),
        ({"hold_seconds": "45"}, 45.0),  # `chaos run --var hold_seconds=45` passes text
        ({"hold_seconds": 0}, 0.0),
        ({}, DEFAULT_HOLD_SECONDS),  # a hand-written experiment: never swept while it may hold
        (None, DEFAULT_HOLD_SECONDS),
    ],
)
def test_the_hold_comes_from_the_experiment_configuration(
    configuration: dict[str, Any] | None, hold: float
) -> None:
    assert Mark.of("r-1", configuration) == Mark("r-1", hold)


@pytest.mark.parametrize("hold", [-1, "soon", float("inf"), float("nan")])
def test_a_hold_that_is_no_duration_is_refused(hold: Any) -> None:
    with pytest.raises(ActivityFailed, match="hold_seconds"):
        Mark.held("r-1", hold)
    with pytest.raises(ActivityFailed, match="run_id"):
        Mark.held("Run 1", 0)


def test_a_created_object_is_labelled_created_and_expires() -> None:
    metadata = created_metadata("chaosbot-blackhole-r-1", "payments", Mark("r-1", 0))
    assert metadata["labels"] == {RUN_LABEL: "r-1"}
    assert metadata["annotations"][CREATED] == "true"
    assert expires_at_of({"metadata": metadata}) is not None
    assert is_created({"metadata": metadata})
    assert "namespace" not in created_metadata("x", None, Mark("r-1", 0))


def test_a_second_change_by_the_same_run_keeps_the_first_expiry() -> None:
    node: dict[str, Any] = {"metadata": {"name": "node-1", "annotations": {"team": "a"}}}
    claim(node, Mark("r-1", 0), {"unschedulable": False})
    first = node["metadata"]["annotations"][EXPIRES_AT]
    claim(node, Mark("r-1", 3600), {"unschedulable": True})
    assert node["metadata"]["annotations"][EXPIRES_AT] == first
    assert not is_created(node)
    release(node)
    assert node["metadata"] == {"name": "node-1", "annotations": {"team": "a"}}


def test_an_expiry_is_read_back_in_utc_and_garbage_is_no_expiry() -> None:
    def at(text: str) -> datetime | None:
        return expires_at_of({"metadata": {"annotations": {EXPIRES_AT: text}}})

    assert at("2026-12-06T10:15:00Z") == datetime(2026, 12, 6, 10, 15, tzinfo=UTC)
    assert at("2026-12-06T11:15:00+01:00") == datetime(2026, 12, 6, 10, 15, tzinfo=UTC)
    assert at("tomorrow") is None
    assert expires_at_of({"metadata": {"annotations": {ORIGINAL: "{}"}}}) is None
