"""The RBAC objects chaosbot needs on a cluster, derived from the library and the allowlist.

Two identities, each with only what it calls:

- `chaosbot` (the bot): reads for onboarding and game-day previews in the allowed namespaces
  (pods, Deployments, StatefulSets, PodDisruptionBudgets; bot/k8s/cluster.py) and the nodes its
  pods run on (their zone); with the kubernetes executor, its run Jobs in its own namespace.
- `chaosbot-runner` (the runs, as Jobs): in each allowed namespace a Role holding exactly the
  union of what the enabled experiments declare, the leftover check's lists of the kinds they
  create, and the engine's own calls (bot/library/permissions.py); a ClusterRole for nodes only
  when a node experiment is enabled. With the local executor runs are child processes of the
  bot, so the same Roles are bound to `chaosbot` and there is no runner account.

Secrets: the certificate experiment is the only one that touches them. Its secrets rules are a
separate Role, only in the namespaces named for it (`certificate_namespaces`); without any, the
experiment is left out and no identity may read a Secret.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from bot.errors import ChaosbotError
from bot.library.catalogue import ExperimentTemplate
from bot.library.permissions import (
    ENGINE_RULES,
    LOAD_CREATES,
    LOAD_RULES,
    Rule,
    leftover_rules,
    merge_rules,
)

__all__ = [
    "BOT_ACCOUNT",
    "CERTIFICATE_EXPERIMENT",
    "RUNNER_ACCOUNT",
    "Executor",
    "RbacPlan",
    "RbacRefused",
    "rbac_manifests",
    "rbac_yaml",
    "runner_rules",
]

BOT_ACCOUNT = "chaosbot"
RUNNER_ACCOUNT = "chaosbot-runner"
CERTIFICATE_EXPERIMENT = "certificate-expiry"
Executor = Literal["local", "kubernetes"]
_RBAC = "rbac.authorization.k8s.io/v1"
_LABELS = {"app.kubernetes.io/name": "chaosbot", "app.kubernetes.io/component": "rbac"}
# What the bot itself reads (bot/k8s/cluster.py): onboarding, target previews, discovery.
BOT_READS: tuple[Rule, ...] = (
    Rule("", ("pods",), ("list",)),
    Rule("apps", ("deployments", "statefulsets"), ("get", "list")),
    Rule("policy", ("poddisruptionbudgets",), ("list",)),
)
BOT_NODE_READS = Rule("", ("nodes",), ("get",))
# Following its run Jobs (the kubernetes executor), in its own namespace.
BOT_JOBS: tuple[Rule, ...] = (
    Rule("batch", ("jobs",), ("create", "delete", "get", "list", "watch")),
    Rule("", ("pods",), ("get", "list")),
)


class RbacRefused(ChaosbotError):
    """The RBAC cannot be generated as asked (no namespace, a namespace outside the allowlist)."""


@dataclass(frozen=True, kw_only=True)
class RbacPlan:
    """What to generate for: the allowlist, the executor, the experiments, where the bot runs."""

    namespaces: tuple[str, ...]
    executor: Executor
    experiments: tuple[ExperimentTemplate, ...]
    bot_namespace: str = BOT_ACCOUNT
    certificate_namespaces: tuple[str, ...] = ()
    # Load profiles (CHAOSBOT_LOAD_PROFILES): the runs may create Jobs (and ConfigMaps) in the
    # allowed namespaces. Off by default: a Job may run any pod there, mounting the namespace's
    # Secrets included, which is more than any experiment needs.
    load: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "namespaces", tuple(sorted(set(self.namespaces))))
        object.__setattr__(
            self, "certificate_namespaces", tuple(sorted(set(self.certificate_namespaces)))
        )
        object.__setattr__(self, "experiments", tuple(sorted(self.experiments, key=_id)))
        if not self.namespaces:
            raise RbacRefused(
                "no allowed namespace: set CHAOSBOT_ALLOWED_NAMESPACES or --namespaces"
            )
        outside = sorted(set(self.certificate_namespaces) - set(self.namespaces))
        if outside:
            raise RbacRefused(
                f"certificate namespaces {', '.join(outside)} are not in the allowlist"
            )
        if self.executor not in ("local", "kubernetes"):
            raise RbacRefused(f"executor must be local or kubernetes, not {self.executor}")

    @property
    def runner(self) -> str:
        """The ServiceAccount the runs use."""
        return RUNNER_ACCOUNT if self.executor == "kubernetes" else BOT_ACCOUNT

    @property
    def granted(self) -> tuple[ExperimentTemplate, ...]:
        """The experiments the runner's Roles serve (the certificate one only where named)."""
        return tuple(
            t
            for t in self.experiments
            if t.id != CERTIFICATE_EXPERIMENT or self.certificate_namespaces
        )


