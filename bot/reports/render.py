"""A report written out: one self-contained HTML file (no external asset: the charts are data:
URIs, the style is inline) and the same in Markdown, from templates/reports/ in sandboxed,
StrictUndefined Jinja2 environments (HTML autoescaped; Markdown through `markdown_escape`)."""

from __future__ import annotations

import base64
import enum
import re
from collections import Counter
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from bot.reports.facts import Report
from bot.resources import templates_dir

__all__ = [
    "SECTIONS",
    "Format",
    "markdown_code",
    "markdown_escape",
    "render_report",
    "summary_line",
]

# The report's sections, in order: each is a heading of both formats.
SECTIONS = (
    "Summary",
    "Plan and approvals",
    "Experiments",
    "Steady state",
    "Halts",
    "Leftover check",
    "Who responded",
    "Findings and action items",
)


class Format(enum.StrEnum):
    HTML = "html"
    MARKDOWN = "md"


# Markdown's inline syntax, and what would start raw HTML or an entity.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def markdown_escape(value: Any) -> str:
    """Text shown as itself in Markdown: its syntax characters escaped, `<` and `&` as entities
    (no raw HTML gets through), on one line (it may sit in a table cell)."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def markdown_code(value: Any) -> Markup:
    """A Markdown code span of the text as it is (nothing in a code span is markup), fenced
    with more backticks than any run of them inside."""
    # A pipe would end a table cell even inside a code span (GitHub's tables).
    text = " ".join(str(value).split()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    # Markup only tells finalize not to escape it: a code span shows its text as it is.
    return Markup(f"{fence}{pad}{text}{pad}{fence}")  # noqa: S704


def _finalize_markdown(value: Any) -> Any:
    if isinstance(value, Markup):
        return value
    return markdown_escape(value)


def _when(value: datetime | None, timezone: str) -> str:
    """`2026-12-01 10:00:05 CET` on the team's clocks; an em dash for no time."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def _number(value: float | None) -> str:
    if value is None:
        return "error"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@cache
def _environment(directory: Path, kind: Format) -> SandboxedEnvironment:
    markdown = kind is Format.MARKDOWN
    env = SandboxedEnvironment(
        loader=FileSystemLoader(directory),
        undefined=StrictUndefined,
        autoescape=not markdown,
        finalize=_finalize_markdown if markdown else None,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(seconds=_seconds, number=_number, data_uri=_data_uri, code=markdown_code)
    return env


def render_report(report: Report, kind: Format) -> str:
    """The report in `kind`: a whole HTML document, or a Markdown one."""
    env = _environment(templates_dir(), kind)
    template = env.get_template(f"reports/report.{kind.value}.j2")
    return template.render(
        report=report,
        sections=SECTIONS,
        summary=summary_line(report),
        when=lambda value: _when(value, report.timezone),
    )


def summary_line(report: Report) -> str:
    """One line (plain text) saying how it went: the outcomes, the halts, the findings."""
    what = (
        f"Game day {report.key} of {report.service}"
        if report.kind == "game day"
        else f"Run {report.key} ({report.runs[0].experiment}) of {report.service}"
    )
    outcomes = Counter(run.status.replace("_", " ") for run in report.runs)
    counted = ", ".join(f"{n} {status}" for status, n in sorted(outcomes.items()))
    parts = [
        f"{len(report.runs)} experiment{_s(len(report.runs))} ({counted})"
        if report.runs
        else "nothing was injected",
        f"{len(report.halts)} halt{_s(len(report.halts))}" if report.halts else "no halts",
        _findings_part(report),
    ]
    return f"{what} {report.status}: " + "; ".join(parts) + "."


def _findings_part(report: Report) -> str:
    findings, items = len(report.findings), len(report.action_items)
    if not findings:
        return "no findings"
    open_items = sum(1 for i in report.action_items if i.status == "open")
    text = f"{findings} finding{_s(findings)}"
    if items:
        text += f", {items} action item{_s(items)} ({open_items} open)"
    return text


def _s(count: int) -> str:
    return "" if count == 1 else "s"
