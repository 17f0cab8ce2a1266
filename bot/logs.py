"""Logging set-up: text or one JSON object per line, with the ids of the work under way (the run,
the game day, the drill) on every record, and credentials scrubbed from every record before it
is written.

The ids live in context variables set where the work happens (`log_context`): the worker for
its run, the game-day and drill flows, the janitor for each run it handles. A context variable
belongs to its thread, so two runs handled by two threads of one process never mix their ids.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

__all__ = [
    "CONTEXT_FIELDS",
    "LOG_FORMATS",
    "ContextFilter",
    "RedactingFilter",
    "configure_logging",
    "log_context",
]

REDACTED = "[redacted]"
LOG_FORMATS = ("text", "json")
# The ids a record may carry, as the JSON fields (and LogRecord attributes) they become.
CONTEXT_FIELDS = ("run_id", "run_key", "gameday_id", "drill_id")

_EMPTY: Mapping[str, int | str] = MappingProxyType({})
_ids: ContextVar[Mapping[str, int | str]] = ContextVar("chaosbot_log_ids", default=_EMPTY)


@contextmanager
def log_context(
    *,
    run_id: int | None = None,
    run_key: str | None = None,
    gameday_id: int | None = None,
    drill_id: int | None = None,
) -> Iterator[None]:
    """While open, every record logged from this thread carries the ids given (and those of
    the context it is nested in)."""
    given = {"run_id": run_id, "run_key": run_key, "gameday_id": gameday_id, "drill_id": drill_id}
    merged = {**_ids.get(), **{k: v for k, v in given.items() if v is not None}}
    token = _ids.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _ids.reset(token)


class ContextFilter(logging.Filter):
    """Puts the ids of the work under way on each record (a field a record already has wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _ids.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class RedactingFilter(logging.Filter):
    """Replaces any known secret in a log record's message (and traceback) with [redacted]."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        # Formatters render the traceback from exc_text when exc_info is gone (the JSON one
        # would render exc_info again, secrets and all).
        record.exc_info = None
        for secret in self._secrets:
            message = message.replace(secret, REDACTED)
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, REDACTED)
        record.msg, record.args = message, None
        return True


def configure_logging(
    level: str,
    secrets: Iterable[str],
    *,
    log_format: str = "text",
    stream: TextIO | None = None,
) -> None:
    """Log to stderr (or `stream`) at `level` as text or JSON lines, with the ids of the work
    under way and secrets scrubbed from every record."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"the log format must be one of {', '.join(LOG_FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_json_formatter() if log_format == "json" else _text_formatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _text_formatter() -> logging.Formatter:
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def _json_formatter() -> logging.Formatter:
    """time, level, logger, message, then the ids (and any other extra the record has)."""
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        # ISO 8601 in UTC, to the microsecond.
        timestamp="time",
        json_ensure_ascii=False,
    )
