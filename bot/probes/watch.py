"""A Chaos Toolkit control that watches the steady state while the fault is in place and halts
the run when it breaks.

chaostoolkit-lib checks the steady state before and after the method; its "continuously"
strategy probes during the method but, even with fail-fast, only marks the journal failed and
lets the fault hold on (and stops probing before the rollbacks). chaostoolkit-addons' safeguards
control interrupts, but on the first failed probe and one interval after measuring it. A chaos
platform must stop hurting a service as soon as its steady state is known broken, without
halting on one lost probe: so this control probes the experiment's own steady-state probes every
`interval_seconds` from the start of the method to the end of the rollbacks, and after
`fail_after` consecutive failed checks interrupts the run the way chaostoolkit-lib's own exit
does (SIGUSR1: the method stops, the rollbacks play). Once the rollbacks have started it only
measures: interrupting them would leave the fault behind.

Every check is written to the journal (`steady_state_watch`) and handed to the listeners of this
process (the worker stores them as the run's time series), so a plain `chaos run` of an exported
experiment halts and reports exactly as a run of chaosbot's does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from chaoslib.activity import run_activity
from chaoslib.exit import exit_gracefully
from chaoslib.hypothesis import within_tolerance

from bot.probes.readings import pods_reading

__all__ = [
    "DEFAULT_FAIL_AFTER",
    "DEFAULT_INTERVAL_SECONDS",
    "JOURNAL_KEY",
    "MODULE",
    "Breach",
    "Check",
    "WatchPlan",
    "after_experiment_control",
    "after_rollback_control",
    "before_method_control",
    "before_rollback_control",
    "cleanup_control",
    "configure_control",
    "control",
    "listening",
    "plan_of",
]

MODULE = "bot.probes.watch"
JOURNAL_KEY = "steady_state_watch"
DEFAULT_INTERVAL_SECONDS = 10
DEFAULT_FAIL_AFTER = 2
SHORT = 80  # characters of a probe's answer or error quoted in a check

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Check:
    """One probe's answer at one moment of the run."""

    at: datetime
    probe: str
    ok: bool
    # The number the probe measured (an HTTP probe's latency in ms, a pods probe's percent
    # ready, a query's value), if any.
    value: float | None
    # What it got against what was expected: "got 503, expected 200", or the error.
    detail: str

    def as_document(self) -> dict[str, Any]:
        document = asdict(self)
        document["at"] = self.at.isoformat()
        return document


@dataclass(frozen=True, kw_only=True)
class Breach:
    """The steady state broke: the check that made `fail_after` in a row, and whether the run was
    interrupted for it (not when the rollbacks had already started)."""

    check: Check
    failed_checks: int
    halted: bool

    @property
    def reason(self) -> str:
        return f"{self.check.probe}: {self.check.detail}"

    def as_document(self) -> dict[str, Any]:
        return {
            "check": self.check.as_document(),
            "failed_checks": self.failed_checks,
            "halted": self.halted,
            "reason": self.reason,
        }


@dataclass(frozen=True, kw_only=True)
class WatchPlan:
    """What an experiment watches while its fault is in place, and when it halts."""

    interval_seconds: float
    fail_after: int
    probes: tuple[str, ...]


Listener = Callable[[Check], None]
_listeners: list[Listener] = []
_watch: _Watch | None = None


def control(*, interval_seconds: float, fail_after: int) -> dict[str, Any]:
    """The experiment's `controls` entry that watches its steady state."""
    return {
        "name": "chaosbot-steady-state-watch",
        "provider": {
            "type": "python",
            "module": MODULE,
            "arguments": {"interval_seconds": interval_seconds, "fail_after": fail_after},
        },
    }


def plan_of(document: Mapping[str, Any]) -> WatchPlan | None:
    """The watch an experiment declares (None: it has no watch control)."""
    for entry in document.get("controls") or []:
        provider = entry.get("provider") if isinstance(entry, dict) else None
        if isinstance(provider, dict) and provider.get("module") == MODULE:
            arguments = provider.get("arguments") or {}
            hypothesis = document.get("steady-state-hypothesis") or {}
            return WatchPlan(
                interval_seconds=float(arguments.get("interval_seconds", DEFAULT_INTERVAL_SECONDS)),
                fail_after=int(arguments.get("fail_after", DEFAULT_FAIL_AFTER)),
                probes=tuple(
                    str(p.get("name"))
                    for p in hypothesis.get("probes") or []
                    if isinstance(p, dict)
                ),
            )
    return None


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """While open, `listener` hears every check of this process's runs."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def configure_control(
    interval_seconds: Any = DEFAULT_INTERVAL_SECONDS,
    fail_after: Any = DEFAULT_FAIL_AFTER,
    experiment: Mapping[str, Any] | None = None,
    **_: Any,
) -> None:
    """chaostoolkit-lib's hook when the experiment is loaded: the probes and the thresholds."""
    global _watch
    hypothesis = (experiment or {}).get("steady-state-hypothesis") or {}
    probes = [p for p in hypothesis.get("probes") or [] if isinstance(p, dict)]
    _watch = _Watch(
        probes=probes,
        interval_seconds=_positive(interval_seconds, "interval_seconds"),
        fail_after=int(_positive(fail_after, "fail_after")),
    )


def before_method_control(
    context: Any, configuration: Any = None, secrets: Any = None, **_: Any
) -> None:
    """The fault is about to be injected: start watching."""
    if _watch is not None:
        _watch.start(configuration, secrets)


