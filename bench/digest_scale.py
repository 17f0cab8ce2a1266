"""What the weekly digest job costs at the scale of a large organisation.

    .venv/bin/python bench/digest_scale.py [--teams 1000] [--services-per-team 10]
                                           [--runs-per-service 10] [--baseline-teams 100]
                                           [--database-url URL]

Two databases are filled with the same shape of history (bot/testing/landscape.py): `teams`
teams (and a baseline with `baseline-teams`), each with `services-per-team` services of tiers 1 to 4, three suite entries
each, `runs-per-service` finished runs over the last 200 days, a game day per service (passed,
failed or none), open findings and drills. Then the digest job runs once for every team (Monday
09:00 has passed everywhere) and reports its time (wall clock, and the process's CPU time, which
the machine's other load leaves mostly alone) and its SQL statements, split into reads and
writes, and the same job run again (nothing is due: it must send nothing). The process is warm
first, as a running bot is (the library read, the fonts loaded).

Read the ratios large/baseline: the statements must not grow with the number of teams (every
fact is read in one query for all teams; messages and delivery rows are written in batched
INSERTs of up to 2,000 rows); the time grows with the work (one report per team).
SQLite files by default; `--database-url` runs the large case on PostgreSQL instead.

The job queues each team's chart undrawn (what it shows: a title and eight weekly scores); the
outbox draws the PNG when it uploads it, at the pace Slack takes uploads. That drawing is
measured too, on its own line ("charts at send"): every queued chart drawn as the outbox does.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _setup import draw_queued_charts, landscape_parser

from bot.compliance.digest import send_digests
from bot.config.compliance_policy import DEFAULT_POLICY
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.testing.landscape import NOW, Statements, fill


@dataclass
class Measure:
    teams: int
    services: int
    runs: int
    seconds: float
    cpu: float  # the process's CPU seconds: what the machine's other load leaves alone
    reads: int
    writes: int
    messages: int
    again_reads: int
    again_messages: int
    charts: int
    chart_seconds: float
    chart_cpu: float


def measure(db: Database, *, teams: int, per_team: int, runs_per: int, chart: bool) -> Measure:
    upgrade(db)
    runs = fill(db, teams=teams, per_team=per_team, runs_per=runs_per)
    counter = Statements(db)
    started, cpu = time.perf_counter(), time.process_time()
    with db.session() as session:
        report = send_digests(
            session, now=NOW, policy=DEFAULT_POLICY, admin_channel="C0PLATFORM", chart=chart
        )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    reads, writes = counter.reads, counter.writes
    assert len(report.teams) == teams, (len(report.teams), teams)
    drawn, chart_cpu = time.perf_counter(), time.process_time()
    charts = draw_queued_charts(db)
    chart_seconds, chart_cpu = time.perf_counter() - drawn, time.process_time() - chart_cpu
    counter.reset()
    with db.session() as session:
        again = send_digests(session, now=NOW, policy=DEFAULT_POLICY, admin_channel="C0PLATFORM")
    return Measure(
        teams=teams,
        services=teams * per_team,
        runs=runs,
        seconds=seconds,
        cpu=cpu,
        reads=reads,
        writes=writes,
        messages=report.messages,
        again_reads=counter.reads,
        again_messages=again.messages,
        charts=charts,
        chart_seconds=chart_seconds,
        chart_cpu=chart_cpu,
    )


def main() -> None:
    parser = landscape_parser(__doc__ or "")
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
                f"{result.runs:>7} runs: digest job {result.seconds:7.2f} s "
                f"({result.cpu:.2f} s CPU), "
                f"{result.reads} reads + {result.writes} writes, {result.messages} messages; "
                f"run again: {result.again_reads} reads, {result.again_messages} messages"
            )
            if result.charts:
                print(
                    f"{'':8}  charts at send (the outbox draws them): {result.charts} charts "
                    f"{result.chart_seconds:7.2f} s ({result.chart_cpu:.2f} s CPU, "
                    f"{result.chart_cpu / result.charts * 1000:.1f} ms each)"
                )
    base, large = results
    print(
        f"ratio large/baseline: teams x{large.teams / base.teams:.0f}, "
        f"time x{large.seconds / base.seconds:.1f} (CPU x{large.cpu / base.cpu:.1f}), "
        f"reads x{large.reads / base.reads:.2f}, writes x{large.writes / max(base.writes, 1):.2f}"
    )


if __name__ == "__main__":
    main()
