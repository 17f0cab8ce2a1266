"""Jinja2 rendering of Slack text: sandboxed, StrictUndefined, mrkdwn-escaped."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from bot.resources import templates_dir
from bot.slack.mrkdwn import escape

__all__ = ["render"]


def _finalize(value: Any) -> Any:
    # Every value printed into a template is escaped unless it was marked safe with |safe.
    if isinstance(value, Markup):
        return value
    return escape(str(value))


@cache
def _environment(directory: Path) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(directory),
        undefined=StrictUndefined,
        autoescape=False,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        # Shipped templates do not change under a running bot: no stat of the file per render.
        auto_reload=False,
    )
    env.filters["mrkdwn"] = escape
    return env


def render(name: str, /, **context: Any) -> str:
    """Render templates/<name> with the given context."""
    return _environment(templates_dir()).get_template(name).render(**context).strip()
