"""Whatever a chaos.yaml holds, applying it ends in ChaosfileInvalid or with all of it written."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.catalog.apply import apply_documents
from bot.catalog.chaos_schema import chaos_schema
from bot.catalog.chaosfile import ChaosfileInvalid, load_documents
from bot.catalog.service import find_service, spec_of
from bot.catalog.spec import to_document
from bot.clock import FrozenClock
from bot.db.engine import Database
from bot.k8s.cluster import KubeCluster
from bot.testing.kube.api import KubeApiServer
from tests.integration.test_chaosfile_apply import (
    CHECKOUT,
    LEDGER,
    NOW,
    POLICY,
    catalogue,
    seeded_cluster,
)

# Valid documents; the last two are refused while saving unless the team storefront exists
# (with its channel given) and checkout does not yet belong to payments.
VALID = [
    yaml.safe_load(CHECKOUT),
    yaml.safe_load(LEDGER),
    {
        **yaml.safe_load(LEDGER),
        "metadata": {"name": "search"},
        "spec": {
            **yaml.safe_load(LEDGER)["spec"],
            "team": "storefront",
            "teamTimezone": "America/New_York",
            "approvers": ["U0ALICE", "U0BOB"],
            "steadyState": {"intervalSeconds": 5, "failAfter": 3},
        },
    },
    {
        **yaml.safe_load(CHECKOUT),
        "spec": {**yaml.safe_load(CHECKOUT)["spec"], "team": "storefront", "teamChannel": "C0SHOP"},
    },
]


def _field_names(schema: dict[str, Any]) -> Iterator[str]:
    for key, child in schema.get("properties", {}).items():
        yield key
        yield from _field_names(child)
    if "items" in schema:
        yield from _field_names(schema["items"])


_KEYS = st.sampled_from(sorted(set(_field_names(chaos_schema())))) | st.text(max_size=8)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 70_000)
    # Within 2**53: PostgreSQL keeps JSON numbers as decimals, so a larger float comes back as
    # the integer its shortest text spells, which is not quite the float.
    | st.floats(-1e15, 1e15)
    | st.text(max_size=12)
    | st.dates()
    | st.sampled_from(
        [
            "payments",
            "storefront",
            "checkout",
            "ledger",
            "app=checkout",
            "app=ledger",
            "app=nothing",
            "app in (checkout, ledger)",
            "Deployment",
            "StatefulSet",
            "U0ALICE",
            "C0SHOP",
            "http://ledger.payments.svc/",
            "http://169.254.169.254/",
            "10:00-16:00",
            "Europe/Berlin",
            "Europe",
            "mon",
            "pod-kill",
            "chaosbot-test",
        ]
    )
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=10,
)
_ANY_SERVICE = st.fixed_dictionaries(
    {
        "apiVersion": st.just("chaosbot.io/v1"),
        "kind": st.just("Service"),
        "metadata": st.fixed_dictionaries({"name": st.sampled_from(["checkout", "ledger", "x"])}),
        "spec": _VALUES,
    }
)


# Values a person might well write for a field (a list's items under "owners[]"): most keep the
# document valid, some do not.
_OWNER = st.sampled_from(["U0ALICE", "U0BOB", "U0CAROL", "bob"])
_DAY = st.sampled_from(["mon", "tue", "sat", "monday"])
_PROBE = st.fixed_dictionaries(
    {"url": st.sampled_from(["http://ledger.payments.svc/", "http://169.254.169.254/", "ledger"])},
    optional={"expectedStatus": st.integers(99, 600), "latencyBudgetMs": st.integers(0, 60_001)},
)
_SUITE_ENTRY = st.fixed_dictionaries(
    {"experiment": st.sampled_from(["pod-kill", "network-latency", "Pod Kill"])},
    optional={"parameters": st.dictionaries(st.sampled_from(["count", "ms"]), st.integers(0, 3))},
)
_PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from(["checkout", "ledger", "search", "Checkout"]),
    "team": st.sampled_from(["payments", "storefront"]),
    "teamChannel": st.sampled_from(["C0PAYMENTS", "C0SHOP", None]),
    "teamTimezone": st.sampled_from(["Europe/Berlin", "UTC", "Mars/Olympus", "Europe", None]),
    "tier": st.integers(0, 5),
    "environment": st.sampled_from(["staging", "production", None]),
    "cluster": st.sampled_from(["chaosbot-test", "elsewhere", None]),
    "namespace": st.sampled_from(["payments", "default"]),
    "workload": st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["Deployment", "StatefulSet"]),
            "name": st.sampled_from(["checkout", "ledger", "search"]),
        }
    ),
    "kind": st.sampled_from(["Deployment", "StatefulSet", "DaemonSet"]),
    "selector": st.sampled_from(
        ["app=checkout", "app=ledger", "app=nothing", "app in (checkout, ledger)", "app=="]
    ),
    "owners": st.lists(_OWNER, max_size=3),
    "owners[]": _OWNER,
    "approvers": st.lists(_OWNER, max_size=3),
    "approvers[]": _OWNER,
    "probes": st.lists(_PROBE, max_size=2),
    "probes[]": _PROBE,
    "url": _PROBE.map(lambda probe: probe["url"]),
    "expectedStatus": st.integers(99, 600),
    "latencyBudgetMs": st.integers(0, 60_001),
    "steadyState": st.fixed_dictionaries(
        {}, optional={"intervalSeconds": st.integers(0, 301), "failAfter": st.integers(0, 21)}
    ),
    "intervalSeconds": st.integers(0, 301),
    "failAfter": st.integers(0, 21),
    "blastRadiusPercent": st.integers(0, 101),
    "enabled": st.booleans(),
    "weekdays": st.lists(_DAY, max_size=3),
    "weekdays[]": _DAY,
    "hours": st.sampled_from(["09:00-17:00", "17:00-09:00", "9-5"]),
    "timezone": st.sampled_from(["UTC", "Mars/Olympus"]),
    "suite": st.lists(_SUITE_ENTRY, max_size=2),
    "suite[]": _SUITE_ENTRY,
    "experiment": _SUITE_ENTRY.map(lambda entry: entry["experiment"]),
    "parameters": st.dictionaries(st.sampled_from(["count", "ms"]), st.integers(0, 3)),
    "count": st.integers(0, 3),
}


def _plausible(path: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    key = path[-1] if isinstance(path[-1], str) else f"{path[-2]}[]"
    return _PLAUSIBLE.get(key, _VALUES)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict | list):
        for key, child in value.items() if isinstance(value, dict) else enumerate(value):
            yield from _paths(child, (*path, key))


@st.composite
def _mutated_service(draw: st.DrawFn) -> Any:
    """A valid document with up to two values replaced, keys removed or keys added."""
    document = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        # Inside metadata and spec: whole documents are left to the other strategies.
        path = draw(st.sampled_from([p for p in _paths(document) if len(p) > 1]))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        match draw(st.sampled_from(["replace", "replace", "replace", "remove", "add"])):
            case "replace":
                anything = draw(st.integers(0, 3)) == 3
                parent[path[-1]] = draw(_VALUES if anything else _plausible(path))
            case "remove":
                del parent[path[-1]]
            case "add" if isinstance(parent, dict):
                parent[draw(_KEYS)] = draw(_VALUES)
            case "add":
                parent.append(draw(_VALUES))
    return document


def _name(document: Any) -> str:
    return repr(document.get("metadata"))


@st.composite
def _any_files(draw: st.DrawFn) -> str:
    """One to three documents of any shape, sometimes with a few characters inserted."""
    documents = draw(st.lists(_mutated_service() | _ANY_SERVICE | _VALUES, min_size=1, max_size=3))
    text = yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True)
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        insert = draw(st.sampled_from([":", "- ", "\t", "{", "'", "&a ", "*a", "\n---\n", "\x00"]))
        text = text[:at] + insert + text[at:]
    return text


_PLAUSIBLE_FILES = st.lists(_mutated_service(), min_size=1, max_size=3, unique_by=_name).map(
    lambda documents: yaml.safe_dump_all(documents, sort_keys=False)
)

_PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def cluster(kube_api: KubeApiServer, kubeconfig: Path) -> Iterator[KubeCluster]:
    with seeded_cluster(kube_api, kubeconfig) as seeded:
        yield seeded


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@_PROPERTY
@given(text=_any_files(), dry_run=st.booleans())
def test_any_file_is_refused_with_its_lines_or_applied_whole(
    db: Database, cluster: KubeCluster, clock: FrozenClock, text: str, dry_run: bool
) -> None:
    check_apply(db, cluster, clock, text, dry_run=dry_run)


@_PROPERTY
@given(text=_PLAUSIBLE_FILES, dry_run=st.booleans())
def test_a_plausible_file_is_applied_whole_or_not_at_all(
    db: Database, cluster: KubeCluster, clock: FrozenClock, text: str, dry_run: bool
) -> None:
    check_apply(db, cluster, clock, text, dry_run=dry_run)


def check_apply(
    db: Database, cluster: KubeCluster, clock: FrozenClock, text: str, *, dry_run: bool
) -> None:
    """Load and apply `text`: either ChaosfileInvalid and nothing written, or all of it."""
    clock.advance(timedelta(minutes=1))  # so that any write shows in updated_at
    before = catalogue(db)
    try:
        documents = load_documents(text, source="chaos.yaml", policy=POLICY)
        outcomes = apply_documents(
            db, documents, cluster=cluster, actor="cli:prop", now=clock.now(), dry_run=dry_run
        )
    except ChaosfileInvalid as exc:
        refusal: ChaosfileInvalid | None = exc
    else:
        refusal = None
    if refusal is not None:
        lines = text.count("\n") + 1
        assert refusal.errors
        assert all(e.source == "chaos.yaml" and 1 <= e.line <= lines for e in refusal.errors)
        assert catalogue(db) == before
        return
    assert [o.name for o in outcomes] == [d.spec.name for d in documents]
    after = catalogue(db)
    if dry_run:
        assert after == before
        return
    declared = {d.spec.name: d.spec for d in documents}
    with db.session() as session:
        for name, spec in declared.items():
            stored = find_service(session=session, name=name)
            stored_document = _comparable(spec_of(stored))
            if spec.suite is None:
                # A file without `suite:` keeps whatever suite the service had.
                stored_document.pop("suite")
            if spec.steady_state is None:
                # Nor does one without `steadyState:` change how the service is watched.
                stored_document.pop("steadyState")
            assert stored_document == _comparable(spec)
    # A team's channel and timezone are the team's: the file's last word on each, for every
    # service of the team; a new team's timezone is UTC unless the file names one.
    teams = {name: (channel, timezone) for name, channel, timezone in before["teams"]}
    for spec in (d.spec for d in documents):
        channel, timezone = teams.get(spec.team, (None, "UTC"))
        teams[spec.team] = (spec.team_channel or channel, spec.team_timezone or timezone)
    assert after["teams"] == sorted((name, *settings) for name, settings in teams.items())
    untouched = set(before["services"]) - set(declared)
    assert {n: _without_team(after["services"][n]) for n in untouched} == {
        n: _without_team(before["services"][n]) for n in untouched
    }
    changed = [o for o in outcomes if o.created or o.changes]
    # One event per service changed, and one per namespace its first team claimed.
    claimed = {d.spec.namespace for d in documents} - {
        subject for action, subject in before["audit"] if action == "namespace.claimed"
    }
    assert len(after["audit"]) == len(before["audit"]) + len(changed) + len(claimed)


_TEAM_FIELDS = ("teamChannel", "teamTimezone")


def _without_team(row: tuple[dict[str, Any], str, datetime]) -> tuple[Any, ...]:
    document, selector, updated_at = row
    return ({k: v for k, v in document.items() if k not in _TEAM_FIELDS}, selector, updated_at)


def _comparable(spec: Any) -> dict[str, Any]:
    """The declaration as stored: the team's channel and timezone are the team's, owners a set."""
    document = {k: v for k, v in to_document(spec).items() if k not in _TEAM_FIELDS}
    document["owners"] = sorted(document["owners"])
    return document
