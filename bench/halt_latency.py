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
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update

from bot.catalog.service import save_service
from bot.catalog.spec import CatalogPolicy
from bot.catalog.spec_parse import parse_service_spec
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.runs.flows import plan_run
from bot.runs.models import Run
from bot.runs.states import TERMINAL, RunStatus, Trigger
from bot.runs.supervisor import abort_run, start_worker
from bot.testing.kube.api import KubeApiServer
from bot.testing.kube.health import health_endpoint

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60.0  # worker start, preflight, steady state, injection
HALT_TIMEOUT = 10.0  # abort to fault gone, then to the run's end (normally well under 1 s)
SIGNAL, DB_ROW = "signal", "db row"


class HaltFailed(Exception):
    """A run that did not halt cleanly: listed at the end, left out of the figures."""


def _register_checkout(db: Database, kube: KubeApiServer, probe_url: str) -> None:
    for index, zone in enumerate(("eu-1a", "eu-1b", "eu-1c")):
        kube.add_node(f"node-{index}", zone=zone)
    kube.add_namespace("payments")
    kube.add_deployment("payments", "checkout", replicas=3, labels={"app": "checkout"})
    raw = {
        "name": "checkout",
        "team": "payments",
        "teamChannel": "C0PAYMENTS",
        "tier": 2,
        "namespace": "payments",
        "selector": "app=checkout",
        "owners": ["U0BENCH"],
        "probes": [{"url": probe_url}],
        "blastRadiusPercent": 100,
    }
    spec = parse_service_spec(raw, policy=CatalogPolicy(allowed_namespaces=frozenset({"payments"})))
    with db.session() as session:
        save_service(session=session, spec=spec, selector="app=checkout", actor="bench", now=_now())


def _now() -> datetime:
    return datetime.now(UTC)


def _wait(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.001) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise HaltFailed(f"{what} not within {timeout:.0f} s")
        time.sleep(every)


def _row(db: Database, run_id: int) -> Run:
    with db.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        _ = [event.at for event in run.events]  # load the timeline inside the session
        return run


def _one_run(db: Database, kube: KubeApiServer, env: dict[str, str], path: str) -> dict[str, float]:
    """One aborted run: seconds from the abort to each milestone, and the rollback's duration."""
    planned = plan_run(
        db,
        service="checkout",
        experiment="blackhole",
        trigger=Trigger.ADHOC,
        requested_by="U0BENCH",
        now=_now(),
        hold_seconds=60,
    )
    run_id, selector = planned.run_id, f"chaosbot.io/run-id={planned.key}"

    def fault_present() -> bool:
        return bool(kube.list("networkpolicies", "payments", label_selector=selector))

    def holding() -> bool:
        return _row(db, run_id).status is RunStatus.HOLDING and fault_present()

    worker = start_worker(run_id, env=env)
    try:
        _wait(holding, READY_TIMEOUT, "holding", every=0.01)
        aborted_at, started = _now(), time.perf_counter()
        if path == SIGNAL:
            abort_run(db=db, ref=run_id, by="U0BENCH", now=aborted_at)
        else:
            with db.session() as session:
                values = {"abort_requested_at": aborted_at, "abort_requested_by": "U0BENCH"}
                session.execute(update(Run).where(Run.id == run_id).values(**values))
        _wait(lambda: not fault_present(), HALT_TIMEOUT, "fault removed")
        gone = time.perf_counter() - started
        _wait(lambda: _row(db, run_id).status in TERMINAL, HALT_TIMEOUT, "run ended")
        finished = time.perf_counter() - started
        _wait(lambda: worker.poll() is not None, HALT_TIMEOUT, "worker exited", every=0.01)
    except HaltFailed as failure:
        run = _row(db, run_id)
        _stop(worker)
        # As the bot's reaper would, so that a stuck run does not hold up the next one.
        rollback = [sys.executable, "-m", "bot", "worker", "--rollback", str(run_id)]
        subprocess.run(rollback, env=env, capture_output=True, timeout=READY_TIMEOUT, check=False)
        raise HaltFailed(
            f"run {planned.key}: {failure}; row said {run.status.value} ({run.reason}), "
            f"leftovers {run.leftovers}, worker exit {worker.returncode}"
        ) from failure
    finally:
        _stop(worker)
    run = _row(db, run_id)
    if run.status is not RunStatus.ABORTED:
        raise HaltFailed(f"run {planned.key} ended {run.status.value}: {run.reason}")
    rolling_back = next(e.at for e in run.events if e.status is RunStatus.ROLLING_BACK)
    return {
        "abort -> rolling back": (rolling_back - aborted_at).total_seconds(),
        "abort -> fault gone": gone,
        "abort -> run ended": finished,
        "rollback alone": float((run.journal or {})["rollbacks"][0]["duration"]),
    }


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the worker if it is still there: no orphans, whatever happened."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _report(path: str, runs: list[dict[str, float]]) -> None:
    print(f"{path} path, {len(runs)} runs:")
    for name in runs[0]:
        values = [run[name] * 1000 for run in runs]
        p50, p99 = _percentile(values, 50), _percentile(values, 99)
        print(f"  {name:22s} p50 {p50:8.1f}   p99 {p99:8.1f}   max {max(values):8.1f}")
    gone, alone = (
        [run[name] for run in runs] for name in ("abort -> fault gone", "rollback alone")
    )
    ratios = [_percentile(gone, q) / _percentile(alone, q) for q in (50, 99)]
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
            _register_checkout(db, kube, url)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHAOSBOT_"))}
            env.update(
                CHAOSBOT_DATABASE_URL=db.url,
                KUBECONFIG=str(kube.write_kubeconfig(Path(tmp) / "kubeconfig")),
                CHAOSBOT_ALLOWED_NAMESPACES="payments",
                CHAOSBOT_LOG_LEVEL="ERROR",
                PYTHONPATH=str(ROOT),
            )
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
