"""Starting workers, halting runs, and the reaper that cleans up after workers that died."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chaoslib.experiment import run_experiment
from sqlalchemy import update

from bot.clock import Clock, offset_env
from bot.db.engine import Database
from bot.runs.models import Run
from bot.runs.service import active_runs, find_run, note, transition
from bot.runs.states import IN_CLUSTER, RunStatus

__all__ = [
    "AbortResult",
    "WorkerLauncher",
    "abort_all",
    "abort_run",
    "reap",
    "replay_rollbacks",
    "start_worker",
]

log = logging.getLogger(__name__)

# A worker on another host is presumed dead when its heartbeat is this old.
STALE_HEARTBEAT = timedelta(seconds=30)


def start_worker(run_id: int, *, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Run `chaosbot worker RUN_ID` in a process of its own session.

    Its own session: a Ctrl-C or a signal to the bot's process group does not reach it, so a
    bot restart never interrupts a run half way (the worker finishes and rolls back itself).
    """
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "worker", str(run_id)],
        env=dict(env) if env is not None else None,
        start_new_session=True,
    )


class WorkerLauncher:
    """Starts workers for the bot and collects each one's exit, so none lingers as a zombie."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        on_exit: Callable[[int], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._env = dict(env)
        self.on_exit = on_exit
        self._clock = clock

    def __call__(self, run_id: int) -> None:
        env = {**self._env, **(offset_env(self._clock) if self._clock else {})}
        process = start_worker(run_id, env=env)
        threading.Thread(
            target=self._wait, args=(run_id, process), name=f"worker-{run_id}", daemon=True
        ).start()

    def _wait(self, run_id: int, process: subprocess.Popen[bytes]) -> None:
        process.wait()
        if self.on_exit is not None:
            try:
                self.on_exit(run_id)  # a game day goes on with its next experiment
            except Exception:
                log.exception("after the worker of run %s exited", run_id)

    def reap(self, *, db: Database, now: datetime) -> list[str]:
        """The start-up reaper, with the same environment the workers get."""
        return reap(db=db, now=now, env=self._env)


@dataclass(frozen=True)
class AbortResult:
    run_key: str
    status: RunStatus
    signalled: bool


def abort_run(*, db: Database, ref: str | int, by: str, now: datetime) -> AbortResult:
    """Halt a run: record who asked, end it if it never started, else signal its worker.

    A worker on this host is signalled here, and the row says so in the same transaction; a
    worker elsewhere sees the request in its row and signals itself. Exactly one SIGUSR1 either
    way: a second one, arriving while chaostoolkit-lib rolls back, would cut the rollbacks short.
    """
    with db.session() as session:
        run = find_run(session=session, ref=ref)
        will_signal = (
            bool(run.worker_pid)
            and run.worker_host == socket.gethostname()
            and run.status in IN_CLUSTER
            and run.abort_requested_at is None
        )
        session.execute(
            update(Run)
            .where(Run.id == run.id, Run.abort_requested_at.is_(None))
            .values(abort_requested_at=now, abort_requested_by=by, abort_signalled=will_signal)
        )
        if run.status is RunStatus.SCHEDULED:
            reason = f"aborted by {by} before it started"
            transition(
                session=session,
                run_id=run.id,
                to=RunStatus.ABORTED,
                now=now,
                message=reason,
                values={"reason": reason},
            )
            return AbortResult(run.key, RunStatus.ABORTED, False)
        key, pid, status = run.key, run.worker_pid, run.status
    signalled = False
    if will_signal and pid:
        try:
            os.kill(pid, signal.SIGUSR1)
            signalled = True
        except ProcessLookupError:
            log.warning("worker %s of run %s is gone; the reaper will roll back", pid, key)
    return AbortResult(key, status, signalled)


def abort_all(*, db: Database, by: str, now: datetime) -> list[AbortResult]:
    """Halt every run that is not finished."""
    with db.session() as session:
        ids = [
            r.id
            for r in active_runs(
                session=session, statuses=[RunStatus.SCHEDULED, *IN_CLUSTER, RunStatus.PREFLIGHT]
            )
        ]
    return [abort_run(db=db, ref=run_id, by=by, now=now) for run_id in ids]


def reap(*, db: Database, now: datetime, env: Mapping[str, str] | None = None) -> list[str]:
    """Roll back every run left in the cluster by a worker that is gone; returns their keys."""
    with db.session() as session:
        orphans = [
            r.id for r in active_runs(session=session, statuses=IN_CLUSTER) if _worker_gone(r, now)
        ]
    reaped = []
    for run_id in orphans:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "worker", "--rollback", str(run_id)],
            env=dict(env) if env is not None else None,
            check=False,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            log.error("reaper could not roll back run %s: %s", run_id, result.stderr[-2000:])
        reaped.append(str(run_id))
    return reaped


def replay_rollbacks(run_id: int, *, db: Database, now: datetime) -> RunStatus:
    """In a fresh process: play the run's rollbacks (idempotent, label-based) and end the run."""
    with db.session() as session:
        run = find_run(session=session, ref=run_id)
        if run.status not in IN_CLUSTER:
            return run.status
        note(
            session=session,
            run=run,
            now=now,
            message="worker gone: the reaper replays the rollbacks",
        )
        document = _rollbacks_as_method(run.document)
    journal = run_experiment(document, settings={"runtime": {"rollbacks": {"strategy": "never"}}})
    failed = [
        r["activity"]["name"] for r in journal.get("run") or [] if r.get("status") == "failed"
    ]
    reason = "worker died; the reaper rolled back" + (
        f" (failed: {', '.join(failed)})" if failed else ""
    )
    with db.session() as session:
        transition(
            session=session,
            run_id=run_id,
            to=RunStatus.FAILED,
            now=now,
            message=reason,
            values={"reason": reason},
        )
    return RunStatus.FAILED


def _rollbacks_as_method(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": f"rollback of {document.get('title', 'a run')}",
        "description": "Rollbacks replayed by the chaosbot reaper",
        "configuration": document.get("configuration", {}),
        "secrets": document.get("secrets", {}),
        "method": document.get("rollbacks", []),
        "rollbacks": [],
    }


def _worker_gone(run: Run, now: datetime) -> bool:
    if run.worker_host == socket.gethostname() and run.worker_pid:
        try:
            os.kill(run.worker_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return _is_zombie(run.worker_pid)
    return run.heartbeat_at is None or now - run.heartbeat_at > STALE_HEARTBEAT


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return False
