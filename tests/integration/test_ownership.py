"""Ownership of targets, on SQLite and PostgreSQL, against the Kubernetes API test server: a
namespace belongs to one team, two services never select the same pods, and preflight refuses
what slipped past onboarding (rows stored before these rules)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.audit.models import AuditEvent
from bot.catalog.models import NamespaceOwner, Service, Team
from bot.cli import main
from bot.config import Settings
from bot.db.engine import Database
from bot.k8s.client import ClientFactory
from bot.k8s.cluster import KubeCluster
from bot.k8s.runs import KubeRunCluster
from bot.runs.service import find_run
from bot.runs.states import RunStatus
from bot.slack.ids import OnboardBlock as B
from bot.testing.kube.api import KubeApiServer
from bot.testing.slack.forms import choice, conversation, text, users
from tests.fixtures.bot import ADMIN, ALICE, CAROL, START, RunningBot, onboard, seed_payments
from tests.fixtures.gamedays import register_service
from tests.fixtures.runs import plan_adhoc, preflight_refusals
from tests.integration.test_chaosfile_apply import (
    CHECKOUT,
    LEDGER,
    apply,
    refused,
    seeded_cluster,
    service_yaml,
)

pytestmark = pytest.mark.storage

ORDERS_CHANNEL = "C0ORDERS"
INTRUDER_FORM = {
    B.NAME: text("payments-api"),
    B.NEW_TEAM: text("orders"),
    B.TEAM_CHANNEL: conversation(ORDERS_CHANNEL),
    B.WORKLOAD: choice(None, "external_select"),
    B.SELECTOR: text("app=payments-api"),
    B.OWNERS: users(CAROL),
}


@pytest.fixture
def cluster(kube_api: KubeApiServer, kubeconfig: Path) -> Iterator[KubeCluster]:
    with seeded_cluster(kube_api, kubeconfig) as seeded:
        yield seeded


def _services(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(Service.name).order_by(Service.name)))


def test_onboarding_into_another_teams_namespace_is_refused_on_its_field(
    running_bot: RunningBot,
) -> None:
    seed_payments(running_bot.kube)
    running_bot.kube.add_deployment(
        "payments", "payments-api", replicas=2, labels={"app": "payments-api"}
    )
    assert onboard(running_bot, ALICE) == {}  # team payments claims the namespace payments
    answer = onboard(running_bot, CAROL, **INTRUDER_FORM)
    assert answer["response_action"] == "errors"
    errors = answer["errors"]
    assert isinstance(errors, dict)
    assert "Namespace payments belongs to team payments" in errors[B.NAMESPACE], errors
    assert _services(running_bot.db) == ["checkout"]
    with running_bot.db.session() as session:
        assert session.scalar(select(Team).where(Team.name == "orders")) is None


def test_a_chaos_yaml_into_another_teams_namespace_is_refused_on_its_line(
    db: Database, cluster: KubeCluster
) -> None:
    apply(db, cluster, CHECKOUT)
    intruder = service_yaml(LEDGER, **{"team: payments": "team: orders\n  teamChannel: C0ORDERS"})
    assert refused(db, cluster, intruder) == [
        "chaos.yaml:9: spec.namespace: namespace payments belongs to team payments: only its services "
        "may run there (platform admins assign namespaces with `/chaos namespace assign`)"
    ]
    assert _services(db) == ["checkout"]


def test_a_second_service_over_the_same_pods_is_refused_at_onboarding(
    db: Database, cluster: KubeCluster
) -> None:
    apply(db, cluster, CHECKOUT)
    twin = service_yaml(
        LEDGER, **{"name: ledger": "name: checkout-twin", "app=ledger": "app=checkout"}
    )
    [error] = refused(db, cluster, twin)
    assert error.startswith(
        "chaos.yaml:9: spec.selector: app=checkout selects pods that service checkout (team "
        "payments) already selects: checkout-"
    ), error
    assert error.endswith("two services may not select the same pods")
    assert _services(db) == ["checkout"]


@pytest.fixture
def run_cluster(kube_api: KubeApiServer, kubeconfig: Path) -> Iterator[KubeRunCluster]:
    seed_payments(kube_api)
    clients = ClientFactory(kubeconfig=str(kubeconfig), default_context=None)
    try:
        yield KubeRunCluster(clients)
    finally:
        clients.close()


def _intruder(db: Database) -> None:
    """A service of team orders over checkout's pods, cap 100%, stored before the rules (as the
    reproduced finding left it)."""
    with db.session() as session:
        checkout = session.scalars(select(Service)).one()
        orders = Team(name="orders", slack_channel_id=ORDERS_CHANNEL, created_at=START)
        session.add(orders)
        session.add(
            Service(
                name="payments-api",
                team=orders,
                tier=3,
                namespace="payments",
                selector="app=checkout",
                probes=[
                    {
                        "url": "http://payments-api.payments.svc/",
                        "expectedStatus": 200,
                        "latencyBudgetMs": 500,
                    }
                ],
                blast_radius_percent=100,
                created_at=START,
                updated_at=START,
            )
        )
        checkout.blast_radius_percent = 34  # one of checkout's 3 pods


def _refusals(
    db: Database, cluster: KubeRunCluster, service: str, **overrides: object
) -> list[str]:
    planned = plan_adhoc(db, service=service, requested_by=CAROL, overrides=overrides)
    policy = Settings(allowed_namespaces=frozenset({"payments"}))
    return preflight_refusals(db, planned, cluster=cluster, policy=policy)


def test_preflight_refuses_a_service_in_another_teams_namespace_over_shared_pods(
    db: Database, run_cluster: KubeRunCluster
) -> None:
    register_service(db)
    _intruder(db)
    refusals = _refusals(db, run_cluster, "payments-api", count=3)
    assert refusals[0] == (
        "namespace payments belongs to team payments: only its services may run there "
        "(platform admins assign namespaces with `/chaos namespace assign`)"
    )
    assert len(refusals) == 1  # the rest is only checked once nothing else refuses


def test_the_cap_and_one_run_at_a_time_count_every_service_over_the_same_pods(
    db: Database, run_cluster: KubeRunCluster
) -> None:
    register_service(db)
    _intruder(db)
    with db.session() as session:  # as if a platform admin had handed payments to orders
        owner = session.scalars(select(NamespaceOwner)).one()
        owner.team = session.scalars(select(Team).where(Team.name == "orders")).one()
    planned = plan_adhoc(db, overrides={"count": 1})
    with db.session() as session:
        find_run(session=session, ref=planned.run_id).status = RunStatus.HOLDING
    refusals = _refusals(db, run_cluster, "payments-api", count=3)
    assert refusals == [
        "its pods are also selected by service checkout (team payments): two services may not "
        "select the same pods",
        "a run of a service that selects the same pods is in progress",
        "it would disrupt 3 of 3 pods (100%), above the service's cap of 34%: raise the "
        "service's blast radius cap (Edit, or blastRadiusPercent in chaos.yaml) to 100",
    ]


def test_platform_admins_assign_namespaces_in_slack_and_others_cannot(
    running_bot: RunningBot,
) -> None:
    seed_payments(running_bot.kube)
    assert onboard(running_bot, ALICE) == {}
    running_bot.command("namespace")
    listing = running_bot.reply(1)["text"]
    assert "`payments`: team *payments*" in listing
    assert "`search`: no team yet" in listing
    running_bot.command("namespace assign search payments", user=CAROL)
    assert running_bot.reply(2)["text"].endswith(
        "Only platform admins can assign namespaces to teams."
    )
    running_bot.command("namespace assign search payments", user=ADMIN)
    assert "search now belongs to team payments" in running_bot.reply(3)["text"]
    with running_bot.db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "namespace.assigned")
        ).all()
        assert [(e.actor, e.subject_id, e.detail["team"]) for e in events] == [
            (ADMIN, "search", "payments")
        ]


def test_a_namespaces_file_assigns_namespaces_from_the_command_line(
    db: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    register_service(db)
    file = tmp_path / "namespaces.yaml"
    file.write_text("namespaces:\n  search: payments\n  payments: payments\n")
    monkeypatch.setenv("CHAOSBOT_DATABASE_URL", database_url)
    assert main(["namespaces", "apply", "-f", str(file), "--actor", "cli:platform"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "payments already belongs to team payments",
        "search now belongs to team payments",
    ]
    file.write_text("namespaces:\n  search: nobody\n")
    assert main(["namespaces", "apply", "-f", str(file)]) == 1
    assert "There is no team called `nobody`" in capsys.readouterr().err
    with db.session() as session:
        owners = session.execute(
            select(NamespaceOwner.namespace, Team.name).join(NamespaceOwner.team)
        ).all()
        assert sorted(tuple(o) for o in owners) == [
            ("payments", "payments"),
            ("search", "payments"),
        ]
