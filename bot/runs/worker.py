"""`chaosbot worker RUN_ID`: one run, executed with chaostoolkit-lib in a process of its own.

chaostoolkit-lib installs signal handlers, so it must own a main thread; a process per run also
keeps a broken experiment from taking the bot down. SIGUSR1 is the abort: chaostoolkit-lib stops
the method at once, plays the rollbacks and ends the journal "interrupted".
"""

from __future__ import annotations

import copy
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Collection
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any, NamedTuple, Protocol

from chaoslib.experiment import run_experiment
from chaoslib.run import RunEventHandler

from bot.alerts.gate import FiringAlerts
from bot.clock import Clock
from bot.db.engine import Database
from bot.faults.outcome import failed_actions, not_started
from bot.load import experiment as load_experiment
from bot.probes import watch
from bot.runs.events import NOBODY, RunObserver
from bot.runs.models import Run
from bot.runs.preflight import LivePods, PreflightPolicy, check_preflight
from bot.runs.service import find_run, note, record_measurement, transition
from bot.runs.signals import catching_lost_exits
from bot.runs.states import RunStatus

__all__ = ["Observer", "RunCluster", "Verdict", "execute_run", "verdict"]

log = logging.getLogger(__name__)

HOLD_PROVIDER = "bot.faults.hold"
POLL_SECONDS = 0.05
LOST_SIGNAL = timedelta(seconds=2)
SHORT = 80  # characters of a probe's answer or error quoted in a reason
# A broken steady state is quoted whole: its probe's name says what was measured.
BREACH = 300
_ACTIVITY_FAILED = "chaoslib.exceptions.ActivityFailed: "
_SIGTERM = "InterruptExecution: SIGTERM signal received"
_INTERRUPTIBLE = frozenset({RunStatus.INJECTING, RunStatus.HOLDING})
# Hears every transition: in its transaction (the automatic findings), then after the commit
# (the run's Slack message).
Observer = RunObserver


class RunCluster(LivePods, Protocol):
    """The cluster as the worker needs it (bot.k8s.runs.KubeRunCluster)."""

    def dry_run(self) -> AbstractContextManager[list[str]]:
        """While open, the cluster is only asked what it would do; yields the writes made."""
        ...

    def leftovers(
        self, key: str, *, context: str | None, kinds: Collection[str] | None = None
    ) -> list[str]:
        """What still carries the run's label, among the kinds its experiment `creates`."""
        ...


class _Lifecycle:
    """Transitions of one run, each heard by the observer (in its transaction, then after)."""

    def __init__(self, db: Database, run_id: int, clock: Clock, observer: Observer) -> None:
        self.db, self.run_id, self.clock, self.observer = db, run_id, clock, observer

    def move(self, to: RunStatus, message: str, **values: Any) -> bool:
        with self.db.session() as session:
            moved = transition(
                session=session,
                run_id=self.run_id,
                to=to,
                now=self.clock.now(),
                message=message,
                values=values or None,
                observer=self.observer,
            )
        if moved:
            self.observer.run_updated(self.run_id, to, message)
        return moved

    def note(self, message: str, detail: dict[str, Any] | None = None) -> None:
        with self.db.session() as session:
            run = find_run(session=session, ref=self.run_id)
            note(session=session, run=run, now=self.clock.now(), message=message, detail=detail)


