"""The run engine end to end: a worker (a process of this host, or a Job the test server's
kubelet runs) runs a fault with chaostoolkit-lib against the Kubernetes API test server; abort,
a killed worker and API errors all leave nothing behind."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes.client import BatchV1Api, CoreV1Api
from sqlalchemy import select

from bot.catalog.models import Service
from bot.clock import FrozenClock
from bot.k8s.client import ClientFactory
from bot.k8s.jobs import JobLauncher
from bot.runs.events import RunObserver
from bot.runs.janitor import Janitor
from bot.runs.models import Run
from bot.runs.service import engage_kill_switch
from bot.runs.states import TERMINAL, RunStatus
from bot.runs.supervisor import abort_run
from tests.fixtures.engine import BOT_NAMESPACE, NOW, Engine

pytestmark = pytest.mark.executors("local", "kubernetes")


def test_a_run_injects_holds_rolls_back_and_records(engine: Engine) -> None:
    run_id, key = engine.create(hold=1.0)
    process = engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    assert len(engine.policies(key)) == 1  # the fault is visible while holding
    assert process.wait(timeout=60) == 0
    run = engine.row(run_id)
    assert run.status is RunStatus.COMPLETED
    assert engine.policies(key) == []  # and gone after
    assert run.leftovers == []
    assert run.journal is not None and run.journal["status"] == "completed"
    states = [e.status for e in run.events]
    for expected in (
        RunStatus.SCHEDULED,
        RunStatus.PREFLIGHT,
        RunStatus.INJECTING,
        RunStatus.HOLDING,
        RunStatus.ROLLING_BACK,
        RunStatus.COMPLETED,
    ):
        assert expected in states
    assert states.index(RunStatus.HOLDING) < states.index(RunStatus.ROLLING_BACK)


def test_abort_during_the_hold_rolls_back_at_once(engine: Engine) -> None:
    run_id, key = engine.create(hold=60)
    process = engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    started = time.monotonic()
    result = abort_run(db=engine.db, ref=key, by="U0BOB", now=NOW, executor=engine.launcher)
    # The bot signals a worker of its own host; a Job's reads the request from its row.
    assert result.signalled is (engine.executor == "local")
    assert not result.rolling_back
    assert engine.wait_for(run_id, *TERMINAL) is RunStatus.ABORTED
    assert time.monotonic() - started < 10
    assert process.wait(timeout=30) == 4
    assert engine.policies(key) == []
    run = engine.row(run_id)
    assert run.abort_requested_by == "U0BOB"
    assert run.leftovers == []


def _request_abort_in_the_row(engine: Engine, run_id: int, *, signalled: bool = False) -> None:
    """Bob's abort as another replica records it: on the run's row only (and, with `signalled`,
    the row also says the worker was signalled)."""
    with engine.db.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.abort_requested_at, run.abort_requested_by = NOW, "U0BOB"
        if signalled:
            run.abort_signalled = True


def test_an_abort_requested_in_the_database_reaches_a_worker_it_cannot_signal(
    engine: Engine,
) -> None:
    run_id, key = engine.create(hold=60)
    process = engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    _request_abort_in_the_row(engine, run_id)
    assert process.wait(timeout=30) == 4
    assert engine.status(run_id) is RunStatus.ABORTED
    assert engine.policies(key) == []


def test_a_signal_that_was_lost_is_sent_again_once_whatever_the_clocks_say(
    engine: Engine,
) -> None:
    """The bot says it signalled (its row says so) but the signal never came: after a while
    the worker signals itself, once. The request's time is far in the past on the worker's
    clock (another host, a test's frozen clock): the wait is the worker's own, not a difference
    of two clocks, so the second signal never comes early, in the middle of the rollbacks."""
    run_id, key = engine.create(hold=60)
    process = engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    _request_abort_in_the_row(engine, run_id, signalled=True)  # but no signal is sent
    started = time.monotonic()
    assert process.wait(timeout=30) == 4
    assert time.monotonic() - started >= 2  # LOST_SIGNAL, measured by the worker itself
    assert engine.status(run_id) is RunStatus.ABORTED
    assert engine.policies(key) == []
    assert engine.row(run_id).leftovers == []


@pytest.mark.parametrize("status", [500, 409, 429])
def test_api_errors_during_injection_fail_the_run_and_still_roll_back(
    engine: Engine, status: int
) -> None:
    run_id, key = engine.create()
    engine.kube.inject("POST", r"/networkpolicies$", status=status, times=None)
    assert engine.run(run_id) == 1
    run = engine.row(run_id)
    assert run.status is RunStatus.FAILED
    assert run.reason is not None and "failed activities: block" in run.reason
    assert any("unblock" in e.message for e in run.events)  # the rollback was attempted
    assert engine.policies(key) == []


def test_preflight_refuses_while_the_kill_switch_is_engaged(engine: Engine) -> None:
    run_id, _ = engine.create()
    with engine.db.session() as session:
        engage_kill_switch(session=session, by="U0ADMIN", now=NOW, reason="incident 42")
    assert engine.run(run_id) == 4
    run = engine.row(run_id)
    assert run.reason == "refused by preflight: the kill switch is engaged by U0ADMIN: incident 42"
    assert engine.kube.requests_matching("POST", r"/networkpolicies$") == []


def test_preflight_refuses_a_blast_radius_above_the_cap(engine: Engine) -> None:
    with engine.db.session() as session:
        session.scalars(select(Service)).one().blast_radius_percent = 50
    run_id, _ = engine.create(parameters={"count": 2})
    assert engine.run(run_id) == 4
    reason = engine.row(run_id).reason
    assert reason is not None and "2 of 3 pods (67%), above the service's cap of 50%" in reason


def test_one_run_per_service_at_a_time(engine: Engine) -> None:
    first, _ = engine.create(hold=60)
    process = engine.start(first)
    engine.wait_for(first, RunStatus.HOLDING)
    second, _ = engine.create()
    assert engine.run(second) == 4
    assert "another run of checkout is in progress" in (engine.row(second).reason or "")
    abort_run(db=engine.db, ref=first, by="U0ALICE", now=NOW, executor=engine.launcher)
    process.wait(timeout=30)


@pytest.mark.executors("kubernetes")
@pytest.mark.parametrize("death", ["pod killed", "job deleted"])
def test_a_job_whose_worker_dies_is_rolled_back_by_the_janitor(engine: Engine, death: str) -> None:
    """The worker's pod is killed (deleted with no grace: its node lost, OOM) or its Job is
    deleted: the Job has failed or is gone, so the janitor takes the worker for dead at once and
    replays the rollbacks in a rollback Job. (A Job deleted with the pod's grace period lets the
    worker roll back on SIGTERM too; the replay is idempotent.)"""
    run_id, key = engine.create(hold=60)
    engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    janitor = Janitor(
        db=engine.db,
        clock=FrozenClock(NOW),
        roll_back=engine.launcher.roll_back,
        executor=engine.launcher,
    )
    assert janitor.tidy().rolled_back == []  # a running Job is alive
    assert len(engine.policies(key)) == 1
    (pod,) = engine.kube.list("pods", BOT_NAMESPACE, label_selector=f"chaosbot.io/run-id={key}")
    if death == "pod killed":
        CoreV1Api(engine.api).delete_namespaced_pod(
            pod["metadata"]["name"], BOT_NAMESPACE, grace_period_seconds=0
        )
        job = f"chaosbot-run-{key}"
        failed = engine.wait_until(lambda: _failed(engine.kube.get("jobs", BOT_NAMESPACE, job)))
        assert failed == "BackoffLimitExceeded"
    else:
        BatchV1Api(engine.api).delete_namespaced_job(
            f"chaosbot-run-{key}", BOT_NAMESPACE, propagation_policy="Background"
        )
    report = janitor.tidy()
    assert report.rolled_back == [key]
    status = engine.wait_for(run_id, *TERMINAL)
    if death == "pod killed":
        assert status is RunStatus.FAILED
        assert engine.row(run_id).reason == (
            "its worker stopped while holding; chaosbot rolled back: nothing left behind"
        )
    assert engine.policies(key) == []
    rollbacks = engine.kube.list(
        "jobs", BOT_NAMESPACE, label_selector="app.kubernetes.io/component=rollback"
    )
    assert [job["metadata"]["name"] for job in rollbacks] == [f"chaosbot-rollback-{key}-1"]
    assert rollbacks[0]["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "chaosbot",
        "worker",
        "--rollback",
        str(run_id),
    ]


@pytest.mark.executors("kubernetes")
def test_a_run_is_one_job_whatever_starts_it_twice(engine: Engine) -> None:
    run_id, key = engine.create()
    worker = engine.start(run_id)
    engine.launcher(run_id)  # a second start (a retried hand-out): 409, nothing more
    assert worker.wait(timeout=60) == 0
    (job,) = engine.kube.list("jobs", BOT_NAMESPACE, label_selector=f"chaosbot.io/run-id={key}")
    assert job["metadata"]["name"] == f"chaosbot-run-{key}"
    spec = job["spec"]
    assert spec["backoffLimit"] == 0 and spec["ttlSecondsAfterFinished"] == 3600
    assert spec["activeDeadlineSeconds"] >= 17 * 60  # every step's budget, beyond the hold
    pod_spec = spec["template"]["spec"]
    assert pod_spec["serviceAccountName"] == "chaosbot-runner"
    assert pod_spec["restartPolicy"] == "Never"
    assert "chaosbot.io/expires-at" in job["metadata"]["annotations"]
    assert engine.status(run_id) is RunStatus.COMPLETED


def _failed(job: dict[str, Any] | None) -> str | None:
    for condition in ((job or {}).get("status") or {}).get("conditions") or []:
        if condition["type"] == "Failed" and condition["status"] == "True":
            return str(condition["reason"])
    return None


@pytest.mark.executors("kubernetes")
def test_a_job_still_starting_is_not_a_dead_worker(engine: Engine) -> None:
    """A Job whose pod cannot start yet (its ConfigMap is missing: CreateContainerConfigError,
    or an image still pulling) is alive; deleted, it is gone at once."""
    run_id, key = engine.create()
    engine.launcher(run_id)  # without the ConfigMap and Secrets the worker needs
    (pod,) = engine.kube.list("pods", BOT_NAMESPACE, label_selector=f"chaosbot.io/run-id={key}")
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerConfigError"
    run = engine.row(run_id)
    assert engine.launcher.gone(run, NOW) is False
    BatchV1Api(engine.api).delete_namespaced_job(
        f"chaosbot-run-{key}", BOT_NAMESPACE, propagation_policy="Background"
    )
    assert engine.launcher.gone(run, NOW) is True


@pytest.mark.executors("kubernetes")
def test_a_job_that_fails_before_its_run_starts_ends_the_run_at_once(engine: Engine) -> None:
    """The worker cannot start the run (here its settings do not load: exit 2), so its Job
    fails while the run is still scheduled: the janitor ends it at once, not at its deadline,
    and nothing was injected."""
    engine.env["CHAOSBOT_JANITOR_SECONDS"] = "soon"
    run_id, key = engine.create()
    worker = engine.start(run_id)
    assert worker.wait(timeout=60) == 2
    job = f"chaosbot-run-{key}"
    assert engine.wait_until(lambda: _failed(engine.kube.get("jobs", BOT_NAMESPACE, job)))
    janitor = Janitor(
        db=engine.db,
        clock=FrozenClock(NOW),
        roll_back=engine.launcher.roll_back,
        executor=engine.launcher,
    )
    assert janitor.tidy().never_started == [key]
    assert engine.status(run_id) is RunStatus.ABORTED
    assert engine.row(run_id).reason == (
        f"never started: its Job {job} failed (BackoffLimitExceeded)"
    )
    assert engine.policies(key) == []


class _Ended(RunObserver):
    def __init__(self) -> None:
        self.ended: list[int] = []

    def run_ended(self, run_id: int) -> None:
        self.ended.append(run_id)


@pytest.mark.executors("kubernetes")
def test_the_end_of_each_job_is_told_once(engine: Engine) -> None:
    """The bot follows its Jobs: each finished one is told to the run observer once (a game
    day goes on, a drill is revealed), however often the janitor looks."""
    heard = _Ended()
    launcher = JobLauncher(
        ClientFactory(kubeconfig=str(engine.kubeconfig), default_context=None),
        db=engine.db,
        namespace=BOT_NAMESPACE,
        image="chaosbot:test",
        service_account="chaosbot-runner",
        observer=heard,
    )
    run_id, _ = engine.create()
    worker = engine.start(run_id)
    launcher.collect()
    assert heard.ended == []  # still running
    assert worker.wait(timeout=60) == 0
    engine.wait_until(
        lambda: _condition(engine.kube.list("jobs", BOT_NAMESPACE), "Complete"), timeout=10
    )
    janitor = Janitor(
        db=engine.db, clock=FrozenClock(NOW), roll_back=launcher.roll_back, executor=launcher
    )
    janitor.tidy()
    janitor.tidy()
    assert heard.ended == [run_id]


@pytest.mark.executors("kubernetes")
def test_an_abort_of_a_dead_job_rolls_back_at_once(engine: Engine) -> None:
    run_id, key = engine.create(hold=60)
    engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    (pod,) = engine.kube.list("pods", BOT_NAMESPACE, label_selector=f"chaosbot.io/run-id={key}")
    CoreV1Api(engine.api).delete_namespaced_pod(
        pod["metadata"]["name"], BOT_NAMESPACE, grace_period_seconds=0
    )
    engine.wait_until(
        lambda: _failed(engine.kube.get("jobs", BOT_NAMESPACE, f"chaosbot-run-{key}"))
    )
    result = abort_run(db=engine.db, ref=key, by="U0BOB", now=NOW, executor=engine.launcher)
    assert result.rolling_back and not result.signalled
    assert engine.wait_for(run_id, *TERMINAL) is RunStatus.ABORTED
    assert engine.policies(key) == []


def _condition(jobs: list[dict[str, Any]], kind: str) -> bool:
    return any(
        c["type"] == kind and c["status"] == "True"
        for job in jobs
        for c in (job.get("status") or {}).get("conditions") or []
    )
