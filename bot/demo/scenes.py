"""The demo's scenes, in the order a new team would meet chaosbot."""

from __future__ import annotations

import json
import os
import signal
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import urllib3
import yaml
from sqlalchemy import select

from bot.catalog.apply import apply_documents
from bot.catalog.chaosfile import dump_documents, load_documents
from bot.catalog.service import find_service, spec_of
from bot.catalog.spec import catalog_policy
from bot.demo import ADMIN_CHANNEL, ALERTMANAGER_TOKEN, PAT, TEAM_CHANNEL, DemoWorld
from bot.drills.models import Drill, DrillStatus
from bot.errors import ChaosbotError
from bot.gamedays.models import GameDay
from bot.gamedays.timing import local_label, zone
from bot.runs.models import Run
from bot.runs.states import RunStatus
from bot.slack.ids import ActionId, CallbackId
from bot.slack.ids import FindingsBlock as F
from bot.slack.ids import GameDayBlock as G
from bot.slack.ids import OnboardBlock as B
from bot.testing.slack.forms import choice, onboarding_form, text

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
_T = TypeVar("_T")
# Generous: on a busy machine a worker process takes a while to start.
WAIT = 60.0

__all__ = ["SCENES"]

# checkout is critical: tier 1 (two approvals per game day), Carol approves besides its owners,
# and the team works on Berlin time.
TIER_1: dict[str, dict[str, Any]] = {
    B.TIER: choice("1"),
    B.APPROVERS: {"type": "multi_users_select", "selected_users": [CAROL]},
    B.TEAM_TIMEZONE: text("Europe/Berlin"),
}


def asking_for_help(world: DemoWorld) -> None:
    """A newcomer asks what chaosbot does."""
    simulator = world.simulator
    world.transcript.scene("Meeting chaosbot")
    world.transcript.person("alice", "#payments", "/chaos help")
    response = simulator.slash_command("/chaos", "help", user_id="UALICE", channel_id=TEAM_CHANNEL)
    world.transcript.bot("#payments", response.json(), only_visible_to="alice")
    world.transcript.person("alice", "#payments", "/chaos onbaord")
    response = simulator.slash_command(
        "/chaos", "onbaord", user_id="UALICE", channel_id=TEAM_CHANNEL
    )
    world.transcript.bot("#payments", response.json(), only_visible_to="alice")


def onboarding(world: DemoWorld) -> None:
    """Alice registers checkout: one mistake caught on its field, then the confirmation."""
    t, slack = world.transcript, world.slack
    t.scene("Onboarding a service")
    t.person("alice", "#payments", "/chaos onboard")
    world.simulator.slash_command("/chaos", "onboard", user_id=ALICE, channel_id=TEAM_CHANNEL)
    [opened] = slack.wait_for("views.open", timeout=WAIT)
    t.modal("alice", opened.body["view"])
    view_id = opened.response["view"]["id"]

    bad_probe: dict[str, dict[str, Any]] = {
        B.PROBE_URL: text("http://169.254.169.254/latest/meta-data")
    }
    t.note("alice fills it in, with the cloud metadata endpoint as the health probe")
    answer = world.simulator.view_submission(
        CallbackId.ONBOARD.value,
        values=onboarding_form({**bad_probe, **TIER_1}, owner_ids=(ALICE, BOB)),
        user_id=ALICE,
        view_id=view_id,
    ).json()
    t.field_errors(answer["errors"])

    t.note("alice corrects the probe URL (a stand-in for checkout's /healthz) and submits again")
    world.simulator.view_submission(
        CallbackId.ONBOARD.value,
        values=onboarding_form(
            {B.PROBE_URL: text(world.health_url), **TIER_1}, owner_ids=(ALICE, BOB)
        ),
        user_id=ALICE,
        view_id=view_id,
    )
    [posted] = slack.wait_for(
        "chat.postMessage", where=lambda c: c.body["channel"] == TEAM_CHANNEL, timeout=WAIT
    )
    t.bot("#payments", posted.body)

    t.person("bob", "#payments", "/chaos services")
    world.simulator.slash_command("/chaos", "services", user_id=BOB, channel_id=TEAM_CHANNEL)
    [listed] = slack.wait_for_response(timeout=WAIT)
    t.bot("#payments", listed.body, only_visible_to="bob")


