"""A stand-in for a service's health endpoint (demo and tests): it answers 200 on 127.0.0.1, or
whatever status its `answer` gives at the moment it is asked."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["health_endpoint"]


class _Health(BaseHTTPRequestHandler):
    answer: Callable[[], int] = staticmethod(lambda: 200)

    def do_GET(self) -> None:
        self.send_response(self.answer())
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def health_endpoint(answer: Callable[[], int] = lambda: 200) -> Iterator[str]:
    """Serve /healthz on a free loopback port, answering the status `answer()` returns; yields
    its URL."""
    handler = type("Health", (_Health,), {"answer": staticmethod(answer)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="demo-health", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/healthz"
    finally:
        server.shutdown()
        server.server_close()
