"""Applying chaos.yaml files against the Kubernetes API test server, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.catalog.apply import ApplyConflict, apply_documents
from bot.catalog.chaosfile import ChaosfileInvalid, dump_documents, load_documents
from bot.catalog.flows import store_service
from bot.catalog.models import Service, Team
from bot.catalog.service import find_service, spec_of
from bot.catalog.spec import CatalogPolicy, SteadyStateWatch, to_document
from bot.config import BlastRadiusLimits
from bot.db.engine import Database
from bot.k8s.client import ClientFactory
from bot.k8s.cluster import KubeCluster
from bot.testing.kube.api import KubeApiServer
from tests.fixtures.declarations import CHECKOUT_YAML_HEAD

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
POLICY = CatalogPolicy(allowed_namespaces=frozenset({"payments"}))

CHECKOUT = (
    CHECKOUT_YAML_HEAD
    + """\
  cluster: chaosbot-test
  namespace: payments
  workload: {kind: Deployment, name: checkout}
  owners: [U0ALICE, U0BOB]
  probes:
    - url: http://checkout.payments.svc/healthz
      latencyBudgetMs: 300
  blindDrills: {enabled: true, weekdays: [mon, tue], hours: "10:00-16:00", timezone: Europe/Berlin, experiments: [pod-kill, cpu-pressure], meanDaysBetween: 5, minSpacingHours: 48, holidayCountry: de, durationMinutes: 45}
  suite:
    - experiment: pod-kill
      parameters: {count: 1}
"""
)

LEDGER = """\
apiVersion: chaosbot.io/v1
kind: Service
metadata:
  name: ledger
spec:
  team: payments
  tier: 3
  namespace: payments
  selector: app=ledger
  owners: [U0CAROL]
