"""Grafana annotations: each experiment run of an approved game day is marked on the teams'
dashboards, as a region from the injection to the end of the run.

Posted through Grafana's HTTP API (`POST /api/annotations`, a service account's token as the
bearer token) with no dashboard: an organisation annotation, which a dashboard shows through a
tag-based annotation query (`chaosbot` and `team:<team>`, say). Blind drills are never
annotated (a team must not learn of a drill from its dashboards), nor are ad-hoc, CI and dry
runs. A failure is logged and never touches the run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

import urllib3
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from urllib3.exceptions import HTTPError

from bot.config import Secret, Settings
from bot.db.engine import Database
from bot.gamedays.models import GameDay
from bot.runs.events import RunObserver
from bot.runs.models import Run, RunEvent
from bot.runs.states import TERMINAL, RunStatus, Trigger

__all__ = ["ANNOTATIONS_PATH", "Annotation", "GrafanaAnnotations", "grafana_annotations"]

log = logging.getLogger(__name__)

ANNOTATIONS_PATH = "/api/annotations"
TIMEOUT_SECONDS = 3.0
MAX_TEXT = 500
MAX_TAG = 100


@dataclass(frozen=True, kw_only=True)
class Annotation:
    """One region on the dashboards: what Grafana's API is sent."""

    start: datetime
    end: datetime
    tags: tuple[str, ...]
    text: str

    def as_body(self) -> dict[str, object]:
        return {
            "time": _ms(self.start),
            "timeEnd": _ms(self.end),
            "tags": list(self.tags),
            "text": self.text,
        }


class GrafanaAnnotations(RunObserver):
    """Hears a game day's run end and posts its annotation (once: on the change that ended it,
    in the process that made that change)."""

    def __init__(
        self, *, db: Database, url: str, token: Secret, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self._db = db
        self._endpoint = url.rstrip("/") + ANNOTATIONS_PATH
        self._token = token
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout), retries=False)
        # Runs ended by a change in this process, waiting for its commit.
        self._ending: dict[int, Annotation] = {}

    def run_changed(self, *, session: Session, run: Run, message: str, now: datetime) -> None:
        if run.status in TERMINAL:
            annotation = annotation_of(session=session, run=run)
            if annotation is not None:
                self._ending[run.id] = annotation

    def run_updated(self, run_id: int, status: RunStatus, message: str) -> None:
        annotation = self._ending.pop(run_id, None)
        if annotation is not None:
            self.post(annotation, run_id=run_id)

    def post(self, annotation: Annotation, *, run_id: int) -> int | None:
        """Send the annotation; its id in Grafana, or None (logged) when Grafana refused it."""
        try:
            response = self._http.request(
                "POST",
                self._endpoint,
                body=json.dumps(annotation.as_body()).encode(),
                headers={
                    "Authorization": f"Bearer {self._token.reveal()}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
            )
        except HTTPError as error:
            log.warning(
                "grafana: no annotation for run %s: %s did not answer (%s)",
                run_id,
                self._endpoint,
                type(error).__name__,
            )
            return None
        if response.status != 200:
            log.warning(
                "grafana: no annotation for run %s: %s answered HTTP %s",
                run_id,
                self._endpoint,
                response.status,
            )
            return None
        try:
            answer = json.loads(response.data)
            annotation_id = int(answer["id"])
        except (ValueError, TypeError, KeyError):
            log.warning("grafana: annotated run %s, but the answer has no id", run_id)
            return None
        log.info("grafana: annotated run %s (annotation %s)", run_id, annotation_id)
        return annotation_id

    def close(self) -> None:
        self._http.clear()


def annotation_of(*, session: Session, run: Run) -> Annotation | None:
    """The annotation of an ended run: only a game day's real run that injected has one."""
    if run.trigger is not Trigger.GAMEDAY or run.dry_run or run.finished_at is None:
        return None
    injected = session.scalar(
        select(func.min(RunEvent.at)).where(
            RunEvent.run_id == run.id, RunEvent.status == RunStatus.INJECTING
        )
    )
    if injected is None:
        return None  # refused by preflight, or never started: nothing was disrupted
    gameday = session.get(GameDay, run.gameday_id) if run.gameday_id is not None else None
    service, team = run.service.name, run.service.team.name
    text = (
        f"chaosbot: {run.experiment} on {service}: {run.status.value}"
        f" (run {run.key}{f', game day {gameday.key}' if gameday else ''})"
    )
    return Annotation(
        start=injected,
        end=run.finished_at,
        tags=(
            "chaosbot",
            _tag("team", team),
            _tag("service", service),
            _tag("experiment", run.experiment),
        ),
        text=_bounded(text, MAX_TEXT),
    )


def grafana_annotations(settings: Settings, db: Database) -> GrafanaAnnotations | None:
    """The observer when CHAOSBOT_GRAFANA_URL and CHAOSBOT_GRAFANA_TOKEN are set, else None."""
    if settings.grafana_url is None or settings.grafana_token is None:
        return None
    return GrafanaAnnotations(db=db, url=settings.grafana_url, token=settings.grafana_token)


def _tag(kind: str, value: str) -> str:
    return _bounded(f"{kind}:{value}", MAX_TAG)


def _bounded(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
