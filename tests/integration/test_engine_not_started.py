"""A run through the real worker whose service is already down: chaostoolkit-lib calls that
journal "completed"; the run injects nothing, is aborted as not started and is no pass.

(Beside tests/integration/test_engine.py, with its engine fixture.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from bot.compliance.gather import gather
from bot.findings.models import Finding
from bot.runs.models import Run
from bot.runs.states import RunStatus
from tests.fixtures.engine import Engine


@contextmanager
def _unhealthy_endpoint() -> Iterator[str]:
    """A health endpoint that answers 503."""

    class Unhealthy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Unhealthy)
    threading.Thread(target=server.serve_forever, name="unhealthy", daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/healthz"
    finally:
        server.shutdown()
        server.server_close()


def _probe_at(engine: Engine, run_id: int, url: str) -> None:
    """Point the run's steady-state probe at `url`."""
    with engine.db.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        hypothesis = dict(run.document["steady-state-hypothesis"])
        (probe,) = hypothesis["probes"]
        provider = probe["provider"]
        arguments = {**provider["arguments"], "url": url}
        hypothesis["probes"] = [{**probe, "provider": {**provider, "arguments": arguments}}]
        run.document = {**run.document, "steady-state-hypothesis": hypothesis}


@pytest.mark.executors("local", "kubernetes")
def test_a_service_whose_probe_answers_503_is_not_started_and_no_pass_is_counted(
    engine: Engine,
) -> None:
    run_id, key = engine.create()
    with _unhealthy_endpoint() as url:
        _probe_at(engine, run_id, url)
        assert engine.run(run_id) == 4  # the exit code of an aborted run
    run = engine.row(run_id)
    assert run.status is RunStatus.ABORTED
    assert run.reason == "not started: the steady state did not hold (health: got 503)"
    # chaostoolkit-lib alone (this experiment declares no outcome control) calls it "completed".
    assert run.journal is not None and run.journal["status"] == "completed"
    assert engine.kube.requests_matching("POST", r"/networkpolicies$") == []  # nothing injected
    assert engine.policies(key) == [] and run.leftovers == []
    assert RunStatus.HOLDING not in [e.status for e in run.events]
    assert "action unblock: succeeded" in [e.message for e in run.events]  # rollbacks ran
    assert run.finished_at is not None
    with engine.db.session() as session:
        assert session.scalars(select(Finding).where(Finding.run_id == run_id)).all() == []
        service = gather(session, now=run.finished_at).services[run.service_id]
    assert service.verdicts == []  # the experiment neither passed nor failed
