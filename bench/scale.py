"""What the scheduler's passes and the App Home cost as the platform grows.

    .venv/bin/python bench/scale.py [--teams 1000] [--baseline-teams 100]
                                    [--services-per-team 10] [--runs-per-service 10]
                                    [--in-flight 200]

Two SQLite databases are filled with the same shape (bot/testing/landscape.py's history: teams,
services, suites, finished runs, game days, findings, drills), plus, in proportion to the
number of services: runs in flight (`in-flight` at the large size, a tenth of it at the
baseline), pending and approved game days ahead, action items (some due for a reminder), and
services opted in to blind drills. One person owns 50 services (five teams' worth) at both
sizes and is an approver of those teams.

Then each pass of the reconciler runs once, as the scheduling replica runs it (its run() and
the date jobs it wants), then once again (nothing new is due), and the App Home of that person
is built. For each: its time (wall clock and CPU) and its SQL statements; then the ratios large/baseline. The
statements must not grow with the size (ratio 1.00): every fact is read for all rows at once,
and the writes are batched. Times grow with the rows read and the work done.

The weekly digest queues each team's chart undrawn; the outbox draws the PNG when it uploads it.
"digest charts at send" is that drawing, of every chart the pass queued (not a pass of the
reconciler: the outbox's thread does it, one chart per upload, as Slack takes them).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from _setup import draw_queued_charts, landscape_parser

from bot.clock import FrozenClock
from bot.compliance.scheduled import DigestPass
from bot.config.compliance_policy import DEFAULT_POLICY
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.drills.scheduled import DrillPass
from bot.findings.scheduled import ActionItemPass
from bot.gamedays.scheduled import GameDayPass
from bot.runs.janitor import Janitor
from bot.scheduling.reconciler import Pass
from bot.slack.home import personal_blocks
from bot.testing.landscape import NOW, PERSON, Statements, fill, fill_platform


def _pass(each: Pass) -> None:
    """What the reconciler does with a pass: run it, then ask for the date jobs it wants."""
    each.run()
    each.alarms()


@dataclass
class Cost:
    seconds: float
    cpu: float  # the process's CPU seconds: what the machine's other load leaves alone
    statements: int


def cost(counter: Statements, work: Callable[[], object]) -> Cost:
    counter.reset()
    started, cpu = time.perf_counter(), time.process_time()
    work()
    return Cost(
        time.perf_counter() - started, time.process_time() - cpu, counter.reads + counter.writes
    )


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
    fill_platform(db, teams=teams, per_team=per_team, in_flight=in_flight, first_run=last_run)
    counter = Statements(db)
    costs: dict[str, Cost] = {}
    every = passes(db)
    for round_ in ("", " again"):
        for each in every:
            costs[f"{each.name}{round_}"] = cost(counter, partial(_pass, each))
    costs["digest charts at send"] = cost(counter, partial(draw_queued_charts, db))

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
    parser = landscape_parser(__doc__ or "")
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
    print(f"{'':24} {'baseline':>24} {'large':>24}   ratio: CPU, statements")
    for name in base:
        b, g = base[name], large[name]
        print(
            f"{name:24} {b.seconds:7.3f} s {b.cpu:7.3f} cpu {b.statements:4d} st "
            f"{g.seconds:7.3f} s {g.cpu:7.3f} cpu {g.statements:4d} st "
            f"  x{g.cpu / max(b.cpu, 1e-6):5.1f}, x{g.statements / max(b.statements, 1):.2f}"
        )


if __name__ == "__main__":
    main()