def _run(world: DemoWorld, who: str, user: str, command: str) -> None:
    world.transcript.person(who, "#payments", f"/chaos {command}")
    replies = len(world.slack.responses)
    world.simulator.slash_command("/chaos", command, user_id=user, channel_id=TEAM_CHANNEL)
    started = world.slack.wait_for_response(count=replies + 1, timeout=WAIT)[-1]
    world.transcript.bot("#payments", started.body, only_visible_to=who)


def _run_message(
    world: DemoWorld, experiment: str, state: str, *, key: str | None = None
) -> dict[str, Any]:
    """The canonical message of the latest run of `experiment` (or of run `key`) once it says
    `state`."""
    world.slack.wait_for(
        "chat.update",
        where=lambda c: (
            experiment in str(c.body.get("text"))
            and state in str(c.body.get("text"))
            and (key is None or key in str(c.body.get("blocks")))
        ),
        timeout=WAIT,
    )
    return next(
        m
        for m in reversed(world.slack.messages(TEAM_CHANNEL))
        if experiment in m.get("text", "") and not m.get("thread_ts")
    )


def _latest_run_key(world: DemoWorld, experiment: str) -> str:
    with world.server.db.session() as session:
        key = session.scalar(
            select(Run.key).where(Run.experiment == experiment).order_by(Run.id.desc()).limit(1)
        )
    assert key is not None
    return key


def _thread(world: DemoWorld, message: dict[str, Any]) -> str:
    """The replies in a run's thread, on one line."""
    return " / ".join(
        m["text"]
        for m in world.slack.messages(TEAM_CHANNEL)
        if m.get("thread_ts") == message["ts"] and m["ts"] != message["ts"]
    )


def run_and_abort(world: DemoWorld) -> None:
    """Preflight refuses a run that is too wide; a narrower one runs until Bob halts it."""
    t, slack = world.transcript, world.slack
    t.scene("A run refused, a run halted")
    _run(world, "alice", ALICE, "run checkout blackhole direction=ingress")
    t.bot("#payments", _run_message(world, "blackhole", "aborted"))

    _run(world, "alice", ALICE, "run checkout upstream-latency latency_ms=300 percent=30 hold=300")
    message = _run_message(world, "upstream-latency", "holding")
    t.bot("#payments", message)
    chaos = world.kube.list("networkchaos", "payments")
    t.note(
        "in the cluster now: " + ", ".join("networkchaos/" + c["metadata"]["name"] for c in chaos)
    )

    t.person("bob", "#payments", "[clicks Abort]")
    replies = len(slack.responses)
    world.simulator.block_action(
        ActionId.ABORT_RUN.value, user_id=BOB, channel_id=TEAM_CHANNEL, message=message
    )
    t.bot("#payments", slack.wait_for_response(count=replies + 1, timeout=WAIT)[-1].body)
    t.bot("#payments", _run_message(world, "upstream-latency", "aborted"))
    t.note("its thread: " + _thread(world, message))
    left = world.kube.list("networkchaos", "payments")
    t.note(f"in the cluster now: {len(left)} NetworkChaos objects")


def steady_state_halt(world: DemoWorld) -> None:
    """checkout starts failing while a fault holds: the watch halts the run and rolls it back."""
    t = world.transcript
    t.scene("A run halted by its steady state")
    t.note(
        "alice has checkout's probe checked every 2 s while a fault holds, halting after 2 "
        "failed checks in a row: steadyState in its chaos.yaml"
    )
    _apply_chaos_yaml(world, {"steadyState": {"intervalSeconds": 2, "failAfter": 2}})
    _run(world, "alice", ALICE, "run checkout upstream-latency latency_ms=300 percent=30 hold=300")
    key = _latest_run_key(world, "upstream-latency")
    message = _run_message(world, "upstream-latency", "holding", key=key)
    t.bot("#payments", message)
    world.health.status = 503
    t.note("checkout's health endpoint starts answering 503 while the latency holds")
    t.bot("#payments", _run_message(world, "upstream-latency", "halted", key=key))
    t.note("its thread: " + _thread(world, message))
    left = world.kube.list("networkchaos", "payments")
    t.note(f"in the cluster now: {len(left)} NetworkChaos objects")
    world.health.status = 200
    t.note("checkout recovers; alice puts the watch back to every 10 s")
    _apply_chaos_yaml(world, {"steadyState": {"intervalSeconds": 10, "failAfter": 2}})


