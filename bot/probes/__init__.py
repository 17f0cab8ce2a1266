"""Steady-state probes: where a probe may be aimed, and the one client every probe goes through.

`check_probe_url` is the one rule (the onboarding form, chaos.yaml and every probe run it);
`probe_http` is the Chaos Toolkit provider the experiments' steady-state hypotheses call.
"""

from __future__ import annotations

from bot.probes.target import (
    METADATA_NAMES,
    ProbePolicy,
    ProbeRefused,
    ProbeTarget,
    ProbeUnresolved,
    check_probe_url,
    resolve_host,
)

__all__ = [
    "METADATA_NAMES",
    "ProbePolicy",
    "ProbeRefused",
    "ProbeTarget",
    "ProbeUnresolved",
    "check_probe_url",
    "resolve_host",
]
