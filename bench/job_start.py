"""Time from a run's trigger to its worker in preflight, with runs as local processes and as Jobs.

    .venv/bin/python bench/job_start.py [--runs 20]

Each run is the library `blackhole` against `checkout` (a 1 s hold), started as the bot starts
it: by `WorkerLauncher` (a `chaosbot worker` process of this host) or by `JobLauncher` (a Job in
the bot's namespace of the in-process Kubernetes API test server, whose kubelet runs the Job's
pod as a local process with the environment of the ConfigMap and Secrets the manifests create).
The measure is from the launcher's call to the run's PREFLIGHT transition (the time the worker
stamps on the row, on this machine's clock), so polling adds nothing. The two executors
alternate run by run, so drift in the machine hits both alike; read the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime
from pathlib import Path

# bench/ is not a package: its scripts share the set-up and arithmetic in bench/_setup.py.
from _setup import (
    READY_TIMEOUT,
    ROOT,
    HaltFailed,
    now,
    percentile,
    plan_blackhole,
    print_percentiles,
    register_checkout,
    row,
    wait,
    worker_env,
)

from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.k8s.client import ClientFactory
from bot.k8s.jobs import CONFIG_MAP, DATABASE_SECRET, SLACK_SECRET, JobLauncher
from bot.runs.states import TERMINAL, RunStatus
from bot.runs.supervisor import Executor, WorkerLauncher
from bot.testing.kube.api import DEFAULT_TOKEN, KubeApiServer, KubeletConfig
from bot.testing.kube.health import health_endpoint

NAMESPACE = "chaosbot"
LOCAL, KUBERNETES = "local", "kubernetes"


def _configure_jobs(kube: KubeApiServer, env: dict[str, str]) -> None:
    """The bot's namespace as the manifests leave it: the runs' ServiceAccount, the ConfigMap
    and Secrets a run's Job reads."""
    kube.add_namespace(NAMESPACE)
    metadata = {"namespace": NAMESPACE}
    kube.add_object(
        "serviceaccounts",
        {"kind": "ServiceAccount", "metadata": {**metadata, "name": "chaosbot-runner"}},
    )
    settings = {k: v for k, v in env.items() if k.startswith("CHAOSBOT_")}
    database = {"CHAOSBOT_DATABASE_URL": settings.pop("CHAOSBOT_DATABASE_URL")}
    kube.add_object(
        "configmaps",
        {"kind": "ConfigMap", "metadata": {**metadata, "name": CONFIG_MAP}, "data": settings},
    )
    kube.add_secret(NAMESPACE, SLACK_SECRET, data={})
    kube.add_secret(NAMESPACE, DATABASE_SECRET, data=database)


def _one_run(db: Database, launcher: Executor) -> float:
    """Seconds from the launcher's call to the worker's PREFLIGHT on the row; waits for the end."""
    planned = plan_blackhole(db, hold_seconds=1)
    triggered: datetime = now()
    launcher(planned.run_id)
    wait(
        lambda: row(db, planned.run_id).status is not RunStatus.SCHEDULED,
        READY_TIMEOUT,
        "preflight",
        every=0.01,
    )
    wait(lambda: row(db, planned.run_id).status in TERMINAL, READY_TIMEOUT, "run end", every=0.05)
    run = row(db, planned.run_id)
    preflight = next(e.at for e in run.events if e.status is RunStatus.PREFLIGHT)
    return (preflight - triggered).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per executor (default: 20)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    samples: dict[str, list[float]] = {LOCAL: [], KUBERNETES: []}
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, health_endpoint() as url:
        # Start-up is measured here, not RBAC: the Jobs' pods speak as the administrator.
        kubelet = KubeletConfig(
            env={"PYTHONPATH": str(ROOT)},
            workdir=Path(tmp),
            token_for=lambda _namespace, _account: DEFAULT_TOKEN,
        )
        with KubeApiServer(kubelet=kubelet) as kube:
            db = Database(f"sqlite:///{tmp}/bench.db")
            env = worker_env(db, kube, tmp)
            clients = ClientFactory(kubeconfig=env["KUBECONFIG"], default_context=None)
            try:
                upgrade(db)
                register_checkout(db, kube, url)
                _configure_jobs(kube, env)
                launchers: dict[str, Executor] = {
                    LOCAL: WorkerLauncher(env),
                    KUBERNETES: JobLauncher(
                        clients,
                        db=db,
                        namespace=NAMESPACE,
                        image="chaosbot:bench",
                        service_account="chaosbot-runner",
                    ),
                }
                for _ in range(args.runs):
                    for name, launcher in launchers.items():
                        try:
                            samples[name].append(_one_run(db, launcher))
                        except HaltFailed as failure:
                            failures.append(f"{name}: {failure}")
            finally:
                clients.close()
                db.dispose()

    print(f"trigger -> worker in preflight, {args.runs} runs per executor (times in ms)")
    for name, values in samples.items():
        if values:
            print(f"{name}:")
            print_percentiles([{"trigger -> preflight": v} for v in values], 22)
    if samples[LOCAL] and samples[KUBERNETES]:
        ratios = [
            percentile(samples[KUBERNETES], q) / percentile(samples[LOCAL], q) for q in (50, 99)
        ]
        print(f"ratio kubernetes / local: p50 {ratios[0]:.2f}x   p99 {ratios[1]:.2f}x")
    if failures:
        print(f"{len(failures)} runs failed (left out above):")
        print("\n".join(f"  {failure}" for failure in failures))


if __name__ == "__main__":
    main()
