"""Probes that cannot be aimed at the wrong place: the reported URLs refused in chaos.yaml and at
probe time (with no connection made), redirects, DNS rebinding, the budget and the journal.

The canary is a local HTTP server; where the rule is "chaosbot itself", the canary's port is the
bot's HTTP port. The onboarding form's side is in test_onboarding.py.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import replace
from typing import Any

import pytest
from chaoslib.experiment import run_experiment

from bot.catalog.chaosfile import ChaosfileInvalid, load_documents
from bot.catalog.spec import CatalogPolicy
from bot.config import load_settings
from bot.probes.http import ProbeFailed, get
from bot.probes.target import ProbePolicy, ProbeRefused, check_probe_url
from tests.fixtures.canary import BODY, REPORTED, Canary, outbound_connections
from tests.fixtures.declarations import CHECKOUT_YAML_HEAD

CHAOS_YAML = (
    CHECKOUT_YAML_HEAD
    + """\
  namespace: payments
  selector: app=checkout
  owners: [U0ALICE]
  probes:
    - url: URL
"""
)


def chaos_yaml_errors(url: str, policy: ProbePolicy) -> list[str]:
    """The errors chaos.yaml with this probe URL loads with (none: it was accepted)."""
    catalog = CatalogPolicy(allowed_namespaces=frozenset({"payments"}), probes=policy)
    text = CHAOS_YAML.replace("URL", json.dumps(url))
    try:
        load_documents(text, source="chaos.yaml", policy=catalog)
    except ChaosfileInvalid as invalid:
        return [str(e) for e in invalid.errors]
    return []


@pytest.fixture
def bot_env(monkeypatch: pytest.MonkeyPatch, canary: Canary) -> None:
    """The probe provider's environment: the bot listens on the canary's port."""
    monkeypatch.setenv("CHAOSBOT_HTTP_PORT", str(canary.port))
    monkeypatch.delenv("CHAOSBOT_PUBLIC_URL", raising=False)
    monkeypatch.delenv("CHAOSBOT_PROBE_ALLOWED_NETWORKS", raising=False)


def experiment(url: str, timeout: float = 2.0) -> dict[str, Any]:
    """A steady-state hypothesis of one chaosbot probe, as the library's templates write it."""
    probe = {
        "type": "probe",
        "name": "service-answers",
        "tolerance": 200,
        "provider": {
            "type": "python",
            "module": "bot.probes.http",
            "func": "probe_http",
            "arguments": {"url": url, "timeout": timeout},
        },
    }
    return {
        "title": "probe",
        "description": "one probe",
        "steady-state-hypothesis": {"title": "answers", "probes": [probe]},
        "method": [{**probe, "name": "again"}],
    }


@pytest.mark.parametrize("form", REPORTED)
def test_each_reported_url_is_refused_in_chaos_yaml_on_its_line(form: str, canary: Canary) -> None:
    url, reason = (part.replace("PORT", str(canary.port)) for part in REPORTED[form])
    errors = chaos_yaml_errors(url, ProbePolicy(bot_port=canary.port))
    assert len(errors) == 1, errors
    assert errors[0].startswith("chaos.yaml:13: spec.probes[0].url: points at ")
    assert reason in errors[0]


@pytest.mark.parametrize("form", REPORTED)
@pytest.mark.usefixtures("bot_env")
def test_each_reported_url_fails_at_probe_time_with_no_connection(
    form: str, canary: Canary
) -> None:
    url, reason = (part.replace("PORT", str(canary.port)) for part in REPORTED[form])
    with outbound_connections() as made:
        journal = run_experiment(experiment(url))
    assert made == [] and canary.connections == 0
    [probe] = journal["steady_states"]["before"]["probes"]
    assert probe["status"] == "failed"
    assert reason in probe["exception"][-1]
    assert journal["status"] == "failed"


@pytest.mark.usefixtures("bot_env")
def test_a_journal_keeps_a_probes_status_and_latency_and_nothing_of_its_body() -> None:
    with Canary() as service:
        journal = run_experiment(experiment(service.url))
    assert journal["status"] == "completed"
    [probe] = journal["steady_states"]["before"]["probes"]
    assert set(probe["output"]) == {"status", "latency_ms"}
    assert probe["output"]["status"] == 200 and probe["output"]["latency_ms"] >= 0
    assert BODY.decode() not in json.dumps(journal, default=str)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_fails_the_probe_and_its_target_is_never_contacted(
    status: int, canary: Canary, second_canary: Canary
) -> None:
    canary.status, canary.location = status, second_canary.url
    with pytest.raises(ProbeFailed) as failed:
        get(canary.url, policy=ProbePolicy(bot_port=second_canary.port), timeout=2)
    assert f"answered {status}, a redirect to {second_canary.url!r}" in str(failed.value)
    assert len(canary.requests) == 1
    assert second_canary.connections == 0


