"""Runs as Kubernetes Jobs (CHAOSBOT_EXECUTOR=kubernetes): the executor of bot.runs.supervisor.

Each run is a batch/v1 Job `chaosbot-run-<run key>` in the bot's own namespace, running
`chaosbot worker RUN_ID` from the worker image under the runs' ServiceAccount; a rollback replay
is `chaosbot-rollback-<run key>-<n>` running `chaosbot worker --rollback RUN_ID`. The name is
stable, so a second start of the same run is answered 409 and starts nothing. The Job carries
the run label and an expiry like everything a run creates; `backoffLimit: 0` (a run is never
played twice), `activeDeadlineSeconds` from the longest the run may take
(bot.runs.deadlines) plus a margin, and `ttlSecondsAfterFinished`. Its environment comes from
the ConfigMap `chaosbot-config` and the Secrets `chaosbot-slack` and `chaosbot-database`
(optional), which the manifests in deploy/kubernetes/ create.

The bot cannot signal a pod: an abort reaches the worker through its row (the worker's watcher).
A worker is gone when its Job failed (BackoffLimitExceeded, DeadlineExceeded), completed without
ending its run, or no longer exists; a Job still pending or starting is alive. The janitor's
pass calls `collect()`, which tells the run observer once per finished Job (a game day goes on,
a drill is revealed).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client
from kubernetes.client.api.batch_v1_api import BatchV1Api
from kubernetes.client.exceptions import ApiException

from bot.clock import Clock, offset_env
from bot.config import Settings
from bot.db.engine import Database
from bot.faults.marks import EXPIRES_AT, RUN_LABEL
from bot.k8s.client import ClientFactory
from bot.runs.deadlines import BUDGETS, hold_of
from bot.runs.events import NOBODY, RunObserver
from bot.runs.models import Run
from bot.runs.service import find_run
from bot.runs.states import RunStatus
from bot.runs.supervisor import ROLLBACK_TIMEOUT

__all__ = [
    "CONFIG_MAP",
    "DATABASE_SECRET",
    "SLACK_SECRET",
    "JobLauncher",
    "job_manifest",
    "rollback_job_name",
    "run_job_name",
]

log = logging.getLogger(__name__)

CONFIG_MAP = "chaosbot-config"
SLACK_SECRET = "chaosbot-slack"  # noqa: S105 - a Secret's name
DATABASE_SECRET = "chaosbot-database"  # noqa: S105 - a Secret's name
NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
RUN_ID_ANNOTATION = "chaosbot.io/run"
# Beyond the longest a run may take: the pod's scheduling and image pull, the worker's start.
MARGIN = timedelta(minutes=5)
TTL_SECONDS = 3600
_UID = 10001
_JOB_NAME_LIMIT = 63


def run_job_name(key: str) -> str:
    """The Job of a run's worker: one per run, so a second start is a conflict."""
    return _dns_name(f"chaosbot-run-{key}")


def rollback_job_name(key: str, attempt: int) -> str:
    """The Job of a run's `attempt`-th rollback replay."""
    return _dns_name(f"chaosbot-rollback-{key}-{attempt}")


def _dns_name(name: str) -> str:
    # Run keys are `r-` and ten hex digits (bot.runs.service.new_run_key), and a marks' run id
    # is at most 40 characters: the names fit, but a name is never sent longer than allowed.
    if len(name) > _JOB_NAME_LIMIT:
        raise ValueError(f"{name!r} is longer than {_JOB_NAME_LIMIT} characters")
    return name


def active_deadline(run: Run) -> int:
    """The most seconds a run's Job may be active: every step's budget, the hold, a margin."""
    longest = BUDGETS[RunStatus.ROLLING_BACK] + hold_of(run) + MARGIN
    return math.ceil(longest.total_seconds())


