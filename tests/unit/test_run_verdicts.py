"""A run's verdict from real chaostoolkit-lib journals: every shape run_experiment produces (with
the rollback strategy "always", as the worker runs it) gets an honest state and reason.

chaostoolkit-lib's status is not the verdict: it says "completed" when the steady state did not
hold before the method (and then plays no method), and when an action failed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from chaoslib.experiment import run_experiment

from bot.runs.states import RunStatus
from bot.runs.worker import Verdict, verdict
from tests import verdict_activities
from tests.verdict_activities import PLAYED

ACTIVITIES = "tests.verdict_activities"
SETTINGS = {"runtime": {"rollbacks": {"strategy": "always"}}}
OUTCOME_CONTROL = {
    "name": "chaosbot-outcome",
    "provider": {"type": "python", "module": "bot.faults.outcome"},
}
HALTING_CONTROL = {"name": "halt", "provider": {"type": "python", "module": ACTIVITIES}}
UNSET: Any = object()
# chaostoolkit-lib's own status, with chaosbot's outcome control and without it.
with_and_without_the_outcome_control = pytest.mark.parametrize(
    ("controls", "journal_status"),
    [([OUTCOME_CONTROL], "failed"), ([], "completed")],
    ids=["with-outcome-control", "chaostoolkit-lib-alone"],
)


@pytest.fixture(autouse=True)
def _fresh_service() -> Iterator[None]:
    verdict_activities.reset()
    yield
    verdict_activities.reset()


def _activity(kind: str, name: str, func: str, **arguments: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "name": name,
        "provider": {"type": "python", "module": ACTIVITIES, "func": func, "arguments": arguments},
    }


def _probe(func: str = "health", **arguments: Any) -> dict[str, Any]:
    return {**_activity("probe", "service-answers", func, **arguments), "tolerance": 200}


def _experiment(
    *,
    probes: list[dict[str, Any]] | None = UNSET,
    method: list[dict[str, Any]] | None = None,
    rollbacks: list[dict[str, Any]] | None = None,
    controls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An experiment shaped as chaosbot's templates are: hypothesis, fault, rollback, control."""
    document: dict[str, Any] = {
        "title": "checkout survives the fault",
        "description": "verdict test",
        "controls": [OUTCOME_CONTROL] if controls is None else controls,
        "method": [_activity("action", "inject", "inject")] if method is None else method,
        "rollbacks": [_activity("action", "undo", "undo")] if rollbacks is None else rollbacks,
    }
    if probes is not None:
        document["steady-state-hypothesis"] = {
            "title": "checkout answers",
            "probes": [_probe()] if probes is UNSET else probes,
        }
    return document


def _run(document: dict[str, Any]) -> tuple[dict[str, Any], Verdict]:
    journal = run_experiment(document, settings=copy.deepcopy(SETTINGS))
    return journal, verdict(journal)


def test_a_steady_state_held_before_and_after_is_completed() -> None:
    journal, judged = _run(_experiment())
    assert journal["status"] == "completed"
    assert judged == Verdict(RunStatus.COMPLETED, "completed: the steady state held")
    assert PLAYED == ["health", "inject", "health", "undo"]


@with_and_without_the_outcome_control
def test_a_service_unhealthy_before_the_fault_is_not_started_and_nothing_is_injected(
    controls: list[dict[str, Any]], journal_status: str
) -> None:
    journal, judged = _run(_experiment(probes=[_probe(answer=503)], controls=controls))
    # chaostoolkit-lib alone calls this "completed" (the reported bug); the control fails it.
    assert journal["status"] == journal_status
    assert judged == Verdict(
        RunStatus.ABORTED, "not started: the steady state did not hold (service-answers: got 503)"
    )
    assert journal["run"] == [] and journal["steady_states"]["after"] is None
    assert PLAYED == ["health", "undo"]  # no method action; the rollbacks still run


@pytest.mark.parametrize(
    ("document", "reason", "played"),
    [
        pytest.param(
            _experiment(probes=[_probe("unreachable")]),
            "not started: the steady state did not hold "
            "(service-answers failed: ConnectionRefusedError: connection refused)",
            ["unreachable", "undo"],
            id="a-probe-that-raises-before-the-fault",
        ),
        # The rollback found a sick service (a readiness wait times out): nothing was injected, so
        # it is not a failed run with a critical "rollback failed" finding, but it is said.
        pytest.param(
            _experiment(
                probes=[_probe(answer=503)], rollbacks=[_activity("action", "undo", "refused")]
            ),
            "not started: the steady state did not hold (service-answers: got 503); "
            "rollbacks that failed: undo",
            ["health", "refused"],
            id="stays-aborted-when-a-rollback-fails-too",
        ),
    ],
)
def test_a_steady_state_that_did_not_hold_before_the_fault_is_not_started(
    document: dict[str, Any], reason: str, played: list[str]
) -> None:
    journal, judged = _run(document)
    assert journal["status"] == "failed"
    assert judged == Verdict(RunStatus.ABORTED, reason)
    assert played == PLAYED


def test_a_steady_state_lost_after_the_fault_is_deviated() -> None:
    journal, judged = _run(_experiment(probes=[_probe(while_injected=503)]))
    assert (journal["status"], journal["deviated"]) == ("completed", True)
    assert judged == Verdict(
        RunStatus.DEVIATED, "deviated: the steady state did not hold (service-answers: got 503)"
    )
    assert PLAYED == ["health", "inject", "health", "undo"]


