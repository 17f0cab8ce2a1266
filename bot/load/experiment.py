"""What a load profile adds to a rendered experiment: the control that runs the load, the
configuration it reads its image from, the rollback that stops it, the kinds it creates.

Kept apart from the control itself (bot.load.control), which needs the Kubernetes client:
rendering an experiment does not.
"""

from __future__ import annotations

import base64
from typing import Any

from bot.config import DEFAULT_K6_IMAGE, DEFAULT_LOCUST_IMAGE
from bot.load.profile import LoadProfile, Tool

__all__ = [
    "DEFAULT_IMAGES",
    "IMAGE_KEY",
    "IMAGE_SETTINGS",
    "JOURNAL_KEY",
    "MODULE",
    "START_TIMEOUT_SECONDS",
    "add_load",
    "created_kinds",
]

MODULE = "bot.load.control"
# Where the control writes what the load did in the journal (its `error` when it did not start).
JOURNAL_KEY = "load"
# The experiment configuration's key for the load's image, read from the platform's setting
# (bot.config) in the run's environment, per tool.
IMAGE_KEY = "load_image"
IMAGE_SETTINGS = {Tool.LOCUST: "CHAOSBOT_LOCUST_IMAGE", Tool.K6: "CHAOSBOT_K6_IMAGE"}
DEFAULT_IMAGES = {Tool.LOCUST: DEFAULT_LOCUST_IMAGE, Tool.K6: DEFAULT_K6_IMAGE}
# How long the load's pod may take to run (the image is pulled on first use).
START_TIMEOUT_SECONDS = 180.0


def add_load(
    document: dict[str, Any],
    profile: LoadProfile,
    *,
    start_timeout_seconds: float = START_TIMEOUT_SECONDS,
) -> None:
    """Put the experiment under `profile`, in place: the load control first among the controls
    (it starts before the others and stops after them), its image in the configuration, and
    the rollback that stops it last among the rollbacks."""
    document.setdefault("configuration", {})[IMAGE_KEY] = {
        "type": "env",
        "key": IMAGE_SETTINGS[profile.tool],
        "default": DEFAULT_IMAGES[profile.tool],
    }
    document["controls"] = [
        _control(profile, start_timeout_seconds),
        *(document.get("controls") or []),
    ]
    document["rollbacks"] = [*(document.get("rollbacks") or []), _rollback()]


def created_kinds(profile: LoadProfile) -> tuple[str, ...]:
    """The kinds the load creates (`resource.group`): its Job, and an inline script's ConfigMap."""
    return ("jobs.batch", "configmaps") if profile.script is not None else ("jobs.batch",)


def _control(profile: LoadProfile, start_timeout_seconds: float) -> dict[str, Any]:
    document = profile.as_document()
    script = document.pop("script", None)
    arguments: dict[str, Any] = {
        "profile": document,
        "start_timeout_seconds": start_timeout_seconds,
    }
    if script is not None:
        # Encoded: chaoslib substitutes `${name}` and `$name` in a control's arguments, and a
        # script is full of them (JavaScript's template literals).
        arguments["script_base64"] = base64.b64encode(script.encode()).decode()
    return {
        "name": "chaosbot-load",
        "provider": {"type": "python", "module": MODULE, "arguments": arguments},
    }


def _rollback() -> dict[str, Any]:
    """The rollback that stops the load: the worker's last, and the janitor's when the worker
    died."""
    return {
        "type": "action",
        "name": "stop the load",
        "provider": {
            "type": "python",
            "module": MODULE,
            "func": "stop_load",
            "secrets": ["kubernetes"],
            "arguments": {"namespace": "${namespace}", "run_id": "${run_id}"},
        },
    }