def job_manifest(
    *,
    name: str,
    namespace: str,
    run_id: int,
    key: str,
    image: str,
    service_account: str,
    deadline_seconds: int,
    rollback: bool,
    now: datetime,
    env: Mapping[str, str] | None = None,
    ttl_seconds: int = TTL_SECONDS,
) -> dict[str, Any]:
    """The Job that runs one worker (or one rollback replay) of a run."""
    labels = {
        RUN_LABEL: key,
        NAME_LABEL: "chaosbot",
        COMPONENT_LABEL: "rollback" if rollback else "run",
    }
    expires = (now.astimezone(UTC) + timedelta(seconds=deadline_seconds)).replace(microsecond=0)
    annotations = {
        EXPIRES_AT: expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        RUN_ID_ANNOTATION: str(run_id),
    }
    command = ["chaosbot", "worker", *(["--rollback"] if rollback else []), str(run_id)]
    container: dict[str, Any] = {
        "name": "worker",
        "image": image,
        "command": command,
        "envFrom": [
            {"configMapRef": {"name": CONFIG_MAP}},
            {"secretRef": {"name": SLACK_SECRET}},
            {"secretRef": {"name": DATABASE_SECRET, "optional": True}},
        ],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": _UID,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - the pod's own
    }
    # The root filesystem is read-only: anything that writes under HOME writes to the emptyDir.
    # The worker's settings name the image too: with CHAOSBOT_EXECUTOR=kubernetes in the shared
    # ConfigMap, settings without it do not load.
    variables = {"HOME": "/tmp", "CHAOSBOT_WORKER_IMAGE": image, **(env or {})}  # noqa: S108
    container["env"] = [{"name": k, "value": v} for k, v in sorted(variables.items())]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_seconds,
            "ttlSecondsAfterFinished": ttl_seconds,
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": service_account,
                    "automountServiceAccountToken": True,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": _UID,
                        "runAsGroup": _UID,
                        "fsGroup": _UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


