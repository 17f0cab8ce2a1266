"""A service's suite: the library experiments its owners chose, with their parameters.

Plain rows and the library's own checks; no Slack. Every change is allowed to the service's
owners and its team's admins only (`can_manage`), checked against the library, and audited.
Parameters are stored only where they differ from the library's defaults, so a service follows
a default the platform team changes later unless its owners chose otherwise. An entry's load
profile is checked by chaos.yaml's own rules (bot.catalog.spec_load).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from bot.catalog.flows import AlreadyDone
from bot.catalog.models import Member, Role, Service, ServiceOwner, SuiteEntry
from bot.catalog.service import (
    NotAllowed,
    can_manage,
    diff_documents,
    find_service,
    record_service_change,
)
from bot.catalog.spec import CatalogPolicy
from bot.catalog.spec_load import check_load
from bot.db.idempotency import claim, was_claimed
from bot.errors import ChaosbotError
from bot.library.catalogue import Catalogue, ExperimentTemplate
from bot.library.render import ParameterInvalid, resolve_parameters
from bot.load.profile import LoadProfile

__all__ = [
    "LoadEdit",
    "NotInSuite",
    "SuiteEntryInvalid",
    "add_to_suite",
    "editable_entry",
    "effective_parameters",
    "manageable_services",
    "parameter_problems",
    "remove_from_suite",
    "set_parameters",
]


class SuiteEntryInvalid(ChaosbotError):
    """A suite entry the platform does not accept: `problems` says why by parameter,
    `load_problems` by field of its load profile (`users`, `configMap.key`)."""

    def __init__(
        self,
        experiment: str,
        problems: Mapping[str, str],
        load_problems: Mapping[str, str] | None = None,
    ) -> None:
        self.experiment = experiment
        self.problems = dict(problems)
        self.load_problems = dict(load_problems or {})
        listed = [f"{name} {problem}" for name, problem in self.problems.items()]
        listed += [f"load.{path} {problem}" for path, problem in self.load_problems.items()]
        super().__init__(f"{experiment}: {'; '.join(listed)}")


@dataclass(frozen=True, kw_only=True)
class LoadEdit:
    """The load profile a suite form gives an entry: `document` as chaos.yaml's `load` writes
    it (None: no load), checked under `policy`.

    keep_script: a document naming neither a script nor a ConfigMap keeps the entry's stored
    inline script (one longer than the form can show).
    """

    document: Mapping[str, Any] | None
    policy: CatalogPolicy
    keep_script: bool = False


class NotInSuite(ChaosbotError):
    """The service's suite has no entry for that experiment."""

    def __init__(self, service: str, experiment: str) -> None:
        self.service = service
        self.experiment = experiment
        super().__init__(
            f"`{experiment}` is not in the suite of `{service}` (any more). "
            f"`/chaos suite {service}` shows what is."
        )


def manageable_services(*, session: Session, user_id: str) -> Sequence[Service]:
    """Active services the person may change (as `can_manage` decides), by name, suites loaded."""
    owned = select(ServiceOwner.service_id).where(ServiceOwner.slack_user_id == user_id)
    administered = select(Member.team_id).where(
        Member.slack_user_id == user_id, Member.role == Role.ADMIN
    )
    query = (
        select(Service)
        .where(
            Service.offboarded_at.is_(None),
            or_(Service.id.in_(owned), Service.team_id.in_(administered)),
        )
        .options(selectinload(Service.suite))
        .order_by(Service.name)
    )
    return session.scalars(query).all()


def editable_entry(
    *, session: Session, catalogue: Catalogue, service: str, experiment: str, actor: str
) -> tuple[Service, ExperimentTemplate, SuiteEntry]:
    """The suite entry whose parameters `actor` wants to change, if they may."""
    template = catalogue.get(experiment)
    found = _managed(session, service, actor, "change the experiment parameters of")
    entry = next((e for e in found.suite if e.experiment == template.id), None)
    if entry is None:
        raise NotInSuite(found.name, template.id)
    return found, template, entry


