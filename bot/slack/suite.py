"""Slack surface of suites: browse the experiment library, add to a suite, edit, remove."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import IntegrityError

from bot.catalog.flows import AlreadyDone
from bot.catalog.service import can_manage, find_service
from bot.catalog.spec_load import check_load
from bot.catalog.suite import (
    LoadEdit,
    SuiteEntryInvalid,
    add_to_suite,
    editable_entry,
    manageable_services,
    remove_from_suite,
    set_parameters,
)
from bot.context import BotContext
from bot.db.idempotency import was_claimed
from bot.errors import ChaosbotError
from bot.library.catalogue import Catalogue, load_catalogue
from bot.slack.commands import CommandRequest
from bot.slack.ids import ActionId, CallbackId, SuiteBlock
from bot.slack.mrkdwn import escape
from bot.slack.replies import Reply
from bot.slack.responder import Responder
from bot.slack.suite_blocks import (
    SuiteRef,
    added_message,
    library_category,
    library_overview,
    suite_message,
)
from bot.slack.suite_view import (
    block_errors,
    load_block_errors,
    parameter_block,
    parameters_modal,
    read_load,
    read_parameters,
)
from bot.slack.surface import Surface
from bot.slack.views import ParametersModal, view_key

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(surface: Surface) -> None:
    """Add `/chaos experiments` and `/chaos suite`, their menus, buttons and the modal."""
    suites = _Suites(surface.context, load_catalogue())
    surface.subcommand(
        "experiments",
        "/chaos experiments [CATEGORY]",
        "browse the experiment library and add experiments to a service's suite",
        suites.browse,
    )
    surface.subcommand(
        "suite",
        "/chaos suite SERVICE",
        "a service's experiments and their parameters, with Edit and Remove",
        suites.show,
    )

    surface.app.view(CallbackId.SUITE_PARAMETERS.value)(
        ack=suites.submit_parameters, lazy=[suites.refresh_after_edit]
    )
    surface.button(ActionId.LIBRARY_CATEGORY, suites.pick)
    surface.button(ActionId.ADD_TO_SUITE, suites.add)
    surface.button(ActionId.EDIT_SUITE_PARAMETERS, suites.open_parameters)
    surface.button(ActionId.REMOVE_FROM_SUITE, suites.remove)


class _Suites:
    """The handlers, sharing the bot's context and the library (loaded once, at start)."""

    def __init__(self, context: BotContext, catalogue: Catalogue) -> None:
        self.ctx = context
        self.catalogue = catalogue

    # --- /chaos subcommands -----------------------------------------------------------------

    def browse(self, request: CommandRequest) -> Reply:
        if not request.args:
            return _reply(library_overview(self.catalogue))
        category = request.args[0].lower()
        return _reply(self._category(category, request.user_id))

    def show(self, request: CommandRequest) -> Reply:
        if len(request.args) != 1:
            raise ChaosbotError(
                "Usage: `/chaos suite SERVICE`, for example `/chaos suite checkout`."
            )
        return _reply(self._suite(request.args[0], request.user_id))

    # --- the library's menus ------------------------------------------------------------------

    def pick(self, body: dict[str, Any], respond: Responder, _client: WebClient) -> None:
        category = _selected(body)
        respond(**self._category(category, body["user"]["id"]), replace_original=True)

    def add(self, body: dict[str, Any], respond: Responder, _client: WebClient) -> None:
        ref = SuiteRef.parse(_selected(body))
        template = self.catalogue.get(ref.experiment)
        try:
            with self.ctx.db.session() as session:
                added = add_to_suite(
                    session=session,
                    catalogue=self.catalogue,
                    service=ref.service,
                    experiment=ref.experiment,
                    actor=body["user"]["id"],
                    now=self.ctx.clock.now(),
                )
        except IntegrityError:
            added = False  # a concurrent click added it first (one entry per experiment)
        respond(**added_message(ref, template, added=added), replace_original=False)

    # --- a suite's buttons and the parameters modal ----------------------------------------

    def open_parameters(self, body: dict[str, Any], respond: Responder, client: WebClient) -> None:
        ref = SuiteRef.parse(body["actions"][0]["value"])
        with self.ctx.db.session() as session:
            _service, template, entry = editable_entry(
                session=session,
                catalogue=self.catalogue,
                service=ref.service,
                experiment=ref.experiment,
                actor=body["user"]["id"],
            )
            stored = dict(entry.parameters)
            load = dict(entry.load) if entry.load else None
        about = ParametersModal(
            ref.service,
            ref.experiment,
            body.get("response_url"),
            with_load=self.ctx.settings.load_profiles,
        )
        view = parameters_modal(template, stored=stored, about=about, load=load)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def submit_parameters(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Validate inside the ack: errors go back onto the fields' blocks, nothing is written."""
        about = ParametersModal.load(view.get("private_metadata"))
        template = self.catalogue.get(about.experiment)
        state = view["state"]["values"]
        values, problems = read_parameters(template, state)
        load = None
        if about.with_load and self.ctx.settings.load_profiles:
            load = LoadEdit(
                document=read_load(state), policy=self.ctx.policy, keep_script=about.keep_script
            )
        if problems:
            load_problems = {}
            if load is not None and load.document is not None and not load.keep_script:
                load_problems = check_load(load.document, load.policy)[1]
            errors = {**block_errors(problems), **load_block_errors(load_problems)}
            ack(response_action="errors", errors=errors)
            return
        key = view_key(view)
        try:
            with self.ctx.db.session() as session:
                set_parameters(
                    session=session,
                    catalogue=self.catalogue,
                    service=about.service,
                    experiment=about.experiment,
                    values=values,
                    actor=body["user"]["id"],
                    now=self.ctx.clock.now(),
                    request_key=key,
                    load=load,
                )
        except SuiteEntryInvalid as invalid:
            errors = {
                **block_errors(invalid.problems),
                **load_block_errors(invalid.load_problems),
            }
            ack(response_action="errors", errors=errors)
            return
        except AlreadyDone:
            pass  # Slack retried a submission that was stored: close the modal again
        except IntegrityError:
            if not self._claimed(key):
                raise
        except ChaosbotError as refused:  # not allowed, offboarded, removed meanwhile
            if template.parameters:
                first = parameter_block(next(iter(template.parameters)))
            elif load is not None:
                first = SuiteBlock.LOAD_TOOL.value
            else:
                raise
            ack(response_action="errors", errors={first: str(refused)})
            return
        ack()

    def refresh_after_edit(self, body: dict[str, Any], view: dict[str, Any]) -> None:
        """After a stored submission: show the suite, updated, where the Edit button was."""
        about = ParametersModal.load(view.get("private_metadata"))
        if about.response_url is None or not self._claimed(view_key(view)):
            return
        title = self.catalogue.get(about.experiment).title
        message = self._suite(
            about.service,
            body["user"]["id"],
            notice=f":white_check_mark: Saved the {_what(about)} of *{escape(title)}*.",
        )
        Respond(response_url=about.response_url)(**message, replace_original=True)

    def remove(self, body: dict[str, Any], respond: Responder, _client: WebClient) -> None:
        ref = SuiteRef.parse(body["actions"][0]["value"])
        user = body["user"]["id"]
        with self.ctx.db.session() as session:
            removed = remove_from_suite(
                session=session,
                service=ref.service,
                experiment=ref.experiment,
                actor=user,
                now=self.ctx.clock.now(),
            )
        template = self.catalogue.templates.get(ref.experiment)
        title = template.title if template else ref.experiment
        if removed:
            notice = f":wastebasket: Removed *{escape(title)}* from the suite."
        else:
            notice = f"*{escape(title)}* was not in the suite any more."
        respond(**self._suite(ref.service, user, notice=notice), replace_original=True)

    # --- rendering ----------------------------------------------------------------------------

    def _category(self, category: str, user_id: str) -> dict[str, Any]:
        categories = {t.category for t in self.catalogue}
        if category not in categories:
            known = ", ".join(f"`{c}`" for c in sorted(categories))
            raise ChaosbotError(
                f"There is no category `{escape(category)}` in the library. Try {known}."
            )
        with self.ctx.db.session() as session:
            services = manageable_services(session=session, user_id=user_id)
            return library_category(self.catalogue, category, services=services)

    def _suite(self, name: str, user_id: str, *, notice: str | None = None) -> dict[str, Any]:
        with self.ctx.db.session() as session:
            service = find_service(session=session, name=name)
            allowed = can_manage(session=session, service=service, user_id=user_id)
            return suite_message(
                service,
                self.catalogue,
                can_manage=allowed,
                notice=notice,
                load_profiles=self.ctx.settings.load_profiles,
            )

    def _claimed(self, key: str) -> bool:
        with self.ctx.db.session() as session:
            return was_claimed(session=session, key=key)


def _what(about: ParametersModal) -> str:
    return "parameters and load profile" if about.with_load else "parameters"


def _selected(body: dict[str, Any]) -> str:
    option = body["actions"][0].get("selected_option") or {}
    return str(option.get("value") or "")


def _reply(message: dict[str, Any]) -> Reply:
    return Reply(text=message["text"], blocks=message["blocks"])
