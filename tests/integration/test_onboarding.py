"""The onboarding conversation through the Slack and Kubernetes test servers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.audit.models import AuditEvent
from bot.catalog.models import Service, SuiteEntry, Team
from bot.config import BlastRadiusLimits
from bot.library.catalogue import load_catalogue
from bot.outbox.models import OutboxMessage
from bot.slack.ids import CallbackId
from bot.slack.ids import OnboardBlock as B
from bot.testing.slack.api import ApiCall, SlackApiServer
from bot.testing.slack.forms import (
    choice,
    conversation,
    number,
    onboarding_form,
    picked,
    text,
    users,
)
from bot.testing.slack.requests import SlackHttpResponse
from tests.fixtures.bot import ALICE, BOB, CAROL, TEAM_CHANNEL, RunningBot, seed_payments
from tests.fixtures.canary import REPORTED
from tests.fixtures.slack import BOT_TOKEN

ALICE_TIMEZONE = "Europe/Lisbon"


@pytest.fixture
def slack_api() -> Iterator[SlackApiServer]:
    """The workspace, with Alice's profile in Lisbon: the modal starts from her timezone."""
    with SlackApiServer(bot_token=BOT_TOKEN, users={ALICE: {"tz": ALICE_TIMEZONE}}) as api:
        yield api


def _count(bot: RunningBot, model: type[object]) -> int:
    with bot.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _open(bot: RunningBot) -> str:
    opened = len(bot.slack.calls_to("views.open"))
    response = bot.command("onboard")
    assert response.status == 200
    assert response.text == ""  # acked at once; the modal opens right after
    return str(bot.opened_view(CallbackId.ONBOARD, opened + 1).response["view"]["id"])


def _block(view: dict[str, Any], block: B) -> dict[str, Any]:
    found: dict[str, Any] = next(b for b in view["blocks"] if b.get("block_id") == block)
    return found


def _press_edit(
    bot: RunningBot, detail: dict[str, Any], user: str = ALICE, count: int = 1
) -> ApiCall:
    """`user` presses Edit on a service's detail message: the count-th edit modal's views.open."""
    bot.simulator.block_action(
        "service_edit",
        user_id=user,
        channel_id=TEAM_CHANNEL,
        message={"ts": "1", "text": "", "blocks": detail["blocks"]},
    )
    return bot.opened_view(CallbackId.EDIT_SERVICE, count)


def _send_edit(
    bot: RunningBot, opened: ApiCall, user: str, **fields: dict[str, object]
) -> SlackHttpResponse:
    """`user` saves the edit modal `opened` with `fields` (team payments unless they say)."""
    return bot.simulator.view_submission(
        CallbackId.EDIT_SERVICE.value,
        values=onboarding_form({B.TEAM: choice("payments"), **fields}),
        user_id=user,
        view_id=opened.response["view"]["id"],
    )


def _submit(bot: RunningBot, view_id: str, **fields: dict[str, object]) -> dict[str, object]:
    response = bot.simulator.view_submission(
        CallbackId.ONBOARD.value,
        values=onboarding_form(fields),
        user_id=ALICE,
        view_id=view_id,
    )
    assert response.status == 200
    return response.json() if response.text else {}


