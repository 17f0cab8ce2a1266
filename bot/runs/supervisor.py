"""Starting workers and rollbacks, and halting runs (an orphaned one is rolled back at once)."""

from __future__ import annotations

import contextlib
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
from typing import Protocol

from sqlalchemy import update

from bot.clock import Clock, offset_env
from bot.db.engine import Database
from bot.runs.events import NOBODY, RunObserver
from bot.runs.models import Run
from bot.runs.service import active_runs, audit, end_unstarted, find_run
from bot.runs.states import IN_CLUSTER, RunStatus
from bot.runs.warm import WarmChild, WarmTemplate

__all__ = [
    "AbortResult",
    "Executor",
    "WorkerLauncher",
    "abort_all",
    "abort_run",
    "start_worker",
    "worker_gone",
]

log = logging.getLogger(__name__)

# A worker on another host is presumed dead when its heartbeat is this old.
STALE_HEARTBEAT = timedelta(seconds=30)
_STARTED = IN_CLUSTER | {RunStatus.PREFLIGHT}
# A rollback process still running after this long is stopped (the janitor starts another).
ROLLBACK_TIMEOUT = 300.0


class Executor(Protocol):
    """Where runs execute: starts workers and rollback replays, and answers for their health.

    `WorkerLauncher` runs them as processes of the bot's host; bot.k8s.jobs.JobLauncher as
    Kubernetes Jobs. The domain (abort, the janitor) asks only this.
    """

    def __call__(self, run_id: int) -> None:
        """Start the worker of a recorded run."""
        ...

    def roll_back(self, run_id: int) -> bool:
        """Replay the run's rollbacks in a worker of their own; False if one is under way."""
        ...

    def gone(self, run: Run, now: datetime) -> bool:
        """Whether the worker of a started run is dead (nobody will end the run)."""
        ...

    def signals(self, run: Run) -> bool:
        """Whether this process can signal the run's worker itself (else the worker's watcher
        reads the abort from its row)."""
        ...

    def stop(self, run: Run) -> None:
        """Stop a stuck worker (the janitor ends and rolls back its run)."""
        ...

    def collect(self) -> None:
        """Tell the observer of the workers that have exited since the last call (a periodic
        pass; nothing to do where each exit is heard as it happens)."""
        ...

    def failed_to_start(self, run: Run) -> str | None:
        """Why the worker started for a run still scheduled has ended without starting it, or
        None (no worker yet, or one still starting)."""
        ...


def start_worker(
    run_id: int, *, env: Mapping[str, str] | None = None, rollback: bool = False
) -> subprocess.Popen[bytes]:
    """Run `chaosbot worker [--rollback] RUN_ID` in a process of its own session.

    Its own session: a Ctrl-C or a signal to the bot's process group does not reach it, so a
    bot restart never interrupts a run (or a rollback) half way.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "worker", *(["--rollback"] if rollback else []), str(run_id)],
        env=dict(env) if env is not None else None,
        start_new_session=True,
    )


class _Process(Protocol):
    """A started worker: a cold one's Popen, or a warm one forked by the template."""

    pid: int

    def wait(self, timeout: float | None = None) -> object: ...

    def kill(self) -> None: ...


class WorkerLauncher:
    """Starts workers and rollbacks for the bot and collects each one's exit, so none lingers
    as a zombie; at most one rollback of a run is under way from this process at a time.

    Each exit is told to the `observer` (`run_ended`): a game day goes on with its next
    experiment, a drill is revealed. With `warm` (or a `template`), workers are forked by a template process
    that has imported everything already (bot.runs.warm); whenever the template is not
    ready or has died, the worker starts cold and a new template is started."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        observer: RunObserver = NOBODY,
        clock: Clock | None = None,
        rollback_timeout: float = ROLLBACK_TIMEOUT,
        warm: bool = False,
        template: WarmTemplate | None = None,
    ) -> None:
        self._env = dict(env)
        # `template`: one shared with other launchers (its owner closes it), else our own.
        self._owns_template = template is None
        self.template = (
            template if template is not None else WarmTemplate(self._env) if warm else None
        )
        if self.template is not None:
            self.template.start()
        self._observer = observer
        self._clock = clock
        self._rollback_timeout = rollback_timeout
        self._rolling: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self, run_id: int) -> None:
        self._start(run_id, rollback=False)

    def roll_back(self, run_id: int) -> bool:
        """Replay the run's rollbacks in a process of their own; False if one is under way."""
        with self._lock:
            if run_id in self._rolling:
                return False
            self._rolling.add(run_id)
        try:
            self._start(run_id, rollback=True)
        except Exception:
            self._done_rolling(run_id)
            raise
        return True

    def _start(self, run_id: int, *, rollback: bool) -> None:
        env = {**self._env, **(offset_env(self._clock) if self._clock else {})}
        process: _Process | None = None
        if self.template is not None:
            process = self.template.fork(run_id, env=env, rollback=rollback)
            if process is not None:
                log.info("run %s: worker %s forked by the worker template", run_id, process.pid)
        if process is None:
            process = start_worker(run_id, env=env, rollback=rollback)
        threading.Thread(
            target=self._wait,
            args=(run_id, process, rollback),
            name=f"{'rollback' if rollback else 'worker'}-{run_id}",
            daemon=True,
        ).start()

    def _wait(self, run_id: int, process: _Process, rollback: bool) -> None:
        try:
            process.wait(timeout=self._rollback_timeout if rollback else None)
        except (subprocess.TimeoutExpired, TimeoutError):
            # A rollback hung on an API that never answers: the next janitor pass tries again.
            log.error("the rollback of run %s took too long; stopping it", run_id)
            process.kill()
            process.wait()
        finally:
            if isinstance(process, WarmChild):
                process.close()
            if rollback:
                self._done_rolling(run_id)
        try:
            self._observer.run_ended(run_id)
        except Exception:
            log.exception("after the worker of run %s exited", run_id)

    def close(self) -> None:
        """Stop the warm workers' template, if any (the workers it forked run on)."""
        if self.template is not None and self._owns_template:
            self.template.close()

    def _done_rolling(self, run_id: int) -> None:
        with self._lock:
            self._rolling.discard(run_id)

    def gone(self, run: Run, now: datetime) -> bool:
        return worker_gone(run, now)

    def signals(self, run: Run) -> bool:
        return signals_here(run)

    def stop(self, run: Run) -> None:
        kill_worker(run)

    def collect(self) -> None:
        """Each exit is heard by the thread that waits for it."""

    def failed_to_start(self, run: Run) -> str | None:
        """A local worker that exits before starting its run leaves it to its deadline."""
        return None


