"""chaos.yaml without a database or cluster: loading, line numbers, the schema, exporting."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from bot.catalog.chaos_schema import chaos_schema, schema_problems
from bot.catalog.chaosfile import (
    HEADER,
    ChaosDocument,
    ChaosfileInvalid,
    dump_documents,
    load_documents,
    read_chaosfile,
)
from bot.catalog.models import Environment
from bot.catalog.spec import (
    WEEKDAYS,
    Alerting,
    BlindWindow,
    CatalogPolicy,
    HttpProbe,
    PodsProbe,
    PrometheusProbe,
    ServiceSpec,
    SpecInvalid,
    SteadyStateWatch,
    SuiteEntry,
    WorkloadRef,
)
from bot.catalog.spec_parse import parse_service_spec
from bot.config import BlastRadiusLimits

DOCS = Path(__file__).parents[2] / "docs" / "chaos-yaml.md"
POLICY = CatalogPolicy(allowed_namespaces=frozenset({"payments"}))

EXAMPLE = """\
apiVersion: chaosbot.io/v1
kind: Service
metadata:
  name: checkout
spec:
  team: payments
  teamChannel: C0PAYMENTS      # needed only when the team is new
  tier: 2
  environment: staging
  cluster: staging-eu          # kubeconfig context, optional
  namespace: payments
  workload: {kind: Deployment, name: checkout}   # or: selector: "app=checkout"
  owners: [U0ALICE, U0BOB]
  probes:
    - url: http://checkout.payments.svc/healthz
      expectedStatus: 200
      latencyBudgetMs: 300
  blastRadiusPercent: 50
  blindDrills: {enabled: true, weekdays: [mon, tue, wed, thu, fri], hours: "10:00-16:00", timezone: Europe/Berlin, experiments: [pod-kill, cpu-pressure], holidayCountry: DE}
  suite:
    - experiment: pod-kill
      parameters: {count: 1}