def test_the_modal_opens_with_every_field(running_bot: RunningBot) -> None:
    seed_payments(running_bot.kube)
    _open(running_bot)
    view = running_bot.opened_view(CallbackId.ONBOARD).body["view"]
    blocks = {b.get("block_id") for b in view["blocks"]}
    assert {b.value for b in B} <= blocks
    owners = next(b for b in view["blocks"] if b.get("block_id") == B.OWNERS)
    assert owners["element"]["initial_users"] == [ALICE]
    approvers = _block(view, B.APPROVERS)
    assert approvers["optional"] is True
    assert approvers["element"] == {"type": "multi_users_select", "action_id": B.APPROVERS.value}
    team_timezone = _block(view, B.TEAM_TIMEZONE)
    assert team_timezone["optional"] is True
    assert team_timezone["element"]["initial_value"] == ALICE_TIMEZONE
    cap = _block(view, B.BLAST_RADIUS)
    assert cap["element"]["type"] == "number_input"
    assert cap["element"]["initial_value"] == "50"  # chaos.yaml's default
    every_pod = [t.id for t in load_catalogue() if t.every_pod]
    assert {"blackhole", "scale-to-zero", "node-drain", "zone-outage"} <= set(every_pod)
    assert f"disrupt every pod ({', '.join(every_pod)}) need 100" in cap["hint"]["text"]
    assert "This platform allows at most 100% in staging." in cap["hint"]["text"]


@pytest.mark.parametrize(
    ("fields", "block", "message"),
    [
        ({B.NAME: text("Checkout_Svc")}, B.NAME, "not a valid name"),
        ({B.NAMESPACE: text("kube-system")}, B.NAMESPACE, "not a namespace chaosbot may disrupt"),
        (
            {B.WORKLOAD: choice(None, "external_select"), B.SELECTOR: text("app in (")},
            B.SELECTOR,
            "not a valid label selector",
        ),
        (
            {B.WORKLOAD: choice(None, "external_select"), B.SELECTOR: text("app=ledger")},
            B.SELECTOR,
            "matches no pod",
        ),
        (
            {B.WORKLOAD: choice("Deployment/ledger", "external_select")},
            B.WORKLOAD,
            "no Deployment called ledger",
        ),
        (
            {
                B.TIER: choice("1"),
                B.OWNERS: users(ALICE),
            },
            B.OWNERS,
            "at least two owners",
        ),
        (
            {B.PROBE_URL: text("http://169.254.169.254/latest/meta-data")},
            B.PROBE_URL,
            "link-local or cloud-metadata",
        ),
        (
            {B.PROBE_URL: text("http://[fd00:ec2::254]/")},
            B.PROBE_URL,
            "link-local or cloud-metadata",
        ),
        ({B.PROBE_URL: text("ftp://checkout/")}, B.PROBE_URL, "http:// or https://"),
        ({B.NEW_TEAM: text(None)}, B.TEAM, "required"),
        (
            {B.TEAM_CHANNEL: conversation(None)},
            B.TEAM_CHANNEL,
            "new team",
        ),
        ({B.BLIND_HOURS: text("16:00-10:00")}, B.BLIND_HOURS, "end after it starts"),
        ({B.BLIND_TIMEZONE: text("Mars/Olympus")}, B.BLIND_TIMEZONE, "IANA timezone"),
        ({B.TEAM_TIMEZONE: text("Mars/Olympus")}, B.TEAM_TIMEZONE, "IANA timezone"),
        ({B.TEAM_TIMEZONE: text("Europe")}, B.TEAM_TIMEZONE, "IANA timezone"),
        ({B.APPROVERS: users(CAROL, BOB)}, B.APPROVERS, "U0BOB is already an owner"),
        (
            {B.PROBE_STATUS: number("999")},
            B.PROBE_STATUS,
            "between 100 and 599",
        ),
        (
            {B.BLIND_EXPERIMENTS: picked()},
            B.BLIND_EXPERIMENTS,
            "Name at least one experiment of the library",
        ),
        (
            {B.BLIND_EXPERIMENTS: picked("pod-kill", "pod-explode")},
            B.BLIND_EXPERIMENTS,
            "There is no experiment pod-explode in the library",
        ),
        ({B.BLAST_RADIUS: number("0")}, B.BLAST_RADIUS, "Must be between 1 and 100, got 0"),
        ({B.BLAST_RADIUS: number("101")}, B.BLAST_RADIUS, "between 1 and 100, got 101"),
        ({B.BLAST_RADIUS: number("12.5")}, B.BLAST_RADIUS, "'12.5' is not a whole number"),
        ({B.BLIND_MEAN_DAYS: text("0")}, B.BLIND_MEAN_DAYS, "between 1 and 365, got 0"),
        ({B.BLIND_MIN_SPACING: text("3000")}, B.BLIND_MIN_SPACING, "between 0 and 2160"),
        ({B.BLIND_MIN_SPACING: text("1.5")}, B.BLIND_MIN_SPACING, "not a whole number"),
        ({B.BLIND_HOLIDAY_COUNTRY: text("Germany")}, B.BLIND_HOLIDAY_COUNTRY, "DE or US"),
        ({B.BLIND_DURATION: text("241")}, B.BLIND_DURATION, "between 5 and 240"),
        (
            {B.BLIND_FREEZE_WINDOWS: text("2026-12-24\n2026-12-31..2026-12-01")},
            B.BLIND_FREEZE_WINDOWS,
            "ends before it starts",
        ),
    ],
)
def test_invalid_values_are_rejected_on_their_block_and_nothing_is_written(
    running_bot: RunningBot, fields: dict[str, object], block: str, message: str
) -> None:
    seed_payments(running_bot.kube)
    view_id = _open(running_bot)
    answer = _submit(running_bot, view_id, **fields)  # type: ignore[arg-type]
    assert answer["response_action"] == "errors"
    errors = answer["errors"]
    assert isinstance(errors, dict)
    assert message in errors[block], errors
    assert _count(running_bot, Service) == 0
    assert _count(running_bot, Team) == 0
    assert _count(running_bot, AuditEvent) == 0


