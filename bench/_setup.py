"""What the benchmarks share: the service `checkout` they run against, a `blackhole` run of it in
a worker process, and the arithmetic of their reports.

bench/ is not a package: its scripts import this module by name (`from _setup import ...`), as
Python puts the script's own folder first on the path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.catalog.service import save_service
from bot.catalog.spec import CatalogPolicy
from bot.catalog.spec_parse import parse_service_spec
from bot.db.engine import Database
from bot.faults.marks import RUN_LABEL
from bot.library.catalogue import load_catalogue
from bot.outbox.models import OutboxMessage, OutboxStatus
from bot.reports.chart import render_trend_png
from bot.runs.flows import PlannedRun, plan_run
from bot.runs.models import Run
from bot.runs.states import RunStatus, Trigger
from bot.slack.conversations import install as install_conversations
from bot.slack.outbox import UPLOAD_METHOD, upload_content
from bot.testing.kube.api import KubeApiServer

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60.0  # worker start, preflight, steady state, injection
BENCH_USER = "U0BENCH"
# checkout's chaos.yaml without probes: each benchmark adds what it needs.
CHECKOUT = {
    "name": "checkout",
    "team": "payments",
    "teamChannel": "C0PAYMENTS",
    "tier": 2,
    "namespace": "payments",
    "selector": "app=checkout",
    "owners": [BENCH_USER],
}


class HaltFailed(Exception):
    """A run that did not end cleanly: listed at the end, left out of the figures."""


def now() -> datetime:
    return datetime.now(UTC)


def save_checkout(db: Database, *, at: datetime, prometheus: bool = False, **fields: Any) -> None:
    """Declare `checkout` of team payments, with `fields` added to its chaos.yaml (`prometheus`:
    the platform has a Prometheus, so the declaration may use Prometheus probes)."""
    policy = CatalogPolicy(allowed_namespaces=frozenset({"payments"}), prometheus=prometheus)
    spec = parse_service_spec({**CHECKOUT, **fields}, policy=policy)
    with db.session() as session:
        save_service(session=session, spec=spec, selector="app=checkout", actor="bench", now=at)


def register_checkout(db: Database, kube: KubeApiServer, probe_url: str) -> None:
    """checkout running in three zones (3 pods), declared with one probe and all its pods in reach."""
    for index, zone in enumerate(("eu-1a", "eu-1b", "eu-1c")):
        kube.add_node(f"node-{index}", zone=zone)
    kube.add_namespace("payments")
    kube.add_deployment("payments", "checkout", replicas=3, labels={"app": "checkout"})
    save_checkout(db, at=now(), probes=[{"url": probe_url}], blastRadiusPercent=100)


def worker_env(db: Database, kube: KubeApiServer, tmp: str, **settings: str) -> dict[str, str]:
    """A worker's environment: the machine's, minus anything chaosbot reads, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHAOSBOT_"))}
    env.update(
        CHAOSBOT_DATABASE_URL=db.url,
        KUBECONFIG=str(kube.write_kubeconfig(Path(tmp) / "kubeconfig")),
        CHAOSBOT_ALLOWED_NAMESPACES="payments",
        CHAOSBOT_LOG_LEVEL="ERROR",
        PYTHONPATH=str(ROOT),
        **settings,
    )
    return env


def plan_blackhole(db: Database, *, hold_seconds: float) -> PlannedRun:
    """An ad-hoc run of the library's `blackhole` against checkout, holding `hold_seconds`."""
    return plan_run(
        db,
        service="checkout",
        experiment="blackhole",
        trigger=Trigger.ADHOC,
        requested_by=BENCH_USER,
        now=now(),
        hold_seconds=hold_seconds,
    )


def fault_present(kube: KubeApiServer, planned: PlannedRun) -> bool:
    """Whether the run's NetworkPolicy is in the cluster."""
    selector = f"{RUN_LABEL}={planned.key}"
    return bool(kube.list("networkpolicies", "payments", label_selector=selector))


def wait_holding(db: Database, kube: KubeApiServer, planned: PlannedRun, *, every: float) -> None:
    """Wait until the run holds with its fault in the cluster; `HaltFailed` after READY_TIMEOUT."""
    wait(
        lambda: (
            row(db, planned.run_id).status is RunStatus.HOLDING and fault_present(kube, planned)
        ),
        READY_TIMEOUT,
        "holding",
        every=every,
    )


def row(db: Database, run_id: int) -> Run:
    """The run's row with its timeline loaded, to read after the session."""
    with db.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        _ = [event.at for event in run.events]  # load the timeline inside the session
        return run


def wait(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.001) -> None:
    """Poll `condition` every `every` seconds; `HaltFailed` if it is not true within `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise HaltFailed(f"{what} not within {timeout:.0f} s")
        time.sleep(every)


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def print_percentiles(runs: list[dict[str, float]], width: int) -> None:
    """One line a measure of `runs` (seconds): its p50, p99 and max in ms, names `width` wide."""
    for name in runs[0]:
        values = [run[name] * 1000 for run in runs]
        p50, p99 = percentile(values, 50), percentile(values, 99)
        print(f"  {name:{width}s} p50 {p50:8.1f}   p99 {p99:8.1f}   max {max(values):8.1f}")


def draw_queued_charts(db: Database) -> int:
    """Draw every pending upload's file as the outbox does when it sends it (upload_content: the
    digest queues its charts undrawn); the number drawn. The work the digest pass no longer
    does, measured where it now happens."""
    with db.session() as session:
        payloads = session.scalars(
            select(OutboxMessage.payload).where(
                OutboxMessage.method == UPLOAD_METHOD,
                OutboxMessage.status == OutboxStatus.PENDING,
            )
        ).all()
    for payload in payloads:
        upload_content(payload)
    return len(payloads)


def landscape_parser(doc: str) -> argparse.ArgumentParser:
    """The options of a bench over a platform of many teams, once the process is as warm as a
    running bot's (the conversations installed, the library parsed, the fonts loaded)."""
    install_conversations()
    load_catalogue()
    render_trend_png([("W01", 50.0)], title="warm up")
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--teams", type=int, default=1000)
    parser.add_argument("--baseline-teams", type=int, default=100)
    parser.add_argument("--services-per-team", type=int, default=10)
    parser.add_argument("--runs-per-service", type=int, default=10)
    return parser
