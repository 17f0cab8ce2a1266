"""The marks a fault leaves on the cluster: the run label, when the fault expires, what it found.

Every write a fault makes goes through `created_metadata` (an object it creates) or `claim` (an
object it changes), so the marks, and the expiry they carry, are decided here only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chaoslib.exceptions import ActivityFailed

from bot.faults.args import RUN_ID_PATTERN, as_float, run_label_value
from bot.faults.kube import Obj

__all__ = [
    "CREATED",
    "DEFAULT_HOLD_SECONDS",
    "EXPIRES_AT",
    "GRACE_SECONDS",
    "ORIGINAL",
    "RUN_LABEL",
    "Mark",
    "claim",
    "claimed_by",
    "created_metadata",
    "expires_at_of",
    "is_created",
    "original_of",
    "release",
]

RUN_LABEL = "chaosbot.io/run-id"
ORIGINAL = "chaosbot.io/original"
CREATED = "chaosbot.io/created"
EXPIRES_AT = "chaosbot.io/expires-at"
# How long after the planned end of the hold a fault is considered abandoned: Chaos Mesh lifts
# its objects by themselves then (their `duration`), and the janitor sweeps everything else.
GRACE_SECONDS = 120
# The hold assumed when the experiment's configuration names none (an experiment written by
# hand): the longest chaosbot renders (bot.library.render.MAX_HOLD_SECONDS), so a fault is
# never swept while a longer run may still hold it.
DEFAULT_HOLD_SECONDS = 3600.0
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Mark:
    """Whose a fault's writes are and how long the run holds them: the label and the expiry."""

    run: str
    hold_seconds: float

    def __post_init__(self) -> None:
        if not RUN_ID_PATTERN.match(self.run):
            raise ValueError(f"run {self.run!r} is not a valid run label value")
        if not (math.isfinite(self.hold_seconds) and self.hold_seconds >= 0):
            raise ValueError(f"hold_seconds must be a number from 0, not {self.hold_seconds}")

    @classmethod
    def of(cls, run_id: Any, configuration: Mapping[str, Any] | None) -> Mark:
        """The mark of a provider chaoslib calls: its run, and the experiment's `hold_seconds`."""
        hold = (configuration or {}).get("hold_seconds")
        return cls.held(run_id, DEFAULT_HOLD_SECONDS if hold is None else hold)

    @classmethod
    def held(cls, run_id: Any, hold_seconds: Any) -> Mark:
        """The mark of a run holding its fault `hold_seconds` (a number or numeric text)."""
        hold = as_float(hold_seconds, "hold_seconds")
        if not (math.isfinite(hold) and hold >= 0):
            raise ActivityFailed(f"hold_seconds must be a number from 0, not {hold_seconds!r}")
        return cls(run_label_value(run_id), hold)

    @property
    def lifetime_seconds(self) -> int:
        """How long a write of this run may stay: the hold plus the grace, in whole seconds."""
        return math.ceil(self.hold_seconds) + GRACE_SECONDS

    def expires_at(self, now: datetime | None = None) -> str:
        """When a write made `now` (default: this moment) expires, in RFC 3339 UTC."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        expiry = moment.replace(microsecond=0) + timedelta(seconds=self.lifetime_seconds)
        if moment.microsecond:
            expiry += timedelta(seconds=1)  # rounded up: never earlier than hold + grace
        return expiry.strftime(_TIME_FORMAT)


def created_metadata(name: str, namespace: str | None, mark: Mark) -> Obj:
    """The metadata of an object a fault creates: its name, the run label, created, expiry."""
    metadata: Obj = {
        "name": name,
        "labels": {RUN_LABEL: mark.run},
        "annotations": {CREATED: "true", EXPIRES_AT: mark.expires_at()},
    }
    if namespace is not None:
        metadata["namespace"] = namespace
    return metadata


def claimed_by(obj: Obj) -> str | None:
    """The run that created or changed this object and has not removed or restored it yet."""
    labels = obj["metadata"].get("labels") or {}
    owner = labels.get(RUN_LABEL)
    return str(owner) if owner is not None else None


def claim(obj: Obj, mark: Mark, original: dict[str, Any]) -> None:
    """Label obj as changed by the mark's run, record what it had before and the expiry, in place.

    The first record wins, for the values and for the expiry: when the same run changes the
    object again, the value it finds is already the faulted one and must not replace the
    original, and the fault has been in place since the first change. An object another run
    holds is refused, so two experiments never fight over (and mis-restore) one object.
    """
    metadata = obj["metadata"]
    owner = claimed_by(obj)
    if owner not in (None, mark.run):
        what = f"{metadata.get('namespace', '')}/{metadata['name']}".lstrip("/")
        raise ActivityFailed(f"{what} is already changed by chaosbot run {owner}; not touching it")
    annotations = metadata.setdefault("annotations", {})
    recorded = original_of(obj) if owner == mark.run else {}
    for key, value in original.items():
        recorded.setdefault(key, value)
    if owner != mark.run or EXPIRES_AT not in annotations:
        annotations[EXPIRES_AT] = mark.expires_at()
    metadata.setdefault("labels", {})[RUN_LABEL] = mark.run
    annotations[ORIGINAL] = json.dumps(recorded, sort_keys=True)


def is_created(obj: Obj) -> bool:
    """Whether chaosbot created this object (the sweep deletes it) rather than changed it."""
    return (obj["metadata"].get("annotations") or {}).get(CREATED) == "true"


def original_of(obj: Obj) -> dict[str, Any]:
    """What a claimed object had before the fault (empty if nothing was recorded)."""
    text = (obj["metadata"].get("annotations") or {}).get(ORIGINAL)
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def expires_at_of(obj: Obj) -> datetime | None:
    """When the fault on this object expires (None: no expiry recorded, or not readable)."""
    text = (obj["metadata"].get("annotations") or {}).get(EXPIRES_AT)
    if not text:
        return None
    try:
        moment = datetime.strptime(str(text), _TIME_FORMAT)
    except ValueError:
        try:
            moment = datetime.fromisoformat(str(text))  # any other RFC 3339 spelling
        except ValueError:
            return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def release(obj: Obj) -> None:
    """Remove every chaosbot mark (label, original, expiry), in place; empty maps are dropped."""
    metadata = obj["metadata"]
    for field, keys in (("labels", (RUN_LABEL,)), ("annotations", (ORIGINAL, EXPIRES_AT, CREATED))):
        values = metadata.get(field) or {}
        for key in keys:
            values.pop(key, None)
        if values:
            metadata[field] = values
        else:
            metadata.pop(field, None)
