"""A suite entry's load profile runs for real: a run of checkout's blackhole with a Locust
profile starts Locust as a Job in payments (the Kubernetes API test server's kubelet runs its
command as a local process) against a local HTTP service that records every request it gets.
The requests arrive while the fault holds and stop when the run ends; the Job and its script's
ConfigMap carry the run label and an expiry while they exist, and are gone after."""

from __future__ import annotations

import copy
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kubernetes.config import new_client_from_config
from sqlalchemy import select

from bot.catalog.models import Service
from bot.catalog.service import save_service
from bot.catalog.spec import CatalogPolicy
from bot.catalog.spec_parse import parse_service_spec
from bot.config import DEFAULT_K6_IMAGE
from bot.faults.kube import JOBS, Kube, KubeError
from bot.faults.marks import EXPIRES_AT, RUN_LABEL, Mark, expires_at_of
from bot.load.job import job_manifest, load_name
from bot.load.profile import ConfigMapScript, LoadProfile, Tool
from bot.runs.flows import PlannedRun, plan_run
from bot.runs.models import Run
from bot.runs.states import RunStatus, Trigger
from bot.testing.kube.api import KubeApiServer, KubeletConfig
from tests.fixtures.bot import START, seed_payments
from tests.fixtures.declarations import checkout_declaration
from tests.fixtures.engine import NOW, Engine

LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0.1)

    @task
    def home(self):
        self.client.get("/")
"""
HOLD_SECONDS = 3


class Visited:
    """A service on 127.0.0.1 that answers 200 and records when each request came."""

    def __init__(self) -> None:
        self.times: list[datetime] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with outer._lock:
                    outer.times.append(datetime.now(UTC))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def count(self) -> int:
        with self._lock:
            return len(self.times)

    def between(self, first: datetime, last: datetime) -> int:
        with self._lock:
            return sum(1 for t in self.times if first <= t <= last)


@pytest.fixture
def visited() -> Iterator[Visited]:
    service = Visited()
    thread = threading.Thread(target=service.server.serve_forever, daemon=True)
    thread.start()
    yield service
    service.server.shutdown()
    service.server.server_close()


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeApiServer]:
    """The test server with its Job controller and kubelet: `locust` is this environment's."""
    workdir = tmp_path / "kubelet"
    workdir.mkdir()
    kubelet = KubeletConfig(commands={"locust": (sys.executable, "-m", "locust")}, workdir=workdir)
    with KubeApiServer(kubelet=kubelet) as api:
        yield api


def _with_load(engine: Engine, load: dict[str, Any]) -> None:
    """checkout's suite: blackhole under `load` (as chaos.yaml declares it)."""
    declaration = checkout_declaration(
        teamChannel="C0PAYMENTS",
        probes=[{"url": engine.probe_url, "latencyBudgetMs": 2000}],
        blastRadiusPercent=100,
        suite=[{"experiment": "blackhole", "load": load}],
    )
    policy = CatalogPolicy(allowed_namespaces=frozenset({"payments"}), load_profiles=True)
    spec = parse_service_spec(declaration, policy=policy)
    with engine.db.session() as session:
        save_service(session=session, spec=spec, selector="app=checkout", actor="test", now=START)


def _plan_blackhole(engine: Engine) -> PlannedRun:
    """An ad-hoc blackhole of checkout, held HOLD_SECONDS."""
    return plan_run(
        engine.db,
        service="checkout",
        experiment="blackhole",
        trigger=Trigger.ADHOC,
        requested_by="U0ALICE",
        now=NOW,
        hold_seconds=HOLD_SECONDS,
    )


def test_a_locust_profile_loads_the_service_during_the_hold_and_stops_with_the_run(
    engine: Engine, visited: Visited
) -> None:
    _with_load(
        engine,
        {
            "tool": "locust",
            "script": LOCUSTFILE,
            "users": 2,
            "rampUpSeconds": 1,
            # Longer than the run: the run, not Locust's own run time, stops it.
            "durationSeconds": 600,
            "host": visited.url,
        },
    )
    planned = _plan_blackhole(engine)
    with engine.db.session() as session:
        assert session.scalars(select(Service.name)).one() == "checkout"
    process = engine.start(planned.run_id)
    engine.wait_for(planned.run_id, RunStatus.HOLDING, timeout=60)
    name = load_name(planned.key)
    job = engine.kube.get("jobs", "payments", name)
    config_map = engine.kube.get("configmaps", "payments", name)
    assert job is not None and config_map is not None
    for obj in (job, config_map):
        assert obj["metadata"]["labels"][RUN_LABEL] == planned.key
        expires = expires_at_of(obj)
        assert expires is not None, obj["metadata"]["annotations"][EXPIRES_AT]
    assert job["spec"]["template"]["spec"]["containers"][0]["image"].startswith("locustio/locust:")
    assert config_map["data"] == {"locustfile.py": LOCUSTFILE}

    assert process.wait(timeout=60) == 0
    run = engine.row(planned.run_id)
    assert run.status is RunStatus.COMPLETED, run.reason
    assert run.leftovers == []
    assert {"jobs.batch", "configmaps"} <= set(run.creates)
    at: dict[RunStatus, datetime] = {}
    for event in run.events:  # when the run entered each state
        at.setdefault(event.status, event.at)
    holding, rolling_back = at[RunStatus.HOLDING], at[RunStatus.ROLLING_BACK]
    assert visited.between(holding, rolling_back) > 0  # the load ran while the fault held
    assert run.journal is not None
    assert run.journal["load"]["started"] is True and run.journal["load"]["error"] is None
    # The steady state was checked under load: requests came before the method began.
    assert visited.between(at[RunStatus.INJECTING], holding) > 0

    # Gone: the Job (its pod with it) and the ConfigMap.
    assert engine.kube.list("jobs", "payments") == []
    assert engine.kube.list("configmaps", "payments", label_selector=RUN_LABEL) == []
    assert [p for p in engine.kube.list("pods", "payments") if name in p["metadata"]["name"]] == []
    # And the load with them: once the process has wound down, no request comes any more.
    settled = engine.wait_until(lambda: _settled(visited), timeout=30)
    time.sleep(2)  # twenty of Locust's waits: a running user would have sent requests
    assert visited.count() == settled


