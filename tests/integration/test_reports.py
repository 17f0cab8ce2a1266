"""Reports and JUnit results from the rows a run leaves (real chaostoolkit-lib journals, the
watch's checks, drills, findings, action items), on SQLite and PostgreSQL; and the report a game
day's thread gets when it settles."""

from __future__ import annotations

import base64
import copy
import json
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from chaoslib.experiment import run_experiment
from sqlalchemy import select, update

from bot.cli import main
from bot.db.engine import Database
from bot.drills.models import Drill, DrillStatus
from bot.findings.models import ActionItem, Finding
from bot.gamedays.report import gameday_report, run_report
from bot.outbox.models import OutboxMessage
from bot.reports.junit import TESTCASES, junit_xml
from bot.reports.render import SECTIONS, Format, render_report
from bot.runs.models import Run, RunMeasurement
from bot.runs.report import run_facts
from bot.runs.states import RunStatus
from bot.slack.outbox import UPLOAD_METHOD
from tests import verdict_activities
from tests.fixtures.bot import ALICE, BOB, START
from tests.fixtures.gamedays import register_service
from tests.fixtures.runs import recorded_run
from tests.integration.test_gameday_schedule import DAY, Harness

ACTIVITIES = "tests.verdict_activities"
SECOND = timedelta(seconds=1)
HOSTILE = "<script>alert(1)</script> *bold* | pipe"
# How a run ends: the moves the worker makes and the journal its experiment writes.
THROUGH_THE_FAULT = ((RunStatus.PREFLIGHT, 1), (RunStatus.INJECTING, 2), (RunStatus.HOLDING, 3))


def _activity(kind: str, name: str, func: str, **arguments: Any) -> dict[str, Any]:
    provider = {"type": "python", "module": ACTIVITIES, "func": func, "arguments": arguments}
    return {"type": kind, "name": name, "provider": provider}


def _journal(**probe: Any) -> dict[str, Any]:
    """A real journal of chaostoolkit-lib playing a fault against the pretend service."""
    verdict_activities.reset()
    document = {
        "title": "checkout survives the fault",
        "description": "report test",
        "steady-state-hypothesis": {
            "title": "checkout answers",
            "probes": [
                {**_activity("probe", "service-answers", "health", **probe), "tolerance": 200}
            ],
        },
        "method": [_activity("action", "inject", "inject")],
        "rollbacks": [_activity("action", "undo", "undo")],
    }
    journal = run_experiment(document, settings={"runtime": {"rollbacks": {"strategy": "always"}}})
    stored: dict[str, Any] = json.loads(json.dumps(journal, default=str))  # as the worker stores it
    return stored


def _halted_journal() -> dict[str, Any]:
    """The watch interrupted the method: the breach it writes, no check after the method."""
    journal = copy.deepcopy(_journal())
    journal["status"], journal["steady_states"]["after"] = "interrupted", None
    journal["steady_state_watch"] = {"breach": {"halted": True, "reason": "2 failed in a row"}}
    return journal


SHAPES: dict[str, dict[str, Any]] = {
    "completed": {
        "status": RunStatus.COMPLETED,
        "reason": "completed: the steady state held",
        "journal": _journal,
        "checks": 2,
        "failed": set(),
        "skipped": set(),
    },
    "deviated": {
        "status": RunStatus.DEVIATED,
        "reason": "deviated: the steady state did not hold (service-answers: got 503)",
        "journal": lambda: _journal(while_injected=503),
        "checks": 0,
        "failed": {"steady state after the fault", "outcome"},
        "skipped": {"steady state during the fault"},
    },
    "halted": {
        "status": RunStatus.HALTED,
        "reason": "halted: steady state broke (2 failed in a row)",
        "journal": _halted_journal,
        "checks": 4,
        "failed": {"method", "steady state during the fault", "outcome"},
        "skipped": {"steady state after the fault"},
    },
    "not-started": {
        "status": RunStatus.ABORTED,
        "reason": "not started: the steady state did not hold (service-answers: got 503)",
        "journal": lambda: _journal(answer=503),
        "checks": 0,
        "failed": {"steady state before the fault", "outcome"},
        "skipped": {"method", "steady state during the fault", "steady state after the fault"},
    },
    "refused-by-preflight": {
        "status": RunStatus.ABORTED,
        "reason": "refused by preflight: the kill switch is engaged",
        "journal": lambda: None,
        "checks": 0,
        "failed": {"preflight", "outcome"},
        "skipped": set(TESTCASES[1:7]),
    },
}


