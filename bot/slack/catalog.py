"""Slack surface of the service catalogue: onboard, list, show, edit, offboard."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.catalog.cluster import ClusterUnreachable
from bot.catalog.flows import AlreadyDone, store_service
from bot.catalog.risks import assess, suggest
from bot.catalog.service import (
    NotAllowed,
    can_manage,
    find_service,
    list_services,
    list_teams,
    offboard_service,
    spec_of,
    team_of_channel,
)
from bot.catalog.spec import ServiceSpec, SpecInvalid
from bot.context import BotContext
from bot.db.idempotency import was_claimed
from bot.errors import ChaosbotError
from bot.library.catalogue import Catalogue, load_catalogue
from bot.slack.blockkit import MAX_OPTIONS, option, section
from bot.slack.budget import AckBudget, OutOfTime
from bot.slack.catalog_blocks import onboarded_message, service_detail, services_list
from bot.slack.commands import CommandRequest
from bot.slack.ids import ActionId, CallbackId, OnboardBlock
from bot.slack.mrkdwn import escape
from bot.slack.onboarding_view import (
    REFUSED_LATE,
    block_errors,
    checking_modal,
    onboarding_modal,
    parse_form,
    read_declaration,
    stored_modal,
)
from bot.slack.outbox import enqueue
from bot.slack.replies import Reply
from bot.slack.responder import Responder
from bot.slack.surface import Surface
from bot.slack.views import ServiceModal, notice_modal, refilled, view_key

__all__ = ["register"]

log = logging.getLogger(__name__)


class UsageError(ChaosbotError):
    """A subcommand was called with the wrong arguments."""


def register(surface: Surface) -> None:
    """Add the catalogue's subcommands, modal submissions, options and buttons."""
    catalog = _Catalog(surface.context, surface.budget)
    surface.subcommand(
        "onboard", "/chaos onboard", "register a service (opens a form)", catalog.open_onboarding
    )
    surface.subcommand("services", "/chaos services [TEAM]", "a team's services", catalog.list)
    surface.subcommand(
        "service", "/chaos service NAME", "one service, with Edit and Offboard", catalog.show
    )

    surface.app.view(CallbackId.ONBOARD.value)(
        ack=catalog.submit_onboarding, lazy=[catalog.announce]
    )
    surface.app.view(CallbackId.EDIT_SERVICE.value)(
        ack=catalog.submit_edit, lazy=[catalog.announce]
    )
    surface.app.options(OnboardBlock.WORKLOAD.value)(catalog.workload_options)

    def edit(body: dict[str, Any], _respond: Responder, client: WebClient) -> None:
        catalog.open_edit(body, client)

    def offboard(body: dict[str, Any], respond: Responder, _client: WebClient) -> None:
        catalog.offboard(body, respond)

    surface.button(ActionId.EDIT_SERVICE, edit)
    surface.button(ActionId.OFFBOARD_SERVICE, offboard)


