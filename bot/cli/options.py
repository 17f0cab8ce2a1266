"""What several `chaosbot` commands share, declared once: their options (same flags, same help)
and their settings, with logging configured."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from typing import Any

from bot.config import Settings, load_settings
from bot.library.catalogue import ExperimentTemplate
from bot.library.render import coerce_parameter
from bot.logs import configure_logging

__all__ = [
    "add_actor",
    "add_file",
    "add_hold_seconds",
    "add_values",
    "configured_settings",
    "parameter_overrides",
]


def add_file(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """The required `-f/--file FILE` a command reads its declarations from."""
    parser.add_argument("-f", "--file", required=True, metavar="FILE", help=help)


def add_actor(parser: argparse.ArgumentParser) -> None:
    """`--actor NAME`: who the audit trail names (default: cli:$USER)."""
    parser.add_argument(
        "--actor",
        metavar="NAME",
        default=f"cli:{os.environ.get('USER') or 'unknown'}",
        help="who the audit trail names as making the change (default: %(default)s)",
    )


def add_values(parser: argparse.ArgumentParser, help: str) -> None:
    """An experiment's parameters, as repeatable `--set NAME=VALUE` (see parameter_overrides)."""
    parser.add_argument(
        "--set", dest="values", action="append", default=[], metavar="NAME=VALUE", help=help
    )


def add_hold_seconds(parser: argparse.ArgumentParser, default: float) -> None:
    """`--hold-seconds`: how long the experiment holds its fault."""
    parser.add_argument(
        "--hold-seconds",
        type=float,
        default=default,
        help=f"how long the fault is held (default: {default:g})",
    )


def parameter_overrides(template: ExperimentTemplate, values: Iterable[str]) -> dict[str, Any]:
    """The `--set NAME=VALUE` items as the template's typed parameter values."""
    overrides: dict[str, Any] = {}
    for item in values:
        name, _, text = item.partition("=")
        overrides[name] = coerce_parameter(template, name, text)
    return overrides


def configured_settings(*, quiet: bool = False) -> Settings:
    """The settings, with logging configured.

    `quiet` is for commands whose output is their result: the default level INFO becomes
    WARNING, so only problems are logged (CHAOSBOT_LOG_LEVEL=DEBUG still shows everything).
    """
    loaded = load_settings()
    level = "WARNING" if quiet and loaded.log_level == "INFO" else loaded.log_level
    configure_logging(level, loaded.secrets(), log_format=loaded.log_format)
    return loaded
