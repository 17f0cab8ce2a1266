"""How fast a broken steady state halts a run, and that it halts only broken ones.

    .venv/bin/python bench/stop_condition.py [--runs 10] [--interval 1] [--fail-after 2]
                                             [--scrape 1] [--hold 20]

Each run is the library `blackhole` against `checkout` in a real worker process, against an
in-process Kubernetes API test server, a migrated SQLite database and a real Prometheus
(/usr/bin/prometheus) scraping an exporter in this process. checkout's steady state is one
Prometheus probe, `checkout_error_ratio <= 0.01`, watched every --interval seconds and halting
after --fail-after failed checks. In the broken runs the exporter's error ratio goes to 0.5 at a
random moment of the hold; the healthy runs hold to the end. Printed: breach -> fault gone (p50,
p99) against its bound, the interval times failAfter plus Prometheus' scrape interval (the
breach is only visible at the next scrape); missed halts (a broken run that was not halted
within the hold) and false halts (a healthy run halted); both must be 0.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from functools import partial
from pathlib import Path

# bench/ is not a package: its scripts share the set-up and arithmetic in bench/_setup.py.
from _setup import (
    HaltFailed,
    fault_present,
    now,
    percentile,
    plan_blackhole,
    print_percentiles,
    row,
    save_checkout,
    wait,
    wait_holding,
    worker_env,
)

from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.runs.states import TERMINAL, RunStatus
from bot.runs.supervisor import start_worker
from bot.testing.kube.api import KubeApiServer
from bot.testing.processes import stop_process
from bot.testing.prometheus import Exporter, prometheus_server

QUERY = "max(checkout_error_ratio)"
HEALTHY, BROKEN = 0.0, 0.5


def _one_run(
    db: Database,
    kube: KubeApiServer,
    env: dict[str, str],
    exporter: Exporter,
    args: argparse.Namespace,
    *,
    breaks: bool,
) -> dict[str, float] | None:
    """One run; for a broken one, seconds from the breach to the fault gone and to the run's end."""
    exporter.error_ratio.set(HEALTHY)
    planned = plan_blackhole(db, hold_seconds=args.hold)
    present = partial(fault_present, kube, planned)
    worker = start_worker(planned.run_id, env=env)
    try:
        wait_holding(db, kube, planned, every=0.01)
        if not breaks:
            wait(
                lambda: row(db, planned.run_id).status in TERMINAL,
                args.hold + 30,
                "run ended",
                0.05,
            )
            run = row(db, planned.run_id)
            if run.status is RunStatus.HALTED:
                raise HaltFailed(f"false halt: healthy run {planned.key}: {run.reason}")
            return None
        # At a random moment of the hold, leaving room for the halt before the hold ends.
        room = args.hold - _bound(args) - 2
        time.sleep(random.uniform(0, max(room, 0)))
        exporter.error_ratio.set(BROKEN)
        started = time.perf_counter()
        wait(lambda: not present(), args.hold + 30, "fault removed")
        gone = time.perf_counter() - started
        wait(lambda: row(db, planned.run_id).status in TERMINAL, 30, "run ended")
        ended = time.perf_counter() - started
        run = row(db, planned.run_id)
        if run.status is not RunStatus.HALTED:
            raise HaltFailed(f"missed halt: broken run {planned.key} ended {run.status.value}")
        return {"breach -> fault gone": gone, "breach -> run ended": ended}
    finally:
        stop_process(worker)
        exporter.error_ratio.set(HEALTHY)


def _bound(args: argparse.Namespace) -> float:
    return float(args.interval * args.fail_after + args.scrape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="broken runs, and as many healthy")
    parser.add_argument("--interval", type=int, default=1, help="steadyState.intervalSeconds")
    parser.add_argument("--fail-after", type=int, default=2, help="steadyState.failAfter")
    parser.add_argument("--scrape", type=float, default=1.0, help="Prometheus' scrape interval")
    parser.add_argument("--hold", type=float, default=20.0, help="each run's hold, in seconds")
    args = parser.parse_args()
    if args.runs < 1 or args.hold < _bound(args) + 3:
        parser.error("--runs must be at least 1 and --hold longer than the bound plus 3 s")

    samples: list[dict[str, float]] = []
    missed: list[str] = []
    false_halts: list[str] = []
    failures: list[str] = []
    exporter = Exporter()
    with (
        tempfile.TemporaryDirectory() as tmp,
        KubeApiServer() as kube,
        prometheus_server([exporter.address], Path(tmp), scrape_seconds=args.scrape) as prom,
    ):
        db = Database(f"sqlite:///{tmp}/bench.db")
        try:
            upgrade(db)
            for index, zone in enumerate(("eu-1a", "eu-1b", "eu-1c")):
                kube.add_node(f"node-{index}", zone=zone)
            kube.add_namespace("payments")
            kube.add_deployment("payments", "checkout", replicas=3, labels={"app": "checkout"})
            save_checkout(
                db,
                at=now(),
                blastRadiusPercent=100,
                steadyState={
                    "intervalSeconds": args.interval,
                    "failAfter": args.fail_after,
                    "probes": [{"prometheus": {"query": QUERY, "max": 0.01}}],
                },
                prometheus=True,
            )
            env = worker_env(db, kube, tmp, CHAOSBOT_PROMETHEUS_URL=prom.url)
            # Alternate, so that drift in the machine hits both kinds alike.
            for index in range(2 * args.runs):
                breaks = index % 2 == 0
                try:
                    result = _one_run(db, kube, env, exporter, args, breaks=breaks)
                    if result is not None:
                        samples.append(result)
                except HaltFailed as failure:
                    text = str(failure)
                    (
                        missed if "missed" in text else false_halts if "false" in text else failures
                    ).append(text)
        finally:
            db.dispose()
            exporter.close()

    bound = _bound(args)
    print(
        f"{args.runs} broken and {args.runs} healthy blackhole runs, watched every "
        f"{args.interval} s, halting after {args.fail_after} failed checks; Prometheus scrapes "
        f"every {args.scrape:g} s (times in ms)"
    )
    if samples:
        print_percentiles(samples, 22)
        gone = [s["breach -> fault gone"] for s in samples]
        p50, p99 = percentile(gone, 50), percentile(gone, 99)
        print(
            f"  bound interval x failAfter + scrape = {bound * 1000:.0f} ms; fault gone / bound: "
            f"p50 {p50 / bound:.2f}x   p99 {p99 / bound:.2f}x"
        )
    print(f"missed halts: {len(missed)}   false halts: {len(false_halts)}")
    for line in missed + false_halts + failures:
        print(f"  {line}")


if __name__ == "__main__":
    main()
