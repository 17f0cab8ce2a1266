"""Time from Abort to a run's fault removed and the run ended, by signal and by database row.

    .venv/bin/python bench/halt_latency.py [--runs 30] [--db-path-share 0.33]

Each run is the library `blackhole` against `checkout` with a 60 s hold, in a real worker process,
against an in-process Kubernetes API test server and a migrated SQLite database. While it holds,
it is aborted as the bot does on the worker's host (abort_run: the row, then SIGUSR1) or as
another replica would (the row only; the worker's watcher polls it). The baseline, timed in the
same runs (these machines are noisy: read the ratio), is the rollback activity's own duration.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from functools import partial

# bench/ is not a package: its scripts share the set-up and arithmetic in bench/_setup.py.
from _setup import (
    READY_TIMEOUT,
    HaltFailed,
    fault_present,
    now,
    percentile,
    plan_blackhole,
    print_percentiles,
    register_checkout,
    row,
    wait,
    wait_holding,
    worker_env,
)
from sqlalchemy import update

from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.runs.models import Run
from bot.runs.states import TERMINAL, RunStatus
from bot.runs.supervisor import abort_run, start_worker
from bot.testing.kube.api import KubeApiServer
from bot.testing.kube.health import health_endpoint
from bot.testing.processes import stop_process

HALT_TIMEOUT = 10.0  # abort to fault gone, then to the run's end (normally well under 1 s)
SIGNAL, DB_ROW = "signal", "db row"


def _one_run(db: Database, kube: KubeApiServer, env: dict[str, str], path: str) -> dict[str, float]:
    """One aborted run: seconds from the abort to each milestone, and the rollback's duration."""
    planned = plan_blackhole(db, hold_seconds=60)
    run_id, present = planned.run_id, partial(fault_present, kube, planned)

    worker = start_worker(run_id, env=env)
    try:
        wait_holding(db, kube, planned, every=0.01)
        aborted_at, started = now(), time.perf_counter()
        if path == SIGNAL:
            abort_run(db=db, ref=run_id, by="U0BENCH", now=aborted_at)
        else:
            with db.session() as session:
                values = {"abort_requested_at": aborted_at, "abort_requested_by": "U0BENCH"}
                session.execute(update(Run).where(Run.id == run_id).values(**values))
        wait(lambda: not present(), HALT_TIMEOUT, "fault removed")
        gone = time.perf_counter() - started
        wait(lambda: row(db, run_id).status in TERMINAL, HALT_TIMEOUT, "run ended")
        finished = time.perf_counter() - started
        wait(lambda: worker.poll() is not None, HALT_TIMEOUT, "worker exited", every=0.01)
    except HaltFailed as failure:
        run = row(db, run_id)
        stop_process(worker)
        # As the bot's reaper would, so that a stuck run does not hold up the next one.
        rollback = [sys.executable, "-m", "bot", "worker", "--rollback", str(run_id)]
        subprocess.run(rollback, env=env, capture_output=True, timeout=READY_TIMEOUT, check=False)
        raise HaltFailed(
            f"run {planned.key}: {failure}; row said {run.status.value} ({run.reason}), "
            f"leftovers {run.leftovers}, worker exit {worker.returncode}"
        ) from failure
    finally:
        stop_process(worker)
    run = row(db, run_id)
    if run.status is not RunStatus.ABORTED:
        raise HaltFailed(f"run {planned.key} ended {run.status.value}: {run.reason}")
    rolling_back = next(e.at for e in run.events if e.status is RunStatus.ROLLING_BACK)
    return {
        "abort -> rolling back": (rolling_back - aborted_at).total_seconds(),
        "abort -> fault gone": gone,
        "abort -> run ended": finished,
        "rollback alone": float((run.journal or {})["rollbacks"][0]["duration"]),
    }


def _report(path: str, runs: list[dict[str, float]]) -> None:
    print(f"{path} path, {len(runs)} runs:")
    print_percentiles(runs, 22)
    gone, alone = (
        [run[name] for run in runs] for name in ("abort -> fault gone", "rollback alone")
    )
    ratios = [percentile(gone, q) / percentile(alone, q) for q in (50, 99)]
    print(f"  ratio fault gone / rollback alone: p50 {ratios[0]:.1f}x   p99 {ratios[1]:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="aborted runs in all (default: 30)")
    parser.add_argument(
        "--db-path-share",
        type=float,
        default=1 / 3,
        help="the share of runs aborted through the database row only (default: a third)",
    )
    args = parser.parse_args()
    if args.runs < 1 or not 0 <= args.db_path_share <= 1:
        parser.error("--runs must be at least 1 and --db-path-share between 0 and 1")

    samples: dict[str, list[dict[str, float]]] = {SIGNAL: [], DB_ROW: []}
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, KubeApiServer() as kube, health_endpoint() as url:
        db = Database(f"sqlite:///{tmp}/bench.db")
        try:
            upgrade(db)
            register_checkout(db, kube, url)
            env = worker_env(db, kube, tmp)
            for index in range(args.runs):
                # Database-path runs spread evenly, so drift in the machine hits both paths alike.
                share = args.db_path_share
                path = DB_ROW if int((index + 1) * share) > int(index * share) else SIGNAL
                try:
                    samples[path].append(_one_run(db, kube, env, path))
                except HaltFailed as failure:
                    failures.append(f"{path} path: {failure}")
        finally:
            db.dispose()

    print(f"{args.runs} aborted blackhole runs, each in its own worker process (times in ms)")
    for path, runs in samples.items():
        if runs:
            _report(path, runs)
    if failures:
        print(f"{len(failures)} runs did not halt cleanly (left out above):")
        print("\n".join(f"  {failure}" for failure in failures))


if __name__ == "__main__":
    main()
