"""Block Kit for the experiment library and for a service's suite (pure builders).

Messages stay within Slack's limit of 50 blocks: the library is shown one category at a time,
and a list that would not fit ends with a line saying how many entries were left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.catalog.models import Service, SuiteEntry
from bot.catalog.suite import effective_parameters, parameter_problems
from bot.errors import ChaosbotError
from bot.library.catalogue import Catalogue, ExperimentTemplate, Parameter
from bot.load.profile import LoadProfile
from bot.slack.blockkit import (
    MAX_OPTIONS,
    MESSAGE_BLOCKS,
    button,
    mrkdwn,
    option,
    plain_text,
)
from bot.slack.blockkit import context as _context
from bot.slack.blockkit import section as _section
from bot.slack.ids import ActionId
from bot.slack.mrkdwn import escape

__all__ = [
    "MAX_BLOCKS",
    "SuiteRef",
    "added_message",
    "category_label",
    "library_category",
    "library_overview",
    "suite_message",
]

MAX_BLOCKS = MESSAGE_BLOCKS
_RISK = {"low": ":large_green_circle:", "medium": ":large_orange_circle:", "high": ":red_circle:"}

Block = dict[str, Any]


@dataclass(frozen=True)
class SuiteRef:
    """A service's suite entry, as carried in a button's or an option's value."""

    service: str
    experiment: str

    @property
    def value(self) -> str:
        # Service names and experiment ids never contain a space.
        return f"{self.service} {self.experiment}"

    @classmethod
    def parse(cls, value: str) -> SuiteRef:
        service, _, experiment = value.partition(" ")
        if not service or not experiment:
            raise ChaosbotError("That button is out of date: run the command again.")
        return cls(service, experiment)


def category_label(category: str) -> str:
    """A category as people read it: "dns" -> "DNS", "disaster-recovery" -> "Disaster recovery"."""
    return "DNS" if category == "dns" else category.replace("-", " ").capitalize()


def library_overview(catalogue: Catalogue) -> dict[str, Any]:
    """`/chaos experiments`: the categories, with a picker that shows one of them."""
    by_category = _by_category(catalogue)
    lines = "\n".join(
        f"• *{category_label(c)}* ({len(ts)}): {', '.join(escape(t.title) for t in ts)}"
        for c, ts in by_category.items()
    )
    blocks: list[Block] = [
        _section(
            f"*Experiment library*: {len(catalogue)} experiments in {len(by_category)} "
            "categories. Pick a category to see what each one tests and add it to a "
            "service's suite.",
            accessory=_category_picker(by_category, None),
        ),
        _section(lines),
    ]
    every_pod = [f"`{t.id}`" for t in catalogue if t.every_pod]
    if every_pod:
        blocks.append(
            _context(
                f":warning: *Every pod*: {', '.join(every_pod)} disrupt every pod of a service, "
                "so they run only where its blast-radius cap is 100%."
            )
        )
    blocks.append(_context("Or name one: `/chaos experiments network`."))
    return {"text": f"Experiment library: {len(catalogue)} experiments", "blocks": blocks}


def library_category(
    catalogue: Catalogue, category: str, *, services: Sequence[Service]
) -> dict[str, Any]:
    """One category: each experiment with its risk, what it tests and needs, and Add to suite.

    `services` are those the person may change; the Add to suite menu offers the ones whose
    suite does not have the experiment yet.
    """
    by_category = _by_category(catalogue)
    templates = by_category.get(category, [])
    label = category_label(category)
    heading = _section(
        f"*{escape(label)}* experiments: {len(templates)}",
        accessory=_category_picker(by_category, category),
    )
    entries = [_library_entry(t, services) for t in templates]
    if services:
        footer = (
            "Choosing a service in *Add to suite…* adds the experiment with its default "
            "parameters; `/chaos suite SERVICE` changes them."
        )
    else:
        footer = "You own no service to add these to yet: `/chaos onboard` registers one."
    blocks = _fit([heading], entries, _context(footer), noun="experiments")
    return {"text": f"{escape(label)} experiments: {len(templates)}", "blocks": blocks}


