"""How a report writes people's text: Markdown that shows text as itself (no markup, no raw
HTML, one line), code spans that survive backticks and table pipes, and the summary line."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.reports.facts import FindingFacts, Halt, ItemFacts, Report, RunFacts
from bot.reports.render import markdown_code, markdown_escape, summary_line

T = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("*bold* _it_ `code` [link](http://x)", r"\*bold\* \_it\_ \`code\` \[link\](http://x)"),
        ("a | b", r"a \| b"),
        ("# heading\nsecond line", r"\# heading second line"),
        ("AT&T", "AT&amp;T"),
        ("back\\slash", r"back\\slash"),
    ],
)
def test_markdown_shows_peoples_text_as_itself(text: str, written: str) -> None:
    assert markdown_escape(text) == written


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("pod-kill", "`pod-kill`"),
        ("a`b", "``a`b``"),
        ("`x`", "`` `x` ``"),
        ("a|b", r"`a\|b`"),
    ],
)
def test_a_code_span_holds_any_text(text: str, written: str) -> None:
    assert str(markdown_code(text)) == written


def _run(status: str) -> RunFacts:
    return RunFacts(
        key="r-1",
        experiment="pod-kill",
        service="checkout",
        trigger="gameday",
        status=status,
        reason=None,
        requested_by="U1",
        dry_run=False,
        created_at=T,
        started_at=T,
        finished_at=T,
        abort_requested_by=None,
        abort_requested_at=None,
        timeline=(),
        journal=None,
        checks=(),
        chart_png=None,
        leftovers=None,
        rollback_attempts=0,
        cleanup_alerted_at=None,
    )


def _report(*statuses: str, halts: int = 0, items: tuple[str, ...] = ()) -> Report:
    finding = FindingFacts(
        key="fd-1",
        title="t",
        severity="high",
        kind="review",
        status="open",
        owner=None,
        run_key=None,
        created_by="U2",
        what_happened="",
        went_well="",
        action_items=tuple(
            ItemFacts(
                key=f"ai-{i}",
                text="x",
                owner="U2",
                due_on=date(2026, 12, 8),
                status=s,
                done_by=None,
            )
            for i, s in enumerate(items)
        ),
    )
    return Report(
        kind="game day",
        key="gd-1",
        service="checkout",
        team="payments",
        timezone="UTC",
        status="halted" if halts else "completed",
        reason=None,
        generated_at=T,
        plan=None,
        runs=tuple(_run(s) for s in statuses),
        halts=tuple(Halt(what="x", status="failed", reason="r", at=T) for _ in range(halts)),
        responses=(),
        findings=(finding,) if items else (),
    )


def test_the_summary_counts_outcomes_halts_findings_and_open_action_items() -> None:
    assert summary_line(_report("completed", "completed")) == (
        "Game day gd-1 of checkout completed: 2 experiments (2 completed); no halts; no findings."
    )
    assert summary_line(_report("failed", "aborted", halts=3, items=("open", "done"))) == (
        "Game day gd-1 of checkout halted: 2 experiments (1 aborted, 1 failed); 3 halts; "
        "1 finding, 2 action items (1 open)."
    )
    assert summary_line(_report()) == (
        "Game day gd-1 of checkout completed: nothing was injected; no halts; no findings."
    )
