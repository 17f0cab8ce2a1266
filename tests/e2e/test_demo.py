"""`chaosbot demo` plays its script offline and prints the conversation."""

from __future__ import annotations

import os
from pathlib import Path

from bot.reports.render import SECTIONS
from tests.e2e.conftest import run_chaosbot
from tests.fixtures.chromium import asset_urls, browse


def test_demo_runs_offline_and_prints_the_conversation(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHAOSBOT_"))}
    reports = tmp_path / "reports"
    result = run_chaosbot("demo", "--report-dir", str(reports), env=env, timeout=240)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "#payments  @alice: /chaos help" in out
    assert "chaosbot (only visible to @alice):" in out
    assert "`/chaos help`  what chaosbot can do" in out
    assert "`/chaos onbaord` is not a chaosbot command" in out
    assert "Did you mean `/chaos onboard`?" in out
    # onboarding: a field error on the form, then the confirmation with what was found
    assert "probe_url: Points at a link-local or cloud-metadata address" in out
    assert ":white_check_mark: *checkout* is onboarded" in out
    assert "Pods matched: 3 (3 ready); Deployment `checkout`, 3 replicas desired" in out
    assert "• no PodDisruptionBudget" in out
    assert "owners @alice, @bob" in out
    # a run refused by preflight, then one halted with the Abort button, leaving nothing behind
    assert "refused by preflight: it would disrupt 3 of 3 pods (100%)" in out
    assert "in the cluster now: networkchaos/chaosbot-delay-to-r-" in out
    assert "@bob halted run `r-" in out
    assert "aborted: rolled back on request" in out
    assert "Leftover check: nothing left behind." in out
    assert "in the cluster now: 0 NetworkChaos objects" in out
    # checkout breaks while a latency holds: the steady-state watch halts the run and rolls back
    halted = out[out.index("=== A run halted by its steady state") : out.index("=== A worker")]
    assert "Steady state watched every 2 s from the injection to the end of the rollback" in halted
    assert ":rotating_light: *upstream-latency* on *checkout*: halted" in halted
    assert "halted: steady state broke (GET http://127.0.0.1:" in halted
    assert "got 503 in " in halted and "expected 200)" in halted
    assert "in the cluster now: 0 NetworkChaos objects" in halted
    # a worker killed while it holds a blackhole; the running bot's janitor rolls the fault back
    killed = out[out.index("=== A worker killed mid-hold") : out.index("=== A game day")]
    assert "@alice: /chaos run checkout blackhole direction=ingress hold=300" in killed
    holding = killed.index(":stopwatch: *blackhole* on *checkout*: holding")
    assert "(in the cluster now: networkpolicy/chaosbot-blackhole-r-" in killed
    kill = killed.index("the worker process is killed with SIGKILL, as the kernel's OOM killer")
    ended = killed.index(":x: *blackhole* on *checkout*: failed")
    assert holding < kill < ended
    after = killed[ended:]
    assert "its worker stopped while holding; chaosbot rolled back: nothing left behind" in after
    assert "Leftover check: nothing left behind." in after
    assert "[ Abort ]" not in after
    assert "(in the cluster now: 0 NetworkPolicies)" in after
    # a game day: asked for in a form, approved by two people (never the requester), run on time
    assert "#payments  @alice: /chaos gameday checkout" in out
    assert "Start time (Europe/Berlin)" in out
    assert "Hits: 1 of 3 pods, picked when it runs · blast radius 33% (cap 50%)" in out
    assert "Rollback: `wait-for-pods-ready` (always run)" in out
    assert "You asked for this game day: someone else has to approve it." in out
    assert "Approved. 1 more approval needed." in out
    assert "Approved by @bob, @carol." in out
    assert "*pod-kill* :boom: injecting" in out
    assert ":checkered_flag: Game day completed: 1 completed." in out
    # its report in the thread: the summary, and the HTML and Markdown files
    report = out.index(":bookmark_tabs: Report: Game day gd-")
    assert out.index(":checkered_flag: Game day completed") < report
    summary = " ".join(out[report:].split())  # the transcript wraps long lines
    assert "of checkout completed: 1 experiment (1 completed); no halts; no findings." in summary
    assert "(the thread also holds the report as files: gameday-gd-" in out
    # bob records a finding with two action items; the report comes again, with it
    recorded = " ".join(out[out.index("@bob recorded finding `fd-") :].split())
    assert "hypothesis held). Action items: @carol (Cut checkout's readiness delay" in recorded
    again = recorded[recorded.index(":bookmark_tabs: Report, with finding `fd-") :]
    assert "completed: 1 experiment (1 completed); no halts; 1 finding, 2 action items" in again
    _the_demos_report_renders_offline_with_every_section(reports, tmp_path)
    # a blind drill: the admin's plan, an alert that does not say drill, the reveal, findings
    assert "#platform  @pat: /chaos drills" in out
    assert "for platform admins only; do not share." in out
    alert = out[out.index(":rotating_light: *SEV2 · checkout*") :]
    assert "drill" not in alert[: alert.index("[ Acknowledge ] [ Resolve ] [ Escalate ]")].lower()
    assert ":test_tube: *This was a blind drill* of checkout: `pod-kill`" in out
    # the team's own Alertmanager fired during the drill: the reveal says monitoring noticed
    assert "the team's own Alertmanager fires CheckoutHighErrorRate" in out
    assert ":bell: Your monitoring fired `CheckoutHighErrorRate` " in out
    assert "acknowledged by @bob (time to acknowledge" in out
    assert "mitigated, resolved by @alice" in out
    assert "rolled back by chaosbot" in out
    assert "recorded finding `fd-" in out and "PodDisruptionBudget for checkout)" in out
    # the weekly digest, as the team sees it, with its chart in the thread
    assert "*Weekly chaos digest: team payments* (20" in out
    assert ":red_circle: *checkout* (tier 1): overdue: experiments of 1 of the 3 categories" in out
    assert "*Blind drills this week*: 1; median time to acknowledge" in out
    assert "-byte PNG of the team's resilience score, week by week" in out
    assert out.rstrip().endswith("nothing outside this machine was touched.")
    assert result.stderr == ""


def _the_demos_report_renders_offline_with_every_section(reports: Path, work: Path) -> None:
    """The game day's report as the demo last uploaded it, opened in headless Chromium: every
    section, bob's finding and its items, and not one request made by the page."""
    [page] = reports.glob("gameday-gd-*.html")
    assert [p.name for p in reports.glob("gameday-gd-*.md")] == [page.with_suffix(".md").name]
    assert all(url.startswith("data:") for _tag, url in asset_urls(page.read_text()))
    browsed = browse(page, work)
    assert browsed.page_requests == []
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in browsed.dom
    for shown in (
        "Cut checkout's readiness delay below 5 s",
        "Add pod-kill to the release checklist",
        "U0CAROL",
        "hypothesis held",
        "nothing left",
    ):
        assert shown in browsed.dom
    assert browsed.dom.count('src="data:image/png;base64,') == 1  # the run's chart
    assert browsed.screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
