"""Runs rendered library experiments end to end: `chaos run` against the Kubernetes API test server.

Each scenario gets its own KubeApiServer, seeded (payments_cluster by default); the experiment is
rendered for the `checkout` service and run by the Chaos Toolkit CLI in a subprocess (as the
worker runs it: chaostoolkit-lib must own a main thread for its signal handlers). An http probe
inserted just before the hold asks this process to snapshot the cluster, so a test sees the
fault while it is held; another snapshot is taken after the run.

Rendered experiments play their rollbacks twice, to show they are idempotent. The kubeconfig's
current context points at a closed port: only the context the rendered
experiment pins (`chaosbot-test`) reaches the server, so every provider must honour it.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

import bot
from bot.library.catalogue import load_catalogue
from bot.library.render import render
from bot.load.profile import LoadProfile
from bot.testing.kube.api import KubeApiServer, KubeletConfig, RequestRecord
from tests.integration.payments_cluster import NAMESPACE, SELECTOR, seed_payments

__all__ = [
    "CONTEXT",
    "RUN_ID",
    "Outcome",
    "Scenario",
    "activity",
    "labelled",
    "run_scenarios",
]

CHAOS = Path(sys.executable).parent / "chaos"
RUN_ID = "r-5f2c9a1b7e"
CONTEXT = "chaosbot-test"
RUN_LABEL = "chaosbot.io/run-id"
# Everything a fault may create or change, listed in each snapshot.
KINDS = (
    "nodes",
    "pods",
    "deployments",
    "statefulsets",
    "services",
    "configmaps",
    "secrets",
    "networkpolicies",
    "podchaos",
    "networkchaos",
    "stresschaos",
    "iochaos",
    "dnschaos",
    "timechaos",
)
Snapshot = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Scenario:
    """One experiment run: which template, its parameters, the cluster, faults to inject."""

    name: str
    experiment: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    seed: Callable[[KubeApiServer], None] | None = None
    inject: Callable[[KubeApiServer], None] | None = None
    # Run the template file itself with `chaos run --var ...` instead of a rendered experiment.
    manual: bool = False
    # Run as this ServiceAccount (namespace, name) instead of the server's admin token: its
    # requests are then authorized by the RBAC objects the seed stored.
    identity: tuple[str, str] | None = None
    # Called with the server and the run's kubeconfig after `chaos run` ends (the cluster is
    # still up); its result is the outcome's `after_result`.
    after: Callable[[KubeApiServer, Path], Any] | None = None
    # A suite entry's load profile the rendered experiment runs under (bot.load), and the
    # server's kubelet that runs its Job's pod.
    load: LoadProfile | None = None
    kubelet: KubeletConfig | None = None


@dataclass
class Outcome:
    """What a scenario's run left: the journal, the cluster before, during and after, and when
    the `chaos run` process started and ended."""

    journal: dict[str, Any]
    before: Snapshot
    during: Snapshot | None
    after: Snapshot
    output: str
    started: datetime
    ended: datetime
    # The requests the server received from the scenario's identity (with `identity` only).
    requests: list[RequestRecord] = field(default_factory=list)
    after_result: Any = None


def run_scenarios(scenarios: Iterable[Scenario], workdir: Path) -> dict[str, Outcome]:
    """Run every scenario, several at once, and return their outcomes by name."""
    with _Observer() as observer, ThreadPoolExecutor(max_workers=4) as pool:
        futures = {s.name: pool.submit(_run, s, observer, workdir / s.name) for s in scenarios}
        return {name: future.result() for name, future in futures.items()}


def activity(journal: Mapping[str, Any], name: str, *, part: str = "run") -> dict[str, Any]:
    """The journal's record of the activity called `name` (in the method or the rollbacks)."""
    for run in journal.get(part) or []:
        if run["activity"]["name"] == name:
            found: dict[str, Any] = run
            return found
    raise AssertionError(f"no activity {name} in the journal's {part}")


def labelled(snapshot: Snapshot, run_id: str = RUN_ID) -> list[str]:
    """Every object in a snapshot carrying the run label, as kind/name."""
    return [
        f"{kind}/{obj['metadata']['name']}"
        for kind, objects in snapshot.items()
        for obj in objects
        if (obj["metadata"].get("labels") or {}).get(RUN_LABEL) == run_id
    ]


