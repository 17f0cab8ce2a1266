"""The one validator of service declarations (the modal's and chaos.yaml's)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time
from typing import Any

import pytest

from bot.catalog.flows import check_experiments
from bot.catalog.models import Service
from bot.catalog.service import blind_window_of
from bot.catalog.spec import BlindWindow, CatalogPolicy, SpecInvalid, catalog_policy, to_document
from bot.catalog.spec_parse import parse_service_spec
from bot.config import BlastRadiusLimits, load_settings
from bot.probes.target import ProbePolicy
from tests.fixtures.declarations import checkout_declaration

POLICY = CatalogPolicy(
    allowed_namespaces=frozenset({"payments"}), probes=ProbePolicy(bot_port=3000)
)


def _errors(**changes: Any) -> dict[str, str]:
    with pytest.raises(SpecInvalid) as caught:
        parse_service_spec(checkout_declaration(**changes), policy=POLICY)
    return {e.path: e.message for e in caught.value.errors}


def test_a_valid_declaration_parses() -> None:
    spec = parse_service_spec(checkout_declaration(), policy=POLICY)
    assert (spec.name, spec.tier, spec.selector, spec.suite) == (
        "checkout",
        2,
        "app=checkout",
        None,
    )


# The blast-radius cap: 1 to 100, and never above the platform's maximum for the environment.
LIMITED = CatalogPolicy(
    allowed_namespaces=frozenset({"payments"}),
    allow_production=True,
    max_blast_radius=BlastRadiusLimits(staging=80, production=30),
)


def _cap(policy: CatalogPolicy = LIMITED, **changes: Any) -> int:
    return parse_service_spec(checkout_declaration(**changes), policy=policy).blast_radius_percent


def _cap_error(policy: CatalogPolicy = LIMITED, **changes: Any) -> str:
    with pytest.raises(SpecInvalid) as caught:
        parse_service_spec(checkout_declaration(**changes), policy=policy)
    [error] = caught.value.errors
    assert error.path == "blastRadiusPercent"
    return error.message


def test_the_cap_may_be_anything_up_to_the_environments_maximum() -> None:
    assert _cap(blastRadiusPercent=80) == 80
    assert _cap(blastRadiusPercent="1") == 1  # the modal's number input sends text
    assert _cap(blastRadiusPercent=30, environment="production") == 30
    assert _cap(POLICY, blastRadiusPercent=100) == 100  # staging's default maximum is 100


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"blastRadiusPercent": 81},
            "must be at most 80 in staging, the platform's maximum "
            "(CHAOSBOT_MAX_BLAST_RADIUS_PERCENT), got 81",
        ),
        (
            {"blastRadiusPercent": 50, "environment": "production"},
            "must be at most 30 in production, the platform's maximum "
            "(CHAOSBOT_MAX_BLAST_RADIUS_PERCENT), got 50",
        ),
        ({"blastRadiusPercent": 0}, "must be between 1 and 100, got 0"),
        ({"blastRadiusPercent": 101}, "must be between 1 and 100, got 101"),
        ({"blastRadiusPercent": "half"}, "'half' is not a whole number"),
    ],
)
def test_a_cap_out_of_range_or_above_the_maximum_is_a_field_error(
    changes: dict[str, Any], message: str
) -> None:
    assert _cap_error(**changes) == message


def test_a_cap_left_out_is_50_or_the_environments_maximum_when_lower() -> None:
    assert _cap() == 50
    assert _cap(blastRadiusPercent=None) == 50
    assert _cap(environment="production") == 30


def test_production_services_default_to_a_maximum_of_50() -> None:
    environ = {"CHAOSBOT_ALLOW_PRODUCTION": "true", "CHAOSBOT_ALLOWED_NAMESPACES": "payments"}
    policy = catalog_policy(load_settings(environ))
    assert _cap(policy, environment="production", blastRadiusPercent=50) == 50
    assert "at most 50 in production" in _cap_error(
        policy, environment="production", blastRadiusPercent=51
    )
    assert _cap(policy, blastRadiusPercent=100) == 100


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
        == "points at chaosbot itself (127.0.0.1 port 3000)"
    )
    parse_service_spec(
        checkout_declaration(probes=[{"url": "http://127.0.0.1:8080/healthz"}]), policy=POLICY
    )


def test_ids_longer_than_their_columns_are_refused() -> None:
    assert "owners[0]" in _errors(owners=["U" + "A" * 40])
    assert "selector" in _errors(selector="app=" + "a" * 1100)


def test_approvers_and_the_team_timezone_are_optional() -> None:
    spec = parse_service_spec(checkout_declaration(), policy=POLICY)
    assert (spec.approvers, spec.team_timezone) == ((), None)
    for empty in (None, ""):
        assert (
            parse_service_spec(
                checkout_declaration(teamTimezone=empty), policy=POLICY
            ).team_timezone
            is None
        )
    assert parse_service_spec(checkout_declaration(approvers=None), policy=POLICY).approvers == ()


def test_approvers_and_the_team_timezone_parse_in_their_order() -> None:
    spec = parse_service_spec(
        checkout_declaration(
            approvers=["U0CAROL", "W0DAVE"], teamTimezone=" America/Argentina/Salta "
        ),
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
    blind = {
        "enabled": True,
        "weekdays": ["mon"],
        "hours": "10:00-16:00",
        "timezone": "Europe",
        "experiments": ["pod-kill"],
    }
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


# --- blind drills: which experiments, how often, how far apart, which holidays, how long ------

BLIND = {
    "enabled": True,
    "weekdays": ["mon", "tue"],
    "hours": "10:00-16:00",
    "timezone": "Europe/Berlin",
    "experiments": ["pod-kill"],
}


def _blind(**changes: Any) -> BlindWindow:
    spec = parse_service_spec(checkout_declaration(blindDrills={**BLIND, **changes}), policy=POLICY)
    assert spec.blind is not None
    return spec.blind


def _blind_errors(**changes: Any) -> dict[str, str]:
    return _errors(blindDrills={**BLIND, **changes})


def test_a_blind_opt_in_naming_only_its_experiments_gets_the_defaults() -> None:
    blind = _blind()
    assert blind.experiments == ("pod-kill",)
    assert (
        blind.mean_days_between,
        blind.min_spacing_hours,
        blind.holiday_country,
        blind.duration_minutes,
    ) == (10, 24, None, 30)
    # Null (chaos.yaml) and an empty field (the modal) mean the default too.
    for empty in (None, ""):
        blind = _blind(
            meanDaysBetween=None, minSpacingHours=None, holidayCountry=empty, durationMinutes=None
        )
        assert (blind.mean_days_between, blind.holiday_country) == (10, None)


def test_the_blind_fields_parse_as_given() -> None:
    blind = _blind(
        experiments=["cpu-pressure", "pod-kill"],
        meanDaysBetween=5,
        minSpacingHours="72",  # as the modal sends it
        holidayCountry="US",
        durationMinutes=45,
    )
    assert blind == BlindWindow(
        weekdays=("mon", "tue"),
        start=time(10),
        end=time(16),
        timezone="Europe/Berlin",
        experiments=("cpu-pressure", "pod-kill"),
        mean_days_between=5,
        min_spacing_hours=72,
        holiday_country="US",
        duration_minutes=45,
    )


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [("meanDaysBetween", 1, 365), ("minSpacingHours", 0, 2160), ("durationMinutes", 5, 240)],
)
def test_blind_numbers_are_whole_and_within_their_bounds(field: str, low: int, high: int) -> None:
    assert _blind(**{field: low}) == _blind(**{field: str(low)})
    _blind(**{field: high})
    for outside in (low - 1, high + 1):
        assert _blind_errors(**{field: outside}) == {
            f"blindDrills.{field}": f"must be between {low} and {high}, got {outside}"
        }
    for odd in ("2.5", 2.5, True, "ten"):
        assert _blind_errors(**{field: odd}) == {
            f"blindDrills.{field}": f"{odd!r} is not a whole number"
        }


@pytest.mark.parametrize("country", ["de", " De ", "DE"])
def test_a_holiday_country_is_normalised_to_upper_case(country: str) -> None:
    assert _blind(holidayCountry=country).holiday_country == "DE"


@pytest.mark.parametrize("country", ["XX", "DEU", "Germany", "D", 49, ["DE"]])
def test_a_holiday_country_the_holidays_package_does_not_know_is_refused(
    country: object,
) -> None:
    assert _blind_errors(holidayCountry=country) == {
        "blindDrills.holidayCountry": f"{country!r} is not a country whose public holidays "
        "chaosbot knows: give its two-letter ISO 3166-1 code, such as DE or US"
    }


@pytest.mark.parametrize("experiments", [None, []])
def test_blind_drills_need_at_least_one_experiment(experiments: object) -> None:
    assert _blind_errors(experiments=experiments) == {
        "blindDrills.experiments": "name at least one experiment of the library that may run blind"
    }


def test_blind_experiments_are_ids_each_listed_once() -> None:
    assert _blind_errors(experiments=["pod-kill", "Pod Kill", "pod-kill", 7]) == {
        "blindDrills.experiments[1]": "'Pod Kill' is not an experiment id",
        "blindDrills.experiments[2]": "pod-kill is listed twice",
        "blindDrills.experiments[3]": "7 is not an experiment id",
    }
    assert _blind_errors(experiments="pod-kill") == {"blindDrills.experiments": "must be a list"}


def test_blind_experiments_must_be_in_the_library() -> None:
    spec = parse_service_spec(
        checkout_declaration(
            blindDrills={**BLIND, "experiments": ["pod-kill", "pod-explode", "cpu-pressure"]}
        ),
        policy=POLICY,
    )
    with pytest.raises(SpecInvalid) as caught:
        check_experiments(spec)
    assert [(e.path, e.message) for e in caught.value.errors] == [
        ("blindDrills.experiments[1]", "there is no experiment pod-explode in the library")
    ]
    check_experiments(replace(spec, blind=_blind(experiments=["pod-kill", "cpu-pressure"])))


def test_disabled_blind_drills_ignore_the_other_blind_fields() -> None:
    disabled = {
        "enabled": False,
        "experiments": ["Pod Kill", "pod-kill", "pod-kill"],
        "meanDaysBetween": 0,
        "holidayCountry": "Atlantis",
        "durationMinutes": 1000,
    }
    assert (
        parse_service_spec(checkout_declaration(blindDrills=disabled), policy=POLICY).blind is None
    )


def test_the_opt_in_is_stored_and_exported_with_every_field() -> None:
    blind = _blind(
        holidayCountry="de",
        durationMinutes=60,
        freezeWindows=["2026-12-28..2027-01-01", "2026-12-24"],
    )
    stored = {
        "weekdays": ["mon", "tue"],
        "hours": "10:00-16:00",
        "timezone": "Europe/Berlin",
        "experiments": ["pod-kill"],
        "meanDaysBetween": 10,
        "minSpacingHours": 24,
        "holidayCountry": "DE",
        "durationMinutes": 60,
        "freezeWindows": ["2026-12-24", "2026-12-28..2027-01-01"],
    }
    assert blind.as_document() == stored
    spec = parse_service_spec(checkout_declaration(blindDrills={**BLIND, **stored}), policy=POLICY)
    assert to_document(spec)["blindDrills"] == {"enabled": True, **stored}
    assert blind_window_of(Service(blind_enabled=True, blind_window=stored)) == blind
    assert blind_window_of(Service(blind_enabled=False, blind_window=stored)) is None


def test_a_window_stored_before_the_new_fields_reads_with_their_defaults() -> None:
    old = {"weekdays": ["mon", "fri"], "hours": "09:00-24:00", "timezone": "UTC"}
    assert blind_window_of(Service(blind_enabled=True, blind_window=old)) == BlindWindow(
        weekdays=("mon", "fri"),
        start=time(9),
        end=time.max,
        timezone="UTC",
        experiments=(),
        mean_days_between=10,
        min_spacing_hours=24,
        holiday_country=None,
        duration_minutes=30,
    )


def test_freeze_windows_are_days_or_ranges_in_order() -> None:
    raw = {
        **BLIND,
        "freezeWindows": ["2027-01-04..2027-01-06", " 2026-12-24 ", "2026-12-28 .. 2027-01-01"],
    }
    blind = parse_service_spec(checkout_declaration(blindDrills=raw), policy=POLICY).blind
    assert blind is not None
    assert blind.freeze_windows == (
        (date(2026, 12, 24), date(2026, 12, 24)),
        (date(2026, 12, 28), date(2027, 1, 1)),
        (date(2027, 1, 4), date(2027, 1, 6)),
    )
    assert blind.as_document()["freezeWindows"] == [
        "2026-12-24",
        "2026-12-28..2027-01-01",
        "2027-01-04..2027-01-06",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("christmas", "is not a day like 2026-12-24"),
        ("2026-12-31..2026-12-01", "ends before it starts"),
        ("2026-02-30", "day is out of range for month"),
        ("2026-01-01..2027-06-01", "longer than a year"),
    ],
)
def test_a_bad_freeze_window_is_a_field_error_on_its_item(value: str, message: str) -> None:
    raw = {**BLIND, "freezeWindows": ["2026-12-24", value]}
    with pytest.raises(SpecInvalid) as refused:
        parse_service_spec(checkout_declaration(blindDrills=raw), policy=POLICY)
    (error,) = refused.value.errors
    assert error.path == "blindDrills.freezeWindows[1]" and message in error.message
