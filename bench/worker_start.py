"""Warm workers against cold ones: trigger -> worker in preflight, and the memory each
additional concurrent run costs, in one run.

    .venv/bin/python bench/worker_start.py [--runs 20] [--concurrent 10]

Each run is the library `blackhole` against `checkout`, started by `WorkerLauncher` as the bot
starts it: cold (a fresh `chaosbot worker` process) or warm (`warm=True`: forked by the
template process, bot/runs/warm.py). Start: from the launcher's call to the PREFLIGHT
transition the worker stamps on the row; cold and warm alternate run by run, so drift in the
machine hits both alike. Memory: `--concurrent` runs at once of each kind, measured while all
of them hold their fault, as each worker's memory not shared with any other process (USS:
Private_Clean + Private_Dirty of /proc/PID/smaps_rollup) and its proportional share (PSS).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path

# bench/ is not a package: its scripts share the set-up and arithmetic in bench/_setup.py.
from _setup import (
    BENCH_USER,
    CHECKOUT,
    READY_TIMEOUT,
    HaltFailed,
    now,
    percentile,
    plan_blackhole,
    register_checkout,
    row,
    wait,
    worker_env,
)

from bot.catalog.service import save_service
from bot.catalog.spec import CatalogPolicy
from bot.catalog.spec_parse import parse_service_spec
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.runs.flows import plan_run
from bot.runs.states import TERMINAL, RunStatus, Trigger
from bot.runs.supervisor import WorkerLauncher
from bot.testing.kube.api import KubeApiServer
from bot.testing.kube.health import health_endpoint

COLD, WARM = "cold", "warm"
MB = 1024 * 1024


def _one_run(db: Database, launcher: WorkerLauncher) -> float:
    """Seconds from the launcher's call to the worker's PREFLIGHT on the row; waits for the end."""
    planned = plan_blackhole(db, hold_seconds=0.2)
    triggered: datetime = now()
    launcher(planned.run_id)
    wait(lambda: row(db, planned.run_id).status in TERMINAL, READY_TIMEOUT, "run end", every=0.05)
    run = row(db, planned.run_id)
    preflight = next(e.at for e in run.events if e.status is RunStatus.PREFLIGHT)
    return (preflight - triggered).total_seconds()


def _memory(pid: int) -> tuple[int, int]:
    """(USS, PSS) of a process in bytes."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value) * 1024
    return fields["Private_Clean"] + fields["Private_Dirty"], fields["Pss"]


def _register_others(db: Database, kube: KubeApiServer, probe_url: str, count: int) -> None:
    """`count` more services of their own pods, so as many runs may hold at once (one run of a
    service at a time, and none over pods another run holds)."""
    policy = CatalogPolicy(allowed_namespaces=frozenset({"payments"}))
    for index in range(count):
        name = f"cart-{index}"
        kube.add_deployment("payments", name, replicas=1, labels={"app": name})
        fields = {"name": name, "selector": f"app={name}", "probes": [{"url": probe_url}]}
        spec = parse_service_spec({**CHECKOUT, **fields, "blastRadiusPercent": 100}, policy=policy)
        with db.session() as session:
            save_service(
                session=session, spec=spec, selector=f"app={name}", actor="bench", now=now()
            )


def _concurrent(db: Database, launcher: WorkerLauncher, count: int) -> list[tuple[int, int]]:
    """Start `count` runs at once, measure each worker while all hold, wait for their ends."""
    planned = [
        plan_run(
            db,
            service=f"cart-{index}",
            experiment="blackhole",
            trigger=Trigger.ADHOC,
            requested_by=BENCH_USER,
            now=now(),
            hold_seconds=8,
        )
        for index in range(count)
    ]
    for run in planned:
        launcher(run.run_id)
    try:
        wait(
            lambda: all(row(db, p.run_id).status is RunStatus.HOLDING for p in planned),
            READY_TIMEOUT,
            "all holding",
            every=0.1,
        )
        time.sleep(0.5)  # each worker's watcher has polled its probes at least once
        pids = [row(db, p.run_id).worker_pid for p in planned]
        return [_memory(pid) for pid in pids if pid]
    finally:
        wait(
            lambda: all(row(db, p.run_id).status in TERMINAL for p in planned),
            READY_TIMEOUT,
            "all ended",
            every=0.1,
        )


def _report(samples: dict[str, list[float]]) -> None:
    print("trigger -> worker in preflight (ms)")
    for name, values in samples.items():
        p50, p99 = (percentile(values, q) * 1000 for q in (50, 99))
        print(f"  {name}: p50 {p50:8.1f}   p99 {p99:8.1f}   max {max(values) * 1000:8.1f}")
    if samples[COLD] and samples[WARM]:
        ratios = [percentile(samples[WARM], q) / percentile(samples[COLD], q) for q in (50, 99)]
        print(f"  ratio warm / cold: p50 {ratios[0]:.3f}x   p99 {ratios[1]:.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each kind (default: 20)")
    parser.add_argument(
        "--concurrent", type=int, default=10, help="runs at once for memory (default: 10)"
    )
    args = parser.parse_args()
    if args.runs < 1 or args.concurrent < 1:
        parser.error("--runs and --concurrent must be at least 1")

    samples: dict[str, list[float]] = {COLD: [], WARM: []}
    memory: dict[str, list[tuple[int, int]]] = {}
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, health_endpoint() as url, KubeApiServer() as kube:
        db = Database(f"sqlite:///{tmp}/bench.db")
        env = worker_env(db, kube, tmp, CHAOSBOT_MAX_RUNS_PER_CLUSTER=str(args.concurrent + 1))
        launchers = {COLD: WorkerLauncher(env), WARM: WorkerLauncher(env, warm=True)}
        template = launchers[WARM].template
        assert template is not None
        try:
            upgrade(db)
            register_checkout(db, kube, url)
            _register_others(db, kube, url, args.concurrent)
            if not template.wait_ready(READY_TIMEOUT):
                raise SystemExit("the worker template did not get ready")
            for _ in range(args.runs):
                for name, launcher in launchers.items():
                    try:
                        samples[name].append(_one_run(db, launcher))
                    except HaltFailed as failure:
                        failures.append(f"{name}: {failure}")
            for name, launcher in launchers.items():
                try:
                    memory[name] = _concurrent(db, launcher, args.concurrent)
                except HaltFailed as failure:
                    failures.append(f"{name} x{args.concurrent}: {failure}")
            template_memory = _memory(template.pid) if template.pid else None
        finally:
            launchers[WARM].close()
            db.dispose()

    print(f"{args.runs} runs of each kind, cold and warm alternating")
    _report(samples)
    print(f"memory per worker with {args.concurrent} runs at once (MB)")
    for name, values in memory.items():
        uss = [u / MB for u, _ in values]
        pss = [p / MB for _, p in values]
        print(
            f"  {name}: not shared (USS) mean {sum(uss) / len(uss):6.1f} max {max(uss):6.1f}"
            f"   PSS mean {sum(pss) / len(pss):6.1f}   ({len(values)} workers)"
        )
    if len(memory) == 2:
        cold, warm = (sum(u for u, _ in memory[k]) / len(memory[k]) for k in (COLD, WARM))
        print(f"  ratio warm / cold, not shared per additional run: {warm / cold:.3f}x")
    if template_memory is not None:
        print(
            f"  the template itself (once): USS {template_memory[0] / MB:.1f}"
            f"   PSS {template_memory[1] / MB:.1f}"
        )
    if failures:
        print(f"{len(failures)} runs failed (left out above):")
        print("\n".join(f"  {failure}" for failure in failures))


if __name__ == "__main__":
    main()
