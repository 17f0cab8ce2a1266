"""A run as a JUnit XML result, for CI systems: one testsuite per run, one testcase per phase.

The testcases are the run's phases, not its activities, so their names are the same for every
experiment and a CI system can follow them from build to build: preflight, the steady state
before the fault, the method, the steady state while the fault was in place (the watch), the
steady state after, the rollbacks, the leftover check, and the outcome. A phase that went
wrong has a <failure> with the reason, one never reached is <skipped>; each phase's activities
are listed in its <system-out>. Durations come from the journal's activities, the timestamp
from the run's own start.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from bot.reports.facts import Activity, Hypothesis, RunFacts

__all__ = ["TESTCASES", "junit_xml"]

TESTCASES = (
    "preflight",
    "steady state before the fault",
    "method",
    "steady state during the fault",
    "steady state after the fault",
    "rollbacks",
    "leftover check",
    "outcome",
)


@dataclass(frozen=True)
class _Case:
    name: str
    failure: str | None = None  # the reason
    skipped: str | None = None  # why it was not reached
    seconds: float = 0.0
    out: str = ""


def junit_xml(run: RunFacts) -> bytes:
    """The JUnit XML document (UTF-8, with its declaration) of one run."""
    cases = _cases(run)
    root = ET.Element("testsuites", name="chaosbot")
    suite = ET.SubElement(
        root,
        "testsuite",
        name=f"chaosbot {run.service} {run.experiment}",
        tests=str(len(cases)),
        failures=str(sum(1 for c in cases if c.failure is not None)),
        errors="0",
        skipped=str(sum(1 for c in cases if c.skipped is not None)),
        time=_time(_run_seconds(run)),
        timestamp=(run.started_at or run.created_at).strftime("%Y-%m-%dT%H:%M:%S"),
        hostname="chaosbot",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("run", run.key),
        ("service", run.service),
        ("experiment", run.experiment),
        ("status", run.status),
        ("trigger", run.trigger),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    classname = f"chaosbot.{run.service}.{run.experiment}"
    for case in cases:
        element = ET.SubElement(
            suite, "testcase", name=case.name, classname=classname, time=_time(case.seconds)
        )
        if case.failure is not None:
            failure = ET.SubElement(element, "failure", message=case.failure, type=run.status)
            failure.text = case.failure
        elif case.skipped is not None:
            ET.SubElement(element, "skipped", message=case.skipped)
        if case.out:
            ET.SubElement(element, "system-out").text = case.out
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _cases(run: RunFacts) -> list[_Case]:
    reason = run.reason or run.status
    journal = run.journal
    if journal is None:
        never = f"not reached: {reason}"
        preflight = (
            _Case("preflight", failure=reason)
            if run.status in ("aborted", "failed")
            else _Case("preflight", skipped=never)
        )
        rest = [_Case(name, skipped=never) for name in TESTCASES[1:-2]]
        return [preflight, *rest, _leftovers(run), _outcome(run)]
    before = _hypothesis("steady state before the fault", journal.before, reason)
    not_started = journal.before is None or journal.before.met is not True
    return [
        _Case("preflight", out="passed: the run was let through to inject"),
        before,
        _method(run, not_started, reason),
        _watch(run, not_started),
        _hypothesis("steady state after the fault", journal.after, reason),
        _activities("rollbacks", journal.rollbacks, reason),
        _leftovers(run),
        _outcome(run),
    ]


def _hypothesis(name: str, state: Hypothesis | None, reason: str) -> _Case:
    if state is None:
        return _Case(name, skipped=f"not reached: {reason}")
    seconds, out = _listed(state.probes)
    if state.met is not True:
        return _Case(name, failure=reason, seconds=seconds, out=out)
    return _Case(name, seconds=seconds, out=out)


def _method(run: RunFacts, not_started: bool, reason: str) -> _Case:
    assert run.journal is not None
    if not_started:
        return _Case("method", skipped="not run: the steady state did not hold before the fault")
    case = _activities("method", run.journal.method, reason)
    if case.failure is None and (run.journal.halted_by_watch or run.journal.status != "completed"):
        return _Case("method", failure=reason, seconds=case.seconds, out=case.out)
    return case


def _watch(run: RunFacts, not_started: bool) -> _Case:
    name = "steady state during the fault"
    tally = f"{len(run.checks)} checks, {run.failed_checks} failed"
    out = "\n".join(
        f"{c.seconds:.1f} s {c.phase or '-'} {c.probe}: {'passed' if c.ok else 'FAILED'} "
        f"({c.detail})"
        for c in run.checks
    )
    breach = run.journal.breach if run.journal is not None else None
    if breach is not None:
        return _Case(name, failure=f"the steady state broke: {breach} ({tally})", out=out)
    if not run.checks:
        why = "the fault was never injected" if not_started else "the watch recorded no checks"
        return _Case(name, skipped=why)
    return _Case(name, out=f"{tally}\n{out}")


def _activities(name: str, activities: Sequence[Activity], reason: str) -> _Case:
    if not activities:
        return _Case(name, skipped="none ran")
    seconds, out = _listed(activities)
    failed = [a.name for a in activities if a.status == "failed"]
    if failed:
        return _Case(
            name, failure=f"{', '.join(failed)} failed: {reason}", seconds=seconds, out=out
        )
    return _Case(name, seconds=seconds, out=out)


def _leftovers(run: RunFacts) -> _Case:
    if run.leftovers is None:
        return _Case("leftover check", skipped="not checked")
    if run.leftovers:
        return _Case("leftover check", failure="left behind: " + ", ".join(run.leftovers))
    return _Case("leftover check", out="nothing of the run is left in the cluster")


def _outcome(run: RunFacts) -> _Case:
    if run.status == "completed":
        return _Case("outcome", out=run.reason or "completed")
    return _Case("outcome", failure=run.reason or run.status)


def _listed(activities: Sequence[Activity]) -> tuple[float, str]:
    """The activities' total duration, and a line per activity."""
    lines = []
    for a in activities:
        took = f" in {a.seconds:.3f} s" if a.seconds is not None else ""
        said = a.error or a.output
        lines.append(f"{a.kind} {a.name}: {a.status}{took}" + (f": {said}" if said else ""))
    return sum(a.seconds or 0.0 for a in activities), "\n".join(lines)


def _run_seconds(run: RunFacts) -> float:
    if run.started_at is None or run.finished_at is None:
        return 0.0
    return max(0.0, (run.finished_at - run.started_at).total_seconds())


def _time(seconds: float) -> str:
    return f"{seconds:.3f}"
