"""A real Prometheus (/usr/bin/prometheus, the Debian package) on a free 127.0.0.1 port, scraping
a small exporter in this process whose requests, errors and error ratio its caller sets (tests and
bench/stop_condition.py)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

PROMETHEUS = "/usr/bin/prometheus"
# The error ratio of the test's service: a cumulative ratio, so a change shows at the next
# scrape instead of after a rate window.
ERROR_RATIO = "sum(checkout_http_errors_total) / sum(checkout_http_requests_total)"


class Exporter:
    """The service's metrics as Prometheus scrapes them: requests by status class, and errors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "checkout_http_requests", "Requests served", ["code"], registry=self.registry
        )
        self.errors = Counter("checkout_http_errors", "Requests failed", registry=self.registry)
        # A gauge, for callers that need the ratio to change at the next scrape both ways.
        self.error_ratio = Gauge(
            "checkout_error_ratio", "Share of failed requests", registry=self.registry
        )
        self.requests.labels(code="2xx").inc(1000)
        self.requests.labels(code="5xx").inc(0)
        self.errors.inc(0)
        self.server, self.thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self.address = f"127.0.0.1:{self.server.server_port}"

    def fail(self, errors: int) -> None:
        """`errors` more requests, all failed."""
        self.requests.labels(code="5xx").inc(errors)
        self.errors.inc(errors)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class PrometheusServer:
    """A running Prometheus and how to ask it what it has scraped."""

    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.process = process

    def query(self, query: str) -> dict[str, Any]:
        address = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        with urllib.request.urlopen(address, timeout=5) as answer:  # noqa: S310 - our http URL
            document: dict[str, Any] = json.load(answer)
        return document

    def value(self, query: str) -> float | None:
        """The query's one value now, or None when it returns no series."""
        result = self.query(query)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, query: str, wanted: float, timeout: float = 20) -> None:
        """Until the query's value is `wanted` (a scrape or two after the exporter changed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.value(query) == wanted:
                return
            time.sleep(0.1)
        raise AssertionError(f"{query} stayed {self.value(query)}, not {wanted}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"prometheus was not ready within 60 s: {log.read_text()[-2000:]}")


class PrometheusMissing(RuntimeError):
    """The prometheus binary is not installed."""


@contextmanager
def prometheus_server(
    targets: Sequence[str],
    folder: Path,
    *,
    scrape_seconds: float = 1.0,
    job: str = "checkout",
) -> Iterator[PrometheusServer]:
    """Prometheus scraping `targets` (their /metrics) every `scrape_seconds` as `job`, its data
    and log in `folder`, once it has scraped them; stopped after."""
    if shutil.which(PROMETHEUS) is None:
        raise PrometheusMissing(f"{PROMETHEUS} is missing: apt-get install prometheus")
    config = folder / "prometheus.yml"
    listed = ", ".join(f"'{target}'" for target in targets)
    config.write_text(
        "global:\n"
        f"  scrape_interval: {scrape_seconds:g}s\n"
        f"  evaluation_interval: {scrape_seconds:g}s\n"
        "scrape_configs:\n"
        f"  - job_name: {job}\n"
        f"    static_configs: [{{targets: [{listed}]}}]\n"
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "prometheus.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = PrometheusServer(url, process)
    try:
        _wait_ready(url, process, log)
        server.wait_for(f'count(up{{job="{job}"}} == 1)', len(targets))
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