def worker_killed(world: DemoWorld) -> None:
    """A blackhole's worker dies while it holds; the bot's janitor rolls the fault back."""
    t = world.transcript
    t.scene("A worker killed mid-hold, its fault rolled back by the janitor")
    t.note(
        "alice follows preflight's advice for this staging cluster: blastRadiusPercent: 100 in "
        "checkout's chaos.yaml, applied with `chaosbot apply -f chaos.yaml`"
    )
    _apply_chaos_yaml(world, {"blastRadiusPercent": 100})
    _run(world, "alice", ALICE, "run checkout blackhole direction=ingress hold=300")
    message = _run_message(world, "blackhole", "holding")
    t.bot("#payments", message)
    t.note("in the cluster now: " + ", ".join(_network_policies(world)))

    with world.server.db.session() as session:
        run = session.scalars(
            select(Run).where(Run.experiment == "blackhole").order_by(Run.id.desc())
        ).first()
        assert run is not None and run.worker_pid is not None
        pid = run.worker_pid
    os.kill(pid, signal.SIGKILL)
    t.note(
        "the worker process is killed with SIGKILL, as the kernel's OOM killer would: it "
        "cannot run its own rollbacks"
    )
    t.note(
        f"within {world.settings.janitor_seconds:g} s the bot's janitor finds the run's worker "
        "gone and replays its rollbacks in a process of their own"
    )
    t.bot("#payments", _run_message(world, "blackhole", "failed"))
    t.note("its thread: " + _thread(world, message))
    left = _network_policies(world)
    t.note(f"in the cluster now: {len(left)} NetworkPolicies")
    t.note("alice puts checkout's cap back to 50: no other experiment needs every pod")
    _apply_chaos_yaml(world, {"blastRadiusPercent": 50})


def _network_policies(world: DemoWorld) -> list[str]:
    return [
        "networkpolicy/" + p["metadata"]["name"]
        for p in world.kube.list("networkpolicies", "payments")
    ]


def _apply_chaos_yaml(world: DemoWorld, changes: dict[str, Any]) -> None:
    """checkout's chaos.yaml with `changes` in its spec, applied as `chaosbot apply` does."""
    db = world.server.db
    with db.session() as session:
        document = yaml.safe_load(
            dump_documents([spec_of(find_service(session=session, name="checkout"))])
        )
    document["spec"].update(changes)
    apply_documents(
        db,
        load_documents(
            yaml.safe_dump(document), source="chaos.yaml", policy=catalog_policy(world.settings)
        ),
        cluster=world.server.context.cluster,
        metrics=world.server.context.metrics,
        actor=ALICE,
        now=world.clock.now(),
        dry_run=False,
    )


def _click(
    world: DemoWorld, who: str, user: str, action: ActionId, message: dict[str, Any]
) -> None:
    world.transcript.person(who, "#payments", f"[clicks {action.value.split('_')[-1].title()}]")
    replies = len(world.slack.responses)
    world.simulator.block_action(
        action.value, user_id=user, channel_id=TEAM_CHANNEL, message={"ts": message["ts"]}
    )
    reply = world.slack.wait_for_response(count=replies + 1, timeout=WAIT)[-1]
    world.transcript.bot("#payments", reply.body, only_visible_to=who)


def _shown(world: DemoWorld, ts: str) -> dict[str, Any]:
    message = world.slack.message(TEAM_CHANNEL, ts)
    assert message is not None
    return message