class JobLauncher:
    """Starts runs and rollback replays as Jobs in the bot's namespace, and follows them."""

    def __init__(
        self,
        clients: ClientFactory,
        *,
        db: Database,
        namespace: str,
        image: str,
        service_account: str,
        observer: RunObserver = NOBODY,
        clock: Clock | None = None,
        context: str | None = None,
        ttl_seconds: int = TTL_SECONDS,
    ) -> None:
        self._clients, self._db, self._namespace = clients, db, namespace
        self._image, self._service_account = image, service_account
        self._observer, self._clock, self._context = observer, clock, context
        self._ttl_seconds = ttl_seconds
        # The finished Jobs already told to the observer, by uid.
        self._told: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        clients: ClientFactory,
        *,
        db: Database,
        observer: RunObserver = NOBODY,
        clock: Clock | None = None,
    ) -> JobLauncher:
        if settings.worker_image is None:
            raise ValueError("CHAOSBOT_WORKER_IMAGE is required for runs as Jobs")
        return cls(
            clients,
            db=db,
            namespace=settings.namespace,
            image=settings.worker_image,
            service_account=settings.runs_service_account,
            observer=observer,
            clock=clock,
        )

    @property
    def _batch(self) -> BatchV1Api:
        return BatchV1Api(self._clients.api_client(self._context))

    def __call__(self, run_id: int) -> None:
        """Create the run's Job; a Job of that run already there starts nothing more."""
        run = self._run(run_id)
        name = run_job_name(run.key)
        try:
            self._create(run, name=name, rollback=False, deadline=active_deadline(run))
        except ApiException as error:
            if error.status != 409:
                raise
            log.info("run %s already has its Job %s", run.key, name)

    def roll_back(self, run_id: int) -> bool:
        """Create a rollback Job for the run; False while one of its rollback Jobs is active."""
        run = self._run(run_id)
        with self._lock:
            replays = self._jobs(f"{RUN_LABEL}={run.key},{COMPONENT_LABEL}=rollback")
            if any(not _finished(job) for job in replays):
                return False
            attempt = 1 + max((_attempt(job, run.key) for job in replays), default=0)
            try:
                self._create(
                    run,
                    name=rollback_job_name(run.key, attempt),
                    rollback=True,
                    deadline=math.ceil(ROLLBACK_TIMEOUT),
                )
            except ApiException as error:
                if error.status == 409:
                    return False  # another replica started this replay a moment ago
                raise
        return True

    def gone(self, run: Run, now: datetime) -> bool:
        """Whether the run's worker is dead: its Job failed, finished without ending the run,
        or is gone; a Job still pending or running is alive (Kubernetes says so, not the
        heartbeat). A cluster that cannot be asked says nothing: not gone."""
        job = self._read_job(run)
        return job is _NO_JOB or (job is not None and _finished(job))

    def failed_to_start(self, run: Run) -> str | None:
        """Why the run's Job ended while the run is still scheduled (its worker could not load
        its settings, its image could not run, its deadline passed), or None: no Job yet, or
        one still starting. A cluster that cannot be asked says nothing."""
        job = self._read_job(run)
        if job is None or job is _NO_JOB or not _finished(job):
            return None
        failed = _condition(job, "Failed")
        if failed is None:
            return f"its Job {job['metadata']['name']} completed without starting it"
        reason = failed.get("reason") or "Failed"
        return f"its Job {job['metadata']['name']} failed ({reason})"

    def signals(self, run: Run) -> bool:
        """A pod is never signalled from the bot: its watcher reads the abort from the row."""
        return False

    def stop(self, run: Run) -> None:
        """Delete a stuck run's Job and its pod (the pod's process gets SIGTERM, then SIGKILL)."""
        try:
            self._batch.delete_namespaced_job(
                run_job_name(run.key), self._namespace, propagation_policy="Background"
            )
        except ApiException as error:
            if error.status != 404:
                log.warning("cannot delete the Job of run %s: %s", run.key, error.reason)

    def collect(self) -> None:
        """Tell the observer, once per Job, of the run and rollback Jobs that have finished."""
        ended: list[int] = []
        jobs = self._jobs(f"{NAME_LABEL}=chaosbot,{COMPONENT_LABEL} in (run,rollback)")
        # Jobs deleted (their TTL passed) need remembering no longer. After a restart each
        # finished Job still there is told again: observers re-read the tables.
        self._told &= {job["metadata"]["uid"] for job in jobs}
        for job in jobs:
            uid = job["metadata"]["uid"]
            if uid in self._told or not _finished(job):
                continue
            self._told.add(uid)
            run_id = (job["metadata"].get("annotations") or {}).get(RUN_ID_ANNOTATION, "")
            if run_id.isdigit():
                ended.append(int(run_id))
        for run_id in ended:
            try:
                self._observer.run_ended(run_id)
            except Exception:
                log.exception("after the Job of run %s finished", run_id)

    # --- internals ------------------------------------------------------------------------------

    def _read_job(self, run: Run) -> dict[str, Any] | None:
        """The run's Job; `_NO_JOB` when the cluster says there is none; None when the cluster
        could not be asked (logged)."""
        try:
            job = self._batch.read_namespaced_job(run_job_name(run.key), self._namespace)
        except ApiException as error:
            if error.status == 404:
                return _NO_JOB
            log.warning("cannot read the Job of run %s: %s", run.key, error.reason)
            return None
        except Exception:
            log.exception("cannot read the Job of run %s", run.key)
            return None
        return self._plain(job)

    def _run(self, run_id: int) -> Run:
        with self._db.session() as session:
            run = find_run(session=session, ref=run_id)
            session.expunge(run)
            return run

    def _create(self, run: Run, *, name: str, rollback: bool, deadline: int) -> None:
        manifest = job_manifest(
            name=name,
            namespace=self._namespace,
            run_id=run.id,
            key=run.key,
            image=self._image,
            service_account=self._service_account,
            deadline_seconds=deadline,
            rollback=rollback,
            now=datetime.now(UTC),
            env=offset_env(self._clock) if self._clock else None,
            ttl_seconds=self._ttl_seconds,
        )
        # The client sends a plain dict as it is (its models are only for reading answers).
        self._batch.create_namespaced_job(self._namespace, manifest)  # type: ignore[arg-type]

    def _jobs(self, selector: str) -> list[dict[str, Any]]:
        listing = self._batch.list_namespaced_job(self._namespace, label_selector=selector)
        items: list[dict[str, Any]] = self._plain(listing).get("items") or []
        return items

    def _plain(self, obj: Any) -> dict[str, Any]:
        api: client.ApiClient = self._clients.api_client(self._context)
        plain: dict[str, Any] = api.sanitize_for_serialization(obj)
        return plain


# What `_read_job` answers for a Job the cluster does not have (an empty dict is no Job).
_NO_JOB: dict[str, Any] = {}


def _finished(job: dict[str, Any]) -> bool:
    return any(_condition(job, kind) is not None for kind in ("Complete", "Failed"))


def _condition(job: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The Job's condition of this type when it is true."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return dict(condition)
    return None


def _attempt(job: dict[str, Any], key: str) -> int:
    suffix = job["metadata"]["name"].removeprefix(f"chaosbot-rollback-{key}-")
    return int(suffix) if suffix.isdigit() else 0