def _settled(visited: Visited) -> int | None:
    before = visited.count()
    time.sleep(0.5)
    after = visited.count()
    return after if after == before else None


def test_a_load_that_cannot_start_fails_the_run_before_anything_is_injected(
    engine: Engine, visited: Visited
) -> None:
    _with_load(
        engine,
        {
            "tool": "locust",
            "configMap": {"name": "no-such-script", "key": "locustfile.py"},
            "users": 2,
            "host": visited.url,
        },
    )
    planned = _plan_blackhole(engine)
    with engine.db.session() as session:
        # A short start timeout: the pod cannot mount a ConfigMap that does not exist.
        row = session.get(Run, planned.run_id)
        assert row is not None
        document = copy.deepcopy(row.document)
        document["controls"][0]["provider"]["arguments"]["start_timeout_seconds"] = 2
        row.document = document
    process = engine.start(planned.run_id)
    assert process.wait(timeout=60) != 0
    run = engine.row(planned.run_id)
    assert run.status is RunStatus.FAILED
    assert run.reason is not None
    assert run.reason.startswith("failed: the load did not start (its pod did not run within 2 s")
    assert RunStatus.HOLDING not in {e.status for e in run.events}
    assert engine.policies(planned.key) == []  # nothing injected
    assert engine.kube.list("jobs", "payments") == []  # and the Job stopped by the rollback
    assert run.leftovers == []
    assert visited.count() == 0


@pytest.mark.parametrize("ramp_up", [0, 10])
def test_a_k6_profile_is_a_valid_job_running_its_script_from_the_mount(
    kube_api: KubeApiServer, kubeconfig: Path, ramp_up: int
) -> None:
    """Not run (k6 is not installed here): the Job the control sends is checked by the test
    server's kubernetes-validate and read back."""
    seed_payments(kube_api)
    profile = LoadProfile(
        tool=Tool.K6,
        users=5,
        ramp_up_seconds=ramp_up,
        duration_seconds=120,
        config_map=ConfigMapScript(name="checkout-load", key="smoke.js"),
        host="http://checkout.payments.svc",
    )
    mark = Mark.held("r-k6", 60 + ramp_up)
    kube = Kube(api=new_client_from_config(config_file=str(kubeconfig)))  # type: ignore[no-untyped-call]
    job = job_manifest(profile, namespace="payments", mark=mark, image=DEFAULT_K6_IMAGE)
    kube.create(JOBS, "payments", job)
    stored = kube_api.get("jobs", "payments", load_name("r-k6"))
    assert stored is not None
    assert stored["metadata"]["labels"][RUN_LABEL] == "r-k6"
    assert expires_at_of(stored) is not None
    assert stored["spec"]["activeDeadlineSeconds"] == mark.lifetime_seconds
    pod = stored["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    [container] = pod["containers"]
    assert container["image"].startswith("grafana/k6:")
    assert container["command"] == ["k6"]
    stages = ["--stage", f"{ramp_up}s:5", "--stage", "120s:5"]
    assert container["args"] == (
        ["run", "--quiet", *stages, "script.js"]
        if ramp_up
        else ["run", "--quiet", "--vus", "5", "--duration", "120s", "script.js"]
    )
    assert container["workingDir"] == "/mnt/chaosbot-load"
    assert container["volumeMounts"] == [
        {"name": "script", "mountPath": "/mnt/chaosbot-load", "readOnly": True}
    ]
    assert pod["volumes"][0]["configMap"] == {
        "name": "checkout-load",
        "items": [{"key": "smoke.js", "path": "script.js"}],
    }
    assert {e["name"]: e["value"] for e in container["env"]} == {
        "TARGET_URL": "http://checkout.payments.svc",
        "K6_NO_USAGE_REPORT": "true",
    }
    # The server does validate: the same Job with a mistake in its pod is refused.
    broken = copy.deepcopy(job)
    broken["metadata"]["name"] = "broken"
    broken["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = "yes"
    with pytest.raises(KubeError) as refused:
        kube.create(JOBS, "payments", broken)
    assert refused.value.status == 422
