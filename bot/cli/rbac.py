"""`chaosbot rbac`: the least-privilege RBAC objects for the library and the allowlist, as YAML."""

from __future__ import annotations

import argparse
import os
import sys

from bot.cli.options import configured_settings
from bot.library.catalogue import load_catalogue
from bot.library.rbac import BOT_ACCOUNT, RbacPlan, RbacRefused, rbac_yaml

__all__ = ["add_parser", "rbac_command"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `rbac` command to the chaosbot parser."""
    rbac = subparsers.add_parser(
        "rbac",
        help="print the least-privilege RBAC objects (ServiceAccounts, Roles, bindings)",
        description="Print, as multi-document YAML for `kubectl apply -f -`, the RBAC objects "
        "chaosbot needs: read-only discovery for the bot, and for runs a Role in each allowed "
        "namespace holding exactly the API calls the enabled experiments declare (a "
        "ClusterRole for nodes only when a node experiment is enabled). Regenerate it after "
        "changing the allowlist or the library.",
    )
    rbac.add_argument(
        "--namespaces",
        metavar="A,B",
        help="the namespaces runs may disrupt (default: CHAOSBOT_ALLOWED_NAMESPACES)",
    )
    rbac.add_argument(
        "--executor",
        choices=("local", "kubernetes"),
        default=os.environ.get("CHAOSBOT_EXECUTOR") or "local",
        help="local: runs are child processes of the bot, which gets their Roles; kubernetes: "
        "runs are Jobs under the chaosbot-runner ServiceAccount (default: CHAOSBOT_EXECUTOR "
        "or local)",
    )
    rbac.add_argument(
        "--experiments",
        metavar="ID,...",
        help="the experiments to grant (default: CHAOSBOT_EXPERIMENTS, else every one)",
    )
    rbac.add_argument(
        "--bot-namespace",
        metavar="NS",
        default=os.environ.get("CHAOSBOT_NAMESPACE") or BOT_ACCOUNT,
        help="where the bot's ServiceAccounts live (default: CHAOSBOT_NAMESPACE or chaosbot)",
    )
    rbac.add_argument(
        "--certificate-namespaces",
        metavar="A,B",
        default="",
        help="namespaces where certificate-expiry may swap TLS Secrets (it needs Secrets "
        "access there; without any, it is left out and nothing may touch a Secret)",
    )
    rbac.add_argument(
        "--load-profiles",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let runs start their suite entry's load profile as a Job (and ConfigMap) in the "
        "allowed namespaces (default: CHAOSBOT_LOAD_PROFILES, else off)",
    )
    rbac.set_defaults(command=rbac_command)


def rbac_command(args: argparse.Namespace) -> int:
    """Print the RBAC YAML for the options given."""
    settings = configured_settings(quiet=True)
    namespaces = _names(args.namespaces) if args.namespaces else sorted(settings.allowed_namespaces)
    catalogue = load_catalogue(everything=True)
    wanted = _names(args.experiments) if args.experiments else None
    if wanted is None and settings.experiments is not None:
        wanted = sorted(settings.experiments)
    experiments = [catalogue.get(e) for e in wanted] if wanted else list(catalogue)
    try:
        plan = RbacPlan(
            namespaces=tuple(namespaces),
            executor=args.executor,
            experiments=tuple(experiments),
            bot_namespace=args.bot_namespace,
            certificate_namespaces=tuple(_names(args.certificate_namespaces)),
            load=settings.load_profiles if args.load_profiles is None else args.load_profiles,
        )
    except RbacRefused as exc:
        print(f"chaosbot: {exc}", file=sys.stderr)
        return 2
    every = len(plan.experiments) == len(catalogue)
    sys.stdout.write(rbac_yaml(plan, command=_command(plan, every=every)))
    return 0


def _names(text: str | None) -> list[str]:
    return sorted({n.strip() for n in (text or "").split(",") if n.strip()})


def _command(plan: RbacPlan, *, every: bool) -> str:
    """The command line that generates this plan again."""
    parts = ["chaosbot rbac", f"--namespaces {','.join(plan.namespaces)}"]
    parts.append(f"--executor {plan.executor}")
    if plan.bot_namespace != BOT_ACCOUNT:
        parts.append(f"--bot-namespace {plan.bot_namespace}")
    if not every:
        parts.append(f"--experiments {','.join(t.id for t in plan.experiments)}")
    if plan.certificate_namespaces:
        parts.append(f"--certificate-namespaces {','.join(plan.certificate_namespaces)}")
    if plan.load:
        parts.append("--load-profiles")
    return " ".join(parts)