def execute_run(
    run_id: int,
    *,
    db: Database,
    clock: Clock,
    cluster: RunCluster,
    policy: PreflightPolicy,
    observer: Observer = NOBODY,
    alerts: FiringAlerts | None = None,
) -> RunStatus | None:
    """Take the run from scheduled to a terminal state; returns that state.

    None when another worker claimed the run first (whether it is still running it or has
    finished): this one touched nothing. A run aborted before any worker claimed it returns
    ABORTED.

    `alerts` answers the gate's question (is an alert of the service firing?); None when the
    platform has no Alertmanager.
    """
    # chaostoolkit-lib handles SIGUSR1 while the experiment runs and restores this afterwards:
    # an abort signal outside that window is ignored instead of killing the worker (the
    # watcher re-sends a signal that was lost before chaostoolkit-lib listened).
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    life = _Lifecycle(db, run_id, clock, observer)
    worker = {"worker_pid": os.getpid(), "worker_host": socket.gethostname()}
    if not life.move(RunStatus.PREFLIGHT, "preflight checks", heartbeat_at=clock.now(), **worker):
        with db.session() as session:
            run = find_run(session=session, ref=run_id)
            # Only the claim (this move) writes a worker into the row.
            return None if run.worker_pid is not None else run.status
    with db.session() as session:
        run = find_run(session=session, ref=run_id)
        refusals = check_preflight(
            session=session,
            run=run,
            cluster=cluster,
            policy=policy,
            now=clock.now(),
            alerts=alerts,
        )
        dry_run, document, key, context = run.dry_run, run.document, run.key, run.cluster_context
        creates = list(run.creates or [])
    if refusals:
        reason = "refused by preflight: " + "; ".join(refusals)
        life.move(RunStatus.ABORTED, reason, reason=reason)
        return RunStatus.ABORTED
    if dry_run:
        return _dry_run(life, document, cluster)
    life.move(RunStatus.INJECTING, "injecting")
    with catching_lost_exits() as lost, watch.listening(_Measurements(db, run_id, clock)):
        watcher = _AbortWatcher(db, run_id, clock, lost=lost)
        watcher.start()
        try:
            journal = run_experiment(
                document,
                settings={"runtime": {"rollbacks": {"strategy": "always"}}},
                event_handlers=[_Recorder(life)],
            )
        finally:
            watcher.stop()
    status, reason = verdict(journal)
    leftovers = cluster.leftovers(key, context=context, kinds=creates)
    if leftovers:
        life.note("left behind after rollback: " + ", ".join(leftovers))
    life.move(
        status,
        reason,
        journal=_json_safe(journal),
        leftovers=leftovers,
        reason=reason,
        rollback_attempts=1,
        # Something is left: the janitor plays the rollbacks again until nothing is.
        rollback_retry_at=clock.now() if leftovers else None,
    )
    return status


def _dry_run(life: _Lifecycle, document: dict[str, Any], cluster: RunCluster) -> RunStatus:
    """Play the method and the rollbacks with every write sent as a server-side dry run.

    The API server admits each write as it would for real (PDBs included) and keeps none, so
    the writes listed are exactly what the run would do. The hold is skipped.
    """
    rehearsal = copy.deepcopy(document)
    rehearsal.setdefault("configuration", {})["hold_seconds"] = 0
    with cluster.dry_run() as writes:
        journal = run_experiment(
            rehearsal, settings={"runtime": {"rollbacks": {"strategy": "always"}}}
        )
    failed = [
        r["activity"]["name"] for r in journal.get("run") or [] if r.get("status") == "failed"
    ]
    reason = "dry run: would " + ("; ".join(dict.fromkeys(writes)) or "touch nothing")
    if failed:
        reason += f" (the API refused: {', '.join(failed)})"
    life.move(RunStatus.ABORTED, reason, reason=reason, journal=_json_safe(journal))
    return RunStatus.ABORTED


class Verdict(NamedTuple):
    """What a run amounts to: its terminal state and the reason shown with it."""

    status: RunStatus
    reason: str


def verdict(journal: dict[str, Any]) -> Verdict:
    """What a Chaos Toolkit journal amounts to, read from its steady-state checks.

    chaostoolkit-lib's own status says "completed" both for a run whose steady state did not hold
    before the method (it then plays no method) and for one whose action failed, so the status
    alone decides nothing but an interruption; a journal that cannot be read is never a pass.
    """
    status, headline = _judge(journal)
    failed = [
        r["activity"]["name"] for r in journal.get("run") or [] if r.get("status") == "failed"
    ]
    bad_rollbacks = [
        r["activity"]["name"] for r in journal.get("rollbacks") or [] if r.get("status") == "failed"
    ]
    if failed:
        headline += f"; failed activities: {', '.join(failed)}"
    if bad_rollbacks:
        headline += f"; rollbacks that failed: {', '.join(bad_rollbacks)}"
    return Verdict(status, headline)


