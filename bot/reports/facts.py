"""What a report of a game day or of one run says, as plain values: the domain gathers them from
its rows (bot/gamedays/report.py, bot/runs/report.py) and bot/reports/render.py and
bot/reports/junit.py write them out. Nothing here reads a table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

__all__ = [
    "Activity",
    "Approval",
    "Check",
    "FindingFacts",
    "Halt",
    "Hypothesis",
    "ItemFacts",
    "JournalFacts",
    "Plan",
    "Report",
    "Response",
    "RunFacts",
    "TimelineLine",
]


@dataclass(frozen=True, kw_only=True)
class Activity:
    """One activity chaostoolkit-lib played: a probe of a steady-state check, an action of the
    method, a rollback."""

    name: str
    kind: str  # probe, action
    status: str  # succeeded, failed
    start: datetime | None
    end: datetime | None
    after_start: float | None = None  # seconds after the experiment began
    tolerance_met: bool | None = None  # a hypothesis' probes only
    output: str = ""  # what it returned, shortened
    error: str = ""  # the last line of its exception, when it failed

    @property
    def seconds(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, kw_only=True)
class Hypothesis:
    """One check of the steady-state hypothesis (before or after the method)."""

    met: bool | None
    probes: tuple[Activity, ...]


@dataclass(frozen=True, kw_only=True)
class JournalFacts:
    """What the run's Chaos Toolkit journal says, phase by phase (a phase not reached is None or
    empty)."""

    status: str
    start: datetime | None
    end: datetime | None
    before: Hypothesis | None
    method: tuple[Activity, ...]
    after: Hypothesis | None
    rollbacks: tuple[Activity, ...]
    breach: str | None  # why the steady-state watch saw the steady state break
    halted_by_watch: bool  # the watch interrupted the method


@dataclass(frozen=True, kw_only=True)
class Check:
    """One check of the steady-state watch, at `seconds` since the injection."""

    seconds: float
    phase: str  # injection, hold, rollback, or "" outside them
    probe: str
    value: float | None
    ok: bool
    detail: str


@dataclass(frozen=True, kw_only=True)
class TimelineLine:
    at: datetime
    status: str
    message: str


@dataclass(frozen=True, kw_only=True)
class RunFacts:
    """One experiment run: its plan, timeline, steady state, rollbacks and what they left."""

    key: str
    experiment: str
    service: str
    trigger: str
    status: str
    reason: str | None
    requested_by: str
    dry_run: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    abort_requested_by: str | None
    abort_requested_at: datetime | None
    timeline: tuple[TimelineLine, ...]
    journal: JournalFacts | None  # None: the run never got to chaostoolkit-lib
    checks: tuple[Check, ...]  # the watch's checks (run_measurements)
    chart_png: bytes | None  # the chart of `checks`; None without checks
    leftovers: tuple[str, ...] | None  # None: not checked
    rollback_attempts: int
    cleanup_alerted_at: datetime | None

    @property
    def failed_checks(self) -> int:
        return sum(1 for c in self.checks if not c.ok)


@dataclass(frozen=True, kw_only=True)
class Approval:
    who: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What was asked for and approved."""

    experiments: tuple[str, ...]
    starts_at: datetime
    duration_minutes: int
    hold_seconds: int
    notes: str
    requested_by: str
    requested_at: datetime
    approvals_needed: int
    approvals: tuple[Approval, ...]  # of the round that ran


@dataclass(frozen=True, kw_only=True)
class Halt:
    """Something that stopped early, and why."""

    what: str  # "game day gd-1a2b3c", "run r-... (pod-kill)"
    status: str
    reason: str
    at: datetime | None


@dataclass(frozen=True, kw_only=True)
class Response:
    """A person acting while it happened or after: acknowledging a drill, asking for an abort,
    recording a finding, doing an action item."""

    who: str
    did: str
    at: datetime | None


@dataclass(frozen=True, kw_only=True)
class ItemFacts:
    key: str
    text: str
    owner: str
    due_on: date
    status: str
    done_by: str | None


@dataclass(frozen=True, kw_only=True)
class FindingFacts:
    key: str
    title: str
    severity: str
    kind: str
    status: str
    owner: str | None
    run_key: str | None
    created_by: str
    what_happened: str
    went_well: str
    action_items: tuple[ItemFacts, ...]
    hypothesis: str | None = None  # did it hold (people's reviews): held, partly, not held


@dataclass(frozen=True, kw_only=True)
class Report:
    """The report of a game day (kind "game day", with its plan) or of one run (kind "run")."""

    kind: str
    key: str
    service: str
    team: str
    timezone: str  # the team's: times are shown on its clocks
    status: str
    reason: str | None
    generated_at: datetime
    plan: Plan | None
    runs: tuple[RunFacts, ...]
    halts: tuple[Halt, ...]
    responses: tuple[Response, ...]
    findings: tuple[FindingFacts, ...]

    @property
    def action_items(self) -> tuple[ItemFacts, ...]:
        return tuple(item for f in self.findings for item in f.action_items)