"""

CHECKOUT = ServiceSpec(
    name="checkout",
    team="payments",
    team_channel="C0PAYMENTS",
    tier=2,
    environment=Environment.STAGING,
    cluster="staging-eu",
    namespace="payments",
    workload=WorkloadRef(kind="Deployment", name="checkout"),
    selector=None,
    owners=("U0ALICE", "U0BOB"),
    probes=(
        HttpProbe(
            url="http://checkout.payments.svc/healthz", expected_status=200, latency_budget_ms=300
        ),
    ),
    blast_radius_percent=50,
    blind=BlindWindow(
        weekdays=("mon", "tue", "wed", "thu", "fri"),
        start=time(10),
        end=time(16),
        timezone="Europe/Berlin",
        experiments=("pod-kill", "cpu-pressure"),
        holiday_country="DE",
    ),
    suite=(SuiteEntry(experiment="pod-kill", parameters={"count": 1}),),
)


def load(text: str, policy: CatalogPolicy = POLICY) -> list[ChaosDocument]:
    return load_documents(text, source="chaos.yaml", policy=policy)


def errors_of(text: str, policy: CatalogPolicy = POLICY) -> list[str]:
    with pytest.raises(ChaosfileInvalid) as caught:
        load(text, policy)
    assert str(caught.value) == "\n".join(str(e) for e in caught.value.errors)
    return [str(e) for e in caught.value.errors]


def edit(old: str, new: str, text: str = EXAMPLE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_a_cap_above_the_platforms_maximum_is_an_error_on_its_line() -> None:
    policy = replace(POLICY, allow_production=True, max_blast_radius=BlastRadiusLimits())
    production = edit("environment: staging", "environment: production")
    assert [d.spec.blast_radius_percent for d in load(production, policy)] == [50]
    assert errors_of(
        edit("blastRadiusPercent: 50", "blastRadiusPercent: 51", production), policy
    ) == [
        "chaos.yaml:18: spec.blastRadiusPercent: must be at most 50 in production, the "
        "platform's maximum (CHAOSBOT_MAX_BLAST_RADIUS_PERCENT), got 51"
    ]


def test_the_example_loads_into_its_declaration() -> None:
    [document] = load(EXAMPLE)
    assert document.spec == CHECKOUT
    assert document.source == "chaos.yaml"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "http://checkout.payments.svc/healthz",
            "http://169.254.169.254/latest/meta-data",
            "chaos.yaml:15: spec.probes[0].url: points at a link-local or cloud-metadata "
            "address (169.254.169.254), which chaosbot never probes",
            id="rule-probe-url",
        ),
        pytest.param(
            "http://checkout.payments.svc/healthz",
            "ftp://checkout.payments.svc/healthz",
            "chaos.yaml:15: spec.probes[0].url: must be an http:// or https:// URL, "
            "got 'ftp://checkout.payments.svc/healthz'",
            id="schema-probe-url",
        ),
        pytest.param(
            "tier: 2",
            "tier: 5",
            "chaos.yaml:8: spec.tier: must be between 1 and 4, got 5",
            id="schema-tier",
        ),
        pytest.param(
            "  tier: 2\n",
            "  tier: 2\n  teamchannel: C0PAY\n",
            "chaos.yaml:9: spec.teamchannel: unknown field (did you mean teamChannel?)",
            id="unknown-key",
        ),
        pytest.param(
            "apiVersion: chaosbot.io/v1",
            "apiVersion: chaosbot.io/v2",
            "chaos.yaml:1: apiVersion: must be chaosbot.io/v1, got 'chaosbot.io/v2'",
            id="api-version",
        ),
        pytest.param(
            "kind: Service",
            "kind: Deployment",
            "chaos.yaml:2: kind: must be Service, got 'Deployment'",
            id="kind",
        ),
        pytest.param(
            "  owners: [U0ALICE, U0BOB]\n",
            "",
            "chaos.yaml:5: spec.owners: is required",
            id="missing-field-points-at-its-parent",
        ),
        pytest.param(
            "[U0ALICE, U0BOB]",
            "[U0ALICE, u0bob]",
            "chaos.yaml:13: spec.owners[1]: must be a Slack user id like U0123ABCD, got 'u0bob'",
            id="flow-list-item",
        ),
        pytest.param(
            "[U0ALICE, U0BOB]",
            "[]",
            "chaos.yaml:13: spec.owners: must not be empty",
            id="empty-list",
        ),
        pytest.param(
            "parameters: {count: 1}",
            "parameters: {pod count: 1}",
            "chaos.yaml:22: spec.suite[0].parameters: must match ^[A-Za-z_][A-Za-z0-9_]{0,62}\\Z, "
            "got 'pod count'",
            id="parameter-name",
        ),
        pytest.param(
            "[U0ALICE, U0BOB]",
            f"[U0ALICE, U0{'B' * 31}]",
            "chaos.yaml:13: spec.owners[1]: must be at most 32 characters long",
            id="longer-than-its-column",
        ),
        pytest.param(
            "  owners: [U0ALICE, U0BOB]\n",
            "  owners: [U0ALICE, U0BOB]\n  approvers: [U0CAROL, c0payments]\n",
            "chaos.yaml:14: spec.approvers[1]: must be a Slack user id like U0123ABCD, "
            "got 'c0payments'",
            id="schema-approver",
        ),
        pytest.param(
            "  owners: [U0ALICE, U0BOB]\n",
            "  owners: [U0ALICE, U0BOB]\n  approvers:\n    - U0CAROL\n    - U0BOB\n",
            "chaos.yaml:16: spec.approvers[1]: U0BOB is already an owner",
            id="rule-approver-is-an-owner",
        ),
        pytest.param(
            "  teamChannel: C0PAYMENTS      # needed only when the team is new\n",
            "  teamChannel: C0PAYMENTS\n  teamTimezone: Europe/Atlantis\n",
            "chaos.yaml:8: spec.teamTimezone: 'Europe/Atlantis' is not an IANA timezone such as "
            "Europe/Berlin",
            id="rule-team-timezone",
        ),
        pytest.param(
            "timezone: Europe/Berlin",
            "timezone: Europe/Atlantis",
            "chaos.yaml:19: spec.blindDrills.timezone: 'Europe/Atlantis' is not an IANA "
            "timezone such as Europe/Berlin",
            id="rule-nested-field",
        ),
        pytest.param(
            "environment: staging",
            "environment: production",
            "chaos.yaml:9: spec.environment: production is not enabled on this platform "
            "(CHAOSBOT_ALLOW_PRODUCTION)",
            id="rule-policy",
        ),
        pytest.param(
            "name: checkout\nspec",
            "name: Checkout\nspec",
            "chaos.yaml:4: metadata.name: must be at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, got 'Checkout'",
            id="metadata-name",
        ),
        pytest.param(
            "name: checkout\nspec",
            "name: |\n    checkout\nspec",
            "chaos.yaml:4: metadata.name: must be at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, got 'checkout\\n'",
            id="pattern-end-is-the-end-of-the-text",
        ),
        pytest.param(
            "parameters: {count: 1}",
            "parameters: {count: 1, since: 2024-05-01}",
            "chaos.yaml:22: spec.suite[0].parameters.since: '2024-05-01' is read as a date: "
            "put it in quotes",
            id="yaml-date",
        ),
        pytest.param(
            "parameters: {count: 1}",
            "parameters: {count: .nan}",
            "chaos.yaml:22: spec.suite[0].parameters.count: '.nan' is not a finite number",
            id="yaml-not-a-number",
        ),
        pytest.param(
            "parameters: {count: 1}",
            'parameters: {count: 1, label: "pod\\0kill"}',
            "chaos.yaml:22: spec.suite[0].parameters.label: 'pod\\x00kill' holds a NUL "
            "character or a lone surrogate, which cannot be stored",
            id="yaml-nul-escape",
        ),
        pytest.param(
            "parameters: {count: 1}",
            "parameters: !!binary aGVsbG8=",
            "chaos.yaml:22: spec.suite[0].parameters: the YAML type !!binary is not supported",
            id="yaml-binary",
        ),
        pytest.param(
            "      parameters: {count: 1}\n",
            "      parameters:\n        <<: {count: 1}\n",
            "chaos.yaml:23: spec.suite[0].parameters: merge keys (<<) are not supported: "
            "write the keys out",
            id="yaml-merge-key",
        ),
        pytest.param(
            "  tier: 2\n",
            "  tier: 2\n  tier: 3\n",
            "chaos.yaml:9: spec.tier: duplicate key (first on line 8)",
            id="yaml-duplicate-key",
        ),
        pytest.param(
            "  tier: 2\n",
            "  tier: 2\n  on: true\n",
            "chaos.yaml:9: spec: 'on' is not text: put the key in quotes",
            id="yaml-boolean-key",
        ),
        pytest.param(
            "    - url: http",
            "    - url: &probe http",
            None,
            id="yaml-anchor-without-alias-is-fine",
        ),
        pytest.param(
            "      parameters: {count: 1}\n",
            "      parameters: {count: 1}\n    - experiment: *probe\n",
            "chaos.yaml:23: invalid YAML: aliases (*name) are not supported: write the value out",
            id="yaml-alias",
        ),
        pytest.param(
            "  namespace: payments\n",
            "  namespace: payments\n\tselector: app=checkout\n",
            "chaos.yaml:12: invalid YAML: found character '\\t' that cannot start any token "
            "(while scanning for the next token)",
            id="yaml-tab",
        ),
        pytest.param(
            "  owners: [U0ALICE, U0BOB]\n",
            "  owners: [U0ALICE, U0BOB\n",
            "chaos.yaml:14: invalid YAML: expected ',' or ']', but got ':' "
            "(while parsing a flow sequence on line 13)",
            id="yaml-unclosed-list",
        ),
        pytest.param(
            "  team: payments\n",
            "  team: payments\n   tier: 1\n",
            "chaos.yaml:7: invalid YAML: mapping values are not allowed here",
            id="yaml-indentation",
        ),
        pytest.param(
            "staging-eu",
            "staging\x00eu",
            "chaos.yaml:10: character #x0000 is not allowed",
            id="yaml-unprintable-character",
        ),
    ],
)
def test_errors_name_the_file_line_and_field(old: str, new: str, expected: str | None) -> None:
    text = edit(old, new)
    if expected is None:
        assert load(text)[0].spec == CHECKOUT
    else:
        assert errors_of(text) == [expected]


@pytest.mark.parametrize("depth", [40, 5000])
def test_deeply_nested_values_are_an_error_not_a_crash(depth: int) -> None:
    text = edit("{count: 1}", "[" * depth + "]" * depth)
    assert errors_of(text) == [f"chaos.yaml:22: {_deep_path(depth)}nested more than 32 levels deep"]


def _deep_path(depth: int) -> str:
    # The loader's own bound is reached first; PyYAML's recursion only for absurd depths.
    return "spec.suite[0].parameters" + "[0]" * 29 + ": " if depth < 1000 else ""


# The blind-drill opt-in of EXAMPLE, one field a line (line 19 is `blindDrills:`).
BLIND_BLOCK = edit(
    EXAMPLE.splitlines(keepends=True)[18],
    "  blindDrills:\n"
    "    enabled: true\n"
    "    weekdays: [mon, tue, wed, thu, fri]\n"
    '    hours: "10:00-16:00"\n'
    "    timezone: Europe/Berlin\n"
    "    holidayCountry: DE\n"
    "    experiments:\n"
    "      - pod-kill\n"
    "      - cpu-pressure\n",
)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "- cpu-pressure",
            "- pod-kill",
            "chaos.yaml:27: spec.blindDrills.experiments[1]: pod-kill is listed twice",
            id="rule-experiment-listed-twice",
        ),
        pytest.param(
            "- cpu-pressure",
            "- CPU pressure",
            "chaos.yaml:27: spec.blindDrills.experiments[1]: must be an experiment id "
            "(lowercase letters, digits and '-', such as pod-kill), got 'CPU pressure'",
            id="schema-experiment-id",
        ),
        pytest.param(
            "    experiments:\n      - pod-kill\n      - cpu-pressure\n",
            "",
            "chaos.yaml:19: spec.blindDrills.experiments: is required",
            id="schema-experiments-required",
        ),
        pytest.param(
            "holidayCountry: DE",
            "holidayCountry: XX",
            "chaos.yaml:24: spec.blindDrills.holidayCountry: 'XX' is not a country whose "
            "public holidays chaosbot knows: give its two-letter ISO 3166-1 code, such as DE or US",
            id="rule-holiday-country",
        ),
        pytest.param(
            "holidayCountry: DE",
            "holidayCountry: DE\n    durationMinutes: 300",
            "chaos.yaml:25: spec.blindDrills.durationMinutes: must be between 5 and 240, got 300",
            id="schema-duration",
        ),
        pytest.param(
            "holidayCountry: DE",
            "holidayCountry: DE\n    meanDaysBetween: 0",
            "chaos.yaml:25: spec.blindDrills.meanDaysBetween: must be between 1 and 365, got 0",
            id="schema-mean-days",
        ),
    ],
)
def test_blind_drill_errors_name_their_line(old: str, new: str, expected: str) -> None:
    assert load(BLIND_BLOCK)[0].spec == CHECKOUT
    assert errors_of(edit(old, new, BLIND_BLOCK)) == [expected]


def test_lines_are_counted_as_editors_count_them() -> None:
    windows = edit("tier: 2", "tier: 5").replace("\n", "\r\n")
    assert errors_of(windows) == ["chaos.yaml:8: spec.tier: must be between 1 and 4, got 5"]
    # YAML 1.1 also breaks lines at NEL; editors show it inside the line.
    nel = edit("tier: 2", "tier: 5", edit("team: payments", 'team: "pay\x85ments"'))
    assert errors_of(nel)[1] == "chaos.yaml:8: spec.tier: must be between 1 and 4, got 5"


def test_every_error_of_a_document_is_reported_in_line_order() -> None:
    text = edit("tier: 2", "tier: 0", edit("[U0ALICE, U0BOB]", "[U0ALICE, bob]"))
    assert errors_of(text) == [
        "chaos.yaml:8: spec.tier: must be between 1 and 4, got 0",
        "chaos.yaml:13: spec.owners[1]: must be a Slack user id like U0123ABCD, got 'bob'",
    ]


def test_every_rule_broken_by_a_document_is_reported() -> None:
    text = edit("tier: 2", "tier: 1", edit("[U0ALICE, U0BOB]", "[U0ALICE]"))
    text = edit('hours: "10:00-16:00"', 'hours: "16:00-10:00"', text)
    assert errors_of(text) == [
        "chaos.yaml:13: spec.owners: a tier-1 service needs at least two owners",
        "chaos.yaml:19: spec.blindDrills.hours: the window must end after it starts",
    ]


def test_a_missing_workload_and_selector_point_at_spec() -> None:
    text = edit("  workload: {kind: Deployment, name: checkout}", "  # no workload")
    assert errors_of(text) == [
        "chaos.yaml:5: spec: name the workload (kind and name) or give a label selector"
    ]


def test_a_document_that_is_not_a_mapping_is_an_error_on_its_line() -> None:
    assert errors_of("- checkout\n- ledger\n") == [
        "chaos.yaml:1: the document must be a mapping, got ['checkout', 'ledger']"
    ]


def test_every_document_of_a_file_is_checked() -> None:
    second = edit("name: checkout\nspec", "name: ledger\nspec")
    third = edit("name: checkout\nspec", "name: search\nspec")
    text = (
        edit("tier: 2", "tier: 9")
        + "---\n"
        + second
        + "---\n"
        + edit("http://checkout", "gopher://checkout", third)
    )
    assert errors_of(text) == [
        "chaos.yaml:8: spec.tier: must be between 1 and 4, got 9",
        "chaos.yaml:61: spec.probes[0].url: must be an http:// or https:// URL, "
        "got 'gopher://checkout.payments.svc/healthz'",
    ]


def test_a_syntax_error_in_a_later_document_does_not_hide_errors_before_it() -> None:
    text = edit("tier: 2", "tier: 9") + "---\nkind: [Service\n"
    assert errors_of(text) == [
        "chaos.yaml:8: spec.tier: must be between 1 and 4, got 9",
        "chaos.yaml:24: invalid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence)",
    ]


def test_several_documents_load_in_order_and_empty_ones_are_skipped() -> None:
    ledger = edit("name: checkout\nspec", "name: ledger\nspec")
    text = f"---\n{EXAMPLE}---\n# ledger follows\n---\n{ledger}---\n"
    assert [d.spec.name for d in load(text)] == ["checkout", "ledger"]


def test_a_service_declared_twice_in_one_file_is_an_error() -> None:
    assert errors_of(EXAMPLE + "---\n" + EXAMPLE) == [
        "chaos.yaml:27: metadata.name: checkout is declared on line 4 already"
    ]


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_a_file_without_documents_is_an_error(text: str) -> None:
    assert errors_of(text) == ["chaos.yaml:1: the file holds no Service documents"]


def test_a_file_is_read_as_utf8_and_named_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "chaos.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.encode())
    assert read_chaosfile(str(path), policy=POLICY)[0].spec == CHECKOUT
    path.write_bytes(EXAMPLE.encode().replace(b"staging-eu", b"staging\xff"))
    with pytest.raises(ChaosfileInvalid) as caught:
        read_chaosfile(str(path), policy=POLICY)
    assert str(caught.value) == f"{path}:10: is not UTF-8 text"


def test_export_writes_a_commented_file_in_a_stable_order() -> None:
    assert dump_documents([CHECKOUT]) == HEADER + (
        "---\n"
        "apiVersion: chaosbot.io/v1\n"
        "kind: Service\n"
        "metadata:\n"
        "  name: checkout\n"
        "spec:\n"
        "  team: payments\n"
        "  teamChannel: C0PAYMENTS\n"
        "  tier: 2\n"
        "  environment: staging\n"
        "  cluster: staging-eu\n"
        "  namespace: payments\n"
        "  workload:\n"
        "    kind: Deployment\n"
        "    name: checkout\n"
        "  owners:\n"
        "  - U0ALICE\n"
        "  - U0BOB\n"
        "  approvers: []\n"
        "  probes:\n"
        "  - url: http://checkout.payments.svc/healthz\n"
        "    expectedStatus: 200\n"
        "    latencyBudgetMs: 300\n"
        "  blastRadiusPercent: 50\n"
        "  blindDrills:\n"
        "    enabled: true\n"
        "    weekdays:\n"
        "    - mon\n"
        "    - tue\n"
        "    - wed\n"
        "    - thu\n"
        "    - fri\n"
        "    hours: 10:00-16:00\n"
        "    timezone: Europe/Berlin\n"
        "    experiments:\n"
        "    - pod-kill\n"
        "    - cpu-pressure\n"
        "    meanDaysBetween: 10\n"
        "    minSpacingHours: 24\n"
        "    holidayCountry: DE\n"
        "    durationMinutes: 30\n"
        "  suite:\n"
        "  - experiment: pod-kill\n"
        "    parameters:\n"
        "      count: 1\n"
    )
    assert HEADER.startswith("# chaos.yaml")
    assert "chaosbot apply -f chaos.yaml" in HEADER


def test_an_exported_file_points_errors_at_its_own_lines() -> None:
    exported = dump_documents([CHECKOUT])
    line = exported.splitlines().index("    timezone: Europe/Berlin") + 1
    assert errors_of(edit("Europe/Berlin", "Berlin", exported)) == [
        f"chaos.yaml:{line}: spec.blindDrills.timezone: 'Berlin' is not an IANA timezone "
        "such as Europe/Berlin"
    ]


# --- the schema and the parser --------------------------------------------------------------


def _resolved(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with the definition it refers to ($ref) merged in."""
    if "$ref" in schema:
        return {**chaos_schema()["$defs"][schema["$ref"].removeprefix("#/$defs/")], **schema}
    return schema


