"""Onboarding and applying a declaration: check it against the cluster, then store it once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.catalog.cluster import ClusterUnreachable, ClusterView, WorkloadNotFound
from bot.catalog.metrics import MetricsView, QueryRefused
from bot.catalog.service import SaveResult, save_service, sharing_services
from bot.catalog.spec import FieldError, PrometheusProbe, ServiceSpec, SpecInvalid
from bot.db.engine import Database
from bot.db.idempotency import claim, was_claimed
from bot.library.catalogue import UnknownExperiment, load_catalogue
from bot.library.render import ParameterInvalid, resolve_parameters

__all__ = [
    "AlreadyDone",
    "check_experiments",
    "check_pods_not_shared",
    "check_queries",
    "locate_pods",
    "store_service",
]


class AlreadyDone(Exception):
    """The request with this idempotency key was carried out before (a retry or double click)."""


def check_experiments(spec: ServiceSpec) -> None:
    """Every experiment the declaration names is in the library: its suite's, with parameters
    they accept, and those that may run blind."""
    blind = spec.blind.experiments if spec.blind else ()
    if not spec.suite and not blind:
        return
    catalogue = load_catalogue()
    errors: list[FieldError] = []
    for index, entry in enumerate(spec.suite or ()):
        try:
            resolve_parameters(catalogue.get(entry.experiment), entry.parameters)
        except UnknownExperiment:
            errors.append(_not_in_library(f"suite[{index}].experiment", entry.experiment))
        except ParameterInvalid as exc:
            errors.append(
                FieldError(f"suite[{index}].parameters.{exc.name}", f"{exc.name} {exc.problem}")
            )
    for index, experiment in enumerate(blind):
        try:
            catalogue.get(experiment)
        except UnknownExperiment:
            errors.append(_not_in_library(f"blindDrills.experiments[{index}]", experiment))
    if errors:
        raise SpecInvalid(errors)


def _not_in_library(path: str, experiment: str) -> FieldError:
    # Worded so that the modal, which capitalises a message, does not change the id.
    return FieldError(path, f"there is no experiment {experiment} in the library")


def check_queries(spec: ServiceSpec, metrics: MetricsView | None) -> None:
    """Every `prometheus` probe's query parses and returns one number on the platform's
    Prometheus now; otherwise a field error on that probe's query."""
    probes = spec.steady_state.probes if spec.steady_state is not None else ()
    errors: list[FieldError] = []
    for index, probe in enumerate(probes):
        if not isinstance(probe, PrometheusProbe):
            continue
        path = f"steadyState.probes[{index}].prometheus.query"
        if metrics is None:
            errors.append(FieldError(path, "this platform has no Prometheus to ask"))
            continue
        try:
            metrics.instant_value(probe.query)
        except QueryRefused as refused:
            errors.append(FieldError(path, refused.reason))
    if errors:
        raise SpecInvalid(errors)


def locate_pods(spec: ServiceSpec, cluster: ClusterView) -> str:
    """The selector of the service's pods, checked to match at least one pod right now.

    Raises SpecInvalid on the field a person would fix: the workload, the selector, or the
    cluster context when the cluster cannot be reached.
    """
    field = "workload" if spec.workload is not None else "selector"
    try:
        if spec.workload is not None:
            selector = cluster.resolve_selector(
                context=spec.cluster, namespace=spec.namespace, workload=spec.workload
            )
        else:
            assert spec.selector is not None
            selector = spec.selector
        pods = len(
            cluster.pod_names(context=spec.cluster, namespace=spec.namespace, selector=selector)
        )
    except WorkloadNotFound as exc:
        raise SpecInvalid([FieldError("workload", str(exc))]) from None
    except ClusterUnreachable as exc:
        raise SpecInvalid([FieldError("cluster", str(exc))]) from None
    if pods == 0:
        raise SpecInvalid(
            [FieldError(field, f"{selector} matches no pod in namespace {spec.namespace}")]
        )
    return selector


def check_pods_not_shared(
    *, session: Session, spec: ServiceSpec, selector: str, cluster: ClusterView
) -> None:
    """Refuse, on the workload or selector field, a declaration whose pods another service
    already selects: two services never select the same pod."""
    field = "workload" if spec.workload is not None else "selector"
    try:
        sharing = sharing_services(
            session=session,
            name=spec.name,
            context=spec.cluster,
            namespace=spec.namespace,
            pods=cluster.pod_names(
                context=spec.cluster, namespace=spec.namespace, selector=selector
            ),
            pods_of=lambda other: cluster.pod_names(
                context=other.cluster_context, namespace=other.namespace, selector=other.selector
            ),
        )
    except ClusterUnreachable as exc:
        raise SpecInvalid([FieldError("cluster", str(exc))]) from None
    if sharing:
        raise SpecInvalid(
            [
                FieldError(
                    field,
                    f"{selector} selects pods that service {other.name} (team "
                    f"{other.team.name}) already selects: {_some(shared)}; two services may "
                    "not select the same pods",
                )
                for other, shared in sharing
            ]
        )


def _some(names: frozenset[str], shown: int = 3) -> str:
    ordered = sorted(names)
    more = f" and {len(ordered) - shown} more" if len(ordered) > shown else ""
    return ", ".join(ordered[:shown]) + more


def store_service(
    db: Database,
    spec: ServiceSpec,
    *,
    cluster: ClusterView,
    metrics: MetricsView | None = None,
    actor: str,
    now: datetime,
    create_only: bool,
    idempotency_key: str | None = None,
    platform_admins: frozenset[str] = frozenset(),
) -> SaveResult:
    """Check the declaration against the library, the cluster and the platform's Prometheus
    (`metrics`, for its prometheus probes), and store it in one transaction.

    With an idempotency key, a second call with the same key raises AlreadyDone and writes
    nothing (Slack's retries, double submissions).
    """
    if idempotency_key is not None:
        with db.session() as session:
            if was_claimed(session=session, key=idempotency_key):
                raise AlreadyDone(idempotency_key)
    check_experiments(spec)
    check_queries(spec, metrics)
    selector = locate_pods(spec, cluster)
    try:
        with db.session() as session:
            if idempotency_key is not None:
                claim(session=session, key=idempotency_key, now=now)
            result = save_service(
                session=session,
                spec=spec,
                selector=selector,
                actor=actor,
                now=now,
                create_only=create_only,
                platform_admins=platform_admins,
            )
            # After saving, so ownership refusals come first; a refusal rolls it back.
            check_pods_not_shared(session=session, spec=spec, selector=selector, cluster=cluster)
            return result
    except IntegrityError:
        # A concurrent request committed first: the same one (its key) or the same service.
        if idempotency_key is not None:
            with db.session() as session:
                if was_claimed(session=session, key=idempotency_key):
                    raise AlreadyDone(idempotency_key) from None
        raise SpecInvalid(
            [FieldError("name", f"a service called {spec.name} was registered just now")]
        ) from None
