"""The checks of one field of a service declaration: each reads a value from a raw mapping and
records a FieldError, named by the field's path ("probes[0].url"), when it is not acceptable."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from bot.catalog.spec import SLACK_USER, FieldError

__all__ = ["MAX_SELECTOR", "FieldChecker", "has_error"]

MAX_SELECTOR = 1024  # the column's size
MAX_TIMEZONE = 64  # the teams column's size; no IANA name is longer
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class FieldChecker:
    """Reads fields of a raw mapping, recording a FieldError (its path under `prefix`) for each bad
    one."""

    def __init__(self, raw: Mapping[str, Any], errors: list[FieldError], prefix: str = "") -> None:
        self.raw = raw
        self.errors = errors
        self.prefix = prefix

    def path(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, message: str) -> None:
        self.errors.append(FieldError(self.path(key), message))

    def dns_label(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None or value == "":
            self.fail(key, "is required")
            return None
        if not isinstance(value, str) or not _DNS_LABEL.fullmatch(value):
            self.fail(
                key,
                f"{value!r} is not a valid name: use at most 63 lowercase letters, digits and "
                "'-', starting and ending with a letter or digit (RFC 1123)",
            )
            return None
        return value

    def optional_str(self, key: str, pattern: re.Pattern[str], what: str) -> str | None:
        value = self.raw.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not pattern.fullmatch(value):
            self.fail(key, f"{value!r} is not {what}")
            return None
        return value

    def timezone(self, key: str, *, required: bool) -> str | None:
        """An IANA timezone name; left out (or empty) is an error only when `required`."""
        value = self.raw.get(key)
        if not required and (value is None or value == ""):
            return None
        name = "" if value is None else str(value).strip()
        if not _is_timezone(name):
            self.fail(key, f"{name!r} is not an IANA timezone such as Europe/Berlin")
            return None
        return name

    def integer(self, key: str, low: int, high: int, *, default: int | None = None) -> int | None:
        """A whole number in low..high; left out (or null) it is `default`, or an error."""
        value = self.raw.get(key)
        if value is None:
            value = default
        if value is None:
            self.fail(key, "is required")
            return None
        if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"{value!r} is not a whole number")
            return None
        if not low <= value <= high:
            self.fail(key, f"must be between {low} and {high}, got {value}")
            return None
        return value

    def child(self, key: str) -> FieldChecker | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail(key, "must be a mapping")
            return None
        return FieldChecker(value, self.errors, f"{self.path(key)}.")

    def items(self, key: str) -> list[tuple[int, Any]]:
        value = self.raw.get(key)
        if value is None:
            return []
        if isinstance(value, str) or not isinstance(value, Sequence):
            self.fail(key, "must be a list")
            return []
        return list(enumerate(value))

    def user_id(self, key: str, value: object) -> str | None:
        """A Slack user id (`value`, one item of the list at `key`)."""
        if isinstance(value, str) and SLACK_USER.fullmatch(value):
            return value
        self.fail(key, f"{value!r} is not a Slack user id like U0123ABCD")
        return None

    def holiday_country(self, key: str) -> str | None:
        """An ISO 3166-1 alpha-2 code of a country whose public holidays chaosbot knows."""
        value = self.raw.get(key)
        if value is None or value == "":
            return None
        code = value.strip().upper() if isinstance(value, str) else ""
        if code not in _holiday_countries():
            self.fail(
                key,
                f"{value!r} is not a country whose public holidays chaosbot knows: give its "
                "two-letter ISO 3166-1 code, such as DE or US",
            )
            return None
        return code


def has_error(errors: list[FieldError], *prefixes: str) -> bool:
    return any(e.path.startswith(prefixes) for e in errors)


@cache
def _holiday_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes of the countries the holidays package has calendars of."""
    return frozenset(holidays.list_supported_countries(include_aliases=False))


def _is_timezone(name: str) -> bool:
    if not name or len(name) > MAX_TIMEZONE:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # No such zone, not a plain relative name ("../x"), a folder ("Europe") or not a zone file.
        return False
    return True
