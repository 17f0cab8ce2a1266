"""A load profile: the traffic a service's owners want on it while one of its experiments runs.

A k6 script or a Locust file (given inline, or a key of a ConfigMap in the service's namespace),
how many users, how long they take to arrive and how long they stay. chaos.yaml's suite entries
and the suite form declare it (bot.catalog.spec_load checks it); the run's load control
(bot.load.control) starts it as a Job in the service's namespace and stops it at the end.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_DURATION_SECONDS",
    "MAX_RAMP_UP_SECONDS",
    "MAX_SCRIPT_BYTES",
    "MAX_USERS",
    "MIN_DURATION_SECONDS",
    "ConfigMapScript",
    "LoadProfile",
    "Tool",
]

MAX_USERS = 1000
MAX_RAMP_UP_SECONDS = 600
MIN_DURATION_SECONDS = 10
MAX_DURATION_SECONDS = 7200
# An inline script is stored with the suite entry and sent as a ConfigMap (at most 1 MiB):
# a load test longer than this belongs in a ConfigMap of the team's own.
MAX_SCRIPT_BYTES = 64 * 1024


class Tool(enum.StrEnum):
    """The load generators chaosbot runs."""

    LOCUST = "locust"
    K6 = "k6"

    @property
    def script_file(self) -> str:
        """The file name the script is mounted as, in the container's working directory."""
        return "locustfile.py" if self is Tool.LOCUST else "script.js"


@dataclass(frozen=True, kw_only=True)
class ConfigMapScript:
    """A script kept in a ConfigMap of the service's namespace: its name and key."""

    name: str
    key: str


@dataclass(frozen=True, kw_only=True)
class LoadProfile:
    """The load a suite entry runs under: `script` inline or from `config_map`, one of them."""

    tool: Tool
    users: int
    ramp_up_seconds: int
    # None: the load lasts as long as the run (the run stops it).
    duration_seconds: int | None = None
    script: str | None = None
    config_map: ConfigMapScript | None = None
    # Where the load goes (Locust's --host; k6 scripts read it as __ENV.TARGET_URL); None:
    # the script says.
    host: str | None = None

    def __post_init__(self) -> None:
        if (self.script is None) == (self.config_map is None):
            raise ValueError("a load profile has an inline script or a ConfigMap, one of them")

    def as_document(self) -> dict[str, Any]:
        """The profile as chaos.yaml's `load` (and the suite_entries table) writes it."""
        document: dict[str, Any] = {"tool": self.tool.value}
        if self.script is not None:
            document["script"] = self.script
        if self.config_map is not None:
            document["configMap"] = {"name": self.config_map.name, "key": self.config_map.key}
        document["users"] = self.users
        document["rampUpSeconds"] = self.ramp_up_seconds
        if self.duration_seconds is not None:
            document["durationSeconds"] = self.duration_seconds
        if self.host is not None:
            document["host"] = self.host
        return document

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> LoadProfile:
        """A profile as `as_document` wrote it (already checked when it was declared)."""
        config_map = document.get("configMap")
        duration = document.get("durationSeconds")
        return cls(
            tool=Tool(document["tool"]),
            users=int(document["users"]),
            ramp_up_seconds=int(document.get("rampUpSeconds", 0)),
            duration_seconds=None if duration is None else int(duration),
            script=document.get("script"),
            config_map=(
                ConfigMapScript(name=str(config_map["name"]), key=str(config_map["key"]))
                if config_map
                else None
            ),
            host=document.get("host"),
        )

    @property
    def summary(self) -> str:
        """One line: `locust, 20 users after 30 s, for 10 min`."""
        lasting = f"for {self.duration_seconds} s" if self.duration_seconds else "for the whole run"
        source = f"from ConfigMap {self.config_map.name}" if self.config_map else "inline"
        return (
            f"{self.tool.value} ({source}), {self.users} users after "
            f"{self.ramp_up_seconds} s, {lasting}"
        )
