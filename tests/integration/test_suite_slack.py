"""Browsing the experiment library and editing a service's suite, through the Slack test server."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot.audit.models import AuditEvent
from bot.catalog.models import Member, Role, Service, SuiteEntry
from bot.library.catalogue import load_catalogue
from bot.runs.flows import plan_run
from bot.runs.models import Run
from bot.runs.states import Trigger
from bot.slack.ids import ActionId, CallbackId, SuiteBlock
from bot.slack.suite_view import parameter_block
from bot.testing.slack.forms import onboarding_form
from tests.fixtures.bot import ALICE, CAROL, START, TEAM_CHANNEL, RunningBot, seed_payments

LATENCY = parameter_block("latency_ms")


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    """The bot with `checkout` onboarded (owners Alice and Bob; Carol owns nothing)."""
    seed_payments(running_bot.kube)
    running_bot.command("onboard")
    view_id = running_bot.opened_view(CallbackId.ONBOARD).response["view"]["id"]
    response = running_bot.simulator.view_submission(
        CallbackId.ONBOARD.value, values=onboarding_form(), user_id=ALICE, view_id=view_id
    )
    assert response.status == 200 and response.text == ""
    return running_bot


def _answer(bot: RunningBot, act: Callable[[], object]) -> dict[str, Any]:
    """What the bot posted to a response_url after `act` (a command, a click)."""
    before = len(bot.slack.responses)
    act()
    return bot.reply(before + 1)


def _command(bot: RunningBot, text: str, user: str = ALICE) -> dict[str, Any]:
    return _answer(bot, lambda: bot.command(text, user=user))


def _click(
    bot: RunningBot, action: ActionId, message: dict[str, Any], *, user: str = ALICE, **given: Any
) -> dict[str, Any]:
    shown = {"ts": "1", "text": message["text"], "blocks": message["blocks"]}
    return _answer(
        bot,
        lambda: bot.simulator.block_action(
            action.value, user_id=user, channel_id=TEAM_CHANNEL, message=shown, **given
        ),
    )


def _add(bot: RunningBot, experiment: str, *, user: str = ALICE) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": "checkout"}, "value": f"checkout {experiment}"}
    page = _command(bot, "experiments pods")
    return _click(bot, ActionId.ADD_TO_SUITE, page, user=user, selected_option=option)


def _elements(message: dict[str, Any], action: ActionId) -> list[dict[str, Any]]:
    found = []
    for block in message["blocks"]:
        for element in [block.get("accessory"), *block.get("elements", [])]:
            if isinstance(element, dict) and element.get("action_id") == action.value:
                found.append(element)
    return found


def _entries(bot: RunningBot) -> dict[str, dict[str, Any]]:
    with bot.db.session() as session:
        return {e.experiment: e.parameters for e in session.scalars(select(SuiteEntry))}


def _audit(bot: RunningBot, prefix: str = "suite.") -> list[tuple[str, str, dict[str, Any]]]:
    with bot.db.session() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        return [(e.actor, e.action, e.detail) for e in events if e.action.startswith(prefix)]


def test_the_library_is_browsed_one_category_at_a_time(bot: RunningBot) -> None:
    catalogue = load_catalogue()
    overview = _command(bot, "experiments")
    [picker] = _elements(overview, ActionId.LIBRARY_CATEGORY)
    categories = [o["value"] for o in picker["options"]]
    assert categories == list(dict.fromkeys(t.category for t in catalogue))
    assert f"{len(catalogue)} experiments in {len(categories)} categories" in str(overview)

    network = _command(bot, "experiments network")
    assert len(network["blocks"]) <= 50
    shown = str(network["blocks"])
    for template in catalogue:
        assert (f"`{template.id}`" in shown) == (template.category == "network"), template.id
    packet_loss = catalogue.get("packet-loss")
    assert "*Tests:* " + packet_loss.tests[:40] in shown
    assert "medium risk" in shown and "high risk" in shown  # packet loss, blackhole
    assert "*Needs:* Chaos Mesh 2.x" in shown
    menus = _elements(network, ActionId.ADD_TO_SUITE)
    assert len(menus) == 4
    assert [o["value"] for o in menus[0]["options"]] == ["checkout blackhole"]

    picked = _click(bot, ActionId.LIBRARY_CATEGORY, network, selected_option={"value": "pods"})
    assert picked["replace_original"] is True
    assert "`pod-kill`" in str(picked["blocks"]) and "`blackhole`" not in str(picked["blocks"])
    [picker] = _elements(picked, ActionId.LIBRARY_CATEGORY)
    assert picker["initial_option"]["value"] == "pods"

    for_carol = _command(bot, "experiments pods", user=CAROL)
    assert _elements(for_carol, ActionId.ADD_TO_SUITE) == []
    assert "You own no service to add these to yet" in str(for_carol["blocks"])
    assert "There is no category `lasers`" in _command(bot, "experiments lasers")["text"]


def test_owners_add_to_the_suite_and_others_are_refused(bot: RunningBot) -> None:
    refused = _add(bot, "pod-kill", user=CAROL)
    assert "Only the owners of `checkout` (or its team's admins)" in refused["text"]
    assert _entries(bot) == {}
    assert _audit(bot) == []

    added = _add(bot, "pod-kill")
    assert "Added *Pod kill* to the suite of *checkout*" in added["text"]
    assert _elements(added, ActionId.EDIT_SUITE_PARAMETERS)[0]["value"] == "checkout pod-kill"
    assert _entries(bot) == {"pod-kill": {}}
    assert _audit(bot) == [(ALICE, "suite.added", {"name": "checkout", "experiment": "pod-kill"})]

    again = _add(bot, "pod-kill")  # a double click, or a stale menu
    assert "already in the suite of *checkout*" in again["text"]
    assert len(_audit(bot)) == 1

    page = _command(bot, "experiments pods")
    values = [o["value"] for m in _elements(page, ActionId.ADD_TO_SUITE) for o in m["options"]]
    assert values == ["checkout container-kill"]
    assert "In the suite of: checkout" in str(page["blocks"])


def test_a_team_admin_may_change_a_suite_without_owning_the_service(bot: RunningBot) -> None:
    with bot.db.session() as session:
        team_id = session.scalars(select(Service.team_id)).one()
        session.add(Member(team_id=team_id, slack_user_id=CAROL, role=Role.ADMIN))
    page = _command(bot, "experiments pods", user=CAROL)
    assert _elements(page, ActionId.ADD_TO_SUITE)
    assert "Added *Pod kill*" in _add(bot, "pod-kill", user=CAROL)["text"]
    assert _entries(bot) == {"pod-kill": {}}


def _open_parameters(bot: RunningBot, experiment: str) -> tuple[str, dict[str, Any]]:
    """Alice opens the parameters modal from `/chaos suite checkout`; its view id and view."""
    suite = _command(bot, "suite checkout")
    [edit] = [
        e
        for e in _elements(suite, ActionId.EDIT_SUITE_PARAMETERS)
        if e["value"] == f"checkout {experiment}"
    ]
    opened = sum(
        c.body["view"]["callback_id"] == CallbackId.SUITE_PARAMETERS
        for c in bot.slack.calls_to("views.open")
    )
    bot.simulator.block_action(
        edit["action_id"],
        user_id=ALICE,
        channel_id=TEAM_CHANNEL,
        message={"ts": "1", "text": suite["text"], "blocks": suite["blocks"]},
        value=edit["value"],
    )
    call = bot.opened_view(CallbackId.SUITE_PARAMETERS, opened + 1)
    return str(call.response["view"]["id"]), call.body["view"]


def _submit(bot: RunningBot, view_id: str, latency: str) -> dict[str, Any]:
    view = bot.slack.views[view_id]
    values = {
        b["block_id"]: {b["element"]["action_id"]: _filled(b["element"])}
        for b in view["blocks"]
        if b["type"] == "input"
    }
    values[LATENCY][SuiteBlock.PARAMETER.value]["value"] = latency
    response = bot.simulator.view_submission(
        CallbackId.SUITE_PARAMETERS.value, values=values, user_id=ALICE, view_id=view_id
    )
    assert response.status == 200
    return response.json() if response.text else {}


def _filled(element: dict[str, Any]) -> dict[str, Any]:
    """An input's state as Slack sends it when the person left the initial value."""
    if element["type"] == "number_input":
        return {"type": "number_input", "value": element.get("initial_value")}
    if element["type"] == "static_select":
        return {"type": "static_select", "selected_option": element.get("initial_option")}
    return {"type": element["type"], "value": element.get("initial_value")}


