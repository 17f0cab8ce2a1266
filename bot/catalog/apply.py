"""Applying a chaos.yaml: every service checked against its cluster, then all stored at once.

The rows are the ones the onboarding modal writes (`locate_pods` and `save_service` are shared),
so a service made in Slack and the same service declared in a file are indistinguishable.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.catalog.chaosfile import ChaosDocument, ChaosfileInvalid, LocatedError
from bot.catalog.cluster import ClusterView
from bot.catalog.flows import check_experiments, check_pods_not_shared, check_queries, locate_pods
from bot.catalog.metrics import MetricsView
from bot.catalog.service import save_service
from bot.catalog.spec import SpecInvalid
from bot.db.engine import Database
from bot.errors import ChaosbotError

__all__ = ["ApplyConflict", "ApplyOutcome", "apply_documents"]


class ApplyConflict(ChaosbotError):
    """Someone else changed the catalogue while the file was being applied."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(
            f"the service catalogue changed while {source} was being applied (another apply or "
            "an onboarding at the same time); nothing was applied, run it again"
        )


@dataclass(frozen=True, kw_only=True)
class ApplyOutcome:
    """What applying one document did (or, in a dry run, would do) to its service."""

    name: str
    created: bool
    changes: tuple[str, ...] = ()
    dry_run: bool = False

    def __str__(self) -> str:
        verb = "would be " if self.dry_run else ""
        if self.created:
            return f"service {self.name} {verb}created"
        if self.changes:
            return f"service {self.name} {verb}updated: {'; '.join(self.changes)}"
        return f"service {self.name} unchanged"


def apply_documents(
    db: Database,
    documents: Sequence[ChaosDocument],
    *,
    cluster: ClusterView,
    metrics: MetricsView | None = None,
    actor: str,
    now: datetime,
    dry_run: bool,
    platform_admins: frozenset[str] = frozenset(),
) -> list[ApplyOutcome]:
    """Create or update the documents' services, all of them or none.

    Every document is checked against its cluster (and its prometheus probes' queries against
    `metrics`, the platform's Prometheus) before anything is written; then all are
    saved in one transaction. A dry run saves them the same way and rolls back, so the changes
    it reports are exactly those a real run would make. Raises ChaosfileInvalid listing every
    problem, with nothing written.
    """
    errors: list[LocatedError] = []
    selectors: list[str] = []
    for document in documents:
        try:
            check_experiments(document.spec)
            check_queries(document.spec, metrics)
            selectors.append(locate_pods(document.spec, cluster))
        except SpecInvalid as exc:
            errors.extend(document.locate(e) for e in exc.errors)
    if errors:
        raise ChaosfileInvalid(errors)
    outcomes: list[ApplyOutcome] = []
    try:
        with _unit_of_work(db, commit=not dry_run) as session:
            for document, selector in zip(documents, selectors, strict=True):
                try:
                    result = save_service(
                        session=session,
                        spec=document.spec,
                        selector=selector,
                        actor=actor,
                        now=now,
                        platform_admins=platform_admins,
                    )
                    # After saving, so ownership refusals come first; a refusal rolls back.
                    check_pods_not_shared(
                        session=session, spec=document.spec, selector=selector, cluster=cluster
                    )
                except SpecInvalid as exc:
                    errors.extend(document.locate(e) for e in exc.errors)
                    continue
                outcomes.append(
                    ApplyOutcome(
                        name=document.spec.name,
                        created=result.created,
                        changes=tuple(result.changes),
                        dry_run=dry_run,
                    )
                )
            if errors:
                raise ChaosfileInvalid(errors)  # rolls the others back
    except IntegrityError:
        # A concurrent writer committed a service or team of the same name first.
        raise ApplyConflict(documents[0].source) from None
    return outcomes


@contextmanager
def _unit_of_work(db: Database, *, commit: bool) -> Iterator[Session]:
    """db.session(), or for a dry run the same work in a transaction that is rolled back."""
    if commit:
        with db.session() as session:
            yield session
        return
    with Session(db.engine) as session:
        try:
            yield session
        finally:
            session.rollback()
