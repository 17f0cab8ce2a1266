"""A platform of any size in a database, filled fast with batched INSERTs: what the scale
benchmarks (bench/digest_scale.py, bench/scale.py) and the statement-count tests run against.

`fill` writes the history (teams of services with suites, finished runs over 200 days, game
days, findings, drills); `fill_platform` what is going on besides (runs in flight, game days
ahead, action items, drill opt-ins, and one person who owns the services of five teams). `Statements` counts the
SQL statements an engine runs.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, insert, select

from bot.catalog.models import Member, Role, Service, ServiceOwner, SuiteEntry, Team
from bot.db.engine import Database
from bot.drills.models import Drill, DrillStatus
from bot.findings.models import (
    ActionItem,
    ActionItemStatus,
    Finding,
    FindingKind,
    FindingSource,
    Severity,
)
from bot.gamedays.models import GameDay, GameDayApproval, GameDayStatus
from bot.runs.models import Run
from bot.runs.states import RunStatus, Trigger

__all__ = ["NOW", "PERSON", "Statements", "bulk", "fill", "fill_platform"]

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday, after 09:00 in every timezone used
ZONES = ("UTC", "Europe/Berlin", "Europe/London", "Asia/Kolkata")
EXPERIMENTS = ("pod-kill", "container-kill", "cpu-pressure", "upstream-latency", "dns-errors")
PAGE = 5000


class Statements:
    def __init__(self, db: Database) -> None:
        self.reads = self.writes = 0
        event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.reads += 1
        else:
            self.writes += 1

    def reset(self) -> None:
        self.reads = self.writes = 0


def bulk(db: Database, model: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT the rows in pages (bench/scale.py fills its extra tables with it too)."""
    for start in range(0, len(rows), PAGE):
        with db.session() as session:
            session.execute(insert(model), rows[start : start + PAGE])