def before_rollback_control(context: Any, **_: Any) -> None:
    """The rollbacks start: keep measuring, never interrupt them."""
    if _watch is not None:
        _watch.rolling_back()


def after_rollback_control(context: Any, **_: Any) -> None:
    """The rollbacks are done: the fault is gone, stop watching."""
    if _watch is not None:
        _watch.stop()


def after_experiment_control(context: Any, state: Any = None, **_: Any) -> None:
    """Write what was watched into the journal."""
    if _watch is None:
        return
    _watch.stop()
    if isinstance(state, dict):
        state[JOURNAL_KEY] = _watch.summary()


def cleanup_control(**_: Any) -> None:
    """The run is over, however it ended: no watcher outlives it."""
    global _watch
    if _watch is not None:
        _watch.stop()
    _watch = None


def _positive(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if not number > 0:
        raise ValueError(f"{name} must be positive, not {value!r}")
    return number


class _Watch:
    """The watching thread of one run and what it saw."""

    def __init__(
        self, *, probes: list[dict[str, Any]], interval_seconds: float, fail_after: int
    ) -> None:
        self.probes, self.interval, self.fail_after = probes, interval_seconds, fail_after
        self.checks: list[Check] = []
        self.breach: Breach | None = None
        self._failed_in_a_row = 0
        self._lock = threading.Lock()
        self._rolling_back = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, configuration: Any, secrets: Any) -> None:
        if self._thread is not None or not self.probes:
            return
        self._thread = threading.Thread(
            target=self._run,
            args=(configuration, secrets),
            name="steady-state-watch",
            daemon=True,
        )
        self._thread.start()

    def rolling_back(self) -> None:
        with self._lock:
            self._rolling_back = True

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            # A probe has its own timeout (its latency budget): this waits for one at most.
            thread.join(timeout=self.interval + 60)

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "interval_seconds": self.interval,
                "fail_after": self.fail_after,
                "checks": [c.as_document() for c in self.checks],
                "breach": self.breach.as_document() if self.breach else None,
            }

    def _run(self, configuration: Any, secrets: Any) -> None:
        # The first check comes one interval in: the steady state was checked just before.
        next_at = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.interval
            try:
                self._check(configuration, secrets)
            except Exception:  # a watcher that dies silently would be worse than one that logs
                log.exception("steady-state watch check failed")

    def _check(self, configuration: Any, secrets: Any) -> None:
        checks = [_probe(p, configuration, secrets) for p in self.probes]
        halt = False
        with self._lock:
            self.checks.extend(checks)
            failed = next((c for c in checks if not c.ok), None)
            self._failed_in_a_row = self._failed_in_a_row + 1 if failed else 0
            if failed and self.breach is None and self._failed_in_a_row >= self.fail_after:
                halt = not self._rolling_back
                self.breach = Breach(check=failed, failed_checks=self._failed_in_a_row, halted=halt)
            if halt:
                log.warning("steady state broke (%s): halting the run", self.breach)
                # chaostoolkit-lib's graceful exit: the method stops, the rollbacks play. Sent
                # under the lock, so it never lands once the rollbacks have begun.
                exit_gracefully()
        for check in checks:
            for listener in list(_listeners):
                try:
                    listener(check)
                except Exception:
                    log.exception("steady-state watch listener failed")


def _probe(probe: dict[str, Any], configuration: Any, secrets: Any) -> Check:
    name = str(probe.get("name") or "probe")
    at = datetime.now(UTC)
    tolerance = probe.get("tolerance")
    try:
        output = run_activity(probe, configuration, secrets)
    except Exception as error:
        return Check(at=at, probe=name, ok=False, value=None, detail=_short(_error_text(error)))
    ok = bool(within_tolerance(tolerance, output, configuration, secrets))
    value, got = _reading(output)
    detail = f"got {got}" if ok else f"got {got}, expected {_expected(tolerance, configuration)}"
    return Check(at=at, probe=name, ok=ok, value=value, detail=_short(detail))


def _reading(output: Any) -> tuple[float | None, str]:
    """The number a probe's output measures, and how to quote the output."""
    if isinstance(output, dict) and "status" in output:  # bot.probes.http
        latency = output.get("latency_ms")
        value = float(latency) if isinstance(latency, int | float) else None
        suffix = f" in {latency} ms" if value is not None else ""
        return value, f"{output['status']}{suffix}"
    if isinstance(output, dict) and _number(output.get("percent")):  # bot.probes.pods
        percent = float(output["percent"])
        if _number(output.get("ready")) and _number(output.get("desired")):
            return percent, pods_reading(int(output["ready"]), int(output["desired"]), percent)
        return percent, f"{percent:g}%"
    if isinstance(output, bool):
        return float(output), str(output).lower()
    if isinstance(output, int | float):
        return float(output), f"{output:g}"
    return None, str(output)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _expected(tolerance: Any, configuration: Any) -> str:
    if isinstance(tolerance, dict) and tolerance.get("type") == "probe" and tolerance.get("name"):
        return str(tolerance["name"])  # bot.probes.tolerance names it by what it expects
    if isinstance(tolerance, dict) and tolerance.get("type") == "range":
        low, high = tolerance.get("range") or (None, None)
        return f"between {low} and {high}"
    if (
        isinstance(tolerance, str)
        and tolerance.startswith("${")
        and isinstance(configuration, dict)
    ):
        return str(configuration.get(tolerance[2:-1], tolerance))
    return str(tolerance)


def _error_text(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.rsplit("ActivityFailed: ", 1)[-1]


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHORT else text[: SHORT - 1] + "…"
