"""`chaosbot serve`: check the environment, then answer Slack until told to stop."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from slack_bolt.adapter.socket_mode import SocketModeHandler
from sqlalchemy.exc import OperationalError
from waitress.server import create_server

from bot.app import build_app
from bot.config import Settings
from bot.db.engine import Database
from bot.db.migrate import ensure_migrated
from bot.errors import ChaosbotError
from bot.web import SLACK_PATH, make_wsgi_app

__all__ = ["DatabaseUnreachable", "Server", "serve"]

log = logging.getLogger(__name__)

HTTP_THREADS = 16


class DatabaseUnreachable(ChaosbotError):
    """The database in CHAOSBOT_DATABASE_URL cannot be reached."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot reach the database in CHAOSBOT_DATABASE_URL: {reason}")


class Server:
    """A running chaosbot: the Bolt app behind waitress, or Socket Mode plus the probes."""

    def __init__(self, settings: Settings, *, db: Database) -> None:
        self.settings = settings
        self.db = db
        _check_database(db)
        self.bolt_app = build_app(settings)
        self._socket_mode: SocketModeHandler | None = None
        if settings.slack_app_token is not None:
            self._socket_mode = SocketModeHandler(self.bolt_app, settings.slack_app_token.reveal())
        wsgi = make_wsgi_app(
            bolt_app=None if self._socket_mode else self.bolt_app, readiness=self._readiness
        )
        self._http = create_server(
            wsgi,
            host=settings.http_host,
            port=settings.http_port,
            threads=HTTP_THREADS,
            ident="chaosbot",
        )

    @property
    def url(self) -> str:
        """The base URL the HTTP server is bound to (port resolved when 0 was asked for)."""
        return f"http://{self._http.effective_host}:{self._http.effective_port}"  # type: ignore[union-attr]

    def run(self) -> None:
        """Serve until the process is told to stop."""
        if self._socket_mode is not None:
            self._socket_mode.connect()  # type: ignore[no-untyped-call]
            log.info("connected to Slack in Socket Mode")
        else:
            log.info("answering Slack at %s%s", self.url, SLACK_PATH)
        print(f"chaosbot listening on {self.url}", flush=True)
        try:
            self._http.run()
        finally:
            self.close()

    def start_in_thread(self) -> threading.Thread:
        """Serve from a daemon thread (the demo and in-process tests)."""
        thread = threading.Thread(target=self._http.run, name="chaosbot-http", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        if self._socket_mode is not None:
            self._socket_mode.close()  # type: ignore[no-untyped-call]
        self._http.close()
        self.db.dispose()

    def _readiness(self) -> str | None:
        try:
            ensure_migrated(self.db)
        except ChaosbotError as exc:
            return str(exc)
        return None


def serve(settings: Settings, *, db: Database) -> None:
    """Run the bot in the foreground; SIGTERM and SIGINT stop it cleanly."""
    server = Server(settings, db=db)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received signal %s, stopping", signum)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    server.run()


def _check_database(db: Database) -> None:
    try:
        ensure_migrated(db)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise DatabaseUnreachable(reason) from None
