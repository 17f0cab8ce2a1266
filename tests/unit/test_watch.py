"""The steady-state watch control's rules, without a run: what a check records, when the steady
state counts as broken, that a breach during the rollbacks never interrupts them, and how the
worker reads a journal the watch wrote. The halt itself (a real SIGUSR1 in a worker process) is
in tests/integration/test_steady_state_watch.py."""

from __future__ import annotations

from typing import Any

import pytest
from chaoslib.exceptions import ActivityFailed

from bot.library.catalogue import load_catalogue
from bot.library.render import render
from bot.probes import watch
from bot.runs.states import RunStatus
from bot.runs.worker import verdict

ANSWERS: list[Any] = []


def answer() -> Any:
    """A probe provider: the next of ANSWERS (an exception is raised)."""
    value = ANSWERS.pop(0)
    if isinstance(value, Exception):
        raise value
    return value


def _probe(name: str = "health", tolerance: Any = 200) -> dict[str, Any]:
    return {
        "type": "probe",
        "name": name,
        "tolerance": tolerance,
        "provider": {"type": "python", "module": __name__, "func": "answer"},
    }


def _watching(*answers: Any, fail_after: int = 2, tolerance: Any = 200) -> watch._Watch:
    ANSWERS[:] = list(answers)
    probes = [_probe(tolerance=tolerance)]
    return watch._Watch(probes=probes, interval_seconds=1, fail_after=fail_after)


def test_a_check_records_the_status_and_latency_an_http_probe_got() -> None:
    watched = _watching({"status": 200, "latency_ms": 12}, {"status": 503, "latency_ms": 4})
    watched.rolling_back()
    watched._check(None, None)
    watched._check(None, None)
    [healthy, broken] = watched.checks
    assert (healthy.ok, healthy.value, healthy.detail) == (True, 12.0, "got 200 in 12 ms")
    assert (broken.ok, broken.detail) == (False, "got 503 in 4 ms, expected 200")


def test_an_error_is_a_failed_check_with_its_reason() -> None:
    # What bot.probes.http raises when nothing answers.
    watched = _watching(ActivityFailed("no answer (127.0.0.1: ConnectionRefusedError)"))
    watched.rolling_back()
    watched._check(None, None)
    [check] = watched.checks
    assert (check.ok, check.value) == (False, None)
    assert check.detail == "no answer (127.0.0.1: ConnectionRefusedError)"


# How a pods probe's tolerance may read its output: the percent ready within a range.
PERCENT_AT_LEAST_66 = {"type": "range", "target": "percent", "range": [66, 1000]}


def test_a_check_records_the_percent_of_ready_pods_a_pods_probe_got() -> None:
    watched = _watching(
        {"ready": 3, "desired": 3, "percent": 100.0},
        {"ready": 2, "desired": 3, "percent": 66.7},
        {"ready": 1, "desired": 3, "percent": 33.3},
        # What bot.probes.pods raises below its minimum.
        ActivityFailed("3 of 6 pods ready (50%), below 66%"),
        tolerance=PERCENT_AT_LEAST_66,
    )
    watched.rolling_back()
    for _ in range(4):
        watched._check(None, None)
    [full, enough, short, failed] = watched.checks
    assert (full.ok, full.value, full.detail) == (True, 100.0, "got 3 of 3 pods ready (100%)")
    assert (enough.ok, enough.value, enough.detail) == (True, 66.7, "got 2 of 3 pods ready (66.7%)")
    assert (short.ok, short.value) == (False, 33.3)
    assert short.detail == "got 1 of 3 pods ready (33.3%), expected between 66 and 1000"
    assert (failed.ok, failed.value) == (False, None)
    assert failed.detail == "3 of 6 pods ready (50%), below 66%"


def test_a_percent_without_counts_still_reads_as_the_value() -> None:
    watched = _watching({"percent": 50}, tolerance=PERCENT_AT_LEAST_66)
    watched.rolling_back()
    watched._check(None, None)
    [check] = watched.checks
    assert (check.ok, check.value) == (False, 50.0)
    assert check.detail.startswith("got 50%, expected")


