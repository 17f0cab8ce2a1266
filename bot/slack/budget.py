"""How long a Slack listener may wait on the cluster inside its ack, and what happens after.

Slack shows the person an error when an interaction is not acked within three seconds, although
chaosbot may go on to do the work. A listener that must ask the cluster before it can answer
starts a `Deadline` (one per request, shared by all of that request's lookups) and runs the
lookups through it. When the budget runs out the work is not abandoned or started again: it goes
on in the budget's pool, the listener acks honestly ("checking the cluster"), and the work's
outcome is handed to a follow-up that answers the person (views.update, or a message).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

__all__ = ["AckBudget", "Deadline", "OutOfTime"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class OutOfTime(Exception, Generic[T]):
    """The budget ran out with the work still going; `then` hands its outcome on."""

    def __init__(self, future: Future[T]) -> None:
        super().__init__("the ack's budget ran out")
        self.future = future

    def then(self, follow_up: Callable[[Callable[[], T]], None]) -> None:
        """Call `follow_up` with the work's outcome (a function that returns its result or raises
        its exception) once it has finished, in the budget's pool."""

        def done(future: Future[T]) -> None:
            try:
                follow_up(future.result)
            except Exception:  # a follow-up's failure must reach the log, not vanish in the pool
                log.exception("the follow-up of a late ack failed")

        self.future.add_done_callback(done)


class Deadline:
    """One request's budget: every `run` through it waits only for what is left of it."""

    def __init__(self, pool: ThreadPoolExecutor, seconds: float) -> None:
        self._pool = pool
        self._at = time.monotonic() + seconds

    def run(self, work: Callable[[], T]) -> T:
        """The work's result (or its exception) if it finishes before the deadline; otherwise
        OutOfTime, the work going on in the pool."""
        future = self._pool.submit(work)
        finished, _ = wait([future], timeout=max(0.0, self._at - time.monotonic()))
        if not finished:
            raise OutOfTime(future)
        return future.result()


class AckBudget:
    """The budget every request gets and the pool its late work finishes in."""

    def __init__(self, seconds: float, *, workers: int = 8) -> None:
        self.seconds = seconds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ack-budget")

    def deadline(self) -> Deadline:
        """A deadline for one request, starting now."""
        return Deadline(self._pool, self.seconds)
