"""Where the files that ship beside the code live: templates/ and experiments/.

In a wheel they are packaged inside `bot/` (see pyproject.toml); in a source checkout or an
editable install they are the top-level folders of the repository.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["experiments_dir", "templates_dir"]

_PACKAGE = Path(__file__).resolve().parent


# Where they are does not change while the process runs; a lookup per Slack answer (a stat
# each) was a seventh of the time `chaosbot serve` spent answering `/chaos help`.
@cache
def _locate(packaged: str, top_level: str) -> Path:
    inside = _PACKAGE / packaged
    if inside.is_dir():
        return inside
    return _PACKAGE.parent / top_level


def templates_dir() -> Path:
    """The folder of Jinja2 templates."""
    return _locate("_templates", "templates")


def experiments_dir() -> Path:
    """The folder of the experiment library."""
    return _locate("_experiments", "experiments")