class _Catalog:
    """The handlers, sharing the bot's context and the library (loaded once, at start)."""

    def __init__(self, context: BotContext, budget: AckBudget) -> None:
        self.ctx = context
        self.budget = budget
        self.catalogue = load_catalogue()

    def _onboarding_modal(
        self,
        teams: list[str],
        *,
        timezone: str,
        requester: str,
        editing: ServiceSpec | None = None,
    ) -> dict[str, Any]:
        """The onboarding modal under this platform's rules (a new service, or `editing`)."""
        return onboarding_modal(
            teams=teams,
            allowed_namespaces=sorted(self.ctx.settings.allowed_namespaces),
            allow_production=self.ctx.settings.allow_production,
            max_blast_radius=self.ctx.settings.max_blast_radius_percent,
            timezone=timezone,
            requester=requester,
            library=_library(self.catalogue),
            every_pod=_every_pod(self.catalogue),
            editing=editing,
        )

    # --- /chaos subcommands -----------------------------------------------------------------

    def open_onboarding(self, request: CommandRequest) -> Reply | None:
        assert request.client is not None
        with self.ctx.db.session() as session:
            teams = [t.name for t in list_teams(session=session)]
        view = self._onboarding_modal(
            teams, timezone=_timezone_of(request.client, request.user_id), requester=request.user_id
        )
        request.client.views_open(trigger_id=request.trigger_id, view=view)
        return None

    def list(self, request: CommandRequest) -> Reply:
        team: str | None
        with self.ctx.db.session() as session:
            if request.args:
                team, heading = request.args[0], f"Services of team {request.args[0]}"
            else:
                of_channel = team_of_channel(session=session, channel_id=request.channel_id)
                team = of_channel.name if of_channel else None
                heading = f"Services of team {team}" if team else "All services"
            message = services_list(list_services(session=session, team=team), heading=heading)
        return Reply(text=message["text"], blocks=message["blocks"])

    def show(self, request: CommandRequest) -> Reply:
        if len(request.args) != 1:
            raise UsageError("Usage: `/chaos service NAME`, for example `/chaos service checkout`.")
        with self.ctx.db.session() as session:
            service = find_service(session=session, name=request.args[0])
            allowed = can_manage(session=session, service=service, user_id=request.user_id)
            message = service_detail(
                service,
                can_manage=allowed,
                max_blast_radius=self.ctx.settings.max_blast_radius_percent,
                every_pod=_every_pod(self.catalogue),
            )
        return Reply(text=message["text"], blocks=message["blocks"])

    # --- the modal ---------------------------------------------------------------------------

    def submit_onboarding(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        self._submit(ack, body, view, client, editing=None)

    def submit_edit(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        name = ServiceModal.load(view.get("private_metadata")).service or ""
        with self.ctx.db.session() as session:
            service = find_service(session=session, name=name)
            if not can_manage(session=session, service=service, user_id=body["user"]["id"]):
                ack(
                    response_action="errors",
                    errors={OnboardBlock.TEAM.value: str(NotAllowed("edit", name))},
                )
                return
            stored = spec_of(service)
        self._submit(ack, body, view, client, editing=stored)

    def _submit(
        self,
        ack: Ack,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
        *,
        editing: ServiceSpec | None,
    ) -> None:
        """Validate inside the ack: errors go back onto the modal's blocks, nothing is written.
        `editing` is the stored service an Edit saves (what the form cannot show is kept).

        The checks that ask the cluster and Prometheus get the ack's budget; when it runs out the
        modal says so and the same check, going on, answers on the modal when it ends."""
        try:
            spec = parse_form(view["state"]["values"], editing=editing, policy=self.ctx.policy)
            self.budget.deadline().run(
                lambda: store_service(
                    self.ctx.db,
                    spec,
                    cluster=self.ctx.cluster,
                    metrics=self.ctx.metrics,
                    actor=body["user"]["id"],
                    now=self.ctx.clock.now(),
                    create_only=editing is None,
                    idempotency_key=view_key(view),
                    platform_admins=self.ctx.settings.platform_admins,
                )
            )
        except SpecInvalid as invalid:
            ack(response_action="errors", errors=block_errors(invalid.errors))
            return
        except AlreadyDone:
            pass  # a retry of a submission that was stored: close the modal again
        except OutOfTime as late:
            ack(response_action="update", view=checking_modal(view, spec.name))
            late.then(lambda outcome: self._stored_late(outcome, spec.name, body, view, client))
            return
        ack()

    def _stored_late(
        self,
        outcome: Callable[[], object],
        name: str,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
    ) -> None:
        """The answer to a submission acked before its checks ended, on the modal it left open:
        stored (and announced, as after any stored submission), or the form again with its
        problems. A modal the person closed meanwhile gets the answer as a direct message."""
        user = body["user"]["id"]
        try:
            outcome()
        except SpecInvalid as invalid:
            problems = {b: escape(p) for b, p in block_errors(invalid.errors).items()}
            answer = refilled(view, problems, heading=REFUSED_LATE)
            text = f"{REFUSED_LATE} " + " ".join(problems.values())
        except AlreadyDone:
            return  # another attempt of this submission answered it
        except ChaosbotError as refused:
            answer = notice_modal(view["callback_id"], "Not saved", escape(str(refused)))
            text = escape(str(refused))
        else:
            answer, text = stored_modal(view["callback_id"], name)
        try:
            client.views_update(view_id=view["id"], view=answer)
        except SlackApiError:
            log.info("the modal %s is gone; answering %s in a message", view["id"], user)
            client.chat_postMessage(channel=user, text=text)
        self.announce(body, view)  # after the answer: it asks the cluster again

    def announce(self, body: dict[str, Any], view: dict[str, Any]) -> None:
        """After a stored submission: look at the cluster and post the result in the team channel."""
        key = view_key(view)
        with self.ctx.db.session() as session:
            if not was_claimed(session=session, key=key):
                return  # the submission was refused; the modal showed why
            editing = ServiceModal.load(view.get("private_metadata")).service
            name = editing or read_declaration(view["state"]["values"]).get("name")
            service = find_service(session=session, name=str(name))
            spec, selector, channel = (
                spec_of(service),
                service.selector,
                service.team.slack_channel_id,
            )
        message = self._confirmation(spec, selector)
        if editing:
            message["text"] = f"{spec.name} was updated by <@{body['user']['id']}>"
            message["blocks"][0] = section(
                f":pencil2: *{escape(spec.name)}* was updated by <@{body['user']['id']}>."
            )
        with self.ctx.db.session() as session:
            enqueue(
                session=session,
                now=self.ctx.clock.now(),
                method="chat.postMessage",
                payload={"channel": channel, **message},
                dedupe_key=f"announce:{key}",
            )
        self.ctx.outbox_ready()

    def _confirmation(self, spec: ServiceSpec, selector: str) -> dict[str, Any]:
        try:
            report = self.ctx.cluster.discover(
                context=spec.cluster, namespace=spec.namespace, selector=selector
            )
        except ClusterUnreachable as exc:
            return onboarded_message(spec, None, [], suggest([]), problem=str(exc))
        risks = assess(report)
        return onboarded_message(spec, report, risks, suggest(risks))

    def workload_options(self, ack: Ack, body: dict[str, Any]) -> None:
        """The workload picker: Deployments and StatefulSets of the namespace typed above."""
        form = read_declaration(body.get("view", {}).get("state", {}).get("values", {}))
        namespace, cluster = form["namespace"], form["cluster"]
        if not namespace or namespace not in self.ctx.settings.allowed_namespaces:
            ack(options=[])
            return
        query = str(body.get("value") or "").lower()
        try:
            workloads = self.budget.deadline().run(
                lambda: self.ctx.cluster.list_workloads(
                    context=cluster or None, namespace=namespace
                )
            )
        except OutOfTime:
            # An options answer cannot say "wait": typing again asks again.
            log.warning("the cluster did not list workloads in %s within the ack", namespace)
            workloads = []
        except ChaosbotError:
            log.warning("could not list workloads in %s", namespace)
            workloads = []
        options = [
            option(f"{w.kind}/{w.name}", f"{w.kind}/{w.name}")
            for w in workloads
            if query in w.name.lower()
        ]
        ack(options=options[:MAX_OPTIONS])

    # --- buttons -----------------------------------------------------------------------------

    def open_edit(self, body: dict[str, Any], client: WebClient) -> None:
        name = body["actions"][0]["value"]
        user = body["user"]["id"]
        with self.ctx.db.session() as session:
            service = find_service(session=session, name=name)
            if not can_manage(session=session, service=service, user_id=user):
                raise NotAllowed("edit", name)
            spec = spec_of(service)
            teams = [t.name for t in list_teams(session=session)]
        view = self._onboarding_modal(
            teams,
            timezone=spec.blind.timezone if spec.blind else _timezone_of(client, user),
            requester=user,
            editing=spec,
        )
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def offboard(self, body: dict[str, Any], respond: Responder) -> None:
        name = body["actions"][0]["value"]
        user = body["user"]["id"]
        now = self.ctx.clock.now()
        with self.ctx.db.session() as session:
            service = find_service(session=session, name=name)
            if not can_manage(session=session, service=service, user_id=user):
                raise NotAllowed("offboard", name)
            offboard_service(session=session, service=service, actor=user, now=now)
            text = f":wave: *{escape(name)}* was offboarded by <@{user}>. Its history is kept."
            enqueue(
                session=session,
                now=now,
                method="chat.postMessage",
                payload={"channel": service.team.slack_channel_id, "text": text},
                dedupe_key=f"offboarded:{service.id}:{now.isoformat()}",
            )
        self.ctx.outbox_ready()
        respond(text=text, replace_original=True)


def _library(catalogue: Catalogue) -> list[tuple[str, str]]:
    """The library's experiments as (id, title), in the catalogue's order."""
    return [(t.id, t.title) for t in catalogue]


def _every_pod(catalogue: Catalogue) -> list[str]:
    """The ids of the library's experiments that disrupt every pod of a service."""
    return [t.id for t in catalogue if t.every_pod]


def _timezone_of(client: WebClient, user_id: str) -> str:
    """The person's timezone from their Slack profile, UTC when Slack does not say."""
    try:
        user: dict[str, Any] = client.users_info(user=user_id).get("user") or {}
        tz = user.get("tz")
    except Exception:
        log.warning("could not read the timezone of %s", user_id)
        return "UTC"
    return str(tz) if tz else "UTC"