def test_parameters_are_checked_in_the_ack_and_stored_once(bot: RunningBot) -> None:
    _add(bot, "downstream-latency")
    view_id, view = _open_parameters(bot, "downstream-latency")
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    latency = inputs[LATENCY]["element"]
    assert (latency["type"], latency["min_value"], latency["max_value"]) == (
        "number_input",
        "1",
        "60000",
    )
    assert latency["initial_value"] == "200" and latency["is_decimal_allowed"] is False
    peers = inputs[parameter_block("peer_selector")]
    assert peers["element"]["type"] == "plain_text_input" and peers["optional"] is True

    answer = _submit(bot, view_id, "99999")
    assert answer == {
        "response_action": "errors",
        "errors": {LATENCY: "Must be between 1 and 60000 (got 99999)"},
    }
    assert _entries(bot) == {"downstream-latency": {}}
    assert [a for _, a, _ in _audit(bot)] == ["suite.added"]

    responses = len(bot.slack.responses)
    assert _submit(bot, view_id, "500") == {}  # the modal closes
    assert _entries(bot) == {"downstream-latency": {"latency_ms": 500}}
    assert _audit(bot)[1:] == [
        (
            ALICE,
            "suite.parameters_changed",
            {
                "name": "checkout",
                "experiment": "downstream-latency",
                "changes": ["latency_ms: 200 -> 500"],
            },
        )
    ]
    # The suite message the Edit button was on shows the new value.
    refreshed = bot.reply(responses + 1)
    assert refreshed["replace_original"] is True
    assert "Saved the parameters of *Downstream latency*" in str(refreshed["blocks"])
    assert "`latency_ms` 500" in str(refreshed["blocks"])

    # Slack delivers the same submission again: the modal closes, nothing more is written,
    # whatever the duplicate carries.
    assert _submit(bot, view_id, "500") == {}
    assert _submit(bot, view_id, "750") == {}
    assert _entries(bot) == {"downstream-latency": {"latency_ms": 500}}
    assert len(_audit(bot)) == 2

    # Back to the default: nothing is stored for it, so the service follows the library.
    second_view, view = _open_parameters(bot, "downstream-latency")
    latency = next(b for b in view["blocks"] if b.get("block_id") == LATENCY)
    assert latency["element"]["initial_value"] == "500"
    assert _submit(bot, second_view, "200") == {}
    assert _entries(bot) == {"downstream-latency": {}}