def _judge(journal: dict[str, Any]) -> tuple[RunStatus, str]:
    ended = journal.get("status")
    breach = _breach(journal)
    if breach is not None and breach.get("halted") is True:
        # The watch interrupted the method (bot.probes.watch): the rollbacks played at once.
        return (
            RunStatus.HALTED,
            f"halted: steady state broke ({_short(breach.get('reason'), BREACH)})",
        )
    load = journal.get(load_experiment.JOURNAL_KEY)
    if isinstance(load, dict) and load.get("error"):
        # The load control interrupted the run before anything was injected (bot.load).
        return RunStatus.FAILED, f"failed: the load did not start ({_short(load['error'], BREACH)})"
    if ended == "interrupted":
        return RunStatus.ABORTED, "aborted: rolled back on request"
    if _terminated(journal):
        # chaostoolkit-lib turns SIGTERM into a failed activity and goes on to "completed".
        return RunStatus.ABORTED, "aborted: the worker was stopped (SIGTERM); rolled back"
    states = journal.get("steady_states")
    states = states if isinstance(states, dict) else {}
    before, after = states.get("before"), states.get("after")
    if not isinstance(before, dict):
        return _unreadable("no steady-state check before the method")
    if not_started(journal):
        # chaostoolkit-lib skipped the method; only the (idempotent) rollbacks ran.
        return RunStatus.ABORTED, "not started: the steady state did not hold" + _broken(before)
    if before.get("steady_state_met") is not True:
        return _unreadable("the steady-state check before the method has no result")
    if failed_actions(journal):
        # A fault that was not injected, or not undone, is a failed run, not a passed one.
        return RunStatus.FAILED, "failed"
    if not isinstance(after, dict):
        return _unreadable(f"no steady-state check after the method; the journal says {ended}")
    if after.get("steady_state_met") is False:
        return RunStatus.DEVIATED, "deviated: the steady state did not hold" + _broken(after)
    if breach is not None:
        # It broke while the rollbacks ran (too late to halt) and came back by the end.
        return (
            RunStatus.DEVIATED,
            f"deviated: the steady state broke ({_short(breach.get('reason'), BREACH)})",
        )
    if after.get("steady_state_met") is True and ended == "completed":
        return RunStatus.COMPLETED, "completed: the steady state held"
    return _unreadable(f"the steady state held but the journal says {ended}")


def _terminated(journal: dict[str, Any]) -> bool:
    """Whether SIGTERM (a pod deleted, a Job past its deadline) interrupted the method."""
    return any(
        isinstance(entry, dict)
        and entry.get("status") == "failed"
        and _SIGTERM in "".join(map(str, entry.get("exception") or []))
        for entry in journal.get("run") or []
    )


def _breach(journal: dict[str, Any]) -> dict[str, Any] | None:
    watched = journal.get(watch.JOURNAL_KEY)
    breach = watched.get("breach") if isinstance(watched, dict) else None
    return breach if isinstance(breach, dict) else None


def _unreadable(why: str) -> tuple[RunStatus, str]:
    return RunStatus.FAILED, f"failed: the verdict could not be read ({why})"


def _broken(state: dict[str, Any]) -> str:
    """` (service-answers: got 503)`: the probe that broke the steady state, and what it got."""
    probes = [p for p in state.get("probes") or [] if isinstance(p, dict)]
    probe = next((p for p in probes if p.get("tolerance_met") is False), None)
    if probe is None:
        return ""
    name = probe.get("activity", {}).get("name", "a probe")
    if probe.get("status") == "failed":
        lines = [line for line in probe.get("exception") or [] if str(line).strip()]
        # Python providers wrap the error in ActivityFailed, sometimes twice: keep what it said.
        error = str(lines[-1]).strip().rsplit(_ACTIVITY_FAILED, 1)[-1] if lines else "an error"
        return f" ({name} failed: {_short(error)})"
    got = probe.get("output")
    if isinstance(got, dict) and "status" in got:
        got = got["status"]  # an HTTP probe's answer
    return f" ({name}: got {_short(got)})"