def _run(db: Database, shape: str, *, checks: int = 0, leftovers: list[str] | None = None) -> int:
    wanted = SHAPES[shape]
    journal = wanted["journal"]()
    moves = () if journal is None else (*THROUGH_THE_FAULT, (RunStatus.ROLLING_BACK, 6))
    run_id = recorded_run(
        db,
        moves=(*moves, (wanted["status"], 7)),
        journal=journal,
        reason=wanted["reason"],
        leftovers=[] if leftovers is None and journal is not None else leftovers,
        rollback_attempts=1,
    )
    with db.session() as session:
        for second in range(checks):
            session.add(
                RunMeasurement(
                    run_id=run_id,
                    at=START + timedelta(seconds=2.5 + second),
                    probe="service-answers",
                    ok=second < 2,
                    value=12.0 + second if second < 2 else None,
                    detail="200 in 12 ms" if second < 2 else "connection refused",
                )
            )
    return run_id


@pytest.fixture
def checkout(db: Database) -> Database:
    register_service(db)
    return db


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_runs_junit_result_has_a_testcase_per_phase_with_its_failure_or_skip(
    checkout: Database, shape: str
) -> None:
    run_id = _run(checkout, shape, checks=SHAPES[shape]["checks"])
    with checkout.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        document = junit_xml(run_facts(session, run, chart=False))
    root = ET.fromstring(document)  # noqa: S314 - chaosbot's own output
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert root.tag == "testsuites"
    [suite] = root
    assert suite.tag == "testsuite"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == list(TESTCASES)
    # The schema's shape: properties first, testcases with at most one outcome element each.
    assert [child.tag for child in suite] == ["properties", *["testcase"] * len(TESTCASES)]
    for case in cases:
        assert case.get("classname") == "chaosbot.checkout.pod-kill"
        assert float(case.get("time") or "x") >= 0
        outcomes = [child.tag for child in case if child.tag != "system-out"]
        assert len(outcomes) <= 1 and set(outcomes) <= {"failure", "skipped"}
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    skipped = {c.get("name") for c in cases if c.find("skipped") is not None}
    wanted = SHAPES[shape]
    assert (failed, skipped) == (wanted["failed"], wanted["skipped"])
    assert suite.get("tests") == str(len(TESTCASES))
    assert (suite.get("failures"), suite.get("skipped")) == (str(len(failed)), str(len(skipped)))
    assert suite.get("errors") == "0"
    # From the preflight (a second in) to the end; a run refused never started: its creation.
    started, took = (START, 0.0) if shape == "refused-by-preflight" else (START + SECOND, 6.0)
    assert suite.get("timestamp") == started.strftime("%Y-%m-%dT%H:%M:%S")
    assert float(suite.get("time") or "x") == took
    outcome = next(c for c in cases if c.get("name") == "outcome")
    if "outcome" in failed:
        failure = outcome.find("failure")
        assert failure is not None
        assert failure.get("message") == wanted["reason"]
        assert failure.get("type") == wanted["status"].value
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["status"] == wanted["status"].value
    if shape == "completed":
        method = next(c for c in cases if c.get("name") == "method")
        assert "action inject: succeeded" in (method.findtext("system-out") or "")