def test_only_managers_edit_or_remove_and_removal_updates_the_suite(bot: RunningBot) -> None:
    _add(bot, "pod-kill")
    _add(bot, "container-kill")
    suite = _command(bot, "suite checkout")
    assert "*Suite of checkout*" in str(suite["blocks"]) and "2 experiments" in suite["text"]
    assert "`count` 1 _(default)_" in str(suite["blocks"])
    carols = _command(bot, "suite checkout", user=CAROL)
    assert _elements(carols, ActionId.EDIT_SUITE_PARAMETERS) == []
    assert _elements(carols, ActionId.REMOVE_FROM_SUITE) == []

    [remove, _other] = _elements(suite, ActionId.REMOVE_FROM_SUITE)
    assert remove["value"] == "checkout pod-kill" and remove["confirm"]
    refused = _click(bot, ActionId.REMOVE_FROM_SUITE, suite, user=CAROL, value=remove["value"])
    assert "can remove experiments from it" in refused["text"]
    opened = len(bot.slack.calls_to("views.open"))
    refused = _click(
        bot, ActionId.EDIT_SUITE_PARAMETERS, suite, user=CAROL, value="checkout pod-kill"
    )
    assert "can change the experiment parameters of it" in refused["text"]
    assert len(bot.slack.calls_to("views.open")) == opened
    assert set(_entries(bot)) == {"pod-kill", "container-kill"}

    removed = _click(bot, ActionId.REMOVE_FROM_SUITE, suite, value=remove["value"])
    assert removed["replace_original"] is True
    assert "Removed *Pod kill* from the suite" in str(removed["blocks"])
    assert [e["value"] for e in _elements(removed, ActionId.REMOVE_FROM_SUITE)] == [
        "checkout container-kill"
    ]
    assert set(_entries(bot)) == {"container-kill"}
    assert _audit(bot)[-1] == (
        ALICE,
        "suite.removed",
        {"name": "checkout", "experiment": "pod-kill"},
    )

    again = _click(bot, ActionId.REMOVE_FROM_SUITE, suite, value=remove["value"])
    assert "was not in the suite any more" in str(again["blocks"])
    assert len(_audit(bot)) == 3


