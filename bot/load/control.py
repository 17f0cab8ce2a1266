"""A Chaos Toolkit control that puts the service under its owners' load for the whole run.

Before the experiment it starts the load profile as a Job in the service's namespace (with a
ConfigMap for an inline script), waits for its pod to run and for the ramp-up, so the steady
state checked before the method is measured under load; after the experiment (the method, the
check after it and the rollbacks) it deletes them and waits until the Job is gone. Everything it
creates carries the run label and an expiry (bot.load.job), and the run records the kinds in its
`creates`, so the leftover check and the janitor's sweep find a load a crash left behind.

A load that cannot start (the API refuses the Job, the pod never runs, the tool exits during the
ramp-up) interrupts the run before anything is injected, and the journal's `load` says why.
Being a control in the experiment itself, a plain `chaos run` of an exported experiment runs the
load exactly as chaosbot's worker does.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Mapping
from typing import Any

from chaoslib.exceptions import InterruptExecution
from urllib3.exceptions import HTTPError

from bot.faults.args import run_label_value
from bot.faults.kube import CONFIGMAPS, JOBS, Kube, KubeError, Obj
from bot.faults.marks import DEFAULT_HOLD_SECONDS, Mark
from bot.load.experiment import DEFAULT_IMAGES, IMAGE_KEY, JOURNAL_KEY, START_TIMEOUT_SECONDS
from bot.load.job import config_map_manifest, job_manifest, load_name
from bot.load.profile import LoadProfile

__all__ = [
    "after_experiment_control",
    "before_experiment_control",
    "cleanup_control",
    "stop_load",
]

# How long the Job may take to go once deleted (its pod's grace period, and some).
STOP_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.5

log = logging.getLogger(__name__)
_load: _Load | None = None
_error: str | None = None  # why the load did not start


def before_experiment_control(
    context: Any,
    profile: Mapping[str, Any] | None = None,
    script_base64: str | None = None,
    start_timeout_seconds: Any = START_TIMEOUT_SECONDS,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    **_: Any,
) -> None:
    """Start the load and wait for its ramp-up; interrupt the run when it cannot."""
    global _load, _error
    configuration = configuration or {}
    _load, _error = None, None
    try:
        document = dict(profile or {})
        if script_base64:
            document["script"] = base64.b64decode(script_base64).decode()
        _load = _Load(
            LoadProfile.from_document(document),
            namespace=str(configuration.get("namespace")),
            mark=_mark(configuration, int(document.get("rampUpSeconds", 0))),
            image=str(configuration.get(IMAGE_KEY) or ""),
            kube=Kube((secrets or {}).get("kubernetes")),
        )
        _load.start(float(start_timeout_seconds))
    except Exception as error:  # chaoslib would log a control's error and run without load
        _error = str(error) or type(error).__name__
        log.error("the load did not start: %s", _error)
        raise InterruptExecution(f"the load did not start: {_error}") from None


def after_experiment_control(context: Any, state: Any = None, **_: Any) -> None:
    """Stop the load and write what it did into the journal."""
    if _load is not None:
        _load.stop()
    if isinstance(state, dict) and (_load is not None or _error is not None):
        summary = _load.summary() if _load is not None else {"started": False}
        state[JOURNAL_KEY] = {**summary, "error": _error}


def cleanup_control(**_: Any) -> None:
    """The run is over, however it ended: no load outlives it."""
    global _load, _error
    if _load is not None:
        _load.stop()
    _load, _error = None, None


def stop_load(namespace: str, run_id: str, secrets: Mapping[str, Any] | None = None) -> str:
    """The rollback that stops the run's load (the worker's own, and the janitor's replay when
    the worker died): its Job, its pods with it, and an inline script's ConfigMap."""
    name = load_name(run_label_value(run_id))
    gone = _stop(Kube(secrets), namespace, name)
    return f"stopped {name}" if gone else f"{name} still going; the sweep deletes it once expired"


def _stop(kube: Kube, namespace: str, name: str) -> bool:
    """Delete the load's Job (its pods first: foreground) and ConfigMap, and wait until the Job
    is gone: then no pod of it sends anything. False when it outlived the wait."""
    for kind in (JOBS, CONFIGMAPS):
        kube.delete(kind, namespace, name, propagation="Foreground")
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while kube.get(JOBS, namespace, name) is not None:
        if time.monotonic() >= deadline:
            log.warning("load %s still going %.0f s after its deletion", name, STOP_TIMEOUT_SECONDS)
            return False
        time.sleep(POLL_SECONDS)
    return True


def _mark(configuration: Mapping[str, Any], ramp_up_seconds: int) -> Mark:
    """The load's mark: it is in place for the ramp-up and the hold."""
    hold = configuration.get("hold_seconds")
    hold_seconds = float(DEFAULT_HOLD_SECONDS if hold is None else hold)
    return Mark.held(configuration.get("run_id"), hold_seconds + ramp_up_seconds)


class _LoadFailed(Exception):
    """The load's Job did not run (its pod failed, or never ran in time)."""


class _Load:
    """The load of one run: what it created, and whether it stopped."""

    def __init__(
        self, profile: LoadProfile, *, namespace: str, mark: Mark, image: str, kube: Kube
    ) -> None:
        self.profile, self.namespace, self.mark, self.kube = profile, namespace, mark, kube
        self.image = image or DEFAULT_IMAGES[profile.tool]
        self.name = load_name(mark.run)
        self.started_at: float | None = None
        self.stopped = False

    def start(self, timeout: float) -> None:
        if self.profile.script is not None:
            body = config_map_manifest(self.profile, namespace=self.namespace, mark=self.mark)
            self.kube.create(CONFIGMAPS, self.namespace, body)
        job = job_manifest(self.profile, namespace=self.namespace, mark=self.mark, image=self.image)
        self.kube.create(JOBS, self.namespace, job)
        log.info("load %s started: %s", self.name, self.profile.summary)
        self._wait_running(timeout)
        self.started_at = time.monotonic()
        time.sleep(self.profile.ramp_up_seconds)
        self._check_running()

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        try:
            _stop(self.kube, self.namespace, self.name)
        except (KubeError, HTTPError) as error:  # the rollback's replay and the sweep retry
            log.error("could not stop the load %s: %s", self.name, error)

    def summary(self) -> dict[str, Any]:
        return {
            "job": self.name,
            "namespace": self.namespace,
            "tool": self.profile.tool.value,
            "image": self.image,
            "users": self.profile.users,
            "ramp_up_seconds": self.profile.ramp_up_seconds,
            "started": self.started_at is not None,
        }

    def _wait_running(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            job = self._job()
            if int((job.get("status") or {}).get("ready") or 0) >= 1:
                return
            if time.monotonic() >= deadline:
                raise _LoadFailed(f"its pod did not run within {timeout:g} s")
            time.sleep(POLL_SECONDS)

    def _check_running(self) -> None:
        status = self._job().get("status") or {}
        if not int(status.get("active") or 0):
            raise _LoadFailed("it stopped during its ramp-up (see the Job's pod's log)")

    def _job(self) -> Obj:
        job = self.kube.get(JOBS, self.namespace, self.name)
        if job is None:
            raise _LoadFailed(f"its Job {self.name} is gone")
        status = job.get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("type") == "Failed" and condition.get("status") == "True":
                why = condition.get("message") or condition.get("reason") or "failed"
                raise _LoadFailed(f"its Job failed: {why}")
        return job