def test_only_fail_after_failed_checks_in_a_row_break_the_steady_state() -> None:
    bad, good = {"status": 500, "latency_ms": 1}, {"status": 200, "latency_ms": 1}
    watched = _watching(bad, bad, good, bad, bad, bad, fail_after=3)
    watched.rolling_back()  # measure only: a breach here must not signal this test process
    for _ in range(5):
        watched._check(None, None)
    assert watched.breach is None  # two, a good one, then two: never three in a row
    watched._check(None, None)
    assert watched.breach is not None
    assert watched.breach.failed_checks == 3
    assert watched.breach.reason == "health: got 500 in 1 ms, expected 200"


def test_a_breach_while_the_rollbacks_run_is_recorded_but_never_interrupts_them() -> None:
    watched = _watching({"status": 503}, {"status": 503}, fail_after=2)
    watched.rolling_back()
    watched._check(None, None)
    watched._check(None, None)  # would send SIGUSR1, and so kill pytest, were it to halt
    assert watched.breach is not None and watched.breach.halted is False
    summary = watched.summary()
    assert summary["breach"]["halted"] is False
    assert [c["ok"] for c in summary["checks"]] == [False, False]


def test_listeners_hear_every_check() -> None:
    heard: list[watch.Check] = []
    watched = _watching({"status": 200, "latency_ms": 3})
    watched.rolling_back()
    with watch.listening(heard.append):
        watched._check(None, None)
    watched_again = _watching({"status": 200, "latency_ms": 3})
    watched_again._check(None, None)  # after the block: not heard
    assert [c.detail for c in heard] == ["got 200 in 3 ms"]


@pytest.mark.parametrize(("interval", "fail_after"), [(0, 2), (10, 0), ("x", 2)])
def test_the_control_refuses_thresholds_that_are_not_positive_numbers(
    interval: Any, fail_after: Any
) -> None:
    with pytest.raises(ValueError, match="must be"):
        watch.configure_control(interval_seconds=interval, fail_after=fail_after)


def test_every_rendered_experiment_declares_the_watch_with_the_services_thresholds() -> None:
    template = load_catalogue().get("pod-kill")
    document = render(
        template,
        namespace="payments",
        label_selector="app=checkout",
        probes=[{"url": "http://checkout.payments/healthz", "expectedStatus": 200}],
        run_id="r-1",
        hold_seconds=30,
        interval_seconds=5,
        fail_after=3,
    )
    plan = watch.plan_of(document)
    assert plan == watch.WatchPlan(
        interval_seconds=5,
        fail_after=3,
        probes=("GET http://checkout.payments/healthz answers 200 within 1000 ms",),
    )
    modules = [c["provider"]["module"] for c in document["controls"]]
    assert modules == ["bot.faults.outcome", watch.MODULE]


def _journal(
    breach: dict[str, Any] | None, *, status: str, after_met: bool | None
) -> dict[str, Any]:
    states: dict[str, Any] = {"before": {"steady_state_met": True, "probes": []}}
    if after_met is not None:
        states["after"] = {"steady_state_met": after_met, "probes": []}
    return {
        "status": status,
        "steady_states": states,
        "run": [],
        "rollbacks": [],
        watch.JOURNAL_KEY: {"checks": [], "breach": breach},
    }


def test_a_journal_the_watch_interrupted_is_a_halted_run_with_the_probe_and_value() -> None:
    breach = {"halted": True, "reason": "health: got 503, expected 200"}
    result = verdict(_journal(breach, status="interrupted", after_met=None))
    assert result == (
        RunStatus.HALTED,
        "halted: steady state broke (health: got 503, expected 200)",
    )


def test_a_breach_too_late_to_halt_still_counts_as_a_deviation() -> None:
    breach = {"halted": False, "reason": "health: got 503, expected 200"}
    result = verdict(_journal(breach, status="completed", after_met=True))
    assert result.status is RunStatus.DEVIATED
    assert "steady state broke (health: got 503, expected 200)" in result.reason


def test_a_watch_that_saw_no_breach_changes_nothing() -> None:
    assert verdict(_journal(None, status="completed", after_met=True)).status is RunStatus.COMPLETED
