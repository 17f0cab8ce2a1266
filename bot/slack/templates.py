"""Jinja2 rendering of Slack text: sandboxed, StrictUndefined, mrkdwn-escaped."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from bot.resources import templates_dir
from bot.slack.mrkdwn import escape

__all__ = ["render"]

_TEMPLATES = templates_dir()


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


@cache
def _template(directory: Path, name: str) -> Template:
    # Compiled once per process: the files ship with the code and do not change under it.
    return _environment(directory).get_template(name)


def render(name: str, /, **context: Any) -> str:
    """Render templates/<name> with the given context."""
    return _template(_TEMPLATES, name).render(**context).strip()
