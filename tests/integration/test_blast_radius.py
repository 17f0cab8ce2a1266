"""The blast-radius cap against the Kubernetes API test server, on SQLite and PostgreSQL:
preflight applies the smaller of the service's cap and the platform's maximum for its
environment and says which setting would allow a refused run; the game-day preview marks the
experiments that disrupt every pod and shows the cap that applies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.catalog.models import Environment, Service
from bot.config import BlastRadiusLimits, Settings
from bot.db.engine import Database
from bot.gamedays.preview import preview_gameday
from bot.gamedays.service import find_gameday
from bot.k8s.client import ClientFactory
from bot.k8s.cluster import KubeCluster
from bot.k8s.runs import KubeRunCluster
from bot.slack.gameday_blocks import gameday_message
from bot.testing.kube.api import KubeApiServer
from tests.fixtures.bot import START, seed_payments
from tests.fixtures.gamedays import ask, register_service
from tests.fixtures.runs import plan_adhoc, preflight_refusals

pytestmark = pytest.mark.storage

SERVICE_CAP = "the service's blast radius cap (Edit, or blastRadiusPercent in chaos.yaml)"


def _settings(**maximum: int) -> Settings:
    return Settings(
        allowed_namespaces=frozenset({"payments"}),
        allow_production=True,
        max_blast_radius_percent=BlastRadiusLimits(**maximum),
    )


@pytest.fixture
def clients(kube_api: KubeApiServer, kubeconfig: Path) -> Iterator[ClientFactory]:
    """checkout's 3 pods, one per zone; checkout registered (tier 1, cap 100%) for game days."""
    seed_payments(kube_api)
    factory = ClientFactory(kubeconfig=str(kubeconfig), default_context=None)
    try:
        yield factory
    finally:
        factory.close()


def _service(db: Database, *, cap: int, environment: Environment = Environment.STAGING) -> None:
    register_service(db, suite=("pod-kill", "blackhole", "node-drain"))
    with db.session() as session:
        service = session.scalars(select(Service)).one()
        service.blast_radius_percent = cap
        service.environment = environment
        service.production_allowed = True


def _refusals(
    db: Database, clients: ClientFactory, experiment: str, settings: Settings, **overrides: Any
) -> list[str]:
    planned = plan_adhoc(db, experiment=experiment, overrides=overrides)
    return preflight_refusals(db, planned, cluster=KubeRunCluster(clients), policy=settings)


def test_within_both_limits_preflight_lets_the_run_go(db: Database, clients: ClientFactory) -> None:
    _service(db, cap=50)
    assert _refusals(db, clients, "pod-kill", _settings(), count=1) == []
    _service(db, cap=100)
    assert _refusals(db, clients, "blackhole", _settings()) == []


def test_the_services_cap_refuses_and_says_what_to_raise_it_to(
    db: Database, clients: ClientFactory
) -> None:
    _service(db, cap=50)
    assert _refusals(db, clients, "blackhole", _settings()) == [
        f"it would disrupt 3 of 3 pods (100%), above the service's cap of 50%: raise "
        f"{SERVICE_CAP} to 100"
    ]
    assert _refusals(db, clients, "pod-kill", _settings(), count=2) == [
        f"it would disrupt 2 of 3 pods (67%), above the service's cap of 50%: raise "
        f"{SERVICE_CAP} to 67"
    ]


def test_a_lowered_platform_maximum_applies_to_a_service_registered_before(
    db: Database, clients: ClientFactory
) -> None:
    _service(db, cap=100, environment=Environment.PRODUCTION)
    assert _refusals(db, clients, "blackhole", _settings(production=50)) == [
        "it would disrupt 3 of 3 pods (100%), above the platform maximum for production of 50% "
        "(CHAOSBOT_MAX_BLAST_RADIUS_PERCENT), which is below the service's own cap of 100%: "
        "the platform team would have to raise it to 100"
    ]
    # Staging's maximum says nothing about a production service.
    assert _refusals(db, clients, "pod-kill", _settings(staging=1, production=50), count=1) == []


def test_when_both_limits_stand_in_the_way_both_are_named(
    db: Database, clients: ClientFactory
) -> None:
    _service(db, cap=30, environment=Environment.PRODUCTION)
    assert _refusals(db, clients, "blackhole", _settings(production=50)) == [
        f"it would disrupt 3 of 3 pods (100%), above the service's cap of 30%: raise {SERVICE_CAP} "
        "to 100, but the platform maximum for production is 50% "
        "(CHAOSBOT_MAX_BLAST_RADIUS_PERCENT), which the platform team would have to raise to "
        "100 first"
    ]
    _service(db, cap=60, environment=Environment.PRODUCTION)
    assert _refusals(db, clients, "blackhole", _settings(production=50)) == [
        "it would disrupt 3 of 3 pods (100%), above the platform maximum for production of 50% "
        "(CHAOSBOT_MAX_BLAST_RADIUS_PERCENT), which is below the service's own cap of 60%: "
        f"the platform team would have to raise it to 100, and the owners {SERVICE_CAP} to 100"
    ]


def _approval_message(db: Database, clients: ClientFactory, settings: Settings) -> str:
    with db.session() as session:
        service = session.scalars(select(Service)).one()
        preview = preview_gameday(
            service,
            ["pod-kill", "blackhole", "node-drain"],
            cluster=KubeCluster(clients),
            default_context=None,
            hold_seconds=30,
            max_blast_radius=settings.max_blast_radius_percent,
            now=START,
        )
    key = ask(db, experiments=("pod-kill", "blackhole", "node-drain"), preview=preview)
    with db.session() as session:
        message = gameday_message(find_gameday(session=session, ref=key), [], runs=[])
    return "\n".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")


def test_the_preview_marks_every_pod_experiments_and_what_preflight_would_say(
    db: Database, clients: ClientFactory
) -> None:
    _service(db, cap=50)
    shown = _approval_message(db, clients, _settings())
    [pod_kill, blackhole, node_drain] = shown.split("\n*")[1:4]
    assert "Every pod" not in pod_kill
    assert "blast radius 33% (cap 50%) :white_check_mark:" in pod_kill
    assert "Preflight would refuse" not in pod_kill
    assert (
        ":warning: Every pod: it acts on every pod of the service by design, so it runs only "
        "where the blast-radius cap is 100%"
    ) in blackhole
    assert "blast radius 100% (cap 50%) :no_entry:" in blackhole
    assert (
        "Preflight would refuse it: it would disrupt 3 of 3 pods (100%), above the service's "
        f"cap of 50%: raise {SERVICE_CAP} to 100"
    ) in blackhole
    # A drain hits the pods on the drained node, but preflight counts every pod of the service.
    assert ":warning: Every pod: it takes out the nodes the service's pods run on" in node_drain
    assert "Hits: 1 of the 3 nodes running its pods · blast radius 100% (cap 50%)" in node_drain


def test_the_preview_shows_the_platforms_maximum_when_it_is_the_limit(
    db: Database, clients: ClientFactory
) -> None:
    _service(db, cap=100, environment=Environment.PRODUCTION)
    shown = _approval_message(db, clients, _settings(production=40))
    assert "blast radius 33% (cap 40%, the platform maximum for production) :white_check_mark:" in (
        shown
    )
    assert "blast radius 100% (cap 40%, the platform maximum for production) :no_entry:" in shown
    assert "(CHAOSBOT_MAX_BLAST_RADIUS_PERCENT)" in shown