# --- load profiles (CHAOSBOT_LOAD_PROFILES) ------------------------------------------------------

LOAD_PROFILES = pytest.mark.parametrize(
    "settings_changes", [{"load_profiles": True}], ids=["load-profiles"]
)
LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Shopper(HttpUser):
    wait_time = constant(1)

    @task
    def browse(self):
        self.client.get("/products")
"""
COUNT = parameter_block("count")


def _submit_form(
    bot: RunningBot, view_id: str, *, user: str = ALICE, **given: str
) -> dict[str, Any]:
    """Submit the stored view as `user`, its inputs as shown except `given` (block id: value;
    a tool block's value is the chosen option's)."""
    view = bot.slack.views[view_id]
    values = {
        b["block_id"]: {b["element"]["action_id"]: _filled(b["element"])}
        for b in view["blocks"]
        if b["type"] == "input"
    }
    for block, value in given.items():
        [state] = values.setdefault(block, {block: {}}).values()
        if state.get("type") == "static_select":
            state["selected_option"] = {"value": value}
        else:
            state["value"] = value
    response = bot.simulator.view_submission(
        CallbackId.SUITE_PARAMETERS.value, values=values, user_id=user, view_id=view_id
    )
    assert response.status == 200
    return response.json() if response.text else {}


def _loads(bot: RunningBot) -> dict[str, Any]:
    with bot.db.session() as session:
        return {e.experiment: e.load for e in session.scalars(select(SuiteEntry))}


def _profile(**changes: str) -> dict[str, str]:
    """A Locust profile as the form's fields give it, with `changes` (by block id)."""
    fields: dict[str, str] = {
        SuiteBlock.LOAD_TOOL: "locust",
        SuiteBlock.LOAD_SCRIPT: LOCUSTFILE,
        SuiteBlock.LOAD_USERS: "20",
        SuiteBlock.LOAD_RAMP_UP: "30",
        SuiteBlock.LOAD_HOST: "http://checkout.payments.svc:8080",
    }
    return {**fields, **changes}


