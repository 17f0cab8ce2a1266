"""Load profiles as chaos.yaml declares them (each mistake an error on its line), as a run renders
them (the load control first, the rollback that stops it last, its kinds in `creates`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.config import load_settings, settings_env
from bot.errors import SettingsError
from bot.library.catalogue import load_catalogue
from bot.library.render import created_kinds, render, rollback_plan
from bot.load.profile import ConfigMapScript, LoadProfile, Tool
from tests.unit.test_chaosfile import POLICY, edit, errors_of, load

LOADED = replace(POLICY, load_profiles=True)
# EXAMPLE's suite entry, line 22 `parameters: {count: 1}`, followed by its load from line 23.
WITH_LOAD = edit(
    "      parameters: {count: 1}\n",
    """\
      parameters: {count: 1}
      load:
        tool: locust
        script: |
          from locust import HttpUser, task
        users: 20
        rampUpSeconds: 30
        host: http://checkout.payments.svc
""",
)


def test_a_suite_entry_declares_its_load_profile() -> None:
    [document] = load(WITH_LOAD, LOADED)
    assert document.spec.suite is not None
    assert document.spec.suite[0].load == LoadProfile(
        tool=Tool.LOCUST,
        users=20,
        ramp_up_seconds=30,
        script="from locust import HttpUser, task\n",
        host="http://checkout.payments.svc",
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "users: 20",
            "users: 0",
            "chaos.yaml:27: spec.suite[0].load.users: must be between 1 and 1000, got 0",
        ),
        (
            "tool: locust",
            "tool: jmeter",
            "chaos.yaml:24: spec.suite[0].load.tool: must be one of locust, k6, got 'jmeter'",
        ),
        (
            "rampUpSeconds: 30",
            "rampUpSeconds: 601",
            "chaos.yaml:28: spec.suite[0].load.rampUpSeconds: must be between 0 and 600, got 601",
        ),
        (
            "host: http://checkout.payments.svc",
            "host: http://169.254.169.254/",
            "chaos.yaml:29: spec.suite[0].load.host: points at a link-local or cloud-metadata address",
        ),
        (
            "        script: |\n          from locust import HttpUser, task\n",
            "        configMap: {name: checkout-load}\n",
            "chaos.yaml:25: spec.suite[0].load.configMap.key: is required",
        ),
    ],
)
def test_a_bad_load_profile_is_an_error_on_its_line(old: str, new: str, expected: str) -> None:
    errors = errors_of(edit(old, new, WITH_LOAD), LOADED)
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors


def test_a_load_profile_is_refused_where_the_platform_has_not_enabled_them() -> None:
    assert errors_of(WITH_LOAD, POLICY) == [
        "chaos.yaml:23: spec.suite[0].load: load profiles are not enabled on this platform "
        "(CHAOSBOT_LOAD_PROFILES)"
    ]


def test_an_inline_script_and_a_config_map_are_one_or_the_other() -> None:
    both = edit(
        "        users: 20", "        configMap: {name: a, key: b}\n        users: 20", WITH_LOAD
    )
    assert errors_of(both, LOADED) == [
        "chaos.yaml:25: spec.suite[0].load.script: give the script inline (script) or from a "
        "ConfigMap (configMap)"
    ]


PROFILE = LoadProfile(tool=Tool.K6, users=5, ramp_up_seconds=10, script="export default 1")


def _rendered(profile: LoadProfile | None) -> dict[str, Any]:
    return render(
        load_catalogue(everything=True).get("pod-kill"),
        namespace="payments",
        label_selector="app=checkout",
        probes=[{"url": "http://checkout.payments.svc/healthz"}],
        run_id="r-1",
        hold_seconds=60,
        load=profile,
    )


def test_a_run_under_load_starts_it_first_and_stops_it_last() -> None:
    without, document = _rendered(None), _rendered(PROFILE)
    names = [c["name"] for c in document["controls"]]
    assert names == ["chaosbot-load", *(c["name"] for c in without["controls"])]
    plan = rollback_plan(document)
    assert plan[: len(rollback_plan(without))] == rollback_plan(without)
    assert plan[-1]["provider"]["func"] == "stop_load"
    assert plan[-1]["provider"]["arguments"] == {"namespace": "payments", "run_id": "r-1"}
    assert document["configuration"]["load_image"]["key"] == "CHAOSBOT_K6_IMAGE"
    template = load_catalogue(everything=True).get("pod-kill")
    assert created_kinds(template, PROFILE) == (*template.creates, "jobs.batch", "configmaps")
    from_config_map = replace(
        PROFILE, script=None, config_map=ConfigMapScript(name="load", key="k6.js")
    )
    assert created_kinds(template, from_config_map) == (*template.creates, "jobs.batch")


def test_the_load_images_are_pinned_settings_passed_to_the_workers() -> None:
    settings = load_settings({})
    assert settings.load_profiles is False
    assert settings.locust_image == "locustio/locust:2.47.0"
    assert settings.k6_image == "grafana/k6:1.0.0"
    custom = load_settings(
        {"CHAOSBOT_LOAD_PROFILES": "true", "CHAOSBOT_LOCUST_IMAGE": "registry.local/locust:2.47.0"}
    )
    env = settings_env(custom)
    assert env["CHAOSBOT_LOAD_PROFILES"] == "true"
    assert env["CHAOSBOT_LOCUST_IMAGE"] == "registry.local/locust:2.47.0"
    with pytest.raises(SettingsError) as refused:
        load_settings({"CHAOSBOT_K6_IMAGE": "grafana/k6 latest"})
    assert "CHAOSBOT_K6_IMAGE" in str(refused.value)