def parameter_problems(template: ExperimentTemplate, values: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with each value (unknown name, wrong type, out of bounds), by parameter."""
    problems: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            problems[name] = f"must be a finite number (got {value!r})"
            continue
        try:
            resolve_parameters(template, {name: value})
        except ParameterInvalid as invalid:
            problems[name] = invalid.problem
    return problems


def effective_parameters(template: ExperimentTemplate, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter's value for a suite entry: the stored ones over the library's defaults."""
    return {
        name: stored.get(name, parameter.default) for name, parameter in template.parameters.items()
    }


def add_to_suite(
    *,
    session: Session,
    catalogue: Catalogue,
    service: str,
    experiment: str,
    actor: str,
    now: datetime,
) -> bool:
    """Add a library experiment, with its default parameters, at the end of the suite.

    False (and nothing written) when it is in the suite already: a double click, or a second
    person adding it.
    """
    template = catalogue.get(experiment)
    found = _managed(session, service, actor, "add experiments to")
    if any(e.experiment == template.id for e in found.suite):
        return False
    position = max((e.position for e in found.suite), default=-1) + 1
    found.suite.append(SuiteEntry(experiment=template.id, parameters={}, position=position))
    session.flush()
    record_service_change(session, found, actor, now, "suite.added", {"experiment": template.id})
    return True


def set_parameters(
    *,
    session: Session,
    catalogue: Catalogue,
    service: str,
    experiment: str,
    values: Mapping[str, Any],
    actor: str,
    now: datetime,
    request_key: str | None = None,
    load: LoadEdit | None = None,
) -> list[str]:
    """Replace an entry's parameters with `values` (a parameter left out gets its default) and,
    given `load`, its load profile (without it, the profile stays as it is).

    Raises SuiteEntryInvalid, writing nothing, when any value or load field is refused. With a
    request_key, a request carried out before raises AlreadyDone (Slack's retries); the key is
    claimed in the same transaction as the change. Returns the changes, one line each.
    """
    if request_key is not None and was_claimed(session=session, key=request_key):
        raise AlreadyDone(request_key)
    found, template, entry = editable_entry(
        session=session, catalogue=catalogue, service=service, experiment=experiment, actor=actor
    )
    problems = parameter_problems(template, values)
    profile, load_problems = _checked_load(load, entry) if load is not None else (None, {})
    if problems or load_problems:
        raise SuiteEntryInvalid(template.id, problems, load_problems)
    if request_key is not None:
        claim(session=session, key=request_key, now=now)
    before = effective_parameters(template, entry.parameters)
    after = effective_parameters(template, values)
    entry.parameters = {
        name: value for name, value in after.items() if value != template.parameters[name].default
    }
    changes = diff_documents(before, after)
    if changes:
        record_service_change(
            session,
            found,
            actor,
            now,
            "suite.parameters_changed",
            {"experiment": template.id, "changes": changes},
        )
    if load is not None:
        changes += _replace_load(session, found, entry, profile, actor, now)
    return changes


def _checked_load(load: LoadEdit, entry: SuiteEntry) -> tuple[LoadProfile | None, dict[str, str]]:
    """The profile a form gave (None: no load), or what is wrong with it by field."""
    if load.document is None:
        return None, {}
    document = dict(load.document)
    stored = (entry.load or {}).get("script")
    given = "script" in document or "configMap" in document
    if load.keep_script and not given and stored is not None:
        document["script"] = stored
    return check_load(document, load.policy)


def _replace_load(
    session: Session,
    service: Service,
    entry: SuiteEntry,
    profile: LoadProfile | None,
    actor: str,
    now: datetime,
) -> list[str]:
    """Store the entry's new load profile; the audited change, if it is one."""
    after = profile.as_document() if profile is not None else None
    if after == entry.load:
        return []
    entry.load = after
    summary = profile.summary if profile is not None else None
    detail = {"experiment": entry.experiment, "load": summary}
    record_service_change(session, service, actor, now, "suite.load_changed", detail)
    return [f"load: {summary or 'none'}"]


def remove_from_suite(
    *, session: Session, service: str, experiment: str, actor: str, now: datetime
) -> bool:
    """Take an experiment out of the suite; False (nothing written) when it was not in it.

    The library is not consulted: an experiment the library dropped can still be removed.
    """
    found = _managed(session, service, actor, "remove experiments from")
    entry = next((e for e in found.suite if e.experiment == experiment), None)
    if entry is None:
        return False
    found.suite.remove(entry)
    session.flush()
    record_service_change(session, found, actor, now, "suite.removed", {"experiment": experiment})
    return True


def _managed(session: Session, name: str, actor: str, action: str) -> Service:
    service = find_service(session=session, name=name)
    if not can_manage(session=session, service=service, user_id=actor):
        raise NotAllowed(action, name)
    return service