def _run(scenario: Scenario, observer: _Observer, workdir: Path) -> Outcome:
    workdir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBERNETES_", "CHAOS"))}
    # `chaos` imports the providers (faults, probes) from the chaosbot these tests run.
    env["PYTHONPATH"] = str(Path(bot.__file__).parents[1])
    journal_path = workdir / "journal.json"
    command = [str(CHAOS), "--no-version-check", "--no-log-file"]
    command += ["--settings", str(workdir / "settings.yaml"), "run"]
    command += ["--rollback-strategy", "always", "--journal-path", str(journal_path)]
    with KubeApiServer(kubelet=scenario.kubelet) as kube:
        (scenario.seed or seed_payments)(kube)
        token = kube.service_account_token(*scenario.identity) if scenario.identity else None
        kubeconfig = _kubeconfig(kube, workdir / "kubeconfig", token)
        env["KUBECONFIG"] = str(kubeconfig)
        if scenario.manual:
            # The template as it stands, as a person runs it: --var values (all text) and the
            # context from the environment.
            env["KUBERNETES_CONTEXT"] = CONTEXT
            variables = {**_manual_variables(observer), **scenario.parameters}
            command += [f"--var={name}={value}" for name, value in variables.items()]
            command.append(str(load_catalogue().get(scenario.experiment).path))
        else:
            experiment = workdir / "experiment.json"
            experiment.write_text(json.dumps(_rendered(scenario, observer)), encoding="utf-8")
            command.append(str(experiment))
        before = _snapshot(kube)
        observer.watch(scenario.name, lambda: _snapshot(kube))
        if scenario.inject is not None:
            scenario.inject(kube)
        started = datetime.now(UTC)
        result = subprocess.run(
            command, env=env, cwd=workdir, capture_output=True, text=True, timeout=90
        )
        ended = datetime.now(UTC)
        kube.clear_faults()
        after_result = scenario.after(kube, kubeconfig) if scenario.after else None
        after = _snapshot(kube)
        user = None
        if scenario.identity is not None:
            user = "system:serviceaccount:{}:{}".format(*scenario.identity)
        requests = [r for r in kube.requests if user is not None and r.user == user]
    journal = json.loads(journal_path.read_text()) if journal_path.exists() else {}
    output = result.stdout + result.stderr
    seen = observer.seen.get(scenario.name)
    return Outcome(journal, before, seen, after, output, started, ended, requests, after_result)


def _rendered(scenario: Scenario, observer: _Observer) -> dict[str, Any]:
    """The experiment rendered for checkout, with an observation step just before the hold.

    The rollbacks are played twice: the second pass must succeed and change nothing.
    """
    document = render(
        load_catalogue().get(scenario.experiment),
        namespace=NAMESPACE,
        label_selector=SELECTOR,
        probes=[{"url": observer.url("healthz"), "expectedStatus": 200, "latencyBudgetMs": 5000}],
        run_id=RUN_ID,
        hold_seconds=0,
        parameters=scenario.parameters,
        context=CONTEXT,
        load=scenario.load,
    )
    hold = next(i for i, a in enumerate(document["method"]) if a["name"] == "hold")
    observe = {
        "type": "probe",
        "name": "observe-cluster",
        "provider": {"type": "http", "url": observer.url(f"observe/{scenario.name}")},
    }
    document["method"].insert(hold, observe)
    again = copy.deepcopy(document["rollbacks"])
    for rollback in again:
        rollback["name"] += " (again)"
    document["rollbacks"] += again
    return document


def _manual_variables(observer: _Observer) -> dict[str, str]:
    return {
        "namespace": NAMESPACE,
        "label_selector": SELECTOR,
        "run_id": RUN_ID,
        "hold_seconds": "0",
        "probe_url": observer.url("healthz"),
    }


def _snapshot(kube: KubeApiServer) -> Snapshot:
    return {kind: kube.list(kind) for kind in KINDS}


def _kubeconfig(kube: KubeApiServer, path: Path, token: str | None = None) -> Path:
    """The server's kubeconfig (the admin's, or token's), with an unreachable context made the
    current one."""
    kube.write_kubeconfig(path, context=CONTEXT, namespace=NAMESPACE, token=token)
    config = yaml.safe_load(path.read_text())
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "http://127.0.0.1:9"}})
    config["contexts"].append(
        {"name": "nowhere", "context": {"cluster": "nowhere", "user": CONTEXT}}
    )
    config["current-context"] = "nowhere"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class _Observer:
    """A local HTTP server: /healthz answers 200, /observe/NAME snapshots a scenario's cluster."""

    def __init__(self) -> None:
        self.seen: dict[str, Snapshot] = {}
        self._watches: dict[str, Callable[[], Snapshot]] = {}
        observer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.removeprefix("/observe/")
                if name in observer._watches:
                    observer.seen[name] = observer._watches[name]()
                elif self.path != "/healthz":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{path}"

    def watch(self, name: str, take: Callable[[], Snapshot]) -> None:
        self._watches[name] = take

    def __enter__(self) -> _Observer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