def suite_message(
    service: Service,
    catalogue: Catalogue,
    *,
    can_manage: bool,
    notice: str | None = None,
    load_profiles: bool = False,
) -> dict[str, Any]:
    """`/chaos suite SERVICE`: each entry with its parameters and load profile; Edit and Remove
    for its managers (Edit on every entry when `load_profiles` lets them set a load)."""
    name = escape(service.name)
    count = len(service.suite)
    head = [_section(notice)] if notice else []
    if not service.suite:
        text = f"*{name}* has no experiments in its suite yet."
        hint = "`/chaos experiments` shows the library; owners add experiments from there."
        return {
            "text": f"{name} has no experiments in its suite yet",
            "blocks": [*head, _section(text), _context(hint)],
        }
    plural = "experiment" if count == 1 else "experiments"
    head.append(
        _section(f"*Suite of {name}*  ·  team {escape(service.team.name)}  ·  {count} {plural}")
    )
    entries = [
        _suite_entry(
            service.name,
            e,
            catalogue,
            can_manage=can_manage,
            editable_load=load_profiles,
        )
        for e in service.suite
    ]
    if can_manage:
        footer = "`/chaos experiments` adds more from the library."
    else:
        footer = f"Only the owners of {name} (or its team's admins) can change its suite."
    blocks = _fit(head, entries, _context(footer), noun="entries")
    return {"text": f"Suite of {name}: {count} {plural}", "blocks": blocks}


def added_message(ref: SuiteRef, template: ExperimentTemplate, *, added: bool) -> dict[str, Any]:
    """The answer to Add to suite, with a button to set the parameters right away."""
    title, service = escape(template.title), escape(ref.service)
    if added:
        text = f":white_check_mark: Added *{title}* to the suite of *{service}*, with its default parameters."
    else:
        text = f"*{title}* is already in the suite of *{service}*."
    blocks = [
        _section(text),
        {"type": "actions", "elements": [_edit_button(ref)]},
        _context(f"`/chaos suite {service}` shows the whole suite."),
    ]
    return {"text": text, "blocks": blocks}


def _by_category(catalogue: Catalogue) -> dict[str, list[ExperimentTemplate]]:
    grouped: dict[str, list[ExperimentTemplate]] = {}
    for template in catalogue:  # category order, then id
        grouped.setdefault(template.category, []).append(template)
    return grouped


def _category_picker(
    by_category: Mapping[str, Sequence[ExperimentTemplate]], current: str | None
) -> Block:
    options = [option(c, f"{category_label(c)} ({len(ts)})") for c, ts in by_category.items()]
    picker: Block = {
        "type": "static_select",
        "action_id": ActionId.LIBRARY_CATEGORY.value,
        "placeholder": plain_text("Pick a category", limit=150),
        "options": options[:MAX_OPTIONS],
    }
    chosen = next((o for o in options if o["value"] == current), None)
    if chosen is not None:
        picker["initial_option"] = chosen
    return picker


def _library_entry(template: ExperimentTemplate, services: Sequence[Service]) -> list[Block]:
    lines = [
        _title_line(template),
        f"*Tests:* {escape(template.tests)}",
        f"*Watch:* {escape(template.watch)}",
        f"*Needs:* {escape('; '.join(template.prerequisites) or 'nothing special')}",
    ]
    if template.every_pod:
        lines.append(f":warning: *Every pod:* {escape(template.every_pod)}")
    having = [s.name for s in services if any(e.experiment == template.id for e in s.suite)]
    candidates = [s.name for s in services if s.name not in having]
    accessory = None
    if candidates:
        accessory = {
            "type": "static_select",
            "action_id": ActionId.ADD_TO_SUITE.value,
            "placeholder": plain_text("Add to suite…", limit=150),
            "options": [
                option(SuiteRef(name, template.id).value, name) for name in candidates[:MAX_OPTIONS]
            ],
        }
    details = [
        f"`{escape(name)}` {_show(p.default)}{_limits(p)}"
        for name, p in template.parameters.items()
    ]
    context = f"Parameters (defaults): {' · '.join(details) or 'none'}"
    if having:
        context += f"\nIn the suite of: {', '.join(escape(n) for n in having)}"
    return [_section("\n".join(lines), accessory=accessory), _context(context)]


