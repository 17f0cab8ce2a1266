"""What every modal handler needs: the idempotency key of a submitted view, what each modal
carries in its private_metadata (written and read in this one place), and its field errors placed
on their blocks."""

from __future__ import annotations

import copy
import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.errors import ChaosbotError
from bot.slack.blockkit import (
    VIEW_BLOCKS,
    context,
    fit_blocks,
    plain_text,
    private_metadata,
    section,
)

__all__ = [
    "FindingsModal",
    "GameDayModal",
    "ParametersModal",
    "Reviewing",
    "ServiceModal",
    "block_errors",
    "notice_modal",
    "problem_sentence",
    "refilled",
    "view_key",
]


def view_key(view: dict[str, Any]) -> str:
    """The key that makes one submission of one view count once (Slack retries, double clicks)."""
    return f"view:{view['id']}:{view.get('callback_id', '')}"


class _OutOfDate(ChaosbotError):
    """A view's private_metadata this release cannot read: the modal was opened by an older one."""

    def __init__(self) -> None:
        super().__init__("This form is out of date: open it again.")


def _fields(raw: str | None) -> dict[str, Any]:
    """The JSON object a modal's private_metadata holds (nothing: an empty one)."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        raise _OutOfDate() from None
    if not isinstance(data, dict):
        raise _OutOfDate()
    return data


@dataclass(frozen=True)
class ServiceModal:
    """The onboarding modal's private_metadata: the service it edits (None: a new one)."""

    service: str | None = None

    def dump(self) -> str:
        return private_metadata(json.dumps({"service": self.service} if self.service else {}))

    @classmethod
    def load(cls, raw: str | None) -> ServiceModal:
        return cls(_fields(raw).get("service"))


@dataclass(frozen=True)
class ParametersModal:
    """The suite parameters modal's private_metadata: the entry, the message it came from, and
    whether the form shows the entry's load profile (`with_load`) and keeps a stored inline script
    too long to show (`keep_script`)."""

    service: str
    experiment: str
    response_url: str | None = None
    with_load: bool = False
    keep_script: bool = False

    def dump(self) -> str:
        fields: dict[str, Any] = {
            "service": self.service,
            "experiment": self.experiment,
            "response_url": self.response_url,
        }
        if self.with_load:
            fields.update(load=True, keep_script=self.keep_script)
        return private_metadata(json.dumps(fields))

    @classmethod
    def load(cls, raw: str | None) -> ParametersModal:
        data = _fields(raw)
        try:
            return cls(
                str(data["service"]),
                str(data["experiment"]),
                data.get("response_url"),
                with_load=bool(data.get("load")),
                keep_script=bool(data.get("keep_script")),
            )
        except KeyError:
            raise _OutOfDate() from None


@dataclass(frozen=True)
class GameDayModal:
    """A game-day modal's private_metadata: the service, the game day (once there is one), and
    the message the modal was opened from."""

    service: str
    gameday: str | None = None
    response_url: str | None = None

    def dump(self) -> str:
        return private_metadata(
            json.dumps({"s": self.service, "g": self.gameday, "r": self.response_url})
        )

    @classmethod
    def load(cls, raw: str | None) -> GameDayModal:
        data = _fields(raw)
        return cls(str(data.get("s") or ""), data.get("g"), data.get("r"))


class Reviewing(enum.StrEnum):
    """What a findings form reviews."""

    DRILL = "drill"
    GAMEDAY = "gameday"
    RUN = "run"


@dataclass(frozen=True)
class FindingsModal:
    """The findings form's private_metadata: what it reviews (a drill, a game day or a run, by
    key), and the channel it was opened from."""

    reviewing: Reviewing
    ref: str
    channel: str | None = None

    def dump(self) -> str:
        return private_metadata(
            json.dumps({"k": self.reviewing.value, "r": self.ref, "c": self.channel})
        )

    @classmethod
    def load(cls, raw: str | None) -> FindingsModal:
        if raw and not raw.startswith("{"):
            # A drill's form opened before game days and runs had one: "drill key|channel".
            drill, _, channel = raw.partition("|")
            return cls(Reviewing.DRILL, drill, channel or None)
        data = _fields(raw)
        try:
            return cls(Reviewing(data["k"]), str(data["r"]), data.get("c"))
        except (KeyError, ValueError):
            raise _OutOfDate() from None


def block_errors(problems: Iterable[tuple[str, str]]) -> dict[str, str]:
    """(block id, problem) pairs as `response_action: errors` wants them: the first per block."""
    shown: dict[str, str] = {}
    for block, problem in problems:
        shown.setdefault(block, problem)
    return shown


def problem_sentence(problem: str) -> str:
    """A field's problem as a sentence; Slack shows it under the field its label names already."""
    if problem.startswith("is required"):
        return "This is required."
    return problem[:1].upper() + problem[1:]


# What a submitted view carries that a view sent back to Slack may carry too.
_VIEW_FIELDS = ("type", "callback_id", "title", "submit", "close", "private_metadata")
MODAL_TITLE = 24


def notice_modal(callback_id: str, title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (mrkdwn `text`, already escaped): no submit button."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain_text(title, limit=MODAL_TITLE),
        "close": plain_text("Close", limit=MODAL_TITLE),
        "blocks": [section(text)],
    }


def refilled(view: dict[str, Any], problems: dict[str, str], *, heading: str) -> dict[str, Any]:
    """A submitted view sent back as it was filled in, each problem (by block id, mrkdwn,
    escaped) under its block: how a form refused after its ack keeps what the person typed."""
    values = (view.get("state") or {}).get("values") or {}
    blocks: list[dict[str, Any]] = [context(heading)]
    for block in view.get("blocks") or []:
        block = copy.deepcopy(block)
        answers = values.get(block.get("block_id"), {})
        for element in [block.get("element"), *(block.get("elements") or [])]:
            if isinstance(element, dict) and element.get("action_id") in answers:
                _set_initial(element, answers[element["action_id"]])
        blocks.append(block)
        problem = problems.get(str(block.get("block_id")))
        if problem is not None:
            blocks.append(context(f":warning: {problem}"))
    refill = {k: view[k] for k in _VIEW_FIELDS if k in view}
    refill["blocks"] = fit_blocks(blocks, VIEW_BLOCKS)
    return refill


def _set_initial(element: dict[str, Any], answer: dict[str, Any]) -> None:
    """Slack's state names a value `value` or `selected_X`; the element takes `initial_X`."""
    for name, value in answer.items():
        if value in (None, [], ""):
            continue
        if name == "value":
            element["initial_value"] = value
        elif name.startswith("selected_"):
            element["initial_" + name.removeprefix("selected_")] = value