def game_day(world: DemoWorld) -> None:
    """Alice asks for a game day; Bob and Carol approve it; the scheduler runs it at its time."""
    t, slack = world.transcript, world.slack
    t.scene("A game day, approved by two people, run on schedule")
    option = {"text": {"type": "plain_text", "text": "checkout"}, "value": "checkout pod-kill"}
    t.note("alice adds pod-kill to checkout's suite from `/chaos experiments pods`")
    replies = len(slack.responses)
    world.simulator.block_action(
        ActionId.ADD_TO_SUITE.value,
        user_id=ALICE,
        channel_id=TEAM_CHANNEL,
        message={"ts": "1", "text": "The library: pods", "blocks": []},
        selected_option=option,
    )
    added = slack.wait_for_response(count=replies + 1, timeout=WAIT)[-1]
    t.bot("#payments", added.body, only_visible_to="alice")

    t.person("alice", "#payments", "/chaos gameday checkout")
    opened_before = len(slack.calls_to("views.open"))
    world.simulator.slash_command(
        "/chaos", "gameday checkout", user_id=ALICE, channel_id=TEAM_CHANNEL
    )
    opened = slack.wait_for("views.open", count=opened_before + 1, timeout=WAIT)[-1]
    t.modal("alice", opened.body["view"])
    view = opened.body["view"]
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    values = {
        G.EXPERIMENTS: {"type": "multi_static_select", "selected_options": [{"value": "pod-kill"}]},
        G.DATE: {"type": "datepicker", "selected_date": blocks[G.DATE]["element"]["initial_date"]},
        G.TIME: {"type": "timepicker", "selected_time": "10:00"},
        G.DURATION: {"type": "static_select", "selected_option": {"value": "15"}},
        G.HOLD: {"type": "static_select", "selected_option": {"value": "10"}},
        G.NOTES: {"type": "plain_text_input", "value": "Bob watches the checkout dashboard"},
    }
    t.note("alice picks pod-kill, tomorrow at 10:00, 15 minutes, each fault held 10 seconds")
    world.simulator.view_submission(
        CallbackId.REQUEST_GAMEDAY.value,
        values={str(k): {str(k): v} for k, v in values.items()},
        user_id=ALICE,
        view_id=opened.response["view"]["id"],
    )
    [posted] = slack.wait_for(
        "chat.postMessage", where=lambda c: "Game day" in str(c.body.get("text")), timeout=WAIT
    )
    ts = posted.response["ts"]
    t.bot("#payments", posted.body)

    _click(world, "alice", ALICE, ActionId.APPROVE_GAMEDAY, posted.response)
    _click(world, "bob", BOB, ActionId.APPROVE_GAMEDAY, posted.response)
    slack.wait_for("chat.update", where=lambda c: "1 of 2 approvals" in str(c.body), timeout=WAIT)
    _click(world, "carol", CAROL, ActionId.APPROVE_GAMEDAY, posted.response)
    slack.wait_for(
        "chat.update", where=lambda c: "Approved and scheduled" in str(c.body), timeout=WAIT
    )
    t.bot("#payments", _shown(world, ts))

    with world.server.db.session() as session:
        starts_at = session.scalars(select(GameDay.starts_at)).one()
    t.note("the next morning: the clock jumps to the game day's start")
    world.clock.jump(max(starts_at - world.clock.now(), timedelta(0)))
    world.server.gamedays.wake()
    slack.wait_for(
        "chat.postMessage",
        where=lambda c: c.body.get("thread_ts") == ts and "Game day completed" in str(c.body),
        timeout=WAIT * 2,
    )
    slack.wait_for("chat.update", where=lambda c: "Completed" in str(c.body), timeout=WAIT)
    report = _wait_for(world, partial(_report_uploaded, world, ts))
    t.bot("#payments", _shown(world, ts))
    thread = [
        m.get("text", "")
        for m in slack.messages(TEAM_CHANNEL)
        if m.get("thread_ts") == ts and m["ts"] != ts and m.get("text")
    ]
    t.thread("#payments", thread)
    t.note(f"the thread also holds the report as files: {', '.join(report)}")
    with world.server.db.session() as session:
        key = session.scalars(select(GameDay.key)).one()
    t.note("bob records what the team learned, with two action items for carol and himself")
    finding = _record_findings(
        world,
        ("bob", BOB),
        (ActionId.RECORD_GAMEDAY_FINDINGS, ts, key),
        hypothesis="held",
        what_happened="Checkout lost a pod and kept answering; the new pod took 8 s to be ready.",
        went_well="The steady state held the whole time; nobody had to step in.",
        items=[
            ("Cut checkout's readiness delay below 5 s", CAROL, 14),
            ("Add pod-kill to the release checklist", BOB, 30),
        ],
    )
    reissued = _wait_for(world, partial(_report_with, world, ts, finding))
    t.thread("#payments", [reissued])
    if world.report_dir is not None:
        written = _write_report(world, ts, world.report_dir)
        t.note(f"the report as last uploaded, written to {', '.join(written)}")