@LOAD_PROFILES
def test_a_load_profile_set_in_the_form_is_stored_audited_listed_and_run(bot: RunningBot) -> None:
    _add(bot, "pod-kill")
    suite = _command(bot, "suite checkout")
    [edit] = _elements(suite, ActionId.EDIT_SUITE_PARAMETERS)
    assert edit["text"]["text"] == "Edit parameters and load"
    view_id, view = _open_parameters(bot, "pod-kill")
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    tool = inputs[SuiteBlock.LOAD_TOOL]["element"]
    assert [o["value"] for o in tool["options"]] == ["none", "locust", "k6"]
    assert tool["initial_option"]["value"] == "none"
    script = inputs[SuiteBlock.LOAD_SCRIPT]
    assert script["element"]["multiline"] is True and script["element"]["max_length"] == 3000
    assert "at most 3,000 characters" in script["hint"]["text"]
    assert "ConfigMap" in script["hint"]["text"]
    users = inputs[SuiteBlock.LOAD_USERS]["element"]
    assert (users["min_value"], users["max_value"]) == ("1", "1000")

    responses = len(bot.slack.responses)
    assert _submit_form(bot, view_id, **_profile()) == {}
    assert _loads(bot) == {
        "pod-kill": {
            "tool": "locust",
            "script": LOCUSTFILE,
            "users": 20,
            "rampUpSeconds": 30,
            "host": "http://checkout.payments.svc:8080",
        }
    }
    assert _audit(bot)[1:] == [
        (
            ALICE,
            "suite.load_changed",
            {
                "name": "checkout",
                "experiment": "pod-kill",
                "load": "locust (inline), 20 users after 30 s, for the whole run",
            },
        )
    ]
    refreshed = bot.reply(responses + 1)
    assert "Saved the parameters and load profile of *Pod kill*" in str(refreshed["blocks"])
    assert "Load: locust, 20 users, ramp-up 30 s" in str(refreshed["blocks"])

    # Opened again, the form shows the stored profile.
    _view_id, view = _open_parameters(bot, "pod-kill")
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert inputs[SuiteBlock.LOAD_TOOL]["element"]["initial_option"]["value"] == "locust"
    assert inputs[SuiteBlock.LOAD_SCRIPT]["element"]["initial_value"] == LOCUSTFILE
    assert inputs[SuiteBlock.LOAD_USERS]["element"]["initial_value"] == "20"

    # A run of the entry runs under the load: the control first, the stop last, its kinds.
    planned = plan_run(
        bot.db,
        service="checkout",
        experiment="pod-kill",
        trigger=Trigger.ADHOC,
        requested_by=ALICE,
        now=START,
    )
    with bot.db.session() as session:
        run = session.get(Run, planned.run_id)
        assert run is not None
        document, creates = run.document, list(run.creates)
    control = document["controls"][0]
    assert control["name"] == "chaosbot-load"
    assert control["provider"]["module"] == "bot.load.control"
    arguments = control["provider"]["arguments"]
    assert arguments["profile"] == {
        "tool": "locust",
        "users": 20,
        "rampUpSeconds": 30,
        "host": "http://checkout.payments.svc:8080",
    }
    assert base64.b64decode(arguments["script_base64"]).decode() == LOCUSTFILE
    assert document["rollbacks"][-1]["name"] == "stop the load"
    assert {"jobs.batch", "configmaps"} <= set(creates)

    # Tool "none" takes the load away again (audited).
    view_id, _view = _open_parameters(bot, "pod-kill")
    assert _submit_form(bot, view_id, **{SuiteBlock.LOAD_TOOL: "none"}) == {}
    assert _loads(bot) == {"pod-kill": None}
    assert _audit(bot)[-1][1:] == (
        "suite.load_changed",
        {"name": "checkout", "experiment": "pod-kill", "load": None},
    )


@LOAD_PROFILES
def test_a_bad_load_profile_is_a_field_error_and_nothing_is_written(bot: RunningBot) -> None:
    _add(bot, "pod-kill")
    view_id, _view = _open_parameters(bot, "pod-kill")
    users = SuiteBlock.LOAD_USERS.value
    assert _submit_form(bot, view_id, **_profile(**{users: "0"})) == {
        "response_action": "errors",
        "errors": {users: "Must be between 1 and 1000, got 0"},
    }
    both = _profile(
        **{SuiteBlock.LOAD_CONFIG_MAP_NAME: "checkout-load", SuiteBlock.LOAD_CONFIG_MAP_KEY: "a.py"}
    )
    assert _submit_form(bot, view_id, **both) == {
        "response_action": "errors",
        "errors": {
            SuiteBlock.LOAD_SCRIPT.value: (
                "Give the script inline (script) or from a ConfigMap (configMap)"
            )
        },
    }
    # A parameter refused too: every problem on its block at once.
    answer = _submit_form(bot, view_id, **_profile(**{users: "0", COUNT: "0"}))
    assert answer["errors"] == {
        COUNT: "Must be between 1 and 50 (got 0)",
        users: "Must be between 1 and 1000, got 0",
    }
    # Neither a script nor a ConfigMap.
    neither = _profile(**{SuiteBlock.LOAD_SCRIPT: ""})
    assert list(_submit_form(bot, view_id, **neither)["errors"]) == [SuiteBlock.LOAD_SCRIPT.value]
    # The chaos.yaml rule for hosts: not the cloud's metadata endpoint.
    metadata = _profile(**{SuiteBlock.LOAD_HOST: "http://169.254.169.254/"})
    assert list(_submit_form(bot, view_id, **metadata)["errors"]) == [SuiteBlock.LOAD_HOST.value]
    assert _loads(bot) == {"pod-kill": None}
    assert _entries(bot) == {"pod-kill": {}}
    assert [a for _, a, _ in _audit(bot)] == ["suite.added"]

    # From a ConfigMap, parameters and load together: both stored.
    from_config_map = _profile(
        **{
            SuiteBlock.LOAD_SCRIPT: "",
            SuiteBlock.LOAD_CONFIG_MAP_NAME: "checkout-load",
            SuiteBlock.LOAD_CONFIG_MAP_KEY: "locustfile.py",
            SuiteBlock.LOAD_DURATION: "600",
        }
    )
    assert _submit_form(bot, view_id, **from_config_map, **{COUNT: "2"}) == {}
    assert _entries(bot) == {"pod-kill": {"count": 2}}
    assert _loads(bot)["pod-kill"] == {
        "tool": "locust",
        "configMap": {"name": "checkout-load", "key": "locustfile.py"},
        "users": 20,
        "rampUpSeconds": 30,
        "durationSeconds": 600,
        "host": "http://checkout.payments.svc:8080",
    }
    assert [a for _, a, _ in _audit(bot)] == [
        "suite.added",
        "suite.parameters_changed",
        "suite.load_changed",
    ]


