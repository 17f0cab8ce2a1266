"""Planning a run: the library's experiment rendered for one service, recorded with its rollback
plan before anything touches the cluster."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from sqlalchemy.orm import Session

from bot.catalog.models import Service, SuiteEntry
from bot.catalog.service import find_service
from bot.catalog.spec import SteadyStateWatch
from bot.db.engine import Database
from bot.library.catalogue import ExperimentTemplate, load_catalogue
from bot.library.render import created_kinds, render, resolve_parameters, rollback_plan
from bot.load.profile import LoadProfile
from bot.runs.models import Run
from bot.runs.service import create_run, new_run_key
from bot.runs.states import Trigger

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "PlannedRun",
    "RunRequest",
    "load_of",
    "plan_run",
    "record_run",
    "render_for",
    "suite_entry",
]

DEFAULT_HOLD_SECONDS = 60.0


@dataclass(frozen=True)
class PlannedRun:
    run_id: int
    key: str


def render_for(
    service: Service,
    template: ExperimentTemplate,
    *,
    overrides: Mapping[str, Any],
    run_id: str,
    hold_seconds: float,
    default_context: str | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters (suite entry, then overrides, over the defaults) and the rendered experiment."""
    entry = suite_entry(service, template)
    chosen: dict[str, Any] = dict(entry.parameters) if entry is not None else {}
    chosen.update(overrides)
    parameters = resolve_parameters(template, chosen)
    watching = SteadyStateWatch.from_document(service.steady_state)
    document = render(
        template,
        namespace=service.namespace,
        # The stored selector: for a workload-declared service, the one resolved from it.
        label_selector=service.selector,
        probes=service.probes,
        run_id=run_id,
        hold_seconds=hold_seconds,
        parameters=parameters,
        context=service.cluster_context or default_context,
        interval_seconds=watching.interval_seconds,
        fail_after=watching.fail_after,
        load=load_of(entry),
    )
    return parameters, document


def suite_entry(service: Service, template: ExperimentTemplate) -> SuiteEntry | None:
    """The service's suite entry of the experiment, if it has one."""
    return next((e for e in service.suite if e.experiment == template.id), None)


def load_of(entry: SuiteEntry | None) -> LoadProfile | None:
    """The load profile a suite entry runs under (None: no entry, or no load)."""
    return LoadProfile.from_document(entry.load) if entry is not None and entry.load else None


class RunRequest(TypedDict):
    """What a run is asked for, besides the service (see record_run for the defaults)."""

    experiment: str
    trigger: Trigger
    requested_by: str
    now: datetime
    overrides: NotRequired[Mapping[str, Any] | None]
    hold_seconds: NotRequired[float]
    default_context: NotRequired[str | None]
    dry_run: NotRequired[bool]
    scheduled_for: NotRequired[datetime | None]


def plan_run(db: Database, *, service: str, **request: Unpack[RunRequest]) -> PlannedRun:
    """Record a scheduled run of `experiment` against `service`, ready for a worker."""
    with db.session() as session:
        run = record_run(session, service=find_service(session=session, name=service), **request)
        return PlannedRun(run.id, run.key)


def record_run(
    session: Session,
    *,
    service: Service,
    experiment: str,
    trigger: Trigger,
    requested_by: str,
    now: datetime,
    overrides: Mapping[str, Any] | None = None,
    hold_seconds: float = DEFAULT_HOLD_SECONDS,
    default_context: str | None = None,
    dry_run: bool = False,
    scheduled_for: datetime | None = None,
) -> Run:
    """`plan_run` in the caller's transaction (a game day records its runs with its start)."""
    template = load_catalogue().get(experiment)
    key = new_run_key()
    parameters, document = render_for(
        service,
        template,
        overrides=overrides or {},
        run_id=key,
        hold_seconds=hold_seconds,
        default_context=default_context,
    )
    return create_run(
        session=session,
        service=service,
        experiment=template.id,
        document=document,
        rollback_plan=rollback_plan(document),
        creates=created_kinds(template, load_of(suite_entry(service, template))),
        parameters=parameters,
        trigger=trigger,
        requested_by=requested_by,
        now=now,
        key=key,
        dry_run=dry_run,
        scheduled_for=scheduled_for,
    )
