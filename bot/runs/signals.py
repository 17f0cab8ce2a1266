"""An abort signal that lands inside a finalizer is noticed instead of being lost.

chaostoolkit-lib turns SIGUSR1/SIGUSR2 into `SystemExit(20/30)` raised wherever the main thread
is. When that is a weakref callback or `__del__` (SQLAlchemy's state clean-up, for instance),
Python prints "Exception ignored in ..." and drops the exit. While `catching_lost_exits` is open
such an exit is not printed but recorded in the event it yields; the worker's abort watcher then
sends the signal again from its own thread, so the handler runs outside the finalizer, exactly as
if the signal had arrived a moment later. (Re-sending from the hook itself would not do: the
handler would run again at once, inside the hook.)
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["catching_lost_exits"]

log = logging.getLogger(__name__)

# chaoslib.exit._leave_now: SIGUSR1 exits with 20 (rollbacks run), SIGUSR2 with 30 (they don't).
CHAOSLIB_EXIT_CODES = frozenset({20, 30})


@contextmanager
def catching_lost_exits() -> Iterator[threading.Event]:
    """While open, a chaostoolkit exit swallowed by a finalizer sets the event yielded."""
    lost = threading.Event()
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        exc = unraisable.exc_value
        if isinstance(exc, SystemExit) and exc.code in CHAOSLIB_EXIT_CODES:
            lost.set()
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield lost
    finally:
        sys.unraisablehook = previous
        if lost.is_set():
            log.info("an abort signal arrived inside a finalizer and was sent again")
