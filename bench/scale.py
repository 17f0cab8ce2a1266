"""What the scheduler's passes and the App Home cost as the platform grows.

    .venv/bin/python bench/scale.py [--teams 1000] [--baseline-teams 100]
                                    [--services-per-team 10] [--runs-per-service 10]
                                    [--in-flight 200]

Two SQLite databases are filled with the same shape (bench/digest_scale.py's history: teams,
services, suites, finished runs, game days, findings, drills), plus, in proportion to the
number of services: runs in flight (`in-flight` at the large size, a tenth of it at the
baseline), pending and approved game days ahead, action items (some due for a reminder), and
services opted in to blind drills. One person owns 50 services (five teams' worth) at both
sizes and is an approver of those teams.

Then each pass of the reconciler runs once, as the scheduling replica runs it (its run() and
the date jobs it wants), then once again (nothing new is due), and the App Home of that person
is built. For each: its time and its SQL statements; then the ratios large/baseline. The
statements must not grow with the size (ratio 1.00): every fact is read for all rows at once,
and the writes are batched. Times grow with the rows read and the work done.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from digest_scale import NOW, Statements, bulk, fill
from sqlalchemy import select

from bot.catalog.models import Member, Role, Service, ServiceOwner
from bot.clock import FrozenClock
from bot.compliance.scheduled import DigestPass
from bot.config.compliance_policy import DEFAULT_POLICY
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.drills.scheduled import DrillPass
from bot.findings.models import ActionItem, ActionItemStatus, Finding
from bot.findings.scheduled import ActionItemPass
from bot.gamedays.models import GameDay, GameDayApproval, GameDayStatus
from bot.gamedays.scheduled import GameDayPass
from bot.runs.janitor import Janitor
from bot.runs.models import Run
from bot.runs.states import RunStatus, Trigger
from bot.scheduling.reconciler import Pass
from bot.slack.conversations import install as install_conversations
from bot.slack.home import personal_blocks

PERSON = "U0PERSON"
PERSON_TEAMS = 5  # of 10 services each: the person's 50 services
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


def fill_platform(db: Database, *, services: int, in_flight: int, first_run: int) -> None:
    """What is going on besides the history: per 100 services, 2 pending and 2 approved game
    days ahead, 2 opted in to drills, 1 action item due for a reminder (the findings' other
    items were reminded yesterday); `in_flight` runs holding their fault."""
    owners: list[dict[str, Any]] = [
        {"service_id": sid, "slack_user_id": PERSON} for sid in range(1, 10 * PERSON_TEAMS + 1)
    ]
    members = [
        {"team_id": team, "slack_user_id": PERSON, "role": Role.APPROVER}
        for team in range(1, PERSON_TEAMS + 1)
    ]
    gamedays: list[dict[str, Any]] = []
    approvals: list[dict[str, Any]] = []
    for index, sid in enumerate(range(3, services + 1, 25)):
        pending = index % 2 == 0
        starts = NOW + timedelta(days=3 + index % 10, hours=index % 7)
        gamedays.append(
            {
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


@dataclass
class Cost:
    seconds: float
    statements: int


def cost(counter: Statements, work: Callable[[], object]) -> Cost:
    counter.reset()
    started = time.perf_counter()
    work()
    return Cost(time.perf_counter() - started, counter.reads + counter.writes)


def passes(db: Database) -> list[Pass]:
    clock = FrozenClock(NOW)
    args: dict[str, Any] = {
        "db": db,
        "clock": clock,
        "start_run": lambda _run_id: None,
        "grace": timedelta(minutes=5),
    }
    return [
        GameDayPass(admins=frozenset({"U0ADMIN"}), **args),
        DrillPass(**args),
        DigestPass(db=db, clock=clock, policy=DEFAULT_POLICY, admin_channel="C0PLATFORM"),
        ActionItemPass(db=db, clock=clock),
        Janitor(db=db, clock=clock, roll_back=lambda _run_id: None),
    ]


def measure(
    db: Database, *, teams: int, per_team: int, runs_per: int, in_flight: int
) -> dict[str, Cost]:
    upgrade(db)
    last_run = fill(db, teams=teams, per_team=per_team, runs_per=runs_per)
    fill_platform(db, services=teams * per_team, in_flight=in_flight, first_run=last_run)
    counter = Statements(db)
    costs: dict[str, Cost] = {}
    every = passes(db)
    for round_ in ("", " again"):
        for each in every:
            costs[f"{each.name}{round_}"] = cost(
                counter, lambda each=each: (each.run(), each.alarms())
            )

    def home() -> None:
        with db.session() as session:
            personal_blocks(
                session,
                user_id=PERSON,
                now=NOW,
                admins=frozenset({"U0ADMIN"}),
                policy=DEFAULT_POLICY,
            )

    costs["App Home (50 services)"] = cost(counter, home)
    return costs


def main() -> None:
    install_conversations()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teams", type=int, default=1000)
    parser.add_argument("--baseline-teams", type=int, default=100)
    parser.add_argument("--services-per-team", type=int, default=10)
    parser.add_argument("--runs-per-service", type=int, default=10)
    parser.add_argument("--in-flight", type=int, default=200)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="chaosbot-bench-") as tmp:
        for label, teams in (("baseline", args.baseline_teams), ("large", args.teams)):
            flight = max(1, args.in_flight * teams // args.teams)
            costs = measure(
                Database(f"sqlite:///{Path(tmp) / label}.db"),
                teams=teams,
                per_team=args.services_per_team,
                runs_per=args.runs_per_service,
                in_flight=flight,
            )
            results.append(costs)
            print(
                f"{label}: {teams} teams, {teams * args.services_per_team} services, "
                f"{flight} runs in flight"
            )
    base, large = results
    print(f"{'':26} {'baseline':>20} {'large':>20}   ratio time, statements")
    for name in base:
        b, g = base[name], large[name]
        print(
            f"{name:26} {b.seconds:8.3f} s {b.statements:5d} st {g.seconds:8.3f} s "
            f"{g.statements:5d} st   x{g.seconds / max(b.seconds, 1e-6):5.1f}, "
            f"x{g.statements / max(b.statements, 1):.2f}"
        )


if __name__ == "__main__":
    main()