def runner_rules(experiments: Iterable[ExperimentTemplate], *, load: bool = False) -> list[Rule]:
    """Every rule the runs of these experiments need: declared, leftover lists, the engine's,
    and with `load` those of a load profile (bot.load)."""
    rules: list[Rule] = list(ENGINE_RULES)
    if load:
        rules += LOAD_RULES
        rules += leftover_rules(LOAD_CREATES)
    for template in experiments:
        rules += template.permissions
        rules += leftover_rules(template.creates)
    return merge_rules(rules)


def rbac_manifests(plan: RbacPlan) -> list[dict[str, Any]]:
    """The ServiceAccounts, Roles, ClusterRoles and bindings, in a stable order."""
    bot = _subject(BOT_ACCOUNT, plan.bot_namespace)
    runner = _subject(plan.runner, plan.bot_namespace)
    everything = runner_rules(plan.granted, load=plan.load)
    secrets = [r for r in everything if _is_secrets(r)]
    namespaced = [r for r in everything if not r.cluster_scoped and not _is_secrets(r)]
    cluster = [r for r in everything if r.cluster_scoped]
    objects: list[dict[str, Any]] = [_service_account(BOT_ACCOUNT, plan.bot_namespace)]
    if plan.executor == "kubernetes":
        objects.append(_service_account(RUNNER_ACCOUNT, plan.bot_namespace))
        objects += _role_and_binding("chaosbot-jobs", plan.bot_namespace, BOT_JOBS, bot)
    objects += _cluster_role_and_binding("chaosbot-discovery", [BOT_NODE_READS], bot)
    for namespace in plan.namespaces:
        objects += _role_and_binding("chaosbot-discovery", namespace, BOT_READS, bot)
    for namespace in plan.namespaces:
        objects += _role_and_binding("chaosbot-runs", namespace, namespaced, runner)
    for namespace in plan.certificate_namespaces:
        name = "chaosbot-runs-certificates"
        objects += _role_and_binding(name, namespace, secrets, runner)
    if cluster:
        objects += _cluster_role_and_binding("chaosbot-runs-nodes", cluster, runner)
    return objects


def rbac_yaml(plan: RbacPlan, *, command: str) -> str:
    """The manifests as one multi-document YAML, headed by how it was generated."""
    header = [
        "# Generated by chaosbot; do not edit by hand. Regenerate with:",
        f"#   {command}",
        "# after changing the namespace allowlist or the experiment library.",
        f"# Executor: {plan.executor}. Namespaces: {', '.join(plan.namespaces)}.",
        *textwrap.wrap(
            f"Experiments: {', '.join(t.id for t in plan.granted)}.",
            width=96,
            initial_indent="# ",
            subsequent_indent="#   ",
            break_on_hyphens=False,
        ),
    ]
    if plan.load:
        header.append("# Load profiles: enabled (runs create Jobs and ConfigMaps for them).")
    if any(t.id == CERTIFICATE_EXPERIMENT for t in plan.experiments) and not (
        plan.certificate_namespaces
    ):
        header += [
            f"# {CERTIFICATE_EXPERIMENT} is left out: no namespace was named for it",
            "# (--certificate-namespaces), so no identity may touch a Secret.",
        ]
    documents = [
        yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)
        for obj in rbac_manifests(plan)
    ]
    return "\n".join(header) + "\n---\n" + "---\n".join(documents)


def _is_secrets(rule: Rule) -> bool:
    return rule.api_group == "" and rule.resources == ("secrets",)


def _id(template: ExperimentTemplate) -> str:
    return template.id


def _subject(name: str, namespace: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def _metadata(name: str, namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["labels"] = dict(_LABELS)
    return metadata


def _service_account(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(name, namespace),
        "automountServiceAccountToken": True,
    }


def _role_and_binding(
    name: str, namespace: str, rules: Sequence[Rule], subject: dict[str, str]
) -> list[dict[str, Any]]:
    role = {
        "apiVersion": _RBAC,
        "kind": "Role",
        "metadata": _metadata(name, namespace),
        "rules": [r.as_manifest() for r in merge_rules(rules)],
    }
    binding = {
        "apiVersion": _RBAC,
        "kind": "RoleBinding",
        "metadata": _metadata(name, namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [subject],
    }
    return [role, binding]


def _cluster_role_and_binding(
    name: str, rules: Sequence[Rule], subject: dict[str, str]
) -> list[dict[str, Any]]:
    role = {
        "apiVersion": _RBAC,
        "kind": "ClusterRole",
        "metadata": _metadata(name),
        "rules": [r.as_manifest() for r in merge_rules(rules)],
    }
    binding = {
        "apiVersion": _RBAC,
        "kind": "ClusterRoleBinding",
        "metadata": _metadata(name),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [subject],
    }
    return [role, binding]