def test_a_probe_that_raises_after_the_fault_is_deviated() -> None:
    journal, judged = _run(_experiment(probes=[_probe("unreachable", while_injected=True)]))
    assert (journal["status"], journal["deviated"]) == ("failed", True)
    assert judged == Verdict(
        RunStatus.DEVIATED,
        "deviated: the steady state did not hold "
        "(service-answers failed: ConnectionRefusedError: connection refused)",
    )


@with_and_without_the_outcome_control
def test_a_fault_that_could_not_be_injected_fails_the_run(
    controls: list[dict[str, Any]], journal_status: str
) -> None:
    journal, judged = _run(
        _experiment(method=[_activity("action", "inject", "refused")], controls=controls)
    )
    assert journal["status"] == journal_status
    assert journal["steady_states"]["after"]["steady_state_met"] is True
    assert judged == Verdict(RunStatus.FAILED, "failed; failed activities: inject")


def test_a_failed_rollback_fails_the_run() -> None:
    journal, judged = _run(_experiment(rollbacks=[_activity("action", "undo", "refused")]))
    assert journal["status"] == "failed"
    assert judged == Verdict(RunStatus.FAILED, "failed; rollbacks that failed: undo")


def test_interrupt_execution_raised_by_an_action_is_only_a_failed_action() -> None:
    """chaostoolkit-lib's python provider turns any exception of an action, InterruptExecution
    included, into a failed activity: the run carries on and is no abort."""
    journal, judged = _run(_experiment(method=[_activity("action", "inject", "interrupt")]))
    assert journal["status"] == "failed"
    assert judged == Verdict(RunStatus.FAILED, "failed; failed activities: inject")
    assert PLAYED == ["health", "interrupt", "health", "undo"]


@pytest.mark.parametrize(
    ("method", "controls", "played"),
    [
        (
            [_activity("action", "halt", "inject")],
            [OUTCOME_CONTROL, HALTING_CONTROL],
            ["health", "undo"],
        ),
        ([_activity("action", "inject", "abort_now")], None, ["health", "abort_now", "undo"]),
    ],
    ids=["interrupt-execution-from-a-control", "sigusr1-during-an-action"],
)
def test_an_interrupted_run_is_aborted_and_rolled_back(
    method: list[dict[str, Any]], controls: list[dict[str, Any]] | None, played: list[str]
) -> None:
    journal, judged = _run(_experiment(method=method, controls=controls))
    assert journal["status"] == "interrupted"
    assert judged == Verdict(RunStatus.ABORTED, "aborted: rolled back on request")
    assert played == PLAYED


def test_a_worker_stopped_by_sigterm_is_aborted_not_passed() -> None:
    """SIGTERM (a pod deleted, a Job past its deadline) cuts the hold short: chaostoolkit-lib
    fails the hold, rolls back and says "completed"; the run did not hold its fault as planned,
    so it is no pass."""
    method = [_activity("action", "inject", "inject"), _activity("probe", "hold", "terminate_now")]
    journal, judged = _run(_experiment(method=method))
    assert journal["status"] == "completed"
    assert judged == Verdict(
        RunStatus.ABORTED,
        "aborted: the worker was stopped (SIGTERM); rolled back; failed activities: hold",
    )
    assert PLAYED == ["health", "inject", "terminate_now", "health", "undo"]


@pytest.mark.parametrize("probes", [None, []], ids=["no-hypothesis", "hypothesis-without-probes"])
def test_a_run_without_a_steady_state_check_is_never_a_pass(
    probes: list[dict[str, Any]] | None,
) -> None:
    journal, judged = _run(_experiment(probes=probes))
    assert journal["status"] == "completed"
    assert journal["steady_states"]["before"] is None
    assert judged == Verdict(
        RunStatus.FAILED,
        "failed: the verdict could not be read (no steady-state check before the method)",
    )
    assert PLAYED == ["inject", "undo"]


def test_a_journal_without_steady_states_is_never_a_pass() -> None:
    journal, _ = _run(_experiment())
    del journal["steady_states"]  # as a journal stored by something else might be
    assert verdict(journal) == Verdict(
        RunStatus.FAILED,
        "failed: the verdict could not be read (no steady-state check before the method)",
    )


def test_a_method_chaostoolkit_lib_gave_up_on_is_never_a_pass() -> None:
    """A method chaostoolkit-lib cannot play (here an unknown reference) ends "aborted" with no
    steady-state check after it."""
    journal, judged = _run(_experiment(method=[{"ref": "no-such-activity"}]))
    assert journal["status"] == "aborted"
    assert journal["steady_states"]["after"] is None
    assert judged == Verdict(
        RunStatus.FAILED,
        "failed: the verdict could not be read "
        "(no steady-state check after the method; the journal says aborted)",
    )


def test_an_empty_method_is_judged_by_its_steady_state() -> None:
    journal, judged = _run(_experiment(method=[]))
    assert journal["status"] == "completed" and journal["run"] == []
    assert judged == Verdict(RunStatus.COMPLETED, "completed: the steady state held")
    assert PLAYED == ["health", "health", "undo"]