def test_a_probe_pointing_at_the_bot_itself_is_rejected(running_bot: RunningBot) -> None:
    seed_payments(running_bot.kube)
    view_id = _open(running_bot)
    answer = _submit(
        running_bot, view_id, **{B.PROBE_URL: text(f"{running_bot.server.url}/healthz")}
    )
    port = running_bot.server.settings.http_port
    assert answer["errors"] == {
        B.PROBE_URL.value: f"Points at chaosbot itself (127.0.0.1 port {port})"
    }


@pytest.mark.parametrize("form", REPORTED)
def test_each_reported_probe_url_is_a_field_error_and_nothing_is_written(
    running_bot: RunningBot, form: str
) -> None:
    port = str(running_bot.server.settings.http_port)
    url, reason = (part.replace("PORT", port) for part in REPORTED[form])
    seed_payments(running_bot.kube)
    answer = _submit(running_bot, _open(running_bot), **{B.PROBE_URL: text(url)})
    assert list(answer["errors"]) == [B.PROBE_URL.value]  # type: ignore[call-overload]
    assert answer["errors"][B.PROBE_URL.value].startswith("Points at ")  # type: ignore[index]
    assert reason.lower() in answer["errors"][B.PROBE_URL.value].lower()  # type: ignore[index]
    assert _count(running_bot, Service) == 0


