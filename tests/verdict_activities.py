"""Python activities for the verdict tests: a pretend service, a pretend fault that may break it,
and the ways an activity can end (an error, InterruptExecution, chaostoolkit-lib's own abort).

Every activity appends its name to PLAYED, so a test sees what chaostoolkit-lib really played.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from chaoslib.exceptions import InterruptExecution
from chaoslib.exit import exit_gracefully

PLAYED: list[str] = []
_fault = {"in_place": False}


def reset() -> None:
    PLAYED.clear()
    _fault["in_place"] = False


def health(answer: int = 200, while_injected: int = 200) -> int:
    """The service's health endpoint: `answer`, or `while_injected` while the fault is in place."""
    PLAYED.append("health")
    return while_injected if _fault["in_place"] else answer


def unreachable(while_injected: bool = False) -> int:
    """A health endpoint that refuses connections (only while the fault is in place, if asked)."""
    PLAYED.append("unreachable")
    if _fault["in_place"] or not while_injected:
        raise ConnectionRefusedError("connection refused")
    return 200


def inject() -> str:
    PLAYED.append("inject")
    _fault["in_place"] = True
    return "injected"


def undo() -> str:
    PLAYED.append("undo")
    _fault["in_place"] = False
    return "undone"


def refused() -> None:
    """An action the API server refuses."""
    PLAYED.append("refused")
    raise RuntimeError("the API server answered 500")


def interrupt() -> None:
    """An action that asks chaostoolkit-lib to interrupt the run."""
    PLAYED.append("interrupt")
    raise InterruptExecution("stop the experiment")


def abort_now() -> None:
    """An action that sends chaostoolkit-lib's abort (SIGUSR1, as the bot's Abort does) and
    waits for it: the signal handler interrupts this wait, so the loop never runs out."""
    PLAYED.append("abort_now")
    exit_gracefully()
    for _ in range(1000):
        time.sleep(0.01)
    raise AssertionError("chaostoolkit-lib did not act on SIGUSR1")


def terminate_now() -> None:
    """A hold that is cut short by SIGTERM (a pod deleted, a Job past its deadline, a node
    drained): chaostoolkit-lib's handler interrupts this wait."""
    PLAYED.append("terminate_now")
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(1000):
        time.sleep(0.01)
    raise AssertionError("chaostoolkit-lib did not act on SIGTERM")


def before_activity_control(context: dict[str, Any], **_: Any) -> None:
    """As a Chaos Toolkit control: interrupts the run before an activity named `halt`."""
    if context.get("name") == "halt":
        raise InterruptExecution("halted by a control")