@dataclass(frozen=True)
class AbortResult:
    run_key: str
    status: RunStatus
    signalled: bool
    # The run's worker was gone: its rollbacks were started here and now.
    rolling_back: bool = False


def abort_run(
    *,
    db: Database,
    ref: str | int,
    by: str,
    now: datetime,
    roll_back: Callable[[int], object] | None = None,
    executor: Executor | None = None,
) -> AbortResult:
    """Halt a run: record who asked, end it if it never started, else signal its worker.

    A worker on this host is signalled here, and the row says so in the same transaction; a
    worker elsewhere sees the request in its row and signals itself. Exactly one SIGUSR1 either
    way: a second one, arriving while chaostoolkit-lib rolls back, would cut the rollbacks short.
    A run whose worker is gone (killed, out of memory) has nobody to signal: `roll_back` replays
    its rollbacks at once (without it, the janitor does within its period). `executor` says
    whether the worker is gone and whether it can be signalled from here (a Job's never can);
    without it, the worker is a process (`WorkerLauncher`), and `roll_back` defaults to the
    executor's.
    """
    if executor is not None and roll_back is None:
        roll_back = executor.roll_back
    gone = executor.gone if executor is not None else worker_gone
    reachable = executor.signals if executor is not None else signals_here
    with db.session() as session:
        run = find_run(session=session, ref=ref)
        orphaned = run.status in _STARTED and gone(run, now)
        will_signal = (
            not orphaned
            and reachable(run)
            and run.status in IN_CLUSTER
            and run.abort_requested_at is None
        )
        asked = session.execute(
            update(Run)
            .where(Run.id == run.id, Run.abort_requested_at.is_(None))
            .values(abort_requested_at=now, abort_requested_by=by, abort_signalled=will_signal)
        )
        if asked.rowcount == 1:  # type: ignore[attr-defined]
            audit(session, run, by, now, "run.abort_requested", {"status": run.status.value})
        if run.status is RunStatus.SCHEDULED:
            end_unstarted(
                session=session, run_id=run.id, now=now, reason=f"aborted by {by} before it started"
            )
            return AbortResult(run.key, RunStatus.ABORTED, False)
        key, pid, status, run_id = run.key, run.worker_pid, run.status, run.id
    if orphaned:
        log.warning("run %s has no worker any more; rolling it back now", key)
        return AbortResult(key, status, False, rolling_back=_roll_back(roll_back, run_id=run_id))
    signalled = False
    if will_signal and pid:
        try:
            os.kill(pid, signal.SIGUSR1)
            signalled = True
        except ProcessLookupError:
            log.warning("worker %s of run %s is gone; rolling it back now", pid, key)
            return AbortResult(
                key, status, False, rolling_back=_roll_back(roll_back, run_id=run_id)
            )
    return AbortResult(key, status, signalled)


def _roll_back(roll_back: Callable[[int], object] | None, *, run_id: int) -> bool:
    if roll_back is None:
        return False
    try:
        roll_back(run_id)
    except Exception:
        log.exception("could not start the rollback of run %s; the janitor will", run_id)
        return False
    return True


def abort_all(
    *,
    db: Database,
    by: str,
    now: datetime,
    roll_back: Callable[[int], object] | None = None,
    executor: Executor | None = None,
) -> list[AbortResult]:
    """Halt every run that is not finished."""
    with db.session() as session:
        ids = [
            r.id
            for r in active_runs(
                session=session, statuses=[RunStatus.SCHEDULED, *IN_CLUSTER, RunStatus.PREFLIGHT]
            )
        ]
    return [
        abort_run(db=db, ref=run_id, by=by, now=now, roll_back=roll_back, executor=executor)
        for run_id in ids
    ]


def worker_gone(run: Run, now: datetime) -> bool:
    """Whether the run's worker is dead: its process gone or a zombie on this host, or its
    heartbeat stale when it runs elsewhere."""
    if run.worker_host == socket.gethostname() and run.worker_pid:
        try:
            os.kill(run.worker_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return _is_zombie(run.worker_pid)
    return run.heartbeat_at is None or now - run.heartbeat_at > STALE_HEARTBEAT


def signals_here(run: Run) -> bool:
    """Whether the run's worker is a process of this host, which the bot signals itself."""
    return bool(run.worker_pid) and run.worker_host == socket.gethostname()


def kill_worker(run: Run) -> None:
    """SIGKILL a stuck worker of this host (one elsewhere loses every later transition)."""
    if not signals_here(run) or not run.worker_pid:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(run.worker_pid, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return False