def test_a_probe_connects_to_the_address_it_checked_not_to_a_second_answer(
    canary: Canary,
) -> None:
    """DNS rebinding: a name that answers loopback when checked and the metadata address
    after is resolved once, and the request goes to the address that was checked."""
    answers = [["127.0.0.1"], ["169.254.169.254"]]
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers[len(asked) - 1]

    policy = ProbePolicy(bot_port=3000, resolve=resolve)
    with outbound_connections() as made:
        result = get(
            f"http://checkout.test.:{canary.port}/healthz?deep=1", policy=policy, timeout=2
        )
    assert result.status == 200 and asked == ["checkout.test"]
    assert made == [("127.0.0.1", canary.port)]
    assert canary.requests[0]["Host"] == f"checkout.test.:{canary.port}"
    assert canary.requests[0]["path"] == "/healthz?deep=1"


@pytest.mark.parametrize(
    "answers",
    [["10.0.0.7", "169.254.169.254"], ["::ffff:169.254.1.1"], ["10.0.0.7", "fe80::1%eth0"]],
)
def test_a_name_with_any_forbidden_address_is_refused(answers: list[str], canary: Canary) -> None:
    policy = ProbePolicy(resolve=lambda host, port: answers)
    with outbound_connections() as made, pytest.raises(ProbeRefused, match="link-local"):
        get(f"http://checkout.test:{canary.port}/", policy=policy, timeout=2)
    assert made == [] and canary.connections == 0


def test_a_name_that_does_not_resolve_is_accepted_when_declared_and_fails_when_probed() -> None:
    def nowhere(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    policy = ProbePolicy(resolve=nowhere)
    assert check_probe_url("http://checkout.test/", policy, resolve=False).addresses is None
    with pytest.raises(ProbeRefused, match=r"checkout\.test does not resolve"):
        get("http://checkout.test/", policy=policy, timeout=1)


def test_an_address_outside_the_allowed_networks_is_refused_everywhere(canary: Canary) -> None:
    settings = load_settings({"CHAOSBOT_PROBE_ALLOWED_NETWORKS": "10.0.0.0/8, fd00::/8"})
    policy = ProbePolicy.from_settings(settings)
    expected = "points at 127.0.0.1, outside CHAOSBOT_PROBE_ALLOWED_NETWORKS (10.0.0.0/8, fd00::/8)"
    assert chaos_yaml_errors(canary.url, policy) == [
        f"chaos.yaml:13: spec.probes[0].url: {expected}"
    ]
    with outbound_connections() as made, pytest.raises(ProbeRefused, match="outside"):
        get(canary.url, policy=policy, timeout=2)
    assert made == [] and canary.connections == 0
    inside = replace(policy, allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    assert get(canary.url, policy=inside, timeout=2).status == 200


def test_the_bots_public_url_is_refused_by_name_and_port() -> None:
    policy = ProbePolicy(bot_public_url="https://chaosbot.example.com")
    assert chaos_yaml_errors("https://ChaosBot.example.com./healthz", policy) == [
        "chaos.yaml:13: spec.probes[0].url: points at chaosbot itself (https://chaosbot.example.com)"
    ]
    assert chaos_yaml_errors("https://chaosbot.example.com:8443/healthz", policy) == []


def test_an_answer_slower_than_the_budget_fails_the_probe() -> None:
    with Canary(delay=0.5) as slow, pytest.raises(ProbeFailed, match="no answer"):
        get(slow.url, policy=ProbePolicy(), timeout=0.2)


@pytest.mark.parametrize(
    "url", ["http://[fe80::1%25eth0]/", "http://-checkout-.svc/", "http://checkout..svc/"]
)
def test_a_host_that_is_neither_an_address_nor_a_name_is_refused(url: str) -> None:
    assert chaos_yaml_errors(url, ProbePolicy())[0].endswith(
        "is neither an IP address nor a host name"
    )
    with outbound_connections() as made, pytest.raises(ProbeRefused, match="neither"):
        get(url, policy=ProbePolicy(), timeout=1)
    assert made == []


@pytest.mark.parametrize(
    ("host", "reached"),
    [
        ("[64:ff9b::a9fe:a9fe]", "169.254.169.254"),
        ("[2002:a9fe:a9fe::1]", "169.254.169.254"),
        ("[::169.254.169.254]", "169.254.169.254"),
        ("[::FFFF:A9FE:0101]", "169.254.1.1"),
    ],
)
def test_an_ipv6_address_is_checked_as_the_ipv4_address_it_reaches(host: str, reached: str) -> None:
    with pytest.raises(ProbeRefused, match=rf"\({re.escape(reached)}\)"):
        check_probe_url(f"http://{host}/", ProbePolicy(), resolve=False)


def test_names_under_a_metadata_service_are_refused_but_a_namespace_called_metadata_is_not() -> (
    None
):
    refused = chaos_yaml_errors("http://x.Metadata.Google.Internal/", ProbePolicy())
    assert refused == [
        "chaos.yaml:13: spec.probes[0].url: points at a link-local or cloud-metadata address "
        "(x.metadata.google.internal), which chaosbot never probes"
    ]
    assert chaos_yaml_errors("http://checkout.metadata:8080/healthz", ProbePolicy()) == []