def fill(db: Database, *, teams: int, per_team: int, runs_per: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    bulk(
        db,
        Team,
        [
            {
                "id": t + 1,
                "name": f"team-{t:05d}",
                "slack_channel_id": f"C{t:08d}",
                "timezone": ZONES[t % len(ZONES)],
                "created_at": NOW - timedelta(days=365),
            }
            for t in range(teams)
        ],
    )
    services, owners, suites, runs, gamedays, findings, drills = [], [], [], [], [], [], []
    run_id = gameday_id = 0
    for t in range(teams):
        for k in range(per_team):
            sid = t * per_team + k + 1
            services.append(
                {
                    "id": sid,
                    "team_id": t + 1,
                    "name": f"svc-{sid:06d}",
                    "tier": 1 + k % 4,
                    "namespace": "payments",
                    "selector": f"app=svc-{sid}",
                    "probes": [],
                    "approvers": [],
                    "blast_radius_percent": 50,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            owners.append({"service_id": sid, "slack_user_id": f"U{sid:08d}"})
            for position, experiment in enumerate(rng.sample(EXPERIMENTS, 3)):
                suites.append(
                    {
                        "service_id": sid,
                        "experiment": experiment,
                        "parameters": {},
                        "position": position,
                    }
                )
            kind = rng.random()
            if kind < 0.7:
                gameday_id += 1
                finished = NOW - timedelta(days=rng.uniform(1, 200))
                gamedays.append(
                    {
                        "id": gameday_id,
                        "key": f"gd-{gameday_id:06x}",
                        "service_id": sid,
                        "status": GameDayStatus.COMPLETED,
                        "experiments": ["pod-kill"],
                        "starts_at": finished - timedelta(hours=1),
                        "duration_minutes": 60,
                        "hold_seconds": 60,
                        "timezone": "UTC",
                        "requested_by": "U0BENCH",
                        "requested_at": finished - timedelta(days=2),
                        "approvals_needed": 1,
                        "round": 1,
                        "expires_at": finished,
                        "version": 1,
                        "finished_at": finished,
                        "slack_channel": "C0",
                    }
                )
            for r in range(runs_per):
                run_id += 1
                finished = NOW - timedelta(days=rng.uniform(0, 200))
                status = rng.choices(
                    (RunStatus.COMPLETED, RunStatus.DEVIATED, RunStatus.FAILED, RunStatus.ABORTED),
                    (80, 10, 5, 5),
                )[0]
                runs.append(
                    {
                        "id": run_id,
                        "key": f"r-{run_id:010x}",
                        "service_id": sid,
                        "experiment": rng.choice(EXPERIMENTS),
                        "trigger": Trigger.GAMEDAY if r == 0 and kind < 0.7 else Trigger.ADHOC,
                        "status": status,
                        "dry_run": False,
                        "parameters": {},
                        "document": {},
                        "rollback_plan": [],
                        "labels": {},
                        "creates": [],
                        "requested_by": "U0BENCH",
                        "created_at": finished - timedelta(minutes=5),
                        "finished_at": finished,
                        "gameday_id": gameday_id if r == 0 and kind < 0.7 else None,
                        "abort_signalled": False,
                    }
                )
            if rng.random() < 0.3:
                findings.append(
                    {
                        "key": f"fd-{sid:06x}",
                        "service_id": sid,
                        "source": FindingSource.RUN,
                        "kind": FindingKind.DEVIATED,
                        "severity": rng.choice(list(Severity)),
                        "title": "the steady state did not hold",
                        "what_happened": "",
                        "went_well": "",
                        "action_items": [],
                        "status": "open",
                        "created_at": NOW - timedelta(days=rng.uniform(0, 60)),
                        "created_by": "chaosbot",
                    }
                )
            if rng.random() < 0.1:
                fired = NOW - timedelta(days=rng.uniform(0, 6))
                drills.append(
                    {
                        "key": f"inc-{sid:06x}",
                        "service_id": sid,
                        "day": fired.date(),
                        "status": DrillStatus.REVEALED,
                        "planned_at": fired,
                        "experiment": "pod-kill",
                        "duration_minutes": 30,
                        "planned_when": fired - timedelta(days=1),
                        "policy": "bench",
                        "fired_at": fired,
                        "injected_at": fired + timedelta(seconds=10),
                        "acknowledged_at": fired + timedelta(minutes=rng.uniform(1, 20)),
                        "resolved_at": fired + timedelta(minutes=rng.uniform(20, 40)),
                        "version": 3,
                    }
                )
    for model, rows in (
        (Service, services),
        (ServiceOwner, owners),
        (SuiteEntry, suites),
        (GameDay, gamedays),
        (Run, runs),
        (Finding, findings),
        (Drill, drills),
    ):
        bulk(db, model, rows)
    return run_id


PERSON = "U0PERSON"
PERSON_TEAMS = 5  # the person owns these teams' services (50 at 10 a team) and approves for them
WINDOW = {
    "weekdays": ["mon", "tue", "wed", "thu", "fri"],
    "hours": "10:00-16:00",
    "timezone": "Europe/Berlin",
    "experiments": ["pod-kill"],
    "meanDaysBetween": 5,
    "minSpacingHours": 0,
    "holidayCountry": None,
    "durationMinutes": 30,
}


def fill_platform(
    db: Database, *, teams: int, per_team: int, in_flight: int, first_run: int
) -> None:
    """What is going on besides `fill`'s history: per 100 services, 2 pending and 2 approved
    game days ahead (each approved once by someone else) and 2 services opted in to drills; an
    action item per finding, one in three due for its reminder (the others were reminded
    yesterday); `in_flight` runs holding their fault, alive; and PERSON, who owns the services
    of the first PERSON_TEAMS teams and approves for those teams."""
    services = teams * per_team
    owners: list[dict[str, Any]] = [
        {"service_id": sid, "slack_user_id": PERSON}
        for sid in range(1, per_team * PERSON_TEAMS + 1)
    ]
    members = [
        {"team_id": team, "slack_user_id": PERSON, "role": Role.APPROVER}
        for team in range(1, PERSON_TEAMS + 1)
    ]
    gamedays: list[dict[str, Any]] = []
    approvals: list[dict[str, Any]] = []
    with db.session() as session:  # `fill` wrote its ids itself (PostgreSQL's sequence is behind)
        first_gameday = session.scalar(select(func.max(GameDay.id))) or 0
    for index, sid in enumerate(range(3, services + 1, 25)):
        pending = index % 2 == 0
        starts = NOW + timedelta(days=3 + index % 10, hours=index % 7)
        gamedays.append(
            {
                "id": first_gameday + index + 1,
                "key": f"gs-{index:06x}",
                "service_id": sid,
                "status": GameDayStatus.PENDING if pending else GameDayStatus.APPROVED,
                "experiments": ["pod-kill", "cpu-pressure"],
                "starts_at": starts,
                "duration_minutes": 60,
                "hold_seconds": 60,
                "timezone": "UTC",
                "requested_by": f"U{sid:08d}",
                "requested_at": NOW - timedelta(days=1),
                "approvals_needed": 2,
                "round": 1,
                "expires_at": starts - timedelta(hours=1),
                "version": 1,
                "slack_channel": "C0",
                "preview": {},
            }
        )
    bulk(db, GameDay, gamedays)
    with db.session() as session:
        ids = session.scalars(select(GameDay.id).where(GameDay.key.like("gs-%"))).all()
    approvals = [
        {"gameday_id": gid, "round": 1, "slack_user_id": "U0OTHER", "approved_at": NOW}
        for gid in ids
    ]
    runs = [
        {
            "key": f"f-{n:010x}",
            "service_id": 1 + (n * 7) % services,
            "experiment": "pod-kill",
            "trigger": Trigger.ADHOC,
            "status": RunStatus.HOLDING,
            "dry_run": False,
            "parameters": {},
            "document": {"configuration": {"hold_seconds": 600}},
            "rollback_plan": [],
            "labels": {},
            "creates": [],
            "requested_by": "U0BENCH",
            "created_at": NOW - timedelta(minutes=2),
            "started_at": NOW - timedelta(minutes=1),
            "heartbeat_at": NOW,
            "worker_host": "another-host",
            "worker_pid": 4242,
            "abort_signalled": False,
            "id": first_run + n + 1,
        }
        for n in range(in_flight)
    ]
    with db.session() as session:
        findings = session.execute(select(Finding.id, Finding.service_id)).all()
        for sid in range(1, services + 1, 50):
            session.get(Service, sid).blind_enabled = True  # type: ignore[union-attr]
            session.get(Service, sid).blind_window = WINDOW  # type: ignore[union-attr]
    items = [
        {
            "key": f"ai-{n:06x}",
            "finding_id": finding_id,
            "text": "add a PodDisruptionBudget",
            "owner": f"U{service_id:08d}",
            "due_on": (NOW - timedelta(days=3)).date(),
            "status": ActionItemStatus.OPEN,
            "created_at": NOW - timedelta(days=10),
            "created_by": "U0BENCH",
            # One in three is due for its reminder now.
            "reminded_at": None if n % 3 == 0 else NOW - timedelta(days=1),
        }
        for n, (finding_id, service_id) in enumerate(findings)
    ]
    for model, rows in (
        (ServiceOwner, owners),
        (Member, members),
        (GameDayApproval, approvals),
        (Run, runs),
        (ActionItem, items),
    ):
        bulk(db, model, rows)
