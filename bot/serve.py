"""`chaosbot serve`: check the environment, then answer Slack until told to stop."""

from __future__ import annotations

import gc
import logging
import re
import signal
import socket
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from sqlalchemy.exc import OperationalError
from waitress import wasyncore
from waitress.server import create_server

from bot.alerts.service import ReceivedAlert, record_alerts
from bot.app import build_app, build_client
from bot.clock import Clock, SystemClock
from bot.config import Settings, settings_env
from bot.context import BotContext
from bot.db.engine import Database
from bot.db.migrate import ensure_migrated
from bot.errors import ChaosbotError
from bot.k8s.client import ClientFactory
from bot.k8s.cluster import KubeCluster
from bot.k8s.jobs import JobLauncher
from bot.k8s.sweep import Action, sweep
from bot.library.catalogue import load_catalogue
from bot.metrics import Metrics
from bot.runs.events import RunObserver
from bot.runs.janitor import Janitor
from bot.runs.supervisor import Executor, WorkerLauncher
from bot.schedule import Schedule
from bot.scheduling.leader import LeaderElection, leader_lock_for
from bot.slack.budget import responding, run_deferred
from bot.slack.outbox import OutboxPump
from bot.slack.run_messages import SlackCleanupAlerts
from bot.web import MAX_BODY_BYTES, SLACK_PATH, AlertmanagerWebhook, make_wsgi_app
from bot.wiring import run_observers

__all__ = ["DatabaseUnreachable", "Server", "serve"]

log = logging.getLogger(__name__)

HTTP_THREADS = 16


