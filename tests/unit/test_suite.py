"""The library and suite messages, and the parameters modal: pure builders and the parser."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.catalog.models import Service, SuiteEntry, Team
from bot.catalog.suite import parameter_problems
from bot.errors import ChaosbotError
from bot.library.catalogue import Catalogue, load_catalogue
from bot.slack.ids import ActionId, SuiteBlock
from bot.slack.suite_blocks import (
    MAX_BLOCKS,
    SuiteRef,
    library_category,
    library_overview,
    suite_message,
)
from bot.slack.suite_view import (
    block_errors,
    parameter_block,
    parameters_modal,
    read_parameters,
)
from bot.slack.views import ParametersModal

CATALOGUE = load_catalogue()


def _service(name: str, experiments: dict[str, dict[str, Any]]) -> Service:
    suite = [
        SuiteEntry(experiment=e, parameters=p, position=i)
        for i, (e, p) in enumerate(experiments.items())
    ]
    return Service(name=name, team=Team(name="payments"), suite=suite)


def _valid_block_kit(blocks: list[dict[str, Any]]) -> None:
    """Slack's own models accept every block, and none of its fields is unknown to them."""
    assert 0 < len(blocks) <= MAX_BLOCKS
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
        assert parsed.to_dict() == block


def test_every_library_page_is_valid_block_kit_within_limits() -> None:
    services = [_service(f"svc-{i}", {}) for i in range(120)]
    _valid_block_kit(library_overview(CATALOGUE)["blocks"])
    for category in {t.category for t in CATALOGUE}:
        page = library_category(CATALOGUE, category, services=services)
        _valid_block_kit(page["blocks"])
        menus = [
            b["accessory"]
            for b in page["blocks"]
            if b.get("accessory", {}).get("action_id") == ActionId.ADD_TO_SUITE
        ]
        assert menus and all(len(m["options"]) == 100 for m in menus)


def test_a_category_too_big_for_one_message_says_what_was_left_out() -> None:
    pod_kill = CATALOGUE.get("pod-kill")
    many = Catalogue([replace(pod_kill, id=f"pod-kill-{i}") for i in range(30)])
    blocks = library_category(many, "pods", services=[])["blocks"]
    assert len(blocks) == MAX_BLOCKS
    assert "6 more experiments did not fit" in str(blocks[-1])


