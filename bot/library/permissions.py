"""The Kubernetes API calls chaosbot makes, as RBAC rules: each experiment's, and the engine's own.

An experiment declares the calls its faults make under its chaosbot extension (`permissions`,
RBAC PolicyRule shape: apiGroups, resources (`pods/eviction` for a subresource), verbs,
optionally resourceNames). The calls every run makes whatever the experiment are declared here
once (`ENGINE_RULES`); the leftover check lists the kinds each experiment `creates`, so those
list rules are derived (`leftover_rules`). bot/library/rbac.py turns these into Roles.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLUSTER_SCOPED",
    "ENGINE_RULES",
    "LOAD_CREATES",
    "LOAD_RULES",
    "VERBS",
    "Rule",
    "leftover_rules",
    "merge_rules",
    "parse_permissions",
    "touches_nodes",
]

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
# Resources that live outside namespaces: granted by a ClusterRole, never by a Role.
CLUSTER_SCOPED = frozenset({("", "nodes"), ("", "namespaces")})


@dataclass(frozen=True, order=True)
class Rule:
    """One RBAC PolicyRule (a single API group), with its lists sorted."""

    api_group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("resources", "verbs", "resource_names"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))

    @property
    def cluster_scoped(self) -> bool:
        """Whether the rule's resources are cluster-scoped (all of them, or none: see parse)."""
        return (self.api_group, self.resources[0].split("/")[0]) in CLUSTER_SCOPED

    def as_manifest(self) -> dict[str, Any]:
        """The rule as it is written in a Role or ClusterRole."""
        rule: dict[str, Any] = {"apiGroups": [self.api_group], "resources": list(self.resources)}
        if self.resource_names:
            rule["resourceNames"] = list(self.resource_names)
        rule["verbs"] = list(self.verbs)
        return rule


# What every run asks whatever its experiment (in its namespace), beyond its own faults:
# preflight's live pod count (bot/k8s/runs.py) and the `pods` steady-state probe
# (bot/probes/pods.py), which reads each pod's owner up to its Deployment or StatefulSet. Server-
# side dry runs need the write verbs the experiment declares, nothing more. The leftover check is
# `leftover_rules`.
ENGINE_RULES: tuple[Rule, ...] = (
    Rule("", ("pods",), ("list",)),
    Rule("apps", ("deployments", "replicasets", "statefulsets"), ("get",)),
)


# A run's load profile (bot.load), when the platform enables them: its Job created, read while
# its pod starts and through the ramp-up, deleted at the end (and by the rollback replay); an
# inline script's ConfigMap created and deleted. The leftover check lists both (LOAD_CREATES).
LOAD_CREATES = ("jobs.batch", "configmaps")
LOAD_RULES: tuple[Rule, ...] = (
    Rule("batch", ("jobs",), ("create", "delete", "get")),
    Rule("", ("configmaps",), ("create", "delete")),
)


def leftover_rules(creates: Iterable[str]) -> list[Rule]:
    """The lists the leftover check makes for an experiment's `creates` kinds (`resource.group`)."""
    by_group: dict[str, set[str]] = defaultdict(set)
    for kind in creates:
        resource, _, group = kind.partition(".")
        by_group[group].add(resource)
    return [Rule(group, tuple(resources), ("list",)) for group, resources in by_group.items()]


def touches_nodes(rules: Iterable[Rule]) -> bool:
    """Whether any rule is about nodes (a cluster-scoped grant is then needed)."""
    return any(rule.cluster_scoped for rule in rules)


def merge_rules(rules: Iterable[Rule]) -> list[Rule]:
    """The union of the rules, regrouped: one rule per group, names and verb set; sorted."""
    verbs: dict[tuple[str, tuple[str, ...], str], set[str]] = defaultdict(set)
    for rule in rules:
        for resource in rule.resources:
            verbs[(rule.api_group, rule.resource_names, resource)].update(rule.verbs)
    grouped: dict[tuple[str, tuple[str, ...], tuple[str, ...]], set[str]] = defaultdict(set)
    for (group, names, resource), allowed in verbs.items():
        grouped[(group, names, tuple(sorted(allowed)))].add(resource)
    return sorted(
        Rule(group, tuple(resources), verb_set, names)
        for (group, names, verb_set), resources in grouped.items()
    )


def parse_permissions(raw: Any, problems: list[str]) -> tuple[Rule, ...]:
    """The `permissions` of a chaosbot extension; problems get a line per mistake."""
    where = "chaosbot.permissions"
    if not isinstance(raw, list) or not raw:
        problems.append(
            f"{where}: must list the Kubernetes API calls the experiment makes "
            "(RBAC rules: apiGroups, resources, verbs)"
        )
        return ()
    rules: list[Rule] = []
    for index, entry in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{at}: must be a mapping with apiGroups, resources and verbs")
            continue
        unknown = set(entry) - {"apiGroups", "resources", "verbs", "resourceNames"}
        if unknown:
            problems.append(f"{at}: unknown keys {', '.join(sorted(unknown))}")
        groups = _names(entry.get("apiGroups"), f"{at}.apiGroups", problems, empty_ok=True)
        resources = _names(entry.get("resources"), f"{at}.resources", problems)
        verbs = _names(entry.get("verbs"), f"{at}.verbs", problems)
        names = _names(entry.get("resourceNames", []), f"{at}.resourceNames", problems, none=True)
        if len(groups) != 1:
            problems.append(f"{at}.apiGroups: must name exactly one API group")
            continue
        for verb in verbs:
            if verb not in VERBS:
                problems.append(f"{at}.verbs: {verb} is not one of {', '.join(VERBS)}")
        if "*" in resources or "*" in verbs or "*" in groups:
            problems.append(f"{at}: wildcards are not least privilege; name what is called")
        scopes = {(groups[0], r.split("/")[0]) in CLUSTER_SCOPED for r in resources}
        if len(scopes) > 1:
            problems.append(f"{at}.resources: do not mix cluster-scoped and namespaced resources")
        if resources and verbs:
            rules.append(Rule(groups[0], tuple(resources), tuple(verbs), tuple(names)))
    return tuple(rules)


def _names(
    raw: Any, where: str, problems: list[str], *, empty_ok: bool = False, none: bool = False
) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        problems.append(f"{where}: must be a list of names")
        return []
    if not raw and not none:
        problems.append(f"{where}: must not be empty")
    if not empty_ok and any(not v for v in raw):
        problems.append(f"{where}: names must not be empty")
    return list(raw)