class DatabaseUnreachable(ChaosbotError):
    """The database in CHAOSBOT_DATABASE_URL cannot be reached."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot reach the database in CHAOSBOT_DATABASE_URL: {reason}")


class Server:
    """A running chaosbot: the Bolt app behind waitress, or Socket Mode plus the probes."""

    def __init__(
        self,
        settings: Settings,
        *,
        db: Database,
        clock: Clock | None = None,
        leader_interval: float = 5.0,
    ) -> None:
        self.db = db
        _check_database(db)
        # Bind first, so that the port in the settings is the real one even when 0 was asked
        # for (steady-state probes may never point at the bot's own port).
        self._socket = _listen(settings.http_host, settings.http_port)
        settings = replace(settings, http_port=self._socket.getsockname()[1])
        self.settings = settings
        clock = clock or SystemClock()
        client = build_client(settings)
        self._kube_clients = ClientFactory.from_settings(settings)
        self._outbox = OutboxPump(db=db, client=client, clock=clock)
        # What /metrics shows: the platform's facts from the database, this replica's own.
        self.metrics = Metrics(db=db, replica=socket.gethostname())
        # Who hears a run change in this process: its automatic findings, its Slack message,
        # its Grafana annotation.
        observers = run_observers(db=db, client=client, settings=settings)
        # Where runs execute (CHAOSBOT_EXECUTOR); each worker's exit is told to the schedule's
        # follow-ups: a game day goes on, a drill is revealed.
        self._workers = _executor(
            settings,
            db=db,
            clock=clock,
            clients=self._kube_clients,
            observer=run_observers(db=db, client=client, follow_ups=[_FollowUps(self)]),
        )
        self.schedule = Schedule.from_settings(
            db=db,
            clock=clock,
            settings=settings,
            start_run=self._start_run,
            drills=True,
            lag=self.metrics.reconcile_lag,
            janitor=Janitor(
                db=db,
                clock=clock,
                roll_back=self._roll_back,
                alerts=SlackCleanupAlerts(admin_channel=settings.admin_channel),
                observer=observers,
                # With Jobs, expired marks are swept by `chaosbot cleanup` (a CronJob under the
                # runs' ServiceAccount): the bot has no write access to the target namespaces.
                sweep=self._sweep_expired if settings.executor == "local" else None,
                period=settings.janitor_seconds,
                alert_after=timedelta(minutes=settings.cleanup_alert_minutes),
                reports=self.metrics.janitor_report,
                executor=self._workers,
            ),
        )
        # One replica runs the schedule (game days, drills, digests, the janitor): the one
        # holding the lock.
        self._election = LeaderElection(
            leader_lock_for(db, name=_scheduler_lock_name(db)),
            on_elected=self._lead,
            on_lost=self._follow,
            interval=leader_interval,
        )
        self.context = BotContext(
            settings=settings,
            db=db,
            cluster=KubeCluster(self._kube_clients),
            clock=clock,
            outbox_ready=self._outbox.wake,
            start_run=self._workers,
            roll_back=self._workers.roll_back,
            executor=self._workers,
            schedule_changed=self.schedule.wake,
        )
        self.bolt_app = build_app(settings, context=self.context, client=client)
        self._socket_mode: SocketModeHandler | None = None
        self._thread: threading.Thread | None = None
        if settings.slack_app_token is not None:
            self._socket_mode = _SocketMode(self.bolt_app, settings.slack_app_token.reveal())
        secret = settings.slack_signing_secret
        wsgi = make_wsgi_app(
            bolt_app=None if self._socket_mode else self.bolt_app,
            signing_secret=secret.reveal() if secret is not None else None,
            readiness=self._readiness,
            alertmanager=_alert_webhook(settings, db, clock),
            metrics=self.metrics.registry,
        )
        self._http = create_server(
            wsgi,
            sockets=[self._socket],
            threads=HTTP_THREADS,
            ident="chaosbot",
            # waitress buffers a body before the app sees it (up to 1 GB by default); /slack/events
            # refuses anything over MAX_BODY_BYTES anyway, so there is no point holding more.
            max_request_body_size=4 * MAX_BODY_BYTES,
        )

    @property
    def gamedays(self) -> Schedule:
        """The schedule, by the name the tests and the demo know it."""
        return self.schedule

    @property
    def url(self) -> str:
        """The base URL the HTTP server is bound to (port resolved when 0 was asked for)."""
        host = self.settings.http_host
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - compared, not bound
        return f"http://{shown}:{self.settings.http_port}"

    def _start_background(self) -> None:
        self._outbox.start()
        self._election.start()

    def _start_run(self, run_id: int) -> None:
        self._workers(run_id)

    def _roll_back(self, run_id: int) -> bool:
        return self._workers.roll_back(run_id)

    def _sweep_expired(self, now: datetime) -> int:
        """The dead man's switch: remove what is past its expires-at in the allowed namespaces,
        whether or not the database still knows its run."""
        if not self.settings.allowed_namespaces:
            return 0
        records = sweep(
            self._kube_clients.api_client(self.settings.kube_context),
            namespaces=self.settings.allowed_namespaces,
            now=now,
            expired_only=True,
            nodes=load_catalogue().touches_nodes,
            jobs=self.settings.load_profiles,
        )
        for record in records:
            if record.ok:
                log.warning("janitor: expired chaosbot object %s", record)
            else:
                log.error("janitor: could not remove expired chaosbot object %s", record)
        return sum(1 for r in records if r.action in (Action.DELETED, Action.RESTORED))

    def _lead(self) -> None:
        self.schedule.start()
        self.metrics.leading(True)

    def _follow(self) -> None:
        self.metrics.leading(False)
        self.schedule.stop()

    def run(self) -> None:
        """Serve until the process is told to stop."""
        self._start_background()
        if self._socket_mode is not None:
            self._socket_mode.connect()  # type: ignore[no-untyped-call]
            log.info("connected to Slack in Socket Mode")
        else:
            log.info("answering Slack at %s%s", self.url, SLACK_PATH)
        # What start-up built (modules, the app, the library: ~160,000 objects) lives as long as
        # the process. Frozen, it is out of the collector's reach: a full collection no longer
        # walks all of it, holding the GIL, in the middle of Slack's requests (profiled: 10x the
        # bare Bolt app's full collection).
        gc.collect()
        gc.freeze()
        print(f"chaosbot listening on {self.url}", flush=True)
        try:
            self._http.run()
        finally:
            self.close()

    def start_in_thread(self) -> None:
        """Serve from a daemon thread (the demo and in-process tests); `close()` stops it."""
        self._start_background()
        self._thread = threading.Thread(target=self._http.run, name="chaosbot-http", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._stop_thread(self._thread)
            self._thread = None
        if self._socket_mode is not None:
            self._socket_mode.close()  # type: ignore[no-untyped-call]
        self._http.close()
        self._election.stop()
        self._outbox.stop()
        self._kube_clients.close()
        self.db.dispose()

    def _stop_thread(self, thread: threading.Thread) -> None:
        # waitress's loop is not thread-safe: finish the requests in flight, then close every
        # socket from inside the loop (its trigger runs the thunk there), and the loop ends.
        server: Any = self._http
        server.task_dispatcher.shutdown()
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=10)

    def _readiness(self) -> str | None:
        try:
            ensure_migrated(self.db)
        except ChaosbotError as exc:
            return str(exc)
        return None


class _SocketMode(SocketModeHandler):
    """Bolt's Socket Mode handler, with the steps a request deferred until after its ack
    (bot.slack.budget.after_response) run once the ack has been sent, as the HTTP side does."""

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        start = time.time()
        with responding() as deferred:
            answer = run_bolt_app(self.app, req)
        send_response(client, req, answer, start)
        run_deferred(deferred)


class _FollowUps(RunObserver):
    """The schedule's follow-ups of a worker's exit, for the launcher built before it."""

    def __init__(self, server: Server) -> None:
        self._server = server

    def run_ended(self, run_id: int) -> None:
        self._server.schedule.run_finished(run_id)


def _executor(
    settings: Settings,
    *,
    db: Database,
    clock: Clock,
    clients: ClientFactory,
    observer: RunObserver,
) -> Executor:
    """Runs as processes of this host, or as Kubernetes Jobs (CHAOSBOT_EXECUTOR)."""
    if settings.executor == "kubernetes":
        return JobLauncher.from_settings(settings, clients, db=db, observer=observer, clock=clock)
    return WorkerLauncher(
        settings_env(settings), clock=clock, observer=observer, warm=settings.warm_workers
    )


def serve(settings: Settings, *, db: Database) -> None:
    """Run the bot in the foreground; SIGTERM and SIGINT stop it cleanly."""
    server = Server(settings, db=db)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received signal %s, stopping", signum)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    server.run()


def _alert_webhook(settings: Settings, db: Database, clock: Clock) -> AlertmanagerWebhook | None:
    """/alertmanager, storing each delivery in a transaction of its own; None without a token."""
    token = settings.alertmanager_webhook_token
    if token is None:
        return None

    def record(alerts: list[ReceivedAlert]) -> int:
        with db.session() as session:
            return record_alerts(session=session, alerts=alerts, now=clock.now())

    return AlertmanagerWebhook(token=token.reveal(), record=record)


def _scheduler_lock_name(db: Database) -> str:
    """A PostgreSQL advisory lock is server-wide: the database's name keeps two chaosbot
    installations sharing a server (or two test databases) from excluding each other."""
    if db.dialect != "postgresql":
        return "chaosbot-scheduler"
    return "chaosbot-scheduler." + re.sub(r"[^A-Za-z0-9_.-]", "_", db.engine.url.database or "")


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ChaosbotError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(1024)
    return sock


def _check_database(db: Database) -> None:
    try:
        ensure_migrated(db)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise DatabaseUnreachable(reason) from None
