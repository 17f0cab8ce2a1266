"""The HTTP side of the Kubernetes API test server: listener, auth, fault injection, request log."""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import socket
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bot.testing.kube.cluster import Cluster
from bot.testing.kube.model import ApiError, status_object
from bot.testing.kube.rbac import MASTERS, Identity, authorize, request_attributes
from bot.testing.kube.routes import ApiRequest, ApiResponse, dispatch

__all__ = ["Fault", "Frontend", "Hold", "HttpListener", "RequestRecord"]


@dataclass(frozen=True)
class RequestRecord:
    """One request the server received, for tests to assert on what the bot sent."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str | None  # the media type, without parameters such as charset
    body: Any  # parsed JSON; the raw text if it did not parse; None if there was no body
    status: int | None  # the status answered; None when an injected timeout dropped it
    user: str | None = None  # who sent it (None: the token was refused)


@dataclass
class Fault:
    """A fault a test asked for: an error status, added latency, or a request never answered."""

    kind: str  # "status", "latency" or "timeout"
    method: str  # an HTTP method, or "*" for any
    pattern: re.Pattern[str]  # searched in the URL path
    remaining: int | None  # how many more requests it applies to; None: all of them
    status: int = 0
    reason: str | None = None
    message: str | None = None
    retry_after: int | None = None
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault still applies to a request."""
        return (
            self.remaining != 0
            and self.method in ("*", method)
            and self.pattern.search(path) is not None
        )

    def response(self) -> ApiResponse:
        """The Status answer of a "status" fault."""
        reason = self.reason or _REASONS.get(self.status, "InternalError")
        message = self.message or _MESSAGES.get(self.status, f"injected {self.status} {reason}")
        headers = {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}
        details = {"retryAfterSeconds": self.retry_after} if self.retry_after else {}
        return ApiResponse(
            self.status, status_object(self.status, reason, message, details), headers
        )


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
_MESSAGES = {
    409: "Operation cannot be fulfilled: the object has been modified; please apply your changes "
    "to the latest version and try again",
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: injected fault",
    503: "The server is currently unable to handle the request",
}


@dataclass(frozen=True)
class Hold:
    """The answer to a request hit by an injected timeout: keep the socket, say nothing."""

    seconds: float


