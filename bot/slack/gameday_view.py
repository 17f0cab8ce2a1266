"""The game-day modals: ask for one, move one, reject one; and reading what was submitted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.gamedays.models import GameDay
from bot.gamedays.timing import LocalTimeInvalid, to_instant, zone
from bot.slack import views
from bot.slack.blockkit import input_block as _input
from bot.slack.blockkit import option as _option
from bot.slack.blockkit import plain_text as _text
from bot.slack.blockkit import section
from bot.slack.ids import CallbackId
from bot.slack.ids import GameDayBlock as B
from bot.slack.mrkdwn import escape
from bot.slack.views import GameDayModal

__all__ = [
    "DURATIONS",
    "HOLDS",
    "block_errors",
    "read_reason",
    "read_request",
    "read_schedule",
    "reject_modal",
    "request_modal",
    "reschedule_modal",
]

DURATIONS = (15, 30, 60, 90, 120, 180, 240, 360, 480)  # minutes
HOLDS = (10, 30, 60, 120, 300, 600, 900, 1800)  # seconds
DEFAULT_DURATION = 60
DEFAULT_HOLD = 300
DEFAULT_START = time(10, 0)
_FIELD_BLOCKS = {
    "experiments": B.EXPERIMENTS,
    "date": B.DATE,
    "time": B.TIME,
    "duration": B.DURATION,
    "hold": B.HOLD,
    "notes": B.NOTES,
    "reason": B.REASON,
}


def _minutes_label(minutes: int) -> str:
    return (
        f"{minutes} minutes"
        if minutes < 60
        else f"{minutes / 60:g} hour" + ("s" if minutes > 60 else "")
    )


def _seconds_label(seconds: int) -> str:
    return (
        f"{seconds} seconds"
        if seconds < 60
        else f"{seconds // 60} minute" + ("s" if seconds >= 120 else "")
    )


def _select(values: Sequence[int], initial: int, label: Any, placeholder: str) -> dict[str, Any]:
    options = [_option(str(v), label(v)) for v in values]
    chosen = next((o for o in options if o["value"] == str(initial)), options[0])
    return {
        "type": "static_select",
        "placeholder": _text(placeholder),
        "options": options,
        "initial_option": chosen,
    }


def _when_blocks(timezone: str, day: date, at: time, duration: int) -> list[dict[str, Any]]:
    return [
        _input(
            B.DATE,
            "Date",
            {"type": "datepicker", "initial_date": day.isoformat()},
            hint=f"In the team's timezone, {timezone}.",
        ),
        _input(
            B.TIME,
            f"Start time ({timezone})",
            {"type": "timepicker", "initial_time": at.strftime("%H:%M")},
        ),
        _input(
            B.DURATION,
            "Duration",
            _select(DURATIONS, duration, _minutes_label, "How long to book"),
            hint="The time the team sets aside; the experiments run one after another in it.",
        ),
    ]


def request_modal(
    *,
    service: str,
    suite: Sequence[tuple[str, str]],
    timezone: str,
    now: datetime,
    response_url: str | None = None,
) -> dict[str, Any]:
    """`/chaos gameday SERVICE`: experiments from its suite, when, how long, notes."""
    tomorrow = now.astimezone(zone(timezone)).date() + timedelta(days=1)
    options = [_option(experiment, title) for experiment, title in suite]
    return {
        "type": "modal",
        "callback_id": CallbackId.REQUEST_GAMEDAY.value,
        "private_metadata": GameDayModal(service, response_url=response_url).dump(),
        "title": _text("Game day"),
        "submit": _text("Ask for approval"),
        "close": _text("Cancel"),
        "blocks": [
            section(
                f"A game day for *{escape(service)}*. Its owners approve it before it runs; "
                "each experiment is rolled back whatever happens."
            ),
            _input(
                B.EXPERIMENTS,
                "Experiments",
                {
                    "type": "multi_static_select",
                    "placeholder": _text("From the service's suite"),
                    "options": options,
                    "initial_options": options,
                },
                hint="They run in this order, one at a time.",
            ),
            *_when_blocks(timezone, tomorrow, DEFAULT_START, DEFAULT_DURATION),
            _input(
                B.HOLD,
                "Hold each fault for",
                _select(HOLDS, DEFAULT_HOLD, _seconds_label, "How long each fault stays"),
            ),
            _input(
                B.NOTES,
                "Notes",
                {"type": "plain_text_input", "multiline": True, "max_length": 2000},
                optional=True,
                hint="What the team wants to learn, who watches which dashboard.",
            ),
        ],
    }


def reschedule_modal(gameday: GameDay, *, response_url: str | None = None) -> dict[str, Any]:
    local = gameday.starts_at.astimezone(zone(gameday.timezone))
    return {
        "type": "modal",
        "callback_id": CallbackId.RESCHEDULE_GAMEDAY.value,
        "private_metadata": GameDayModal(
            gameday.service.name, gameday.key, response_url=response_url
        ).dump(),
        "title": _text("Move game day"),
        "submit": _text("Move it"),
        "close": _text("Cancel"),
        "blocks": [
            section(
                f"Game day `{gameday.key}` for *{escape(gameday.service.name)}*. Moving it "
                "asks for every approval again."
            ),
            *_when_blocks(
                gameday.timezone,
                local.date(),
                local.time().replace(second=0, microsecond=0),
                gameday.duration_minutes,
            ),
        ],
    }


def reject_modal(gameday: GameDay) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.REJECT_GAMEDAY.value,
        "private_metadata": GameDayModal(gameday.service.name, gameday.key).dump(),
        "title": _text("Reject game day"),
        "submit": _text("Reject"),
        "close": _text("Back"),
        "blocks": [
            _input(
                B.REASON,
                f"Why reject {gameday.key}?",
                {"type": "plain_text_input", "multiline": True, "max_length": 500},
                hint="The requester sees this in the game day's thread.",
            )
        ],
    }


# --- reading submissions ----------------------------------------------------------------------


def _element(values: Mapping[str, Any], block: B) -> dict[str, Any]:
    element = values.get(block.value, {}).get(block.value)
    return element if isinstance(element, dict) else {}


def _selected_int(values: Mapping[str, Any], block: B) -> int | None:
    option = _element(values, block).get("selected_option") or {}
    value = option.get("value") if isinstance(option, dict) else None
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else None


@dataclass(frozen=True)
class Schedule:
    starts_at: datetime
    duration_minutes: int


def read_schedule(
    values: Mapping[str, Any], timezone: str
) -> tuple[Schedule | None, dict[str, str]]:
    """The start (an instant) and the duration, or the problems per field."""
    problems: dict[str, str] = {}
    raw_date = _element(values, B.DATE).get("selected_date")
    raw_time = _element(values, B.TIME).get("selected_time")
    day: date | None = None
    at: time | None = None
    try:
        day = date.fromisoformat(str(raw_date))
    except ValueError:
        problems["date"] = "Pick a date."
    try:
        at = time.fromisoformat(str(raw_time))
    except ValueError:
        problems["time"] = "Pick a time."
    duration = _selected_int(values, B.DURATION)
    if duration is None:
        problems["duration"] = "Pick a duration."
    starts_at: datetime | None = None
    if day is not None and at is not None:
        try:
            starts_at = to_instant(day, at, timezone)
        except LocalTimeInvalid as exc:
            problems["time"] = str(exc)
    if problems or starts_at is None or duration is None:
        return None, problems
    return Schedule(starts_at, duration), {}


def read_request(
    values: Mapping[str, Any], timezone: str
) -> tuple[tuple[tuple[str, ...], Schedule, int, str] | None, dict[str, str]]:
    """Experiments, schedule, hold seconds and notes; or the problems per field."""
    schedule, problems = read_schedule(values, timezone)
    picked = _element(values, B.EXPERIMENTS).get("selected_options") or []
    experiments = tuple(str(o.get("value")) for o in picked if isinstance(o, dict))
    if not experiments:
        problems["experiments"] = "Pick at least one experiment."
    hold = _selected_int(values, B.HOLD)
    if hold is None:
        problems["hold"] = "Pick how long each fault is held."
    notes = _element(values, B.NOTES).get("value")
    if problems or schedule is None or hold is None:
        return None, problems
    return (experiments, schedule, hold, str(notes or "")), {}


def read_reason(values: Mapping[str, Any]) -> str:
    return str(_element(values, B.REASON).get("value") or "")


def block_errors(problems: Mapping[str, str]) -> dict[str, str]:
    """Field problems as `response_action: errors` wants them, each on its block."""
    return views.block_errors(
        (_FIELD_BLOCKS.get(name, B.EXPERIMENTS).value, message)
        for name, message in problems.items()
    )