@LOAD_PROFILES
def test_a_stored_script_longer_than_the_form_takes_is_kept(bot: RunningBot) -> None:
    _add(bot, "pod-kill")
    long_script = LOCUSTFILE + "# padding\n" * 500
    with bot.db.session() as session:
        entry = session.scalars(select(SuiteEntry)).one()
        entry.load = {"tool": "locust", "script": long_script, "users": 5, "rampUpSeconds": 0}
    view_id, view = _open_parameters(bot, "pod-kill")
    script = next(b for b in view["blocks"] if b.get("block_id") == SuiteBlock.LOAD_SCRIPT)
    assert "initial_value" not in script["element"]
    assert f"The stored script has {len(long_script):,} characters" in script["hint"]["text"]
    assert _submit_form(bot, view_id, **{SuiteBlock.LOAD_USERS: "8"}) == {}
    assert _loads(bot)["pod-kill"] == {
        "tool": "locust",
        "script": long_script,
        "users": 8,
        "rampUpSeconds": 0,
    }


def test_without_load_profiles_the_form_has_no_load_fields(bot: RunningBot) -> None:
    _add(bot, "pod-kill")
    suite = _command(bot, "suite checkout")
    assert [e["text"]["text"] for e in _elements(suite, ActionId.EDIT_SUITE_PARAMETERS)] == [
        "Edit parameters"
    ]
    view_id, view = _open_parameters(bot, "pod-kill")
    assert [b["block_id"] for b in view["blocks"] if "load" in b.get("block_id", "")] == []
    # A submission carrying load fields anyway (a forged one) stores no load.
    assert _submit_form(bot, view_id, **_profile()) == {}
    assert _loads(bot) == {"pod-kill": None}
    assert [a for _, a, _ in _audit(bot)] == ["suite.added"]


@LOAD_PROFILES
def test_a_stranger_cannot_set_a_load_profile(bot: RunningBot) -> None:
    _add(bot, "pod-kill")
    carols = _command(bot, "suite checkout", user=CAROL)
    assert _elements(carols, ActionId.EDIT_SUITE_PARAMETERS) == []
    opened = len(bot.slack.calls_to("views.open"))
    suite = _command(bot, "suite checkout")
    refused = _click(
        bot, ActionId.EDIT_SUITE_PARAMETERS, suite, user=CAROL, value="checkout pod-kill"
    )
    assert "can change the experiment parameters of it" in refused["text"]
    assert len(bot.slack.calls_to("views.open")) == opened
    # Alice's form, submitted by Carol: refused on its first field, nothing written.
    view_id, _view = _open_parameters(bot, "pod-kill")
    answer = _submit_form(bot, view_id, user=CAROL, **_profile())
    assert answer["response_action"] == "errors"
    assert "can change the experiment parameters of it" in answer["errors"][COUNT]
    assert _loads(bot) == {"pod-kill": None}
    assert [a for _, a, _ in _audit(bot)] == ["suite.added"]