"""


def service_yaml(text: str = CHECKOUT, **changes: str) -> str:
    """`text` with `old=new` replacements, each of which must apply exactly once."""
    for old, new in changes.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@contextmanager
def seeded_cluster(kube_api: KubeApiServer, kubeconfig: Path) -> Iterator[KubeCluster]:
    """The cluster the services run in: the Deployments checkout (2 pods) and ledger (1)."""
    kube_api.add_namespace("payments")
    kube_api.add_node("node-a", zone="eu-central-1a")
    kube_api.add_deployment("payments", "checkout", replicas=2, labels={"app": "checkout"})
    kube_api.add_deployment("payments", "ledger", replicas=1, labels={"app": "ledger"})
    clients = ClientFactory(kubeconfig=str(kubeconfig), default_context=None)
    try:
        yield KubeCluster(clients)
    finally:
        clients.close()


@pytest.fixture
def cluster(kube_api: KubeApiServer, kubeconfig: Path) -> Iterator[KubeCluster]:
    with seeded_cluster(kube_api, kubeconfig) as seeded:
        yield seeded


def apply(
    db: Database,
    cluster: KubeCluster,
    text: str,
    *,
    dry_run: bool = False,
    now: datetime = NOW,
    policy: CatalogPolicy = POLICY,
) -> list[str]:
    documents = load_documents(text, source="chaos.yaml", policy=policy)
    outcomes = apply_documents(
        db, documents, cluster=cluster, actor="cli:alice", now=now, dry_run=dry_run
    )
    return [str(o) for o in outcomes]


def refused(db: Database, cluster: KubeCluster, text: str, *, dry_run: bool = False) -> list[str]:
    with pytest.raises(ChaosfileInvalid) as caught:
        apply(db, cluster, text, dry_run=dry_run)
    return [str(e) for e in caught.value.errors]


def catalogue(db: Database) -> dict[str, Any]:
    """Everything applying can write: services as declarations, teams, the audit trail."""
    with db.session() as session:
        services = session.scalars(select(Service).order_by(Service.name)).all()
        return {
            "services": {s.name: (_declared(s), s.selector, s.updated_at) for s in services},
            "teams": [
                tuple(row)
                for row in session.execute(
                    select(Team.name, Team.slack_channel_id, Team.timezone).order_by(Team.name)
                )
            ],
            "audit": session.execute(
                select(AuditEvent.action, AuditEvent.subject_id).order_by(AuditEvent.id)
            ).all(),
        }


def _declared(service: Service) -> dict[str, Any]:
    # Owners come back in whatever order the query plan gives; their order means nothing.
    document = to_document(spec_of(service))
    document["owners"] = sorted(document["owners"])
    return document


def audit_events(db: Database) -> list[tuple[str, str, dict[str, Any]]]:
    with db.session() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        return [(e.action, e.actor, e.detail) for e in events]


def export(db: Database, *names: str) -> str:
    with db.session() as session:
        return dump_documents([spec_of(find_service(session=session, name=n)) for n in names])


def assert_reapplies_unchanged(db: Database, cluster: KubeCluster, exported: str) -> None:
    """Applying the export of checkout and ledger an hour later changes and records nothing,
    and exports the same text again."""
    before = audit_events(db)
    later = NOW + timedelta(hours=1)
    assert apply(db, cluster, exported, now=later) == [
        "service checkout unchanged",
        "service ledger unchanged",
    ]
    assert audit_events(db) == before
    assert export(db, "checkout", "ledger") == exported


def test_applying_a_file_creates_its_services(db: Database, cluster: KubeCluster) -> None:
    assert apply(db, cluster, f"{CHECKOUT}---\n{LEDGER}") == [
        "service checkout created",
        "service ledger created",
    ]
    with db.session() as session:
        checkout = find_service(session=session, name="checkout")
        assert (checkout.selector, checkout.workload_kind, checkout.workload_name) == (
            "app=checkout",
            "Deployment",
            "checkout",
        )
        assert (checkout.team.name, checkout.team.slack_channel_id) == ("payments", "C0PAYMENTS")
        assert [o.slack_user_id for o in checkout.owners] == ["U0ALICE", "U0BOB"]
        assert checkout.cluster_context == "chaosbot-test"
        assert [(e.experiment, e.parameters) for e in checkout.suite] == [
            ("pod-kill", {"count": 1})
        ]
        ledger = find_service(session=session, name="ledger")
        assert (ledger.selector, ledger.workload_kind, ledger.tier) == ("app=ledger", None, 3)
        assert ledger.team_id == checkout.team_id
    assert audit_events(db) == [
        # The first team to onboard into an unassigned namespace claims it.
        ("namespace.claimed", "cli:alice", {"team": "payments"}),
        ("service.onboarded", "cli:alice", {"name": "checkout", "changes": []}),
        ("service.onboarded", "cli:alice", {"name": "ledger", "changes": []}),
    ]


def test_an_exported_file_applies_unchanged_and_records_nothing(
    db: Database, cluster: KubeCluster
) -> None:
    apply(db, cluster, f"{CHECKOUT}---\n{LEDGER}")
    exported = export(db, "checkout", "ledger")
    [checkout, ledger] = load_documents(exported, source="exported.yaml", policy=POLICY)
    [declared] = load_documents(CHECKOUT, source="chaos.yaml", policy=POLICY)
    # The team's timezone is written too (UTC, as CHECKOUT gave none for the new team), and the
    # steady-state watch a new service gets when the file says nothing of it.
    assert checkout.spec == replace(
        declared.spec, team_timezone="UTC", steady_state=SteadyStateWatch()
    )
    assert ledger.spec.team_channel == "C0PAYMENTS"  # not in LEDGER: its team's
    assert (
        "  blindDrills:\n    enabled: true\n    weekdays:\n    - mon\n    - tue\n"
        "    hours: 10:00-16:00\n    timezone: Europe/Berlin\n"
        "    experiments:\n    - pod-kill\n    - cpu-pressure\n    meanDaysBetween: 5\n"
        "    minSpacingHours: 48\n    holidayCountry: DE\n    durationMinutes: 45\n"
    ) in exported
    assert_reapplies_unchanged(db, cluster, exported)


def test_a_changed_tier_updates_the_service_and_reports_the_difference(
    db: Database, cluster: KubeCluster
) -> None:
    apply(db, cluster, CHECKOUT)
    assert apply(db, cluster, service_yaml(**{"tier: 2": "tier: 1"})) == [
        "service checkout updated: tier: 2 -> 1"
    ]
    with db.session() as session:
        assert find_service(session=session, name="checkout").tier == 1
    assert audit_events(db)[-1] == (
        "service.updated",
        "cli:alice",
        {"name": "checkout", "changes": ["tier: 2 -> 1"]},
    )


def test_several_changes_are_reported_on_one_line(db: Database, cluster: KubeCluster) -> None:
    apply(db, cluster, CHECKOUT)
    changed = service_yaml(
        **{"tier: 2": "tier: 3", "[U0ALICE, U0BOB]": "[U0ALICE]", "count: 1": "count: 2"}
    )
    assert apply(db, cluster, changed) == [
        "service checkout updated: tier: 2 -> 3; owners: ['U0ALICE', 'U0BOB'] -> ['U0ALICE']; "
        "suite: [{'experiment': 'pod-kill', 'parameters': {'count': 1}}] -> "
        "[{'experiment': 'pod-kill', 'parameters': {'count': 2}}]"
    ]


def test_a_dry_run_reports_what_would_change_and_writes_nothing(
    db: Database, cluster: KubeCluster
) -> None:
    empty = catalogue(db)
    assert apply(db, cluster, f"{CHECKOUT}---\n{LEDGER}", dry_run=True) == [
        "service checkout would be created",
        "service ledger would be created",
    ]
    assert catalogue(db) == empty
    apply(db, cluster, CHECKOUT)
    applied = catalogue(db)
    changed = service_yaml(**{"tier: 2": "tier: 1"})
    later = NOW + timedelta(hours=1)
    assert apply(db, cluster, changed, dry_run=True, now=later) == [
        "service checkout would be updated: tier: 2 -> 1"
    ]
    assert apply(db, cluster, CHECKOUT, dry_run=True, now=later) == ["service checkout unchanged"]
    assert catalogue(db) == applied


def test_a_service_made_in_slack_and_the_same_file_are_the_same_rows(
    db: Database, cluster: KubeCluster
) -> None:
    [document] = load_documents(CHECKOUT, source="chaos.yaml", policy=POLICY)
    store_service(db, document.spec, cluster=cluster, actor="U0ALICE", now=NOW, create_only=True)
    made_in_slack = catalogue(db)
    assert apply(db, cluster, CHECKOUT) == ["service checkout unchanged"]
    assert catalogue(db)["audit"] == made_in_slack["audit"]
    assert catalogue(db)["services"] == made_in_slack["services"]


@pytest.mark.parametrize(
    ("third", "error"),
    [
        pytest.param(
            service_yaml(
                **{"name: checkout\n": "name: search\n", "name: checkout}": "name: search}"}
            ),
            "chaos.yaml:42: spec.workload: there is no Deployment called search in payments",
            id="refused-by-the-cluster",
        ),
        pytest.param(
            service_yaml(
                **{
                    "name: checkout\n": "name: search\n",
                    "team: payments": "team: search",
                    "  teamChannel: C0PAYMENTS\n": "",
                }
            ),
            # The file's first document claimed payments for team payments.
            "chaos.yaml:40: spec.namespace: namespace payments belongs to team payments: only its "
            "services may run there (platform admins assign namespaces with "
            "`/chaos namespace assign`)",
            id="refused-while-saving",
        ),
    ],
)
def test_a_file_with_one_bad_document_writes_nothing(
    db: Database, cluster: KubeCluster, third: str, error: str
) -> None:
    empty = catalogue(db)
    assert refused(db, cluster, f"{CHECKOUT}---\n{LEDGER}---\n{third}") == [error]
    assert catalogue(db) == empty


def test_every_document_refused_by_the_cluster_is_reported(
    db: Database, cluster: KubeCluster
) -> None:
    text = service_yaml(
        **{"{kind: Deployment, name: checkout}": "{kind: StatefulSet, name: checkout}"}
    )
    text += "---\n" + service_yaml(LEDGER, **{"app=ledger": "app=nothing"})
    assert refused(db, cluster, text) == [
        "chaos.yaml:11: spec.workload: there is no StatefulSet called checkout in payments",
        "chaos.yaml:29: spec.selector: app=nothing matches no pod in namespace payments",
    ]


def test_a_selector_matching_no_pod_is_an_error_on_its_line(
    db: Database, cluster: KubeCluster
) -> None:
    assert refused(db, cluster, service_yaml(LEDGER, **{"app=ledger": "app=nothing"})) == [
        "chaos.yaml:9: spec.selector: app=nothing matches no pod in namespace payments"
    ]
    assert catalogue(db)["services"] == {}


def test_an_unknown_cluster_context_is_an_error_on_its_line(
    db: Database, cluster: KubeCluster
) -> None:
    [error] = refused(db, cluster, service_yaml(**{"cluster: chaosbot-test": "cluster: prod-us"}))
    assert error.startswith("chaos.yaml:9: spec.cluster: could not reach cluster context prod-us")


def test_moving_a_service_to_another_team_is_refused(db: Database, cluster: KubeCluster) -> None:
    apply(db, cluster, CHECKOUT)
    moved = service_yaml(**{"team: payments": "team: storefront", "C0PAYMENTS": "C0SHOP"})
    assert refused(db, cluster, moved) == [
        "chaos.yaml:6: spec.team: checkout belongs to team payments"
    ]


def test_a_registration_committed_meanwhile_is_a_conflict_and_writes_nothing(
    db: Database, cluster: KubeCluster
) -> None:
    # With the team in place, inserting the service is the transaction's first write. The
    # competitor is Carol, a member of payments (ledger's owner), who may add services to it.
    apply(db, cluster, service_yaml(LEDGER, **{"tier": "teamChannel: C0PAYMENTS\n  tier"}))
    [document] = load_documents(CHECKOUT, source="chaos.yaml", policy=POLICY)
    other = service_yaml(**{"tier: 2": "tier: 3"})
    [competitor] = load_documents(other, source="other.yaml", policy=POLICY)

    competed: list[bool] = []

    def register_competitor_first(session: Session, *_: object) -> None:
        if not competed:
            competed.append(True)
            apply_documents(
                db, [competitor], cluster=cluster, actor="U0CAROL", now=NOW, dry_run=False
            )

    event.listen(Session, "before_flush", register_competitor_first)
    try:
        with pytest.raises(ApplyConflict, match=r"while chaos\.yaml was being applied"):
            apply_documents(
                db, [document], cluster=cluster, actor="cli:alice", now=NOW, dry_run=False
            )
    finally:
        event.remove(Session, "before_flush", register_competitor_first)
    with db.session() as session:
        assert find_service(session=session, name="checkout").tier == 3
    assert [(action, actor) for action, actor, _ in audit_events(db)] == [
        ("namespace.claimed", "cli:alice"),
        ("service.onboarded", "cli:alice"),
        ("service.onboarded", "U0CAROL"),
    ]


# The suite is checked against the experiment library before anything is written, and a
# declaration without a suite (the onboarding and edit form) keeps the stored one.


def test_an_unknown_experiment_is_a_line_numbered_error(db: Database, cluster: KubeCluster) -> None:
    errors = refused(
        db, cluster, service_yaml(**{"experiment: pod-kill": "experiment: pod-explode"})
    )
    assert errors == [
        "chaos.yaml:18: spec.suite[0].experiment: there is no experiment pod-explode in the library"
    ]
    assert catalogue(db)["services"] == {}


def test_an_unknown_blind_experiment_is_a_line_numbered_error(
    db: Database, cluster: KubeCluster
) -> None:
    [blind] = [line for line in CHECKOUT.splitlines(keepends=True) if "blindDrills" in line]
    block = (
        "  blindDrills:\n"
        "    enabled: true\n"
        "    weekdays: [mon, tue]\n"
        '    hours: "10:00-16:00"\n'
        "    timezone: Europe/Berlin\n"
        "    experiments:\n"
        "      - pod-kill\n"
        "      - pod-explode\n"
    )
    assert refused(db, cluster, service_yaml(**{blind: block})) == [
        "chaos.yaml:23: spec.blindDrills.experiments[1]: there is no experiment pod-explode in "
        "the library"
    ]
    assert catalogue(db)["services"] == {}


def test_a_parameter_out_of_its_bounds_is_a_line_numbered_error(
    db: Database, cluster: KubeCluster
) -> None:
    errors = refused(db, cluster, service_yaml(**{"{count: 1}": "{count: 0}"}))
    assert len(errors) == 1
    assert errors[0].startswith("chaos.yaml:19: spec.suite[0].parameters.count: count ")
    assert catalogue(db)["services"] == {}


def test_a_declaration_without_a_suite_keeps_the_stored_one(
    db: Database, cluster: KubeCluster
) -> None:
    apply(db, cluster, service_yaml())
    without_suite = service_yaml(
        **{
            "  suite:\n    - experiment: pod-kill\n      parameters: {count: 1}\n": "",
            "tier: 2": "tier: 3",
        }
    )
    assert apply(db, cluster, without_suite) == ["service checkout updated: tier: 2 -> 3"]
    with db.session() as session:
        service = session.scalars(select(Service)).one()
        assert [(e.experiment, e.parameters) for e in service.suite] == [("pod-kill", {"count": 1})]


# Approvers and the team's timezone: declared, exported, changed and refused like other fields.

WITH_APPROVERS = service_yaml(
    **{
        "  teamChannel: C0PAYMENTS\n": "  teamChannel: C0PAYMENTS\n  teamTimezone: Europe/Lisbon\n",
        "  owners: [U0ALICE, U0BOB]\n": "  owners: [U0ALICE, U0BOB]\n  approvers: [U0CAROL, U0DAVE]\n",
    }
)


def test_approvers_and_the_team_timezone_survive_export_and_apply_unchanged(
    db: Database, cluster: KubeCluster
) -> None:
    apply(db, cluster, f"{WITH_APPROVERS}---\n{LEDGER}")
    with db.session() as session:
        checkout = find_service(session=session, name="checkout")
        assert checkout.approvers == ["U0CAROL", "U0DAVE"]
        assert checkout.team.timezone == "Europe/Lisbon"
        assert find_service(session=session, name="ledger").approvers == []
    exported = export(db, "checkout", "ledger")
    assert exported.count("  teamTimezone: Europe/Lisbon\n") == 2  # the team's, for both
    assert "  approvers:\n  - U0CAROL\n  - U0DAVE\n" in exported
    assert_reapplies_unchanged(db, cluster, exported)


def test_a_new_team_without_a_timezone_gets_utc_and_a_known_team_keeps_its_own(
    db: Database, cluster: KubeCluster
) -> None:
    apply(db, cluster, CHECKOUT)
    assert _team_timezone(db) == "UTC"
    apply(db, cluster, service_yaml(**{"teamChannel: C0PAYMENTS": "teamTimezone: Asia/Tokyo"}))
    assert apply(db, cluster, LEDGER) == ["service ledger created"]
    assert _team_timezone(db) == "Asia/Tokyo"


def test_a_changed_team_timezone_and_approvers_show_in_the_diff_and_the_audit(
    db: Database, cluster: KubeCluster
) -> None:
    apply(db, cluster, CHECKOUT)
    assert apply(db, cluster, WITH_APPROVERS) == [
        "service checkout updated: teamTimezone: 'UTC' -> 'Europe/Lisbon'; "
        "approvers: [] -> ['U0CAROL', 'U0DAVE']"
    ]
    assert _team_timezone(db) == "Europe/Lisbon"
    assert audit_events(db)[-1] == (
        "service.updated",
        "cli:alice",
        {
            "name": "checkout",
            "changes": [
                "teamTimezone: 'UTC' -> 'Europe/Lisbon'",
                "approvers: [] -> ['U0CAROL', 'U0DAVE']",
            ],
        },
    )
    # A file that says nothing about the timezone leaves the team's as it is.
    assert apply(db, cluster, CHECKOUT) == [
        "service checkout updated: approvers: ['U0CAROL', 'U0DAVE'] -> []"
    ]
    assert _team_timezone(db) == "Europe/Lisbon"


def test_bad_approvers_and_team_timezones_are_line_numbered_errors(
    db: Database, cluster: KubeCluster
) -> None:
    text = service_yaml(
        WITH_APPROVERS,
        **{"Europe/Lisbon": "Europe/Porto", "[U0CAROL, U0DAVE]": "[U0CAROL, U0BOB, U0CAROL]"},
    )
    assert refused(db, cluster, text) == [
        "chaos.yaml:8: spec.teamTimezone: 'Europe/Porto' is not an IANA timezone such as "
        "Europe/Berlin",
        "chaos.yaml:14: spec.approvers[1]: U0BOB is already an owner",
        "chaos.yaml:14: spec.approvers[2]: U0CAROL is listed twice",
    ]
    assert catalogue(db)["services"] == {}


def _team_timezone(db: Database, name: str = "payments") -> str | None:
    with db.session() as session:
        return session.scalar(select(Team.timezone).where(Team.name == name))


def test_a_cap_above_the_platforms_maximum_is_a_line_numbered_error_and_writes_nothing(
    db: Database, cluster: KubeCluster
) -> None:
    """The platform lowered staging's maximum after checkout declared 80%: applying the same
    file again is refused on the field's line, and the stored cap stays (preflight applies the
    smaller of the two)."""
    owners = "  owners: [U0ALICE, U0BOB]\n"
    text = service_yaml(**{owners: f"{owners}  blastRadiusPercent: 80\n"})
    assert apply(db, cluster, text) == ["service checkout created"]
    lowered = replace(POLICY, max_blast_radius=BlastRadiusLimits(staging=40))
    with pytest.raises(ChaosfileInvalid) as caught:
        apply(db, cluster, service_yaml(text, **{"80": "60"}), policy=lowered)
    assert [str(e) for e in caught.value.errors] == [
        "chaos.yaml:13: spec.blastRadiusPercent: must be at most 40 in staging, the platform's "
        "maximum (CHAOSBOT_MAX_BLAST_RADIUS_PERCENT), got 60"
    ]
    with db.session() as session:
        assert find_service(session=session, name="checkout").blast_radius_percent == 80
    # Left out, the cap is chaos.yaml's default of 50, or the maximum when that is lower.
    assert apply(db, cluster, CHECKOUT, policy=lowered) == [
        "service checkout updated: blastRadiusPercent: 80 -> 40"
    ]
