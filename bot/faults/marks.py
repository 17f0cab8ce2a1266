"""The marks a fault leaves on the cluster: the run label, and the original of what it changed."""

from __future__ import annotations

import json
from typing import Any

from chaoslib.exceptions import ActivityFailed

from bot.faults.kube import Obj

__all__ = [
    "ORIGINAL",
    "RUN_LABEL",
    "claim",
    "claimed_by",
    "created_metadata",
    "original_of",
    "release",
]

RUN_LABEL = "chaosbot.io/run-id"
ORIGINAL = "chaosbot.io/original"


def created_metadata(name: str, namespace: str | None, run_id: str) -> Obj:
    """The metadata of an object a fault creates: its name and the run label."""
    metadata: Obj = {"name": name, "labels": {RUN_LABEL: run_id}}
    if namespace is not None:
        metadata["namespace"] = namespace
    return metadata


def claimed_by(obj: Obj) -> str | None:
    """The run that changed this object and has not restored it yet."""
    labels = obj["metadata"].get("labels") or {}
    owner = labels.get(RUN_LABEL)
    return str(owner) if owner is not None else None


def claim(obj: Obj, run_id: str, original: dict[str, Any]) -> None:
    """Label obj as changed by run_id and record what it had before, in place.

    The first record of a value wins: when the same run changes the object again, the value it
    found is already the faulted one and must not replace the original. An object another run
    holds is refused, so two experiments never fight over (and mis-restore) one object.
    """
    metadata = obj["metadata"]
    owner = claimed_by(obj)
    if owner not in (None, run_id):
        what = f"{metadata.get('namespace', '')}/{metadata['name']}".lstrip("/")
        raise ActivityFailed(f"{what} is already changed by chaosbot run {owner}; not touching it")
    recorded = original_of(obj) if owner == run_id else {}
    for key, value in original.items():
        recorded.setdefault(key, value)
    metadata.setdefault("labels", {})[RUN_LABEL] = run_id
    metadata.setdefault("annotations", {})[ORIGINAL] = json.dumps(recorded, sort_keys=True)


def original_of(obj: Obj) -> dict[str, Any]:
    """What a claimed object had before the fault (empty if nothing was recorded)."""
    text = (obj["metadata"].get("annotations") or {}).get(ORIGINAL)
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def release(obj: Obj) -> None:
    """Remove the run label and the original record, in place (empty maps are dropped)."""
    metadata = obj["metadata"]
    for field, key in (("labels", RUN_LABEL), ("annotations", ORIGINAL)):
        values = metadata.get(field) or {}
        values.pop(key, None)
        if values:
            metadata[field] = values
        else:
            metadata.pop(field, None)