def _report_with(world: DemoWorld, ts: str, finding: str) -> str | None:
    """The comment of the report issued again in the thread once `finding` was recorded."""
    return next(
        (
            u.initial_comment
            for u in world.slack.uploads
            if u.thread_ts == ts and u.initial_comment and finding in u.initial_comment
        ),
        None,
    )


def _write_report(world: DemoWorld, ts: str, directory: Path) -> list[str]:
    """The last upload of each of the game day's report files, written into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    last = {u.filename: u for u in world.slack.uploads if u.thread_ts == ts and u.completed}
    written = []
    for name, upload in sorted(last.items()):
        if name.startswith("gameday-"):
            (directory / name).write_bytes(upload.data)
            written.append(str(directory / name))
    return written


def _report_uploaded(world: DemoWorld, ts: str) -> list[str] | None:
    """The game day's report files in its thread, once both are there."""
    files = [
        u.filename
        for u in world.slack.uploads
        if u.thread_ts == ts and u.filename.startswith("gameday-")
    ]
    return sorted(files) if len(files) == 2 else None


BLIND_DRILLS = """\
blindDrills:
  enabled: true
  experiments: [pod-kill]
  weekdays: [mon, tue, wed, thu, fri, sat, sun]
  hours: "00:00-24:00"
  timezone: Europe/Berlin
  meanDaysBetween: 1
  minSpacingHours: 0
  durationMinutes: 30
alerting:
  matchers: {service: checkout}
"""


def blind_drill(world: DemoWorld) -> None:
    """checkout opts in; an incident nobody announced; Bob acknowledges, Alice resolves; the
    same message then says it was a drill, with its timeline; Alice records the findings."""
    t, slack = world.transcript, world.slack
    t.scene("A blind drill: an incident nobody announced")
    t.note(
        "alice adds this to checkout's chaos.yaml and runs `chaosbot apply -f chaos.yaml` "
        "(every day, a drill at a random minute: a demo has no time to wait for one):\n"
        + BLIND_DRILLS
    )
    _apply_chaos_yaml(world, yaml.safe_load(BLIND_DRILLS))
    world.server.gamedays.wake()
    planned = _wait_for(world, lambda: _next_drill(world))

    t.person("pat", "#platform", "/chaos drills")
    replies = len(slack.responses)
    world.simulator.slash_command("/chaos", "drills", user_id=PAT, channel_id=ADMIN_CHANNEL)
    listed = slack.wait_for_response(count=replies + 1, timeout=WAIT)[-1]
    t.bot("#platform", listed.body, only_visible_to="pat")

    t.note("the clock jumps to the drawn minute; nobody in #payments knows")
    planned = _jump_to_the_drill(world, planned)
    [alert] = slack.wait_for(
        "chat.postMessage", where=lambda c: "incident" in str(c.body.get("blocks")), timeout=WAIT
    )
    t.bot("#payments", alert.body)
    _wait_for(world, lambda: _drill_run_held(world, planned.key), timeout=WAIT * 2)
    # The worker keeps the clock it started with, so the demo's clock does not jump here: the
    # team's alert fires a couple of seconds into the fault, by the bot's clock.
    time.sleep(2)
    _alertmanager_delivers(world, "CheckoutHighErrorRate", world.clock.now())
    t.note(
        "a moment into the fault, the team's own Alertmanager fires CheckoutHighErrorRate "
        "{service=checkout} and delivers it to chaosbot's /alertmanager webhook"
    )
    _press(world, "bob", BOB, ActionId.ACKNOWLEDGE_INCIDENT, alert.response["ts"], planned.key)
    slack.wait_for("chat.update", where=lambda c: "Acknowledged by" in str(c.body), timeout=WAIT)
    _press(world, "alice", ALICE, ActionId.RESOLVE_INCIDENT, alert.response["ts"], planned.key)
    slack.wait_for(
        "chat.update", where=lambda c: "blind drill" in str(c.body.get("blocks")), timeout=WAIT * 2
    )
    t.bot("#payments", _shown(world, alert.response["ts"]))

    t.note("alice records what happened and gives bob an action item, due in two weeks")
    _record_findings(
        world,
        ("alice", ALICE),
        (ActionId.RECORD_FINDINGS, alert.response["ts"], planned.key),
        hypothesis="partly",
        what_happened="A checkout pod died; the alert reached us, the dashboard did not.",
        went_well="Bob acknowledged within a minute.",
        items=[("Add a PodDisruptionBudget for checkout", BOB, 14)],
    )