def test_a_valid_submission_is_stored_once_and_announced_with_risks(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    seed_payments(bot.kube, zones=("eu-1a",))
    view_id = _open(bot)
    assert _submit(bot, view_id) == {}
    with bot.db.session() as session:
        service = session.scalars(select(Service)).one()
        assert (service.name, service.tier, service.selector) == ("checkout", 2, "app=checkout")
        assert (service.workload_kind, service.workload_name) == ("Deployment", "checkout")
        assert {o.slack_user_id for o in service.owners} == {ALICE, BOB}
        assert service.blind_window == {
            "weekdays": ["mon", "tue", "wed"],
            "hours": "10:00-16:00",
            "timezone": "Europe/Berlin",
            "experiments": ["pod-kill"],
            "meanDaysBetween": 10,
            "minSpacingHours": 24,
            "holidayCountry": None,
            "durationMinutes": 30,
            "freezeWindows": [],
        }
        assert service.team.slack_channel_id == TEAM_CHANNEL
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [(e.actor, e.action) for e in events] == [
            (ALICE, "namespace.claimed"),
            (ALICE, "service.onboarded"),
        ]

    [post] = bot.slack.wait_for(
        "chat.postMessage", where=lambda c: c.body["channel"] == TEAM_CHANNEL
    )
    text_of = str(post.body["blocks"])
    assert "Pods matched: 3 (3 ready)" in text_of
    assert "Zones: eu-1a" in text_of
    assert "all pods in one zone (eu-1a)" in text_of
    assert "no PodDisruptionBudget" in text_of
    assert "`zone-outage`" in text_of and "`node-drain`" in text_of

    # Slack retries the same submission: nothing more is written or posted.
    assert _submit(bot, view_id) == {}
    assert _count(bot, Service) == 1
    assert _count(bot, AuditEvent) == 2  # the namespace claimed, the service onboarded
    with pytest.raises(AssertionError):
        bot.slack.wait_for("chat.postMessage", count=2, timeout=1.0)
    assert _count(bot, OutboxMessage) == 1


def test_approvers_and_the_team_timezone_are_stored(running_bot: RunningBot) -> None:
    bot = running_bot
    seed_payments(bot.kube)
    fields = {B.APPROVERS: users(CAROL), B.TEAM_TIMEZONE: text("America/New_York")}
    assert _submit(bot, _open(bot), **fields) == {}
    with bot.db.session() as session:
        service = session.scalars(select(Service)).one()
        assert service.approvers == [CAROL]
        assert service.team.timezone == "America/New_York"


def test_the_modal_offers_the_library_for_blind_drills(running_bot: RunningBot) -> None:
    seed_payments(running_bot.kube)
    _open(running_bot)
    view = running_bot.opened_view(CallbackId.ONBOARD).body["view"]
    experiments = _block(view, B.BLIND_EXPERIMENTS)
    assert experiments["label"]["text"] == "Experiments that may run blind"
    assert experiments["element"]["type"] == "multi_static_select"
    assert "initial_options" not in experiments["element"]
    library = {t.id: t.title for t in load_catalogue()}
    options = {o["value"]: o["text"]["text"] for o in experiments["element"]["options"]}
    assert options == {ident: f"{ident}: {title}"[:75] for ident, title in library.items()}
    assert all(len(text) <= 75 for text in options.values())
    numbers = (B.BLIND_MEAN_DAYS, B.BLIND_MIN_SPACING, B.BLIND_HOLIDAY_COUNTRY, B.BLIND_DURATION)
    initial = [_block(view, block)["element"].get("initial_value") for block in numbers]
    assert initial == ["10", "24", None, "30"]


def test_the_blind_drill_fields_are_stored_and_shown_in_the_edit_modal(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    seed_payments(bot.kube)
    fields = {
        B.BLIND_EXPERIMENTS: picked("cpu-pressure", "pod-kill"),
        B.BLIND_MEAN_DAYS: text("5"),
        B.BLIND_MIN_SPACING: text("72"),
        B.BLIND_HOLIDAY_COUNTRY: text("de"),
        B.BLIND_DURATION: text(None),  # left empty: the default
    }
    assert _submit(bot, _open(bot), **fields) == {}
    with bot.db.session() as session:
        service = session.scalars(select(Service)).one()
        assert service.blind_enabled is True
        assert service.blind_window == {
            "weekdays": ["mon", "tue", "wed"],
            "hours": "10:00-16:00",
            "timezone": "Europe/Berlin",
            "experiments": ["cpu-pressure", "pod-kill"],
            "meanDaysBetween": 5,
            "minSpacingHours": 72,
            "holidayCountry": "DE",
            "durationMinutes": 30,
            "freezeWindows": [],
        }
    bot.command("service checkout")
    detail = bot.reply(1)
    shown = str(detail["blocks"])
    assert "not on public holidays in DE" in shown
    assert "about one every 5 workdays, at least 72 h apart" in shown
    assert "faults held 30 min" in shown
    assert "*Experiments that may run blind*: `cpu-pressure`, `pod-kill`" in shown
    view = _press_edit(bot, detail).body["view"]
    chosen = _block(view, B.BLIND_EXPERIMENTS)["element"]["initial_options"]
    assert [o["value"] for o in chosen] == ["pod-kill", "cpu-pressure"]  # the library's order
    assert _block(view, B.BLIND_MEAN_DAYS)["element"]["initial_value"] == "5"
    assert _block(view, B.BLIND_MIN_SPACING)["element"]["initial_value"] == "72"
    assert _block(view, B.BLIND_HOLIDAY_COUNTRY)["element"]["initial_value"] == "DE"
    assert _block(view, B.BLIND_DURATION)["element"]["initial_value"] == "30"


def test_disabled_blind_drills_ignore_the_other_blind_fields(running_bot: RunningBot) -> None:
    seed_payments(running_bot.kube)
    fields = {
        B.BLIND_ENABLED: {"type": "checkboxes", "selected_options": []},
        B.BLIND_EXPERIMENTS: picked(),
        B.BLIND_MEAN_DAYS: text("0"),
        B.BLIND_HOLIDAY_COUNTRY: text("Atlantis"),
    }
    assert _submit(running_bot, _open(running_bot), **fields) == {}
    with running_bot.db.session() as session:
        service = session.scalars(select(Service)).one()
        assert (service.blind_enabled, service.blind_window) == (False, None)


def test_a_new_team_left_without_a_timezone_gets_utc(running_bot: RunningBot) -> None:
    seed_payments(running_bot.kube)
    assert _submit(running_bot, _open(running_bot), **{B.TEAM_TIMEZONE: text(None)}) == {}
    with running_bot.db.session() as session:
        assert session.scalars(select(Team.timezone)).one() == "UTC"


def test_onboarding_into_a_known_team_keeps_the_teams_timezone(running_bot: RunningBot) -> None:
    bot = running_bot
    seed_payments(bot.kube)
    bot.kube.add_deployment("payments", "ledger", replicas=1, labels={"app": "ledger"})
    assert _submit(bot, _open(bot), **{B.TEAM_TIMEZONE: text("Asia/Tokyo")}) == {}
    # The second modal starts at Alice's timezone; she only picks the team.
    ledger = {
        B.NAME: text("ledger"),
        B.TEAM: choice("payments"),
        B.WORKLOAD: choice("Deployment/ledger", "external_select"),
        B.TEAM_TIMEZONE: text(ALICE_TIMEZONE),
    }
    assert _submit(bot, _open(bot), **ledger) == {}
    with bot.db.session() as session:
        assert session.scalars(select(Service.name).order_by(Service.name)).all() == [
            "checkout",
            "ledger",
        ]
        assert session.scalars(select(Team.timezone)).one() == "Asia/Tokyo"


def test_a_second_service_with_the_same_name_is_a_field_error(running_bot: RunningBot) -> None:
    seed_payments(running_bot.kube)
    assert _submit(running_bot, _open(running_bot)) == {}
    answer = _submit(running_bot, _open(running_bot))
    assert "already registered" in answer["errors"][B.NAME.value]  # type: ignore[index]
    assert _count(running_bot, Service) == 1


def test_the_workload_picker_lists_the_namespace(running_bot: RunningBot) -> None:
    seed_payments(running_bot.kube)
    running_bot.kube.add_statefulset("payments", "ledger", replicas=1, labels={"app": "ledger"})
    view_id = _open(running_bot)
    view = running_bot.slack.views[view_id]
    payload = {
        "type": "block_suggestion",
        "user": {"id": ALICE},
        "team": {"id": running_bot.slack.team_id},
        "api_app_id": "A0001",
        "action_id": B.WORKLOAD.value,
        "block_id": B.WORKLOAD.value,
        "value": "",
        "view": {**view, "state": {"values": onboarding_form()}},
    }
    response = running_bot.simulator.send_payload(payload)
    assert response.status == 200
    values = [o["value"] for o in response.json()["options"]]
    assert values == ["Deployment/checkout", "StatefulSet/ledger"]


def _onboard(bot: RunningBot) -> None:
    seed_payments(bot.kube)
    assert _submit(bot, _open(bot)) == {}


def test_services_lists_the_teams_services(running_bot: RunningBot) -> None:
    _onboard(running_bot)
    assert running_bot.command("services").text == ""
    text_of = str(running_bot.reply()["blocks"])
    assert "*checkout*" in text_of and "tier 2" in text_of
    assert f"<@{ALICE}>" in text_of and "compliance: not assessed yet" in text_of


def test_service_detail_offers_edit_and_offboard_to_owners_only(running_bot: RunningBot) -> None:
    _onboard(running_bot)
    running_bot.command("service checkout", user=ALICE)
    owner_view = running_bot.reply(1)
    running_bot.command("service checkout", user=CAROL)
    other_view = running_bot.reply(2)
    assert "Edit" in str(owner_view["blocks"]) and "Offboard" in str(owner_view["blocks"])
    assert "Offboard" not in str(other_view["blocks"])
    running_bot.command("service ledger")
    assert "There is no service called `ledger`" in running_bot.reply(3)["text"]


def test_owners_edit_through_the_same_modal(running_bot: RunningBot) -> None:
    bot = running_bot
    _onboard(bot)
    with bot.db.session() as session:
        onboarded = session.scalars(select(Service)).one()
        onboarded.suite.append(SuiteEntry(experiment="pod-kill", parameters={"count": 1}))
    bot.command("service checkout")
    detail = bot.reply(1)
    opened = _press_edit(bot, detail, BOB)
    view = opened.body["view"]
    tier = next(b for b in view["blocks"] if b.get("block_id") == B.TIER)
    assert tier["element"]["initial_option"]["value"] == "2"
    response = _send_edit(bot, opened, BOB, **{B.TIER: choice("1")})
    assert response.status == 200 and response.text == ""
    with bot.db.session() as session:
        service = session.scalars(select(Service)).one()
        assert service.tier == 1
        # The form says nothing about the suite, so the suite stays as it was.
        assert [(e.experiment, e.parameters) for e in service.suite] == [("pod-kill", {"count": 1})]
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert actions == ["namespace.claimed", "service.onboarded", "service.updated"]
    bot.slack.wait_for("chat.postMessage", count=2)


def test_the_edit_modal_shows_and_changes_approvers_and_the_teams_timezone(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    seed_payments(bot.kube)
    fields = {B.APPROVERS: users(CAROL), B.TEAM_TIMEZONE: text("Asia/Tokyo")}
    assert _submit(bot, _open(bot), **fields) == {}
    bot.command("service checkout")
    detail = bot.reply(1)
    opened = _press_edit(bot, detail)
    view = opened.body["view"]
    # The team's own timezone, not Alice's.
    assert _block(view, B.TEAM_TIMEZONE)["element"]["initial_value"] == "Asia/Tokyo"
    assert _block(view, B.APPROVERS)["element"]["initial_users"] == [CAROL]
    fields = {B.TEAM_TIMEZONE: text("Europe/Berlin"), B.APPROVERS: users(CAROL, "U0DAVE")}
    response = _send_edit(bot, opened, ALICE, **fields)
    assert response.status == 200 and response.text == ""
    with bot.db.session() as session:
        service = session.scalars(select(Service)).one()
        assert service.approvers == [CAROL, "U0DAVE"]
        assert service.team.timezone == "Europe/Berlin"
        updated = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert updated is not None and updated.action == "service.updated"
        assert updated.detail["changes"] == [
            "teamTimezone: 'Asia/Tokyo' -> 'Europe/Berlin'",
            "approvers: ['U0CAROL'] -> ['U0CAROL', 'U0DAVE']",
        ]


def test_a_bad_team_timezone_in_the_edit_modal_is_shown_on_its_block(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    seed_payments(bot.kube)
    assert _submit(bot, _open(bot)) == {}
    values = onboarding_form({B.TEAM: choice("payments"), B.TEAM_TIMEZONE: text("Berlin")})
    response = bot.simulator.view_submission(
        CallbackId.EDIT_SERVICE.value,
        values=values,
        user_id=ALICE,
        private_metadata='{"service": "checkout"}',
    )
    assert response.json() == {
        "response_action": "errors",
        "errors": {B.TEAM_TIMEZONE.value: "'Berlin' is not an IANA timezone such as Europe/Berlin"},
    }
    with bot.db.session() as session:
        assert session.scalars(select(Team.timezone)).one() == "UTC"


def test_offboarding_needs_an_owner_and_keeps_history(running_bot: RunningBot) -> None:
    bot = running_bot
    _onboard(bot)
    bot.command("service checkout")
    detail = bot.reply(1)
    message = {"ts": "1", "text": "", "blocks": detail["blocks"]}
    bot.simulator.block_action(
        "service_offboard", user_id=CAROL, channel_id=TEAM_CHANNEL, message=message
    )
    assert "Only the owners of `checkout`" in bot.reply(2)["text"]
    bot.simulator.block_action(
        "service_offboard", user_id=ALICE, channel_id=TEAM_CHANNEL, message=message
    )
    assert "was offboarded by" in bot.reply(3)["text"]
    with bot.db.session() as session:
        service = session.scalars(select(Service)).one()
        assert service.offboarded_at is not None
    bot.command("services")
    assert "no services yet" in bot.reply(4)["text"]


def test_what_a_person_typed_is_escaped_in_error_replies(running_bot: RunningBot) -> None:
    running_bot.command("service <!channel>")
    text = running_bot.reply()["text"]
    assert "&lt;!channel&gt;" in text
    assert "<!channel>" not in text


# The blast-radius cap: a field of the form, stored, shown, and held to the platform's maximum.


def _edit(bot: RunningBot) -> tuple[str, dict[str, Any]]:
    """Alice presses Edit on `/chaos service checkout`: the edit modal's id and view."""
    before = len(bot.slack.responses)
    bot.command("service checkout")
    detail = bot.reply(before + 1)
    opened = [
        c
        for c in bot.slack.calls_to("views.open")
        if c.body["view"]["callback_id"] == CallbackId.EDIT_SERVICE
    ]
    call = _press_edit(bot, detail, count=len(opened) + 1)
    return str(call.response["view"]["id"]), call.body["view"]


def _detail(bot: RunningBot) -> str:
    before = len(bot.slack.responses)
    bot.command("service checkout")
    blocks = bot.reply(before + 1)["blocks"]
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")


def _save_edit(bot: RunningBot, view_id: str, **fields: dict[str, object]) -> dict[str, object]:
    response = bot.simulator.view_submission(
        CallbackId.EDIT_SERVICE.value,
        values=onboarding_form({B.TEAM: choice("payments"), **fields}),
        user_id=ALICE,
        view_id=view_id,
    )
    assert response.status == 200
    return response.json() if response.text else {}


def _stored_cap(bot: RunningBot) -> int:
    with bot.db.session() as session:
        return session.scalars(select(Service.blast_radius_percent)).one()


def test_the_cap_chosen_in_the_form_is_stored_shown_and_edited(running_bot: RunningBot) -> None:
    bot = running_bot
    seed_payments(bot.kube)
    assert _submit(bot, _open(bot), **{B.BLAST_RADIUS: number("100")}) == {}
    assert _stored_cap(bot) == 100
    assert "*Blast radius cap*: 100% of pods\n" in _detail(bot)
    view_id, view = _edit(bot)
    assert _block(view, B.BLAST_RADIUS)["element"]["initial_value"] == "100"
    assert _save_edit(bot, view_id, **{B.BLAST_RADIUS: number("30")}) == {}
    assert _stored_cap(bot) == 30
    shown = _detail(bot)
    assert (
        "*Blast radius cap*: 30% of pods · experiments that disrupt every pod need 100%: " in shown
    )
    assert "`blackhole`" in shown and "`node-drain`" in shown
    with bot.db.session() as session:
        updated = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert updated is not None
        assert updated.detail["changes"] == ["blastRadiusPercent: 100 -> 30"]


def test_a_cap_left_empty_is_chaos_yamls_default(running_bot: RunningBot) -> None:
    seed_payments(running_bot.kube)
    assert _submit(running_bot, _open(running_bot), **{B.BLAST_RADIUS: number(None)}) == {}
    assert _stored_cap(running_bot) == 50


PRODUCTION_AT_MOST_30 = {
    "allow_production": True,
    "max_blast_radius_percent": BlastRadiusLimits(staging=100, production=30),
}


@pytest.mark.parametrize("settings_changes", [PRODUCTION_AT_MOST_30])
def test_a_cap_above_the_platforms_maximum_is_refused_on_its_field(
    running_bot: RunningBot,
) -> None:
    bot = running_bot
    seed_payments(bot.kube)
    view_id = _open(bot)
    cap = _block(bot.opened_view(CallbackId.ONBOARD).body["view"], B.BLAST_RADIUS)
    # Starts where no environment offered refuses it.
    assert cap["element"]["initial_value"] == "30"
    assert "This platform allows at most 100% in staging, 30% in production." in cap["hint"]["text"]
    production = {B.ENVIRONMENT: choice("production", "radio_buttons")}
    answer = _submit(bot, view_id, **production, **{B.BLAST_RADIUS: number("50")})
    assert answer == {
        "response_action": "errors",
        "errors": {
            B.BLAST_RADIUS.value: "Must be at most 30 in production, the platform's maximum "
            "(CHAOSBOT_MAX_BLAST_RADIUS_PERCENT), got 50"
        },
    }
    assert _count(bot, Service) == 0
    # Staging allows it.
    assert _submit(bot, view_id, **{B.BLAST_RADIUS: number("50")}) == {}
    assert _stored_cap(bot) == 50


@pytest.mark.parametrize(
    "settings_changes", [{"max_blast_radius_percent": BlastRadiusLimits(staging=40)}]
)
def test_a_stored_cap_above_a_lowered_maximum_is_shown_and_must_come_down_on_edit(
    running_bot: RunningBot,
) -> None:
    """The service was onboarded at 80% when staging allowed 100%; the platform has since
    lowered staging's maximum to 40%."""
    bot = running_bot
    seed_payments(bot.kube)
    assert _submit(bot, _open(bot), **{B.BLAST_RADIUS: number("40")}) == {}
    with bot.db.session() as session:
        session.scalars(select(Service)).one().blast_radius_percent = 80
    assert (
        "*Blast radius cap*: 80% of pods, but this platform allows at most 40% in staging "
        "(CHAOSBOT_MAX_BLAST_RADIUS_PERCENT), so 40% applies"
    ) in _detail(bot)
    view_id, view = _edit(bot)
    assert _block(view, B.BLAST_RADIUS)["element"]["initial_value"] == "80"
    answer = _save_edit(bot, view_id, **{B.BLAST_RADIUS: number("80")})
    assert answer["errors"] == {
        B.BLAST_RADIUS.value: "Must be at most 40 in staging, the platform's maximum "
        "(CHAOSBOT_MAX_BLAST_RADIUS_PERCENT), got 80"
    }
    assert _stored_cap(bot) == 80
    assert _save_edit(bot, view_id, **{B.BLAST_RADIUS: number("40")}) == {}
    assert _stored_cap(bot) == 40