def test_the_suite_shows_stored_values_defaults_and_refused_values() -> None:
    service = _service(
        "checkout",
        {
            "downstream-latency": {"latency_ms": 500},
            "pod-kill": {"count": 999},
            "retired-experiment": {},
        },
    )
    message = suite_message(service, CATALOGUE, can_manage=True)
    _valid_block_kit(message["blocks"])
    text = str(message["blocks"])
    assert "`latency_ms` 500 ·" in text and "`jitter_ms` 0 _(default)_" in text
    assert "Stored values the library refuses: `count` must be between 1 and 50" in text
    assert "`retired-experiment` is no longer in the library" in text
    actions = [
        e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions.count(ActionId.EDIT_SUITE_PARAMETERS) == 2
    assert actions.count(ActionId.REMOVE_FROM_SUITE) == 3
    readonly = suite_message(service, CATALOGUE, can_manage=False)
    assert all(b["type"] != "actions" for b in readonly["blocks"])


def test_the_library_marks_the_experiments_that_disrupt_every_pod() -> None:
    overview = str(library_overview(CATALOGUE)["blocks"])
    every_pod = [t.id for t in CATALOGUE if t.every_pod]
    listed = ", ".join(f"`{e}`" for e in every_pod)
    assert f":warning: *Every pod*: {listed} disrupt every pod of a service" in overview
    network = library_category(CATALOGUE, "network", services=[])["blocks"]
    _valid_block_kit(network)
    entries = {
        t.id: next(b["text"]["text"] for b in network if f"`{t.id}`" in str(b.get("text")))
        for t in CATALOGUE
        if t.category == "network"
    }
    assert "`blackhole`  ·  high risk  ·  every pod" in entries["blackhole"]
    assert (
        ":warning: *Every pod:* it acts on every pod of the service by design"
        in (entries["blackhole"])
    )
    for experiment in ("upstream-latency", "downstream-latency", "packet-loss"):
        assert "every pod" not in entries[experiment].lower(), experiment


def test_library_text_is_escaped() -> None:
    pod_kill = CATALOGUE.get("pod-kill")
    tricky = Catalogue([replace(pod_kill, title="<!channel> & co", tests="<http://x|y>")])
    text = str(library_category(tricky, "pods", services=[])["blocks"])
    assert "&lt;!channel&gt; &amp; co" in text and "&lt;http://x|y&gt;" in text
    assert "<!channel>" not in text


@pytest.mark.parametrize("experiment", sorted(CATALOGUE.templates))
def test_every_experiment_gets_a_valid_modal_that_reads_back_its_values(experiment: str) -> None:
    template = CATALOGUE.get(experiment)
    about = ParametersModal("checkout", experiment, "https://hooks.slack.test/response/1")
    view = parameters_modal(template, stored={}, about=about)
    View(**view).validate_json()
    _valid_block_kit(view["blocks"])
    state = {
        b["block_id"]: {SuiteBlock.PARAMETER.value: _as_submitted(b["element"])}
        for b in view["blocks"]
        if b["type"] == "input"
    }
    values, problems = read_parameters(template, state)
    assert problems == {}
    assert values == {name: p.default for name, p in template.parameters.items()}
    assert ParametersModal.load(view["private_metadata"]) == about


def _as_submitted(element: dict[str, Any]) -> dict[str, Any]:
    kind = element["type"]
    if kind == "checkboxes":
        return {"type": kind, "selected_options": element.get("initial_options", [])}
    if kind == "static_select":
        return {"type": kind, "selected_option": element["initial_option"]}
    return {"type": kind, "value": element.get("initial_value")}


def _inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def test_each_parameter_type_gets_its_own_input() -> None:
    about = ParametersModal("checkout", "x")
    drain = _inputs(
        parameters_modal(CATALOGUE.get("node-drain"), stored={"all_namespaces": True}, about=about)
    )
    nodes = drain[parameter_block("nodes")]
    assert nodes["element"]["type"] == "number_input" and not nodes["optional"]
    assert (nodes["element"]["min_value"], nodes["element"]["max_value"]) == ("1", "10")
    flag = drain[parameter_block("all_namespaces")]["element"]
    assert flag["type"] == "checkboxes" and flag["initial_options"] == flag["options"]

    loss = _inputs(
        parameters_modal(CATALOGUE.get("packet-loss"), stored={"direction": "both"}, about=about)
    )
    direction = loss[parameter_block("direction")]["element"]
    assert direction["type"] == "static_select"
    assert [o["value"] for o in direction["options"]] == ["to", "from", "both"]
    assert direction["initial_option"]["value"] == "both"
    assert loss[parameter_block("peer_selector")]["element"]["type"] == "plain_text_input"


def test_a_stored_value_the_library_refuses_is_replaced_by_the_default() -> None:
    view = parameters_modal(
        CATALOGUE.get("pod-kill"), stored={"count": 999}, about=ParametersModal("c", "pod-kill")
    )
    count = _inputs(view)[parameter_block("count")]["element"]
    assert count["initial_value"] == "1"
    assert "The stored `count` must be between 1 and 50" in view["blocks"][0]["text"]["text"]


def test_unreadable_values_are_reported_by_parameter() -> None:
    template = CATALOGUE.get("packet-loss")
    number = parameter_block("loss_percent")
    choice = parameter_block("direction")
    state = {
        number: {SuiteBlock.PARAMETER.value: {"type": "number_input", "value": "2.5"}},
        choice: {SuiteBlock.PARAMETER.value: {"type": "static_select", "selected_option": None}},
    }
    _values, problems = read_parameters(template, state)
    errors = block_errors(problems)
    assert errors[number].startswith("Must be an integer (between 1 and 100)")
    assert errors[choice] == "This is required."
    assert errors[parameter_block("correlation")] == "This is required."


def test_parameter_problems_refuse_unknown_names_out_of_bounds_and_non_finite_values() -> None:
    template = CATALOGUE.get("packet-loss")
    problems = parameter_problems(
        template, {"loss_percent": 0, "direction": "sideways", "colour": "red", "percent": 50}
    )
    assert problems["loss_percent"] == "must be between 1 and 100 (got 0)"
    assert problems["direction"].startswith("must be one of to, from, both")
    assert problems["colour"].startswith("does not exist")
    assert "percent" not in problems
    assert "finite" in parameter_problems(template, {"loss_percent": math.nan})["loss_percent"]


def test_references_in_values_round_trip_and_refuse_garbage() -> None:
    ref = SuiteRef("checkout", "pod-kill")
    assert SuiteRef.parse(ref.value) == ref
    with pytest.raises(ChaosbotError):
        SuiteRef.parse("checkout")
    with pytest.raises(ChaosbotError):
        ParametersModal.load("{}")