def _record_findings(
    world: DemoWorld,
    person: tuple[str, str],
    button: tuple[ActionId, str, str],
    *,
    hypothesis: str,
    what_happened: str,
    went_well: str,
    items: list[tuple[str, str, int]],
) -> str:
    """`person` (name, user id) presses a Record findings `button` (action, message ts, value)
    and fills the form: each item is (text, owner, due in that many days); the finding's key."""
    slack, (who, user) = world.slack, person
    opened_before = len(slack.calls_to("views.open"))
    _press(world, who, user, *button)
    opened = slack.wait_for("views.open", count=opened_before + 1, timeout=WAIT)[-1]
    world.transcript.modal(who, opened.body["view"])
    today = world.clock.now().astimezone(zone("Europe/Berlin")).date()
    values: dict[str, Any] = {
        F.HYPOTHESIS.value: {"type": "radio_buttons", "selected_option": {"value": hypothesis}},
        F.WHAT_HAPPENED.value: text(what_happened),
        F.WENT_WELL.value: text(went_well),
        F.SEVERITY.value: {"type": "static_select", "selected_option": {"value": "medium"}},
    }
    for row, (item, owner, days) in enumerate(items, start=1):
        values[f"{F.ACTION}:{row}"] = text(item)
        values[f"{F.OWNER}:{row}"] = {"type": "users_select", "selected_user": owner}
        due = (today + timedelta(days=days)).isoformat()
        values[f"{F.DUE}:{row}"] = {"type": "datepicker", "selected_date": due}
    world.simulator.view_submission(
        CallbackId.FINDINGS.value,
        values={k: {k: v} for k, v in values.items()},
        user_id=user,
        view_id=opened.response["view"]["id"],
        private_metadata=opened.body["view"]["private_metadata"],
    )
    [recorded] = slack.wait_for(
        "chat.postMessage",
        where=lambda c: c.body.get("thread_ts") == button[1] and "recorded finding" in str(c.body),
        timeout=WAIT,
    )
    world.transcript.thread("#payments", [str(recorded.body["text"])])
    return str(recorded.body["text"]).split("`")[1]


def _press(world: DemoWorld, who: str, user: str, action: ActionId, ts: str, value: str) -> None:
    label = {"incident_acknowledge": "Acknowledge", "incident_resolve": "Resolve"}
    world.transcript.person(
        who, "#payments", f"[clicks {label.get(action.value, 'Record findings')}]"
    )
    world.simulator.block_action(
        action.value, user_id=user, channel_id=TEAM_CHANNEL, message={"ts": ts}, value=value
    )


def _alertmanager_delivers(world: DemoWorld, alertname: str, starts_at: datetime) -> None:
    """A firing alert of the team's, as Alertmanager's webhook (payload version 4) delivers it."""
    labels = {"alertname": alertname, "service": "checkout", "severity": "page"}
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": "checkout's error ratio is above 1%"},
        "startsAt": starts_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": f"{zlib.crc32(alertname.encode()):016x}",
    }
    body = {
        "version": "4",
        "groupKey": '{}:{service="checkout"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "chaosbot",
        "groupLabels": {"service": "checkout"},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.payments:9093",
        "alerts": [alert],
    }
    answer = urllib3.request(
        "POST",
        f"{world.server.url}/alertmanager",
        body=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {ALERTMANAGER_TOKEN}",
            "Content-Type": "application/json",
        },
        timeout=WAIT,
    )
    if answer.status != 200:
        raise ChaosbotError(f"/alertmanager answered {answer.status}")


