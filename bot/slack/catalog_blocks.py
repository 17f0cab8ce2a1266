"""Block Kit for the service catalogue: the onboarding confirmation, the list, the detail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.catalog.cluster import WorkloadReport
from bot.catalog.models import Service
from bot.catalog.risks import Risk, Suggestion
from bot.catalog.service import blind_window_of
from bot.catalog.spec import (
    BlindWindow,
    ServiceSpec,
    window_text,
)
from bot.config import BlastRadiusLimits
from bot.slack.blockkit import button, message, mrkdwn, plain_text
from bot.slack.blockkit import context as _context
from bot.slack.blockkit import section as _section
from bot.slack.ids import ActionId
from bot.slack.mrkdwn import escape
from bot.slack.steady_state import probe_line

__all__ = ["onboarded_message", "service_detail", "services_list"]

Blocks = list[dict[str, Any]]


def _people(user_ids: Sequence[str]) -> str:
    return ", ".join(f"<@{escape(u)}>" for u in user_ids) or "nobody"


def onboarded_message(
    spec: ServiceSpec,
    report: WorkloadReport | None,
    risks: Sequence[Risk],
    suggestions: Sequence[Suggestion],
    *,
    problem: str | None = None,
) -> dict[str, Any]:
    """The confirmation posted in the team channel once a service is registered."""
    name = escape(spec.name)
    blocks: Blocks = [
        _section(f":white_check_mark: *{name}* is onboarded to chaosbot."),
        _context(
            f"Team *{escape(spec.team)}* · Tier {spec.tier} · {spec.environment.value} · "
            f"owners {_people(spec.owners)}"
        ),
    ]
    if report is None:
        blocks.append(
            _section(f":warning: I could not look at it in the cluster: {escape(problem or '')}")
        )
    else:
        blocks.append(_section(_found(report)))
        if risks:
            lines = "\n".join(f"• {escape(r.summary)}" for r in risks)
            blocks.append(_section(f"*Risks*\n{lines}"))
        else:
            blocks.append(_section("*Risks*\nNone visible from the cluster."))
    if suggestions:
        lines = "\n".join(f"• `{s.experiment}`: {escape(s.why)}" for s in suggestions)
        blocks.append(_section(f"*Experiments to try first*\n{lines}"))
    blocks.append(_context(f"`/chaos service {name}` shows it; owners can edit it there."))
    return message(f"{name} is onboarded to chaosbot", blocks)


def _found(report: WorkloadReport) -> str:
    replicas = "?" if report.desired_replicas is None else str(report.desired_replicas)
    workload = (
        f"{report.workload.kind} `{escape(report.workload.name)}`"
        if report.workload
        else "no owning workload"
    )
    if report.pdbs:
        pdb = f"{', '.join(escape(p) for p in report.pdbs)} ({report.pdb_disruptions_allowed} disruptions allowed now)"
    else:
        pdb = "none"
    lines = [
        f"*What I found* in `{escape(report.namespace)}` with `{escape(report.selector)}`:",
        f"• Pods matched: {len(report.pods)} ({report.ready_pods} ready); {workload}, {replicas} replicas desired",
        f"• PodDisruptionBudget: {pdb}",
    ]
    for c in report.containers:
        probes = ", ".join(
            label
            for label, present in (("readiness", c.readiness_probe), ("liveness", c.liveness_probe))
            if present
        )
        lines.append(
            f"• Container `{escape(c.name)}`: probes {probes or 'none'}; "
            f"requests cpu {c.cpu_request or '-'} / memory {c.memory_request or '-'}; "
            f"limits cpu {c.cpu_limit or '-'} / memory {c.memory_limit or '-'}"
        )
    zones = ", ".join(escape(z) for z in report.zones) or "unknown"
    lines.append(f"• Zones: {zones}")
    return "\n".join(lines)


def services_list(services: Sequence[Service], *, heading: str) -> dict[str, Any]:
    """`/chaos services`: one line per service with tier, compliance and owners."""
    if not services:
        text = f"{escape(heading)}: no services yet. `/chaos onboard` registers one."
        return message(text, [_section(text)])
    blocks: Blocks = [_section(f"*{escape(heading)}*")]
    for s in services:
        blocks.append(
            _section(
                f"*{escape(s.name)}*  ·  team {escape(s.team.name)}  ·  tier {s.tier}  ·  "
                f"compliance: not assessed yet\nowners {_people([o.slack_user_id for o in s.owners])}"
            )
        )
    return message(f"{escape(heading)}: {len(services)} services", blocks)


def _blind(window: BlindWindow | None) -> str:
    if window is None:
        return "off"
    holidays = (
        f", not on public holidays in {escape(window.holiday_country)}"
        if window.holiday_country
        else ""
    )
    experiments = (
        ", ".join(f"`{escape(e)}`" for e in window.experiments) or "none chosen, so no drill runs"
    )
    if window.freeze_windows:
        holidays += ", not " + ", ".join(window_text(a, b) for a, b in window.freeze_windows)
    return (
        f"{', '.join(window.weekdays)} {window.hours} ({escape(window.timezone)}){holidays} · "
        f"about one every {window.mean_days_between} workdays, at least "
        f"{window.min_spacing_hours} h apart · faults held {window.duration_minutes} min\n"
        f"*Experiments that may run blind*: {experiments}"
    )


def _blast_radius(service: Service, limits: BlastRadiusLimits, every_pod: Sequence[str]) -> str:
    """The service's cap, the platform's maximum when that is lower, and what a cap below 100%
    rules out."""
    cap, environment = service.blast_radius_percent, service.environment.value
    maximum = limits.of(environment)
    text = f"{cap}% of pods"
    if maximum < cap:
        text += (
            f", but this platform allows at most {maximum}% in {environment} "
            f"({BlastRadiusLimits.SETTING}), so {maximum}% applies"
        )
    if min(cap, maximum) < 100 and every_pod:
        listed = ", ".join(f"`{escape(e)}`" for e in every_pod)
        text += f" · experiments that disrupt every pod need 100%: {listed}"
    return text


def service_detail(
    service: Service,
    *,
    can_manage: bool,
    max_blast_radius: BlastRadiusLimits,
    every_pod: Sequence[str] = (),
) -> dict[str, Any]:
    """`/chaos service NAME`: everything about one service, with Edit/Offboard for its owners.

    `every_pod` are the ids of the library's experiments that disrupt every pod."""
    s = service
    target = (
        f"{s.workload_kind} `{escape(s.workload_name or '')}`"
        if s.workload_kind
        else f"`{escape(s.selector)}`"
    )
    probes = "\n".join(f"• {probe_line(p)}" for p in s.probes) or "• none"
    blind = _blind(blind_window_of(s))
    blocks: Blocks = [
        _section(
            f"*{escape(s.name)}*  ·  team {escape(s.team.name)}  ·  tier {s.tier}  ·  {s.environment.value}"
        ),
        _section(
            f"*Where*: `{escape(s.namespace)}` on {escape(s.cluster_context or 'the default cluster')}, {target}\n"
            f"*Owners*: {_people([o.slack_user_id for o in s.owners])}\n"
            f"*Game-day approvers besides the owners*: {_people(list(s.approvers)) if s.approvers else 'none'}"
            f" · team timezone {escape(s.team.timezone)}\n"
            f"*Blast radius cap*: {_blast_radius(s, max_blast_radius, every_pod)}\n"
            f"*Blind drills*: {blind}\n*Steady-state probes*:\n{probes}"
        ),
    ]
    if can_manage:
        blocks.append(
            {
                "type": "actions",
                "block_id": "service_actions",
                "elements": [
                    button(ActionId.EDIT_SERVICE, "Edit", s.name),
                    {
                        **button(ActionId.OFFBOARD_SERVICE, "Offboard", s.name, style="danger"),
                        "confirm": {
                            "title": plain_text(f"Offboard {s.name}?", limit=100),
                            "text": mrkdwn(
                                "No more experiments or drills will run against it. "
                                "Its history is kept."
                            ),
                            "confirm": plain_text("Offboard"),
                            "deny": plain_text("Keep it"),
                        },
                    },
                ],
            }
        )
    return message(f"{escape(s.name)}: tier {s.tier}, team {escape(s.team.name)}", blocks)
