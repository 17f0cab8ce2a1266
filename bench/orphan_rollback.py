"""Time from a worker killed mid-hold to its fault removed by the janitor, against its period.

    .venv/bin/python bench/orphan_rollback.py [--runs 20] [--period 1.0] [--database-url URL]

Each run is the library `blackhole` against `checkout` with a 600 s hold, in a real worker
process, against an in-process Kubernetes API test server and a migrated database (a SQLite file
unless `--database-url` names an empty one). While it holds, at a random moment of the janitor's
period, the worker gets SIGKILL (as the kernel's OOM killer would send it). A `Janitor` runs in
this process all along, as on the bot's scheduling replica, with a real `WorkerLauncher.roll_back`
(`chaosbot worker --rollback RUN_ID`). The API server is polled every 20 ms for the run's
NetworkPolicy. The figures are read against the janitor's period, from the same runs: a death is
noticed within one period, then the rollback process starts and deletes the fault.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import time
from functools import partial

# bench/ is not a package: its scripts share the set-up and arithmetic in bench/_setup.py.
from _setup import (
    HaltFailed,
    fault_present,
    percentile,
    plan_blackhole,
    print_percentiles,
    register_checkout,
    row,
    wait,
    wait_holding,
    worker_env,
)

from bot.clock import SystemClock
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.faults.marks import RUN_LABEL
from bot.runs.janitor import Janitor
from bot.runs.states import TERMINAL, RunStatus
from bot.runs.supervisor import WorkerLauncher, start_worker
from bot.scheduling.reconciler import Reconciler
from bot.testing.kube.api import KubeApiServer
from bot.testing.kube.health import health_endpoint
from bot.testing.processes import stop_process

POLL = 0.02  # how often the API server is asked whether the fault is still there
REASON = "its worker stopped while holding; chaosbot rolled back: nothing left behind"


class NoticedRollBack:
    """The launcher's `roll_back`, noting when the janitor first asked for each run."""

    def __init__(self, launcher: WorkerLauncher) -> None:
        self._launcher = launcher
        self.noticed: dict[int, float] = {}

    def __call__(self, run_id: int) -> bool:
        self.noticed.setdefault(run_id, time.perf_counter())
        return self._launcher.roll_back(run_id)


def _one_run(
    db: Database,
    kube: KubeApiServer,
    env: dict[str, str],
    roll_back: NoticedRollBack,
    *,
    delay: float,
    timeout: float,
) -> dict[str, float]:
    """One worker killed while holding: seconds from its death to each milestone."""
    planned = plan_blackhole(db, hold_seconds=600)
    run_id, present = planned.run_id, partial(fault_present, kube, planned)

    worker = start_worker(run_id, env=env)
    try:
        wait_holding(db, kube, planned, every=POLL)
        time.sleep(delay)
        killed = time.perf_counter()
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        wait(lambda: not present(), timeout, "fault removed", every=POLL)
        gone = time.perf_counter() - killed
        wait(lambda: row(db, run_id).status in TERMINAL, timeout, "run ended", every=POLL)
        ended = time.perf_counter() - killed
    except HaltFailed as failure:
        run = row(db, run_id)
        raise HaltFailed(
            f"run {planned.key}: {failure}; row said {run.status.value} ({run.reason}), "
            f"leftovers {run.leftovers}"
        ) from failure
    finally:
        stop_process(worker)
    run = row(db, run_id)
    if run.status is not RunStatus.FAILED or run.reason != REASON:
        raise HaltFailed(f"run {planned.key} ended {run.status.value}: {run.reason}")
    noticed = roll_back.noticed[run_id] - killed
    return {
        "death -> janitor noticed": noticed,
        "noticed -> fault gone": gone - noticed,  # the rollback process: start, replay
        "death -> fault gone": gone,
        "death -> run ended": ended,
    }


def _report(runs: list[dict[str, float]], period: float) -> None:
    print_percentiles(runs, 26)
    gone = [run["death -> fault gone"] for run in runs]
    print(f"  janitor period             {period * 1000:8.1f}")
    print(f"  ratio fault gone p99 / period: {percentile(gone, 99) / period:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="killed workers (default: 20)")
    parser.add_argument(
        "--period", type=float, default=1.0, help="the janitor's period in seconds (default: 1)"
    )
    parser.add_argument("--database-url", help="an empty database to use instead of SQLite")
    parser.add_argument("--seed", type=int, default=1, help="for the moments of the kills")
    args = parser.parse_args()
    if args.runs < 1 or args.period <= 0:
        parser.error("--runs must be at least 1 and --period positive")

    rng = random.Random(args.seed)
    timeout = max(30.0, 10 * args.period)  # noticed within a period, then the rollback process
    samples: list[dict[str, float]] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, KubeApiServer() as kube, health_endpoint() as url:
        db = Database(args.database_url or f"sqlite:///{tmp}/bench.db")
        env = worker_env(db, kube, tmp, CHAOSBOT_JANITOR_SECONDS=str(args.period))
        roll_back = NoticedRollBack(WorkerLauncher(env))
        janitor = Reconciler(
            clock=SystemClock(),
            passes=[Janitor(db=db, clock=SystemClock(), roll_back=roll_back, period=args.period)],
        )
        try:
            upgrade(db)
            register_checkout(db, kube, url)
            janitor.start()
            for _ in range(args.runs):
                delay = rng.uniform(0, args.period)
                try:
                    samples.append(_one_run(db, kube, env, roll_back, delay=delay, timeout=timeout))
                except HaltFailed as failure:
                    failures.append(str(failure))
        finally:
            janitor.stop()
            db.dispose()
        left = kube.list("networkpolicies", "payments", label_selector=RUN_LABEL)

    print(f"{args.runs} blackhole workers killed mid-hold, rolled back by the janitor (ms)")
    if samples:
        _report(samples, args.period)
    if failures:
        print(f"{len(failures)} runs were not rolled back cleanly (left out above):")
        print("\n".join(f"  {failure}" for failure in failures))
    print(f"faults left at the end: {len(left)}")
    return 1 if left or failures else 0


if __name__ == "__main__":
    sys.exit(main())
