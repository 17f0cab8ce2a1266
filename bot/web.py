"""The HTTP side: Slack's endpoint, Alertmanager's webhook, and health and readiness probes,
served by waitress.

Every request to /slack/events is verified here, before Bolt sees it: nothing of a request is
parsed, logged or acted on until its timestamp is recent and its signature is the signing
secret's HMAC of exactly the bytes received. Bolt verifies again (it is never switched off), but
its verifier trusts the headers to be well-formed and its parser guesses at the body, so it only
ever gets requests that have passed here, with the body already parsed.

/alertmanager takes the team's alerts (Alertmanager's webhook, payload version 4) when a webhook
token is configured: the bearer token is compared in constant time before the body is read.

/metrics answers GET in Prometheus' text format (bot/metrics.py), without authentication: it
shows counts by controlled values only, never a person's text or a credential.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from prometheus_client import CollectorRegistry
from prometheus_client import make_wsgi_app as prometheus_wsgi_app
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse

from bot.alertmanager import WebhookInvalid, read_webhook
from bot.alerts.service import ReceivedAlert
from bot.slack.budget import responding, run_deferred

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "ALERTMANAGER_PATH",
    "MAX_BODY_BYTES",
    "MAX_REQUEST_AGE_SECONDS",
    "METRICS_PATH",
    "SLACK_PATH",
    "AlertmanagerWebhook",
    "make_wsgi_app",
]

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
ALERTMANAGER_PATH = "/alertmanager"
METRICS_PATH = "/metrics"
# Slack's payloads are a few kilobytes (a large modal's state, a few hundred); anything bigger
# is refused before it is read, let alone hashed.
MAX_BODY_BYTES = 1024 * 1024
# Slack's own rule for replays: a signed request older (or newer) than this is refused.
MAX_REQUEST_AGE_SECONDS = 5 * 60

# Strict, ASCII-only forms of the two headers: anything else is unverifiable, not an error.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_LENGTH = re.compile(r"[0-9]{1,12}")
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

# Returns None when ready, else the reason it is not.
ReadinessCheck = Callable[[], str | None]


def make_wsgi_app(
    *,
    bolt_app: App | None,
    readiness: ReadinessCheck,
    signing_secret: str | None = None,
    wall_clock: Callable[[], float] = time.time,
    alertmanager: AlertmanagerWebhook | None = None,
    metrics: CollectorRegistry | None = None,
) -> WSGIApplication:
    """Route /slack/events to Bolt (absent in Socket Mode) and /alertmanager to `alertmanager`
    (absent without a webhook token), answer /healthz and /readyz, and /metrics from the
    `metrics` registry.

    `wall_clock` is the Unix time that request timestamps are checked against (Slack signs with
    the real time, so this is never the bot's movable Clock).
    """
    slack: _SlackEndpoint | None = None
    if bolt_app is not None:
        if not signing_secret:
            raise ValueError("serving Slack over HTTP needs the signing secret")
        slack = _SlackEndpoint(bolt_app, signing_secret=signing_secret, wall_clock=wall_clock)
    exposition = prometheus_wsgi_app(metrics) if metrics is not None else None

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _json(start_response, 200, {"status": "ok"})
        if path == "/readyz":
            problem = _check(readiness)
            if problem is None:
                return _json(start_response, 200, {"status": "ready"})
            return _json(start_response, 503, {"status": problem})
        if slack is not None and path == SLACK_PATH:
            return slack(environ, start_response)
        if alertmanager is not None and path == ALERTMANAGER_PATH:
            return alertmanager(environ, start_response)
        if exposition is not None and path == METRICS_PATH:
            if environ.get("REQUEST_METHOD") != "GET":
                return _json(start_response, 405, {"error": "only GET is served"}, allow="GET")
            served: Iterable[bytes] = exposition(environ, start_response)
            return served
        return _json(start_response, 404, {"status": "not found"})

    return application


class _Refused(Exception):
    """A request answered with an HTTP error before Bolt saw it; `reason` names no request data."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _SlackEndpoint:
    """/slack/events: verify, parse, then hand the request to Bolt."""

    def __init__(self, app: App, *, signing_secret: str, wall_clock: Callable[[], float]) -> None:
        self._app = app
        self._secret = signing_secret.encode()
        self._wall_clock = wall_clock

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            if environ.get("REQUEST_METHOD") != "POST":
                raise _Refused(405, "only POST is served")
            raw = self._verified_body(environ)
            text, body = _parse(raw, environ.get("CONTENT_TYPE", ""))
        except _Refused as refused:
            if refused.status == 400:
                # Signed by Slack but unreadable: worth a look, and one line is enough.
                log.warning("refused a signed request to %s: %s", SLACK_PATH, refused.reason)
            else:
                log.info("refused a request to %s: %s", SLACK_PATH, refused.reason)
            return _json(start_response, refused.status, {"error": refused.reason})
        request = _VerifiedRequest(
            raw_body=text,
            body=body,
            query=environ.get("QUERY_STRING", ""),
            headers=_headers(environ),
        )
        with responding() as deferred:
            answer = self._app.dispatch(request)
        response = WsgiHttpResponse(status=answer.status, headers=answer.headers, body=answer.body)
        start_response(response.status, response.get_headers())
        return _ThenRun(response.get_body(), deferred)

    def _verified_body(self, environ: WSGIEnvironment) -> bytes:
        """The body, read only when its size is sane, returned only when its signature is."""
        length = str(environ.get("CONTENT_LENGTH") or "0")
        if not _LENGTH.fullmatch(length):
            raise _Refused(401, "unverifiable: no readable Content-Length")
        if int(length) > MAX_BODY_BYTES:
            raise _Refused(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
            raise _Refused(401, "unverifiable: no well-formed timestamp and signature")
        if abs(self._wall_clock() - int(timestamp)) > MAX_REQUEST_AGE_SECONDS:
            raise _Refused(401, "unverifiable: the timestamp is not within five minutes")
        raw: bytes = environ["wsgi.input"].read(int(length)) if int(length) else b""
        base = b"v0:" + timestamp.encode("ascii") + b":" + raw
        expected = "v0=" + hmac.new(self._secret, base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise _Refused(401, "unverifiable: the signature does not match")
        return raw


# Stores one delivery's alerts; returns how many were new.
AlertSink = Callable[[list[ReceivedAlert]], int]


class _ThenRun:
    """A response's body that runs the request's deferred steps (bot.slack.budget) once the
    server has taken all of it: WSGI servers call close() after the last chunk, or when the
    client has gone."""

    def __init__(self, body: Iterable[bytes], steps: list[Callable[[], None]]) -> None:
        self._body = body
        self._steps = steps

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        run_deferred(self._steps)


class AlertmanagerWebhook:
    """/alertmanager: authenticate the bearer token, read the payload, store its alerts.

    Nothing is read, parsed or stored before the token matches; an unauthenticated post changes
    nothing and is answered 401.
    """

    def __init__(self, *, token: str, record: AlertSink) -> None:
        if len(token) < 16:
            raise ValueError("the webhook token must be at least 16 characters")
        self._expected = b"Bearer " + token.encode("ascii")
        self._record = record

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            if environ.get("REQUEST_METHOD") != "POST":
                raise _Refused(405, "only POST is served")
            raw = self._authenticated_body(environ)
            try:
                alerts = read_webhook(json.loads(raw.decode("utf-8")))
            except (UnicodeDecodeError, ValueError, RecursionError) as bad:
                reason = str(bad) if isinstance(bad, WebhookInvalid) else "the body is not JSON"
                raise _Refused(400, reason) from None
        except _Refused as refused:
            level = logging.WARNING if refused.status == 400 else logging.INFO
            log.log(level, "refused a request to %s: %s", ALERTMANAGER_PATH, refused.reason)
            return _json(start_response, refused.status, {"error": refused.reason})
        stored = self._record(alerts)
        log.info("stored %d new of %d alerts from Alertmanager", stored, len(alerts))
        return _json(start_response, 200, {"status": "stored", "new": str(stored)})

    def _authenticated_body(self, environ: WSGIEnvironment) -> bytes:
        """The body, read only once the token matches and the size is sane."""
        given = str(environ.get("HTTP_AUTHORIZATION", "")).encode("latin-1", "replace")
        if not hmac.compare_digest(given, self._expected):
            raise _Refused(401, "unauthenticated: no matching bearer token")
        length = str(environ.get("CONTENT_LENGTH") or "0")
        if not _LENGTH.fullmatch(length):
            raise _Refused(411, "no readable Content-Length")
        if int(length) > MAX_BODY_BYTES:
            raise _Refused(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        return environ["wsgi.input"].read(int(length)) if int(length) else b""


def _parse(raw: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """A verified body as text and as the dict Bolt works on, or a 400 saying what is wrong.

    Slack sends JSON (Events API) or a form; a form is an interactivity payload exactly when it
    has a `payload` field (not when the word appears somewhere, as in `/chaos service
    payload-api`).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(400, "the body is not UTF-8") from None
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == JSON:
        return text, _json_object(text, "the JSON body")
    if kind != FORM:
        raise _Refused(400, "the body is neither JSON nor a form")
    try:
        fields = dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
    except ValueError:
        raise _Refused(400, "the form is not well-formed") from None
    if "payload" in fields:
        return text, _json_object(fields["payload"], "the payload field")
    return text, fields


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise _Refused(400, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise _Refused(400, f"{what} is not a JSON object")
    return value


def _headers(environ: WSGIEnvironment) -> dict[str, str]:
    """The request's headers as Bolt reads them, less Bolt's own internal ones (a lazy
    listener's copy of a request carries those; a request from outside never may)."""
    headers = {}
    for key, value in environ.items():
        if key in ("CONTENT_LENGTH", "CONTENT_TYPE"):
            headers[key.lower().replace("_", "-")] = value
        elif key.startswith("HTTP_"):
            name = key[5:].lower().replace("_", "-")
            if not name.startswith("x-slack-bolt-"):
                headers[name] = value
    return headers


class _VerifiedRequest(BoltRequest):
    """A BoltRequest whose body was parsed here: Bolt's own parser takes a form for an
    interactivity payload whenever the text "payload" appears anywhere in it."""

    def __init__(
        self,
        *,
        raw_body: str,
        body: dict[str, Any],
        query: str | Mapping[str, Sequence[str]],
        headers: Mapping[str, str | Sequence[str]],
        context: dict[str, Any] | None = None,
    ) -> None:
        # Bolt takes a parsed body only in its Socket Mode; its context is then built from that
        # body, once. The request is an HTTP one, and says so right after.
        super().__init__(
            body=body,
            query=dict(query) if isinstance(query, Mapping) else query,
            headers=dict(headers),
            context=context,
            mode="socket_mode",
        )
        self.mode = "http"
        self.raw_body = raw_body  # what Bolt's own signature check hashes

    def to_copyable(self) -> BoltRequest:
        # Bolt copies the request for each lazy listener; its copy would parse raw_body again.
        return _VerifiedRequest(
            raw_body=self.raw_body,
            body=self.body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
        )


def _check(readiness: ReadinessCheck) -> str | None:
    try:
        return readiness()
    except Exception as exc:
        log.warning("readiness check failed: %s", type(exc).__name__)
        return f"not ready: {type(exc).__name__}"


def _json(
    start_response: StartResponse, status: int, body: dict[str, str], *, allow: str | None = None
) -> list[bytes]:
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    if allow is not None:
        headers.append(("Allow", allow))
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [data]
