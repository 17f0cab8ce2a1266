"""The one validator of service declarations (the modal's and chaos.yaml's)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.catalog.spec import CatalogPolicy, SpecInvalid, parse_service_spec

POLICY = CatalogPolicy(allowed_namespaces=frozenset({"payments"}), bot_port=3000)


def _raw(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": "checkout",
        "team": "payments",
        "tier": 2,
        "namespace": "payments",
        "selector": "app=checkout",
        "owners": ["U0ALICE"],
        "probes": [{"url": "http://checkout.payments.svc/healthz"}],
    }
    raw.update(changes)
    return raw


def _errors(**changes: Any) -> dict[str, str]:
    with pytest.raises(SpecInvalid) as caught:
        parse_service_spec(_raw(**changes), policy=POLICY)
    return {e.path: e.message for e in caught.value.errors}


def test_a_valid_declaration_parses() -> None:
    spec = parse_service_spec(_raw(), policy=POLICY)
    assert (spec.name, spec.tier, spec.selector, spec.suite) == (
        "checkout",
        2,
        "app=checkout",
        None,
    )


@pytest.mark.parametrize("tier", ["¹", "٣", "2.0", True, 5])
def test_odd_tiers_are_field_errors_not_crashes(tier: object) -> None:
    assert "tier" in _errors(tier=tier)


@pytest.mark.parametrize("name", ["checkout\n", "Checkout", "-checkout", "a" * 64])
def test_names_are_whole_rfc_1123_labels(name: str) -> None:
    assert "not a valid name" in _errors(name=name)["name"]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:169.254.1.1]/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
def test_link_local_and_metadata_probes_are_refused(url: str) -> None:
    assert "link-local or cloud-metadata" in _errors(probes=[{"url": url}])["probes[0].url"]


def test_loopback_on_the_bots_port_is_the_bot() -> None:
    assert (
        _errors(probes=[{"url": "http://localhost:3000/healthz"}])["probes[0].url"]
        == "points at chaosbot itself"
    )
    parse_service_spec(_raw(probes=[{"url": "http://127.0.0.1:8080/healthz"}]), policy=POLICY)


def test_ids_longer_than_their_columns_are_refused() -> None:
    assert "owners[0]" in _errors(owners=["U" + "A" * 40])
    assert "selector" in _errors(selector="app=" + "a" * 1100)


def test_approvers_and_the_team_timezone_are_optional() -> None:
    spec = parse_service_spec(_raw(), policy=POLICY)
    assert (spec.approvers, spec.team_timezone) == ((), None)
    for empty in (None, ""):
        assert parse_service_spec(_raw(teamTimezone=empty), policy=POLICY).team_timezone is None
    assert parse_service_spec(_raw(approvers=None), policy=POLICY).approvers == ()


def test_approvers_and_the_team_timezone_parse_in_their_order() -> None:
    spec = parse_service_spec(
        _raw(approvers=["U0CAROL", "W0DAVE"], teamTimezone=" America/Argentina/Salta "),
        policy=POLICY,
    )
    assert spec.approvers == ("U0CAROL", "W0DAVE")
    assert spec.team_timezone == "America/Argentina/Salta"


@pytest.mark.parametrize(
    "timezone", ["Mars/Olympus", "europe/berlin", "Europe", "../etc/passwd", "zone1970.tab", 5]
)
def test_a_team_timezone_that_is_not_an_iana_name_is_refused(timezone: object) -> None:
    assert _errors(teamTimezone=timezone) == {
        "teamTimezone": f"{str(timezone)!r} is not an IANA timezone such as Europe/Berlin"
    }


def test_a_blind_drill_timezone_naming_a_folder_is_refused_not_a_crash() -> None:
    blind = {"enabled": True, "weekdays": ["mon"], "hours": "10:00-16:00", "timezone": "Europe"}
    assert _errors(blindDrills=blind) == {
        "blindDrills.timezone": "'Europe' is not an IANA timezone such as Europe/Berlin"
    }


def test_an_approver_listed_twice_is_refused() -> None:
    assert _errors(approvers=["U0CAROL", "U0DAVE", "U0CAROL"]) == {
        "approvers[2]": "U0CAROL is listed twice"
    }


def test_an_approver_who_is_an_owner_is_refused() -> None:
    assert _errors(owners=["U0ALICE", "U0BOB"], approvers=["U0CAROL", "U0BOB"]) == {
        "approvers[1]": "U0BOB is already an owner"
    }


def test_approvers_are_slack_user_ids_as_owners_are() -> None:
    assert _errors(approvers=["bob", "U" + "A" * 40, "C0PAYMENTS"]) == {
        "approvers[0]": "'bob' is not a Slack user id like U0123ABCD",
        "approvers[1]": f"'U{'A' * 40}' is not a Slack user id like U0123ABCD",
        "approvers[2]": "'C0PAYMENTS' is not a Slack user id like U0123ABCD",
    }
    assert _errors(approvers="U0CAROL") == {"approvers": "must be a list"}
