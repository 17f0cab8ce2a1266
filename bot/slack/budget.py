"""How long a Slack listener may wait on the cluster inside its ack, and what happens after.

Slack shows the person an error when an interaction is not acked within three seconds, although
chaosbot may go on to do the work. A listener that must ask the cluster before it can answer
starts a `Deadline` (one per request, shared by all of that request's lookups) and runs the
lookups through it. When the budget runs out the work is not abandoned or started again: it goes
on in the budget's pool, the listener acks honestly ("checking the cluster"), and the work's
outcome is handed to a follow-up that answers the person (views.update, or a message).

The follow-up never starts before the ack has left: the listener runs inside the request (Bolt's
`process_before_response`), so a follow-up started at once could call views.update before
Slack has the ack's `response_action: update`, which Slack would then apply over the answer.
The HTTP endpoint opens a `responding()` scope around each request and runs what was deferred
with `after_response` once waitress has taken the whole response (the body's close()); the
Socket Mode handler runs it once the ack is sent. Outside such a scope (tests calling a
listener) a deferred step runs at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

__all__ = ["AckBudget", "Deadline", "OutOfTime", "after_response", "responding", "run_deferred"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# The steps deferred until the response of the request this thread is answering has been taken.
_answering = threading.local()


@contextlib.contextmanager
def responding() -> Iterator[list[Callable[[], None]]]:
    """The scope of one request: yields the steps deferred by `after_response` inside it, for
    the caller to run once the response has gone."""
    deferred: list[Callable[[], None]] = []
    _answering.deferred = deferred
    try:
        yield deferred
    finally:
        _answering.deferred = None


def after_response(step: Callable[[], None]) -> None:
    """Run `step` once the response of the request being answered has gone (at once outside a
    request's scope)."""
    deferred: list[Callable[[], None]] | None = getattr(_answering, "deferred", None)
    if deferred is None:
        step()
    else:
        deferred.append(step)


def run_deferred(steps: list[Callable[[], None]]) -> None:
    """Run the steps a request deferred, each on its own: one failing does not stop the rest."""
    for step in steps:
        try:
            step()
        except Exception:
            log.exception("a step deferred until after the response failed")
    steps.clear()


class OutOfTime(Exception, Generic[T]):
    """The budget ran out with the work still going; `then` hands its outcome on."""

    def __init__(self, future: Future[T], pool: ThreadPoolExecutor) -> None:
        super().__init__("the ack's budget ran out")
        self.future = future
        self._pool = pool

    def then(self, follow_up: Callable[[Callable[[], T]], None]) -> None:
        """Call `follow_up` with the work's outcome (a function that returns its result or raises
        its exception) once it has finished and the ack has gone, in the budget's pool."""

        def done(future: Future[T]) -> None:
            try:
                follow_up(future.result)
            except Exception:  # a follow-up's failure must reach the log, not vanish in the pool
                log.exception("the follow-up of a late ack failed")

        def watch() -> None:
            self.future.add_done_callback(lambda future: self._pool.submit(done, future))

        after_response(watch)


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
            raise OutOfTime(future, self._pool)
        return future.result()


class AckBudget:
    """The budget every request gets and the pool its late work finishes in."""

    def __init__(self, seconds: float, *, workers: int = 8) -> None:
        self.seconds = seconds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ack-budget")

    def deadline(self) -> Deadline:
        """A deadline for one request, starting now."""
        return Deadline(self._pool, self.seconds)
