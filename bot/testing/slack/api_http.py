"""The HTTP side of SlackApiServer: routing, request body decoding and answering.

Routes: POST or GET /api/<method> (the Web API), POST /upload/<file id> (the upload URLs that
files.getUploadURLExternal hands out) and POST /response/<id> (response_urls).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.testing.slack.workspace import JsonDict, MethodError

# Form-encoded requests carry these fields as JSON text; decoding them lets tests compare
# recorded bodies with real lists and dicts whichever encoding the client chose.
_JSON_FIELDS = frozenset({"blocks", "attachments", "view", "files", "metadata", "user_auth_blocks"})

ApiAnswer = tuple[int, dict[str, str], JsonDict]
"""HTTP status, extra headers (e.g. Retry-After) and JSON body of a Web API answer."""


def decode_body(content_type: str, raw: bytes, query: str) -> JsonDict:
    """The request's arguments from its query string and its form or JSON body."""
    body: JsonDict = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if not raw:
        return body
    if content_type.startswith("application/json"):
        try:
            decoded = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise MethodError("invalid_json") from None
        if not isinstance(decoded, dict):
            raise MethodError("invalid_json")
    elif content_type.startswith("application/x-www-form-urlencoded"):
        try:
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise MethodError("invalid_form_data") from None
        decoded = {k: v[0] for k, v in form.items()}
    else:
        # Multipart bodies only come from long-deprecated methods such as files.upload.
        raise MethodError("invalid_form_data")
    return {**body, **decoded, **_decode_json_fields(decoded)}


def _decode_json_fields(body: JsonDict) -> JsonDict:
    """The JSON-text fields of a body (see _JSON_FIELDS), decoded."""
    decoded: JsonDict = {}
    for key in _JSON_FIELDS & body.keys():
        value = body[key]
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                decoded[key] = json.loads(value)
            except json.JSONDecodeError:
                continue  # left as sent, which is what Slack would then reject or ignore
    return decoded


@dataclass(frozen=True)
class Routes:
    """What the server does with each kind of request; called from the request threads."""

    # (method, token, decoded body or why it could not be decoded) -> (status, headers, answer)
    api_call: Callable[[str, str | None, JsonDict | MethodError], ApiAnswer]
    # (file id, bytes) -> whether the file id was reserved by files.getUploadURLExternal
    upload: Callable[[str, bytes], bool]
    # (response id, JSON body) -> why Slack refuses it (answered 400 invalid_blocks), or None
    response: Callable[[str, JsonDict], str | None]


class HttpFrontend(ThreadingHTTPServer):
    """An HTTP server on a free port of 127.0.0.1 that hands each request to its Routes."""

    daemon_threads = True

    def __init__(self, routes: Routes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes


class _Handler(BaseHTTPRequestHandler):
    """Routes /api/<method>, /upload/<file id> and /response/<id> to the SlackApiServer."""

    server: HttpFrontend

    def do_GET(self) -> None:
        """GET /api/<method>?...: some clients send read methods this way."""
        self._route()

    def do_POST(self) -> None:
        """POST to any of the routes."""
        self._route()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the recorded calls are the log."""

    def _route(self) -> None:
        url = urlsplit(self.path)
        kind, _, name = url.path.strip("/").partition("/")
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if kind == "api" and name:
            self._api_call(name, raw, url.query)
        elif kind == "upload" and self.command == "POST" and self.server.routes.upload(name, raw):
            self._send(200, f"OK - {len(raw)}".encode(), "text/plain")
        elif kind == "response" and self.command == "POST" and name:
            self._response(name, raw)
        else:
            self._send(404, b"not found", "text/plain")

    def _api_call(self, method: str, raw: bytes, query: str) -> None:
        try:
            body: JsonDict | MethodError = decode_body(
                self.headers.get("Content-Type", ""), raw, query
            )
        except MethodError as failure:
            body = failure
        status, headers, answer = self.server.routes.api_call(method, self._token(body), body)
        self._send(status, json.dumps(answer).encode(), "application/json", headers)

    def _response(self, response_id: str, raw: bytes) -> None:
        try:
            message = json.loads(raw or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError):
            message = None
        if not isinstance(message, dict):
            self._send(400, b"invalid_payload", "text/plain")
            return
        if self.server.routes.response(response_id, message) is not None:
            self._send(400, b"invalid_blocks", "text/plain")
            return
        self._send(200, b'{"ok": true}', "application/json")

    def _token(self, body: JsonDict | MethodError) -> str | None:
        """The token the client sent: the Authorization header wins over a `token` field."""
        authorization = self.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            return authorization.removeprefix("Bearer ").strip()
        token = body.get("token") if isinstance(body, dict) else None
        return str(token) if token else None

    def _send(
        self,
        status: int,
        payload: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