class Frontend:
    """The request pipeline: authenticate, inject faults, route, and log what happened."""

    def __init__(self, cluster: Cluster, *, token: str, hold_seconds: float) -> None:
        self.cluster = cluster
        self.token = token
        # Bearer tokens and who they are; the server's own token is an administrator.
        self._identities = {token: Identity("kubernetes-admin", (MASTERS, "system:authenticated"))}
        self.hold_seconds = hold_seconds
        self.stopping = threading.Event()
        self._faults: list[Fault] = []
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    # --- faults and records, as the server's public methods expose them ------------------------

    def add_fault(self, fault: Fault) -> None:
        """Start applying a fault to matching requests."""
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Forget every fault."""
        with self._lock:
            self._faults.clear()

    def records(self) -> list[RequestRecord]:
        """The requests received so far, oldest first."""
        with self._lock:
            return list(self._records)

    def clear_records(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self._records.clear()

    def add_identity(self, token: str, identity: Identity) -> None:
        """Accept a bearer token as that identity (authorized by the stored RBAC objects)."""
        with self._lock:
            self._identities[token] = identity

    def pause(self, seconds: float) -> None:
        """Sleep, but wake up at once when the server stops."""
        self.stopping.wait(seconds)

    # --- the pipeline ---------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], raw_body: bytes
    ) -> ApiResponse | Hold:
        """Answer one HTTP request (headers keyed in lower case)."""
        url = urlsplit(target)
        path = unquote(url.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        content_type = (headers.get("content-type") or "").split(";")[0].strip().lower() or None
        body, parse_error = _parse_body(raw_body)
        request = ApiRequest(method, path, query, content_type, body)
        identity = self._identity(headers.get("authorization", ""))
        if identity is None:
            unauthorized = ApiError(401, "Unauthorized", "Unauthorized")
            return self._answer(request, ApiResponse(401, unauthorized.status()))
        refused = authorize(self.cluster, identity, request_attributes(method, path, query))
        if refused is not None:
            return self._answer(request, ApiResponse(403, refused.status()), identity)
        latency = self._take("latency", method, path)
        if latency is not None:
            self.pause(latency.seconds)
        timeout = self._take("timeout", method, path)
        if timeout is not None:
            self._record(request, None, identity)
            return Hold(timeout.seconds or self.hold_seconds)
        injected = self._take("status", method, path)
        if injected is not None:
            return self._answer(request, injected.response(), identity)
        if parse_error is not None:
            error = ApiError.bad_request(
                f"couldn't get version/kind; json parse error: {parse_error}"
            )
            return self._answer(request, ApiResponse(400, error.status()), identity)
        return self._answer(request, self._dispatch(request), identity)

    def _dispatch(self, request: ApiRequest) -> ApiResponse:
        try:
            return dispatch(self.cluster, request)
        except Exception as error:  # a server bug must reach the test as a 500, not a hang
            failure = ApiError.internal(f"{type(error).__name__}: {error}")
            return ApiResponse(500, failure.status())

    def _identity(self, header: str) -> Identity | None:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        with self._lock:
            known = list(self._identities.items())
        offered = credentials.strip().encode()
        for token, identity in known:
            if hmac.compare_digest(offered, token.encode()):
                return identity
        return None

    def _take(self, kind: str, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and fault.matches(method, path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None

    def _answer(
        self, request: ApiRequest, response: ApiResponse, identity: Identity | None = None
    ) -> ApiResponse:
        # Logged before the bytes go out, so a test that got its answer sees the record.
        self._record(request, response.status, identity)
        return response

    def _record(self, request: ApiRequest, status: int | None, identity: Identity | None) -> None:
        record = RequestRecord(
            request.method,
            request.path,
            dict(request.query),
            request.content_type,
            request.body,
            status,
            identity.user if identity is not None else None,
        )
        with self._lock:
            self._records.append(record)


def _parse_body(raw: bytes) -> tuple[Any, str | None]:
    """The JSON body (raw text when it does not parse) and the parse error, if any."""
    if not raw.strip():
        return None, None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        return text, str(error)


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP/1.1 requests into Frontend calls and writes their JSON answers."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK add about 40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server: _HttpServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        frontend = self.server.frontend
        outcome = frontend.handle(self.command, self.path, headers, raw_body)
        if isinstance(outcome, Hold):
            frontend.pause(outcome.seconds)
            self.close_connection = True  # then hang up without a word
            return
        payload = json.dumps(outcome.body).encode()
        self.send_response(outcome.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in outcome.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the request log is the record tests read."""


class _HttpServer(ThreadingHTTPServer):
    """A threading HTTP server that remembers its open connections so stop() can cut them."""

    daemon_threads = True

    def __init__(self, frontend: Frontend) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.frontend = frontend
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hung up (one that timed out cannot read its answer); report the rest."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Hang up on every client (keep-alive connections would otherwise linger)."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client may have closed it already
                connection.shutdown(socket.SHUT_RDWR)


class HttpListener:
    """Runs the HTTP server on 127.0.0.1 (an ephemeral port) in a background thread."""

    def __init__(self, frontend: Frontend) -> None:
        self.frontend = frontend
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT; only while running."""
        if self._server is None:
            raise RuntimeError("the Kubernetes API test server is not running; call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def running(self) -> bool:
        """Whether the listener is serving."""
        return self._server is not None

    def start(self) -> None:
        """Bind and serve (no-op when already running)."""
        if self._server is not None:
            return
        self.frontend.stopping.clear()
        self._server = _HttpServer(self.frontend)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # shutdown() waits for the loop to notice, up to one poll interval: keep stop() quick.
            kwargs={"poll_interval": 0.01},
            name="kube-api-test-server",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, release held requests and close every connection (idempotent)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self.frontend.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join()
        self._server = self._thread = None