def _short(value: Any, limit: int = SHORT) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_safe(value: Any) -> Any:
    """Journals carry datetimes and exceptions; keep what JSON can hold."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class _Recorder(RunEventHandler):  # type: ignore[misc]
    """Turns chaostoolkit-lib's events into state transitions and timeline lines."""

    def __init__(self, life: _Lifecycle) -> None:
        self._life = life

    def start_activity(self, activity: dict[str, Any]) -> None:
        provider = activity.get("provider", {})
        if activity.get("name") == "hold" or provider.get("module") == HOLD_PROVIDER:
            self._life.move(RunStatus.HOLDING, "holding the fault")

    def activity_completed(self, activity: dict[str, Any], run: dict[str, Any]) -> None:
        status = run.get("status")
        detail = {
            "status": status,
            "output": _json_safe(run.get("output")),
            "exception": _json_safe(run.get("exception")),
        }
        self._life.note(
            f"{activity.get('type', 'activity')} {activity.get('name')}: {status}", detail
        )

    def hypothesis_before_completed(
        self, experiment: dict[str, Any], state: dict[str, Any], journal: dict[str, Any]
    ) -> None:
        met = bool(state and state.get("steady_state_met"))
        self._life.note("steady state before: " + ("met" if met else "NOT met"))

    def start_rollbacks(self, experiment: dict[str, Any]) -> None:
        self._life.move(RunStatus.ROLLING_BACK, "rolling back")

    def hypothesis_after_completed(
        self, experiment: dict[str, Any], state: dict[str, Any], journal: dict[str, Any]
    ) -> None:
        met = bool(state and state.get("steady_state_met"))
        self._life.note("steady state after: " + ("met" if met else "NOT met"))


class _Measurements:
    """Stores each check of the steady-state watch as a point of the run's time series."""

    def __init__(self, db: Database, run_id: int, clock: Clock) -> None:
        self._db, self._run_id, self._clock = db, run_id, clock

    def __call__(self, check: watch.Check) -> None:
        # On the bot's clock, like the run's timeline (the check's own time is the wall clock).
        with self._db.session() as session:
            record_measurement(
                session=session,
                run_id=self._run_id,
                at=self._clock.now(),
                probe=check.probe,
                ok=check.ok,
                value=check.value,
                detail=check.detail,
            )


class _AbortWatcher:
    """Beats the heartbeat and turns an abort requested in the database into one SIGUSR1.

    The bot signals a worker on its own host itself (and says so in the row); this covers
    workers it cannot reach (another replica's host, a Kubernetes Job), and a signal that
    arrived before chaostoolkit-lib was listening (the run is still not rolling back after
    LOST_SIGNAL) or that a finalizer swallowed. Never a second signal while rollbacks run: once
    it has signalled, only a signal known to be lost is sent again.
    """

    def __init__(self, db: Database, run_id: int, clock: Clock, *, lost: threading.Event) -> None:
        self._db, self._run_id, self._clock = db, run_id, clock
        # Set when an abort signal was swallowed by a finalizer (bot.runs.signals): sent again.
        self._lost = lost
        # When this watcher first saw the request, on its own monotonic clock: how long a
        # signal has been lost is never measured against another host's (or a test's) clock.
        self._seen_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="abort-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        signalled = False
        while not self._stop.wait(POLL_SECONDS):
            try:
                if self._lost.is_set():  # whoever sent it, it never reached chaostoolkit-lib
                    self._lost.clear()
                    os.kill(os.getpid(), signal.SIGUSR1)
                    signalled = True
                elif not signalled and self._should_signal():
                    os.kill(os.getpid(), signal.SIGUSR1)
                    signalled = True
            except Exception:
                log.exception("abort watcher pass failed")

    def _should_signal(self) -> bool:
        now = self._clock.now()
        with self._db.session() as session:
            run = session.get(Run, self._run_id)
            if run is None:
                return False
            run.heartbeat_at = now
            if run.abort_requested_at is None or run.status not in _INTERRUPTIBLE:
                return False
            if not run.abort_signalled:
                return True
            if self._seen_at is None:
                self._seen_at = time.monotonic()
            return time.monotonic() - self._seen_at > LOST_SIGNAL.total_seconds()
