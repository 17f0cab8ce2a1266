"""What the weekly digest job costs at the scale of a large organisation.

    .venv/bin/python bench/digest_scale.py [--teams 1000] [--services-per-team 10]
                                           [--runs-per-service 10] [--baseline-teams 100]
                                           [--database-url URL]

Two databases are filled with the same shape of history: `teams` teams (and a baseline with
`baseline-teams`), each with `services-per-team` services of tiers 1 to 4, three suite entries
each, `runs-per-service` finished runs over the last 200 days, a game day per service (passed,
failed or none), open findings and drills. Then the digest job runs once for every team (Monday
09:00 has passed everywhere) and reports its time and its SQL statements, split into reads and
writes, and the same job run again (nothing is due: it must send nothing).

Read the ratios large/baseline: the statements must not grow with the number of teams (every
fact is read in one query for all teams; messages and delivery rows are written in batched
INSERTs of up to 2,000 rows); the time grows with the work (one report and one PNG per team).
SQLite files by default; `--database-url` runs the large case on PostgreSQL instead.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert

from bot.catalog.models import Service, ServiceOwner, SuiteEntry, Team
from bot.compliance.digest import send_digests
from bot.config.compliance_policy import DEFAULT_POLICY
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.drills.models import Drill, DrillStatus
from bot.findings.models import Finding, FindingKind, FindingSource, Severity
from bot.gamedays.models import GameDay, GameDayStatus
from bot.runs.models import Run
from bot.runs.states import RunStatus, Trigger
from bot.slack.conversations import install as install_conversations

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


@dataclass
class Measure:
    teams: int
    services: int
    runs: int
    seconds: float
    reads: int
    writes: int
    messages: int
    again_reads: int
    again_messages: int


def measure(db: Database, *, teams: int, per_team: int, runs_per: int, chart: bool) -> Measure:
    upgrade(db)
    runs = fill(db, teams=teams, per_team=per_team, runs_per=runs_per)
    counter = Statements(db)
    started = time.perf_counter()
    with db.session() as session:
        report = send_digests(
            session, now=NOW, policy=DEFAULT_POLICY, admin_channel="C0PLATFORM", chart=chart
        )
    seconds = time.perf_counter() - started
    reads, writes = counter.reads, counter.writes
    assert len(report.teams) == teams, (len(report.teams), teams)
    counter.reset()
    with db.session() as session:
        again = send_digests(session, now=NOW, policy=DEFAULT_POLICY, admin_channel="C0PLATFORM")
    return Measure(
        teams=teams,
        services=teams * per_team,
        runs=runs,
        seconds=seconds,
        reads=reads,
        writes=writes,
        messages=report.messages,
        again_reads=counter.reads,
        again_messages=again.messages,
    )


def main() -> None:
    install_conversations()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teams", type=int, default=1000)
    parser.add_argument("--baseline-teams", type=int, default=100)
    parser.add_argument("--services-per-team", type=int, default=10)
    parser.add_argument("--runs-per-service", type=int, default=10)
    parser.add_argument("--no-chart", action="store_true", help="leave the PNG charts out")
    parser.add_argument("--database-url", help="run the large case here (an empty database)")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="chaosbot-bench-") as tmp:
        for label, teams in (("baseline", args.baseline_teams), ("large", args.teams)):
            url = (
                args.database_url
                if label == "large" and args.database_url
                else f"sqlite:///{Path(tmp) / label}.db"
            )
            result = measure(
                Database(url),
                teams=teams,
                per_team=args.services_per_team,
                runs_per=args.runs_per_service,
                chart=not args.no_chart,
            )
            results.append(result)
            print(
                f"{label:8}  {result.teams:>5} teams {result.services:>6} services "
                f"{result.runs:>7} runs: digest job {result.seconds:7.2f} s, "
                f"{result.reads} reads + {result.writes} writes, {result.messages} messages; "
                f"run again: {result.again_reads} reads, {result.again_messages} messages"
            )
    base, large = results
    print(
        f"ratio large/baseline: teams x{large.teams / base.teams:.0f}, "
        f"time x{large.seconds / base.seconds:.1f}, "
        f"reads x{large.reads / base.reads:.2f}, writes x{large.writes / max(base.writes, 1):.2f}"
    )


if __name__ == "__main__":
    main()