def _suite_entry(
    service: str,
    entry: SuiteEntry,
    catalogue: Catalogue,
    *,
    can_manage: bool,
    editable_load: bool,
) -> list[Block]:
    experiment, stored = entry.experiment, entry.parameters
    ref = SuiteRef(service, experiment)
    template = catalogue.templates.get(experiment)
    if template is None:
        text = f":grey_question: `{escape(experiment)}` is no longer in the library; it cannot run."
        buttons = [_remove_button(ref, experiment)] if can_manage else []
    else:
        values = effective_parameters(template, stored)
        shown = " · ".join(
            f"`{escape(n)}` {_show(v)}{'' if n in stored else ' _(default)_'}"
            for n, v in values.items()
        )
        text = f"{_title_line(template)}\n{shown or 'No parameters.'}"
        problems = parameter_problems(template, stored)
        if problems:
            listed = "; ".join(f"`{escape(n)}` {escape(p)}" for n, p in problems.items())
            text += f"\n:warning: Stored values the library refuses: {listed}"
        if entry.load:
            text += f"\n{_load_line(LoadProfile.from_document(entry.load))}"
        buttons = []
        if can_manage and (template.parameters or editable_load):
            buttons.append(_edit_button(ref, load=editable_load))
        if can_manage:
            buttons.append(_remove_button(ref, template.title))
    blocks = [_section(text)]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return blocks


def _title_line(template: ExperimentTemplate) -> str:
    marker = _RISK.get(template.risk, "")
    reach = "  ·  every pod" if template.every_pod else ""
    return f"{marker} *{escape(template.title)}*  `{template.id}`  ·  {template.risk} risk{reach}"


def _load_line(profile: LoadProfile) -> str:
    """A load profile in brief: `Load: locust, 50 users, ramp-up 30 s`."""
    return (
        f":chart_with_upwards_trend: Load: {escape(profile.tool.value)}, "
        f"{profile.users} users, ramp-up {profile.ramp_up_seconds} s"
    )


def _edit_button(ref: SuiteRef, *, load: bool = False) -> Block:
    label = "Edit parameters and load" if load else "Edit parameters"
    return button(ActionId.EDIT_SUITE_PARAMETERS, label, ref.value)


def _remove_button(ref: SuiteRef, title: str) -> Block:
    return {
        "type": "button",
        "action_id": ActionId.REMOVE_FROM_SUITE.value,
        "text": plain_text("Remove"),
        "style": "danger",
        "value": ref.value,
        "confirm": {
            "title": plain_text("Remove it from the suite?", limit=100),
            "text": mrkdwn(
                f"*{escape(title)}* will no longer be part of {escape(ref.service)}'s "
                "game days and drills. Its parameters are forgotten."
            ),
            "confirm": plain_text("Remove"),
            "deny": plain_text("Keep it"),
        },
    }


def _fit(
    head: list[Block], entries: Iterable[list[Block]], footer: Block, *, noun: str
) -> list[Block]:
    """Head, as many whole entries as fit in one message, then the footer (or what was left)."""
    blocks = list(head)
    entries = list(entries)
    for index, entry in enumerate(entries):
        if len(blocks) + len(entry) + 1 > MAX_BLOCKS:
            left = len(entries) - index
            return [*blocks, _context(f"{left} more {noun} did not fit in one message.")]
        blocks.extend(entry)
    return [*blocks, footer]


def _limits(parameter: Parameter) -> str:
    if parameter.choices:
        return f" (one of {escape(', '.join(parameter.choices))})"
    return escape(parameter.bounds)


def _show(value: Any) -> str:
    return escape(json.dumps(value))