def test_a_run_report_shows_checks_halts_leftovers_responders_findings_and_action_items(
    checkout: Database,
) -> None:
    run_id = _run(checkout, "halted", checks=4, leftovers=["networkpolicy/payments/chaosbot-x"])
    with checkout.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        session.execute(update(Run).where(Run.id == run_id).values(abort_requested_by=BOB))
        drill = Drill(
            key="inc-3fa9c1",
            service_id=run.service_id,
            day=date(2026, 11, 30),
            status=DrillStatus.REVEALED,
            planned_when=START,
            policy="p",
            run_id=run_id,
            acknowledged_at=START + timedelta(minutes=3),
            acknowledged_by=BOB,
            resolved_at=START + timedelta(minutes=9),
            resolved_by=ALICE,
        )
        session.add(drill)
        [automatic] = session.scalars(select(Finding).where(Finding.run_id == run_id)).all()
        automatic.title = HOSTILE
        automatic.action_items.append(
            ActionItem(
                key="ai-0a1b2c",
                text="Raise the retry budget",
                owner=ALICE,
                due_on=date(2026, 12, 14),
                created_at=START,
                created_by=BOB,
            )
        )
        key = run.key
    with checkout.session() as session:
        report = run_report(session=session, ref=key, now=START + timedelta(hours=1))
    [facts] = report.runs
    assert [(c.phase, c.ok) for c in facts.checks] == [
        ("injection", True),
        ("hold", True),
        ("hold", False),
        ("hold", False),
    ]
    assert facts.chart_png is not None and facts.chart_png.startswith(b"\x89PNG")
    assert [(h.status, h.reason) for h in report.halts] == [("halted", SHAPES["halted"]["reason"])]
    assert [(r.who, r.did) for r in report.responses] == [
        (BOB, "acknowledged incident inc-3fa9c1"),
        (ALICE, "resolved incident inc-3fa9c1"),
        (BOB, f"asked to abort run {key} (pod-kill)"),  # no time recorded: last
    ]
    html, markdown = render_report(report, Format.HTML), render_report(report, Format.MARKDOWN)
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in html and f"\n## {section}\n" in markdown
    for shown in ("ai-0a1b2c", "Raise the retry budget", "2026-12-14", "chaosbot-x"):
        assert shown in html and shown in markdown
    assert base64.b64encode(facts.chart_png).decode() in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \\*bold\\* \\| pipe" in markdown
    assert "| 2.5 | hold | `service-answers` | error | FAILED | connection refused |" in markdown
    assert f"Run {key} (pod-kill) of checkout halted: 1 experiment (1 halted); 1 halt; " in html


def test_without_watch_checks_the_steady_state_is_the_probe_results(checkout: Database) -> None:
    run_id = _run(checkout, "deviated")
    with checkout.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        report = run_report(session=session, ref=run.key, now=START)
    markdown = render_report(report, Format.MARKDOWN)
    steady = markdown[markdown.index("## Steady state") : markdown.index("## Halts")]
    assert "The watch recorded no checks for this run" in steady
    assert "#### Before the fault\n\nSteady state met." in steady
    assert "#### After the fault\n\nSteady state **not met**." in steady
    assert "| `service-answers` | succeeded | not met | 503 |" in steady
    assert "data:image" not in render_report(report, Format.HTML)


def test_chaosbot_report_writes_a_file_or_says_what_is_missing(
    checkout: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = _run(checkout, "completed")
    with checkout.session() as session:
        key = session.get(Run, run_id).key  # type: ignore[union-attr]
    monkeypatch.setenv("CHAOSBOT_DATABASE_URL", database_url)
    out = tmp_path / "run.md"
    assert main(["report", "run", key, "--format", "md", "--output", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote the report of {key} to {out}\n"
    assert out.read_text().startswith(f"# Run `{key}` of checkout: completed\n")
    assert main(["report", "gameday", "gd-000000"]) == 1
    assert "There is no game day `gd-000000`." in capsys.readouterr().err


def test_a_halted_game_day_queues_its_report_once_in_the_transaction_that_settles_it(
    db: Database,
) -> None:
    register_service(db, tier=2)
    harness = Harness(db)
    key = harness.approved(starts_at=DAY, experiments=("pod-kill", "container-kill"))
    harness.at(DAY)
    harness.scheduler.reconcile()
    first = harness.runs(key)[0]
    harness.finish(first.id, RunStatus.FAILED)
    harness.scheduler.reconcile()
    harness.scheduler.reconcile()  # nothing more
    with db.session() as session:
        uploads = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.method == UPLOAD_METHOD)
            .order_by(OutboxMessage.id)
        ).all()
        report = gameday_report(session=session, ref=key, now=DAY)
    assert [u.dedupe_key for u in uploads] == [
        f"gameday:{key}:report:html",
        f"gameday:{key}:report:md",
    ]
    assert uploads[0].payload["thread_ts"] == {"$ts_of": f"gameday:{key}:message"}
    assert uploads[0].payload["initial_comment"] == (
        f":bookmark_tabs: Report: Game day {key} of checkout halted: 2 experiments "
        "(1 aborted, 1 failed); 3 halts; no findings."
    )
    markdown = base64.b64decode(uploads[1].payload["content_base64"]).decode()
    assert f"| game day {key} | halted |" in markdown
    assert "pod-kill ended failed" in markdown
    assert [h.what for h in report.halts] == [
        f"game day {key}",
        f"run {first.key} (pod-kill)",
        f"run {harness.runs(key)[1].key} (container-kill)",
    ]