def _next_drill(world: DemoWorld) -> Drill | None:
    """The next drill ahead of the demo's clock. A drill whose minute the clock has passed
    (the pass that skips it has not run yet) is not one to jump to: it would only be skipped."""
    with world.server.db.session() as session:
        return session.scalars(
            select(Drill)
            .where(Drill.status == DrillStatus.PLANNED, Drill.planned_at >= world.clock.now())
            .order_by(Drill.planned_at)
        ).first()


def _jump_to_the_drill(world: DemoWorld, planned: Drill) -> Drill:
    """Move the clock to the planned drill's minute and wait until it fires; the drill fired.

    Once in a dozen demos under load the planned drill's row was gone by then, replaced by a
    later draw (cause not found yet, see issue 15's note): the demo then follows the new draw.
    """
    for _ in range(3):
        assert planned.planned_at is not None
        world.clock.jump(max(planned.planned_at - world.clock.now(), timedelta(0)))
        world.server.gamedays.wake()
        fired = partial(_drill_fired, world, planned.key)
        if _wait_for(world, fired, timeout=WAIT * 2) == "fired":
            return planned
        planned = _wait_for(world, lambda: _next_drill(world))
    raise ChaosbotError("the demo's blind drill was drawn again three times")


def _drill_fired(world: DemoWorld, key: str) -> str | None:
    """ "fired" once the drill has fired, "gone" if its row was drawn again, else None; a drill
    that was skipped stops the demo with its reason."""
    with world.server.db.session() as session:
        drill = session.scalars(select(Drill).where(Drill.key == key)).one_or_none()
        if drill is None:
            return "gone"
        if drill.status is DrillStatus.SKIPPED:
            raise ChaosbotError(f"drill {key} was skipped: {drill.skip_reason}")
        return "fired" if drill.status is not DrillStatus.PLANNED else None


def _drill_run_held(world: DemoWorld, key: str) -> bool:
    with world.server.db.session() as session:
        drill = session.scalars(select(Drill).where(Drill.key == key)).one()
        return drill.run is not None and drill.run.status is RunStatus.HOLDING


def _wait_for(world: DemoWorld, check: Callable[[], _T | None], timeout: float = WAIT) -> _T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise ChaosbotError("the demo waited too long for the bot")


def weekly_digest(world: DemoWorld) -> None:
    """Monday 09:00 on the team's clock: the weekly digest, as the team sees it."""
    t, slack = world.transcript, world.slack
    t.scene("The weekly digest")
    berlin = zone("Europe/Berlin")
    local = world.clock.now().astimezone(berlin)
    monday = local.date() + timedelta(days=7 - local.weekday())
    nine = datetime.combine(monday, clock_time(9, 0), tzinfo=berlin)
    t.note(f"the clock jumps to {local_label(nine, 'Europe/Berlin')}: the digest job runs")
    world.clock.jump(max(nine.astimezone(UTC) - world.clock.now(), timedelta(0)))
    world.server.gamedays.send_digests()
    world.server.context.outbox_ready()
    [digest] = slack.wait_for(
        "chat.postMessage",
        where=lambda c: "Weekly chaos digest of team" in str(c.body.get("text")),
        timeout=WAIT,
    )
    t.bot("#payments", digest.body)
    slack.wait_for("files.completeUploadExternal", timeout=WAIT)
    chart = world.slack.uploads[-1]
    t.note(
        f"in the digest's thread: {chart.filename}, a {len(chart.data)}-byte PNG of the team's "
        "resilience score, week by week"
    )
    t.person("alice", "#payments", "/chaos compliance")
    replies = len(slack.responses)
    world.simulator.slash_command("/chaos", "compliance", user_id=ALICE, channel_id=TEAM_CHANNEL)
    shown = slack.wait_for_response(count=replies + 1, timeout=WAIT)[-1]
    t.note(f"the same, on demand ({len(shown.body.get('blocks', []))} blocks, only to alice)")


SCENES: list[Callable[[DemoWorld], None]] = [
    asking_for_help,
    onboarding,
    run_and_abort,
    steady_state_halt,
    worker_killed,
    game_day,
    blind_drill,
    weekly_digest,
]