def _fields(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property and list item the schema documents, as (`spec.probes[]`, its schema)."""
    schema = _resolved(schema)
    children = [
        (f"{path}.{key}" if path else key, _resolved(child))
        for key, child in schema.get("properties", {}).items()
    ]
    if "items" in schema:
        children.append((f"{path}[]", _resolved(schema["items"])))
    for child_path, child in children:
        yield child_path, child
        yield from _fields(child, child_path)


def test_the_schema_is_a_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(chaos_schema())
    assert chaos_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_field_of_the_schema_is_described_and_unknown_fields_are_refused() -> None:
    fields = {"": chaos_schema(), **dict(_fields(chaos_schema()))}
    assert len(fields) == 73
    assert [path for path, field in fields.items() if not field.get("description")] == []
    objects = {path for path, field in fields.items() if "properties" in field}
    assert objects == {
        "",
        "metadata",
        "spec",
        "spec.workload",
        "spec.probes[]",
        "spec.steadyState",
        "spec.steadyState.probes[]",
        "spec.steadyState.probes[].http",
        "spec.steadyState.probes[].prometheus",
        "spec.steadyState.probes[].pods",
        "spec.alerting",
        "spec.blindDrills",
        "spec.suite[]",
        "spec.suite[].load",
        "spec.suite[].load.configMap",
    }
    assert [p for p in objects if fields[p].get("additionalProperties") is not False] == []


def test_the_docs_describe_every_field_of_the_schema() -> None:
    documented = set(re.findall(r"^\| `([^`]+)` \|", DOCS.read_text(), re.MULTILINE))
    fields = {path for path, _ in _fields(chaos_schema()) if not path.endswith("[]")}
    assert documented == fields


def test_the_docs_example_is_a_valid_file() -> None:
    [example] = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), re.DOTALL)
    [document] = load_documents(
        example, source="chaos.yaml", policy=replace(POLICY, prometheus=True)
    )
    assert document.spec == replace(
        CHECKOUT,
        team_timezone="Europe/Berlin",
        approvers=("U0CAROL",),
        steady_state=SteadyStateWatch(
            interval_seconds=10,
            fail_after=2,
            probes=(
                PrometheusProbe(
                    query='sum(rate(http_requests_total{service="checkout",code=~"5.."}[1m])) '
                    '/ sum(rate(http_requests_total{service="checkout"}[1m]))',
                    max=0.01,
                ),
                PodsProbe(min_ready_percent=66),
            ),
        ),
        alerting=Alerting(matchers={"service": "checkout"}, announce_after_minutes=5),
    )


@pytest.mark.parametrize(
    ("field", "value", "path", "spec_path"),
    [
        ("tier", 5, ("spec", "tier"), "tier"),
        (
            "probes",
            [{"url": "checkout.payments/healthz"}],
            ("spec", "probes", 0, "url"),
            "probes[0].url",
        ),
        (
            "probes",
            [{"url": "ftp://checkout.payments/"}],
            ("spec", "probes", 0, "url"),
            "probes[0].url",
        ),
    ],
)
def test_a_bad_tier_or_probe_url_is_refused_by_the_schema_and_the_parser(
    field: str, value: Any, path: tuple[str | int, ...], spec_path: str
) -> None:
    raw = {**_raw(CHECKOUT), field: value}
    assert [p.path for p in schema_problems(_as_document(raw))] == [path]
    with pytest.raises(SpecInvalid) as caught:
        parse_service_spec(raw, policy=POLICY)
    assert [e.path for e in caught.value.errors] == [spec_path]


@pytest.mark.parametrize(
    ("value", "spec_path"),
    [
        ({"intervalSeconds": 0}, "steadyState.intervalSeconds"),
        ({"intervalSeconds": 301}, "steadyState.intervalSeconds"),
        ({"failAfter": 0}, "steadyState.failAfter"),
        ({"failAfter": 21}, "steadyState.failAfter"),
    ],
)
def test_a_steady_state_watch_out_of_bounds_is_refused_by_the_schema_and_the_parser(
    value: dict[str, int], spec_path: str
) -> None:
    raw = {**_raw(CHECKOUT), "steadyState": value}
    assert [p.path for p in schema_problems(_as_document(raw))] == [("spec", *spec_path.split("."))]
    with pytest.raises(SpecInvalid) as caught:
        parse_service_spec(raw, policy=POLICY)
    assert [e.path for e in caught.value.errors] == [spec_path]


def test_a_steady_state_watch_is_read_with_its_defaults_and_written_back() -> None:
    raw = {**_raw(CHECKOUT), "steadyState": {"failAfter": 3}}
    spec = parse_service_spec(raw, policy=POLICY)
    assert spec.steady_state == SteadyStateWatch(interval_seconds=10, fail_after=3)
    assert load(dump_documents([spec]))[0].spec == spec
    # A declaration that says nothing of it (the onboarding form) keeps what is stored.
    silent = {k: v for k, v in _raw(CHECKOUT).items() if k != "steadyState"}
    assert parse_service_spec(silent, policy=POLICY).steady_state is None


def test_a_steady_state_error_names_its_line() -> None:
    text = edit("  tier: 2\n", "  tier: 2\n  steadyState:\n    failAfter: 0\n")
    assert errors_of(text) == [
        "chaos.yaml:10: spec.steadyState.failAfter: must be between 1 and 20, got 0"
    ]


@pytest.mark.parametrize(
    ("value", "spec_path"),
    [
        (
            {"matchers": {"service": "checkout"}, "announceAfterMinutes": 0},
            "alerting.announceAfterMinutes",
        ),
        (
            {"matchers": {"service": "checkout"}, "announceAfterMinutes": 121},
            "alerting.announceAfterMinutes",
        ),
        ({"matchers": {"1bad": "checkout"}}, "alerting.matchers"),
        ({"matchers": {"service": ""}}, "alerting.matchers.service"),
        ({"matchers": "service=checkout"}, "alerting.matchers"),
    ],
)
def test_bad_alerting_is_refused_by_the_schema_and_the_parser(
    value: dict[str, Any], spec_path: str
) -> None:
    raw = {**_raw(CHECKOUT), "alerting": value}
    assert schema_problems(_as_document(raw)) != []
    with pytest.raises(SpecInvalid) as caught:
        parse_service_spec(raw, policy=POLICY)
    assert [e.path for e in caught.value.errors] == [spec_path]


def test_alerting_is_read_and_written_back_and_left_out_keeps_what_is_stored() -> None:
    raw = {**_raw(CHECKOUT), "alerting": {"matchers": {"service": "checkout", "env": "staging"}}}
    spec = parse_service_spec(raw, policy=POLICY)
    assert spec.alerting == Alerting(matchers={"env": "staging", "service": "checkout"})
    assert load(dump_documents([spec]))[0].spec == spec
    silent = {k: v for k, v in _raw(CHECKOUT).items() if k != "alerting"}
    assert parse_service_spec(silent, policy=POLICY).alerting is None
    # Empty matchers name no alerts: stored as none, written back as empty.
    none = parse_service_spec({**silent, "alerting": {"matchers": {}}}, policy=POLICY)
    assert none.alerting == Alerting() and Alerting().as_document() is None
    assert load(dump_documents([none]))[0].spec.alerting == Alerting()


def test_an_announcement_without_matchers_names_its_line() -> None:
    text = edit(
        "  tier: 2\n", "  tier: 2\n  alerting:\n    matchers: {}\n    announceAfterMinutes: 5\n"
    )
    assert errors_of(text) == [
        "chaos.yaml:11: spec.alerting.announceAfterMinutes: needs matchers: which alerts are the "
        "service's"
    ]


def test_an_unknown_key_is_refused_by_the_schema_and_so_by_the_loader() -> None:
    raw = {**_raw(CHECKOUT), "teir": 1}
    assert [(p.path, p.message) for p in schema_problems(_as_document(raw))] == [
        (("spec", "teir"), "unknown field (did you mean tier?)")
    ]
    assert errors_of(edit("  tier: 2\n", "  tier: 2\n  teir: 1\n")) == [
        "chaos.yaml:9: spec.teir: unknown field (did you mean tier?)"
    ]


def _raw(spec: ServiceSpec) -> dict[str, Any]:
    [document] = load(dump_documents([spec]))
    return {**document.yaml.value["spec"], "name": spec.name}


def _as_document(raw: dict[str, Any]) -> dict[str, Any]:
    spec = {k: v for k, v in raw.items() if k != "name"}
    return {
        "apiVersion": "chaosbot.io/v1",
        "kind": "Service",
        "metadata": {"name": raw.get("name")},
        "spec": spec,
    }


_LABEL = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)
# Text a database can store: the loader refuses NUL characters (which the parser lets through).
_TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=4)
_OWNER = st.from_regex(r"[UW][A-Z0-9]{2,30}", fullmatch=True)
# Values of the right YAML type, mostly valid (so that the parser accepts most declarations),
# reaching the edges of every range and pattern.
_WORKLOAD = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["Deployment", "StatefulSet"]),
        "name": st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", fullmatch=True),
    }
)
_SELECTOR = st.sampled_from(["app=checkout", "app in (a, b),track!=canary", "!legacy", "tier"])
_PODS = st.one_of(
    st.fixed_dictionaries({"workload": _WORKLOAD}, optional={"selector": st.none()}),
    st.fixed_dictionaries({"selector": _SELECTOR}, optional={"workload": st.none()}),
    st.fixed_dictionaries({"workload": _WORKLOAD, "selector": _SELECTOR}),
)
_REQUIRED: dict[str, st.SearchStrategy[Any]] = {
    "name": _LABEL,
    "team": _LABEL,
    "tier": st.integers(1, 4),
    "namespace": st.just("payments"),
    "owners": st.lists(_OWNER, min_size=2, max_size=3),
}
_OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "teamChannel": st.none() | st.from_regex(r"[CG][A-Z0-9]{2,30}", fullmatch=True),
    "teamTimezone": st.sampled_from([None, "UTC", "Europe/Berlin", "America/Argentina/Salta"]),
    "approvers": st.none() | st.lists(_OWNER, max_size=3),
    "environment": st.sampled_from(["staging", "production", None]),
    "cluster": st.none() | st.from_regex(r"[!-~]{1,253}", fullmatch=True),
    "probes": st.none()
    | st.lists(
        st.fixed_dictionaries(
            {
                "url": st.sampled_from(
                    [
                        "http://checkout.payments.svc/healthz",
                        "https://checkout.example.com:8443/ready?deep=1",
                        "http://[fd00::1]:8080/",
                        "http://169.254.169.254/",
                    ]
                )
            },
            optional={
                "expectedStatus": st.integers(100, 599),
                "latencyBudgetMs": st.integers(1, 60_000),
            },
        ),
        max_size=2,
    ),
    "blastRadiusPercent": st.integers(1, 100),
    # The schema checks a window's fields even while it is disabled; the parser ignores
    # them, so a disabled window is generated empty.
    "blindDrills": st.none()
    | st.just({"enabled": False})
    | st.fixed_dictionaries(
        {
            "enabled": st.just(True),
            "weekdays": st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7),
            "hours": st.sampled_from(["10:00-16:00", "00:00-24:00", "23:58-23:59"]),
            "timezone": st.sampled_from(["Europe/Berlin", "UTC", "America/Argentina/Salta"]),
            "experiments": st.lists(
                st.sampled_from(["pod-kill", "cpu-pressure", "node-drain"]),
                min_size=1,
                max_size=3,
                unique=True,
            ),
        },
        optional={
            "meanDaysBetween": st.none() | st.integers(1, 365),
            "minSpacingHours": st.none() | st.integers(0, 2160),
            "holidayCountry": st.sampled_from([None, "DE", "us", "Gb"]),
            "durationMinutes": st.none() | st.integers(5, 240),
        },
    ),
    "suite": st.none()
    | st.lists(
        st.fixed_dictionaries(
            {"experiment": _LABEL},
            optional={
                "parameters": st.none()
                | st.dictionaries(
                    _TEXT,
                    st.none() | st.booleans() | st.integers() | _TEXT,
                    max_size=2,
                )
            },
        ),
        max_size=3,
        unique_by=lambda entry: str(entry["experiment"]),
    ),
}
_FIELDS = st.fixed_dictionaries(_REQUIRED, optional=_OPTIONAL)
_SPEC_VALUES = st.builds(lambda fields, pods: {**fields, **pods}, _FIELDS, _PODS)


@settings(max_examples=300, deadline=None)
@given(raw=_SPEC_VALUES)
def test_every_declaration_the_parser_accepts_passes_the_schema_and_survives_export(
    raw: dict[str, Any],
) -> None:
    """The schema is never stricter than the parser, and export loses nothing.

    Null or a missing field means "not given" to both. The parser is laxer than the schema where
    the onboarding modal needs it (it reads "" as not given and "2" as 2): such values are not
    generated.
    """
    policy = CatalogPolicy(allowed_namespaces=frozenset({"payments"}), allow_production=True)
    try:
        spec = parse_service_spec(raw, policy=policy)
    except SpecInvalid:
        return
    assert schema_problems(_as_document(raw)) == []
    [document] = load(dump_documents([spec]), policy)
    # Given both, the workload is used and the selector ignored, so export leaves it out.
    assert document.spec == (replace(spec, selector=None) if spec.workload else spec)
