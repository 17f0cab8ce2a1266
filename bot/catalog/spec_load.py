"""The check of a suite entry's `load`: the load profile it runs under, each problem a field
error named by its path (`suite[0].load.users`), so chaos.yaml puts it on its line and the suite
form on its block."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.catalog.spec import CatalogPolicy, FieldError
from bot.catalog.spec_fields import FieldChecker, has_error
from bot.load.profile import (
    MAX_DURATION_SECONDS,
    MAX_RAMP_UP_SECONDS,
    MAX_SCRIPT_BYTES,
    MAX_USERS,
    MIN_DURATION_SECONDS,
    ConfigMapScript,
    LoadProfile,
    Tool,
)
from bot.probes.target import ProbeRefused, check_probe_url

__all__ = ["LOAD_KEYS", "check_load", "parse_load"]

LOAD_KEYS = frozenset(
    {"tool", "script", "configMap", "users", "rampUpSeconds", "durationSeconds", "host"}
)
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_CONFIG_MAP_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")


def parse_load(checker: FieldChecker, key: str, policy: CatalogPolicy) -> LoadProfile | None:
    """The load profile at `key` of the checker's mapping (None: none, or an error recorded)."""
    if checker.raw.get(key) is None:
        return None
    sub = checker.child(key)
    if sub is None:
        return None
    if not policy.load_profiles:
        checker.fail(key, "load profiles are not enabled on this platform (CHAOSBOT_LOAD_PROFILES)")
        return None
    unknown = sorted(str(k) for k in set(sub.raw) - LOAD_KEYS)
    if unknown:
        sub.fail(unknown[0], f"is not a load profile field ({', '.join(sorted(LOAD_KEYS))})")
    tool = _tool(sub)
    script, config_map = _script(sub)
    users = sub.integer("users", 1, MAX_USERS)
    ramp_up = sub.integer("rampUpSeconds", 0, MAX_RAMP_UP_SECONDS, default=0)
    duration = None
    if sub.raw.get("durationSeconds") is not None:
        duration = sub.integer("durationSeconds", MIN_DURATION_SECONDS, MAX_DURATION_SECONDS)
    host = _host(sub, policy)
    if has_error(sub.errors, sub.prefix.rstrip(".")):
        return None
    assert tool is not None and users is not None and ramp_up is not None
    return LoadProfile(
        tool=tool,
        users=users,
        ramp_up_seconds=ramp_up,
        duration_seconds=duration,
        script=script,
        config_map=config_map,
        host=host,
    )


def _tool(sub: FieldChecker) -> Tool | None:
    value = sub.raw.get("tool")
    if value is None or value == "":
        sub.fail("tool", f"is required ({' or '.join(t.value for t in Tool)})")
        return None
    try:
        return Tool(str(value))
    except ValueError:
        sub.fail("tool", f"{value!r} is not one of {', '.join(t.value for t in Tool)}")
        return None


def _script(sub: FieldChecker) -> tuple[str | None, ConfigMapScript | None]:
    """An inline `script`, or `configMap: {name, key}`: one of them."""
    script, reference = sub.raw.get("script"), sub.raw.get("configMap")
    if (script is None) == (reference is None):
        sub.fail("script", "give the script inline (script) or from a ConfigMap (configMap)")
        return None, None
    if script is not None:
        if not isinstance(script, str) or not script.strip():
            sub.fail("script", "must be the script's text")
            return None, None
        if len(script.encode()) > MAX_SCRIPT_BYTES:
            sub.fail(
                "script",
                f"is longer than {MAX_SCRIPT_BYTES // 1024} KiB: keep it in a ConfigMap "
                "(configMap: {name, key})",
            )
            return None, None
        return script, None
    ref = sub.child("configMap")
    if ref is None:
        return None, None
    name, key = ref.raw.get("name"), ref.raw.get("key")
    if not isinstance(name, str) or not _DNS_SUBDOMAIN.fullmatch(name):
        ref.fail("name", f"{name!r} is not a ConfigMap name")
    if not isinstance(key, str) or not _CONFIG_MAP_KEY.fullmatch(key):
        ref.fail("key", f"{key!r} is not a ConfigMap key")
    if isinstance(name, str) and isinstance(key, str) and not has_error(sub.errors, ref.prefix):
        return None, ConfigMapScript(name=name, key=key)
    return None, None


def _host(sub: FieldChecker, policy: CatalogPolicy) -> str | None:
    """Where the load goes: an http(s) URL, under the probes' rules (no metadata endpoint,
    not chaosbot itself)."""
    value: Any = sub.raw.get("host")
    if value is None or value == "":
        return None
    try:
        check_probe_url(value, policy.probes, resolve=False)
    except ProbeRefused as refused:
        sub.fail("host", refused.reason)
        return None
    return str(value)


def check_load(
    document: Mapping[str, Any], policy: CatalogPolicy
) -> tuple[LoadProfile | None, dict[str, str]]:
    """A load profile as the suite form gives it, under chaos.yaml's rules: the profile, or what
    is wrong with it by field (`users`, `configMap.key`)."""
    errors: list[FieldError] = []
    profile = parse_load(FieldChecker({"load": document}, errors), "load", policy)
    return profile, {e.path.removeprefix("load."): e.message for e in errors}
