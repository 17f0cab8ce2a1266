"""The HTTP side: Slack's endpoint plus health and readiness probes, served by waitress."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["SLACK_PATH", "make_wsgi_app"]

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"

# Returns None when ready, else the reason it is not.
ReadinessCheck = Callable[[], str | None]


def make_wsgi_app(*, bolt_app: App | None, readiness: ReadinessCheck) -> WSGIApplication:
    """Route /slack/events to Bolt (absent in Socket Mode), and answer /healthz and /readyz."""
    slack = SlackRequestHandler(bolt_app, path=SLACK_PATH) if bolt_app is not None else None

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "ok"})
        if path == "/readyz":
            problem = _check(readiness)
            if problem is None:
                return _json(start_response, "200 OK", {"status": "ready"})
            return _json(start_response, "503 Service Unavailable", {"status": problem})
        if slack is not None and path == SLACK_PATH:
            return slack(environ, start_response)
        return _json(start_response, "404 Not Found", {"status": "not found"})

    return application


def _check(readiness: ReadinessCheck) -> str | None:
    try:
        return readiness()
    except Exception as exc:
        log.warning("readiness check failed: %s", type(exc).__name__)
        return f"not ready: {type(exc).__name__}"


def _json(start_response: StartResponse, status: str, body: dict[str, str]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]
