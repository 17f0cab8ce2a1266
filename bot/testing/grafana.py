"""A Grafana HTTP API test server on 127.0.0.1: the annotations API as Grafana answers it.

`POST /api/annotations` with a service account's bearer token stores an annotation and answers
200 `{"message": "Annotation added", "id": N}`; without the token, 401 `{"message":
"Unauthorized"}`; a body that is not a JSON object with a text, 400. `GET /api/annotations`
lists them (newest first) filtered by `tags` (every tag given must be on the annotation), as a
dashboard's tag-based annotation query asks. Every request is recorded.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["GrafanaApiServer", "GrafanaCall"]

PATH = "/api/annotations"


@dataclass(frozen=True)
class GrafanaCall:
    """One request as the server received it."""

    method: str
    path: str
    authorization: str | None
    body: Any
    status: int


@dataclass
class _State:
    token: str
    calls: list[GrafanaCall] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class GrafanaApiServer:
    """Started on a free port at construction; `close()` stops it."""

    def __init__(self, *, token: str | None = None) -> None:
        # A service account token looks like this one (glsa_ and 32 more characters).
        self.token = token = token or f"glsa_{secrets.token_hex(16)}"
        self._state = _State(token=token)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self._state))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def calls(self) -> list[GrafanaCall]:
        with self._state.lock:
            return list(self._state.calls)

    @property
    def annotations(self) -> list[dict[str, Any]]:
        """The annotations stored, oldest first."""
        with self._state.lock:
            return [dict(a) for a in self._state.annotations]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            if urlsplit(self.path).path != PATH:
                return self._answer(404, {"message": "Not found"}, body)
            if not self._authorized():
                return self._answer(401, {"message": "Unauthorized"}, body)
            if not isinstance(body, dict) or not isinstance(body.get("text"), str):
                return self._answer(400, {"message": "bad request data"}, body)
            with state.lock:
                number = len(state.annotations) + 1
                state.annotations.append(
                    {
                        "id": number,
                        "dashboardUID": body.get("dashboardUID", ""),
                        "panelId": body.get("panelId", 0),
                        "time": int(body.get("time") or 0),
                        "timeEnd": int(body.get("timeEnd") or body.get("time") or 0),
                        "tags": [str(t) for t in body.get("tags") or []],
                        "text": body["text"],
                    }
                )
            self._answer(200, {"message": "Annotation added", "id": number}, body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != PATH:
                return self._answer(404, {"message": "Not found"}, None)
            if not self._authorized():
                return self._answer(401, {"message": "Unauthorized"}, None)
            wanted = set(parse_qs(parts.query).get("tags", []))
            with state.lock:
                found = [a for a in state.annotations if wanted <= set(a["tags"])]
            self._answer(200, list(reversed(found)), None)

        def _authorized(self) -> bool:
            given = (self.headers.get("Authorization") or "").encode("latin-1", "replace")
            return hmac.compare_digest(given, f"Bearer {state.token}".encode())

        def _answer(self, status: int, answer: Any, body: Any) -> None:
            with state.lock:
                state.calls.append(
                    GrafanaCall(
                        method=self.command,
                        path=self.path,
                        authorization=self.headers.get("Authorization"),
                        body=body,
                        status=status,
                    )
                )
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
