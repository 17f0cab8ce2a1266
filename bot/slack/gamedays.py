"""Slack surface of game days: ask for one, approve or reject it, list, move or cancel them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.catalog.cluster import WorkloadReport
from bot.catalog.models import Team
from bot.catalog.service import find_service, team_of_channel
from bot.context import BotContext
from bot.db.idempotency import claim, was_claimed
from bot.errors import ChaosbotError
from bot.gamedays.decisions import (
    approve,
    cancel,
    record_preview,
    reject,
    request_gameday,
    reschedule,
)
from bot.gamedays.models import GameDay, GameDayStatus
from bot.gamedays.preview import discover_targets, preview_from
from bot.gamedays.rules import (
    Decision,
    GameDayPlan,
    NotAllowedToDecide,
    RequestInvalid,
    check_decider,
    check_may_change,
    check_may_request,
    decides_on,
)
from bot.gamedays.service import find_gameday, upcoming
from bot.library.catalogue import Catalogue, load_catalogue
from bot.slack.budget import AckBudget, OutOfTime
from bot.slack.commands import CommandRequest
from bot.slack.gameday_blocks import gamedays_list
from bot.slack.gameday_view import (
    block_errors,
    read_reason,
    read_request,
    read_schedule,
    reject_modal,
    request_modal,
    reschedule_modal,
)
from bot.slack.ids import ActionId, CallbackId, GameDayBlock
from bot.slack.mrkdwn import escape
from bot.slack.replies import Reply
from bot.slack.responder import Responder
from bot.slack.surface import Surface
from bot.slack.views import GameDayModal, view_key

__all__ = ["register"]

log = logging.getLogger(__name__)

# What the cluster said about a service's pods for a preview, or why it said nothing.
Targets = tuple[WorkloadReport | None, str | None]


def register(surface: Surface) -> None:
    """Add `/chaos gameday` and `/chaos gamedays`, the approval buttons and the modals."""
    gamedays = _GameDays(surface.context, surface.budget)
    surface.subcommand(
        "gameday",
        "/chaos gameday SERVICE",
        "ask for a game day (opens a form; the owners approve it)",
        gamedays.open_request,
    )
    surface.subcommand(
        "gamedays",
        "/chaos gamedays [SERVICE|all]",
        "upcoming game days, with Reschedule and Cancel",
        gamedays.list,
    )

    surface.app.view(CallbackId.REQUEST_GAMEDAY.value)(gamedays.submit_request)
    surface.app.view(CallbackId.REJECT_GAMEDAY.value)(gamedays.submit_reject)
    surface.app.view(CallbackId.RESCHEDULE_GAMEDAY.value)(gamedays.submit_reschedule)
    surface.button(ActionId.APPROVE_GAMEDAY, gamedays.approve)
    surface.button(ActionId.REJECT_GAMEDAY, gamedays.open_reject)
    surface.button(ActionId.CANCEL_GAMEDAY, gamedays.cancel)
    surface.button(ActionId.RESCHEDULE_GAMEDAY, gamedays.open_reschedule)


class _GameDays:
    """The handlers, sharing the bot's context."""

    def __init__(self, context: BotContext, budget: AckBudget) -> None:
        self.ctx = context
        self.budget = budget

    @property
    def _admins(self) -> frozenset[str]:
        return self.ctx.settings.platform_admins

    @property
    def _ttl(self) -> timedelta:
        return timedelta(hours=self.ctx.settings.gameday_approval_ttl_hours)

    # --- /chaos gameday SERVICE ---------------------------------------------------------------

    def open_request(self, request: CommandRequest) -> Reply | None:
        if len(request.args) != 1:
            raise ChaosbotError(
                "Usage: `/chaos gameday SERVICE`, for example `/chaos gameday checkout`."
            )
        assert request.client is not None
        catalogue = load_catalogue()
        with self.ctx.db.session() as session:
            service = find_service(session=session, name=request.args[0])
            check_may_request(
                session=session, service=service, user_id=request.user_id, admins=self._admins
            )
            suite = [
                (e.experiment, catalogue.get(e.experiment).title)
                for e in service.suite
                if e.experiment in catalogue.templates
            ]
            name, timezone = service.name, service.team.timezone
        if not suite:
            raise ChaosbotError(
                f"{name} has no experiments in its suite yet: add some with "
                f"`/chaos experiments` or `/chaos suite {name}`, then ask again."
            )
        view = request_modal(service=name, suite=suite, timezone=timezone, now=self.ctx.clock.now())
        request.client.views_open(trigger_id=request.trigger_id, view=view)
        return None

    def submit_request(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Validate and record inside the ack: problems go back onto their blocks."""
        about = GameDayModal.load(view.get("private_metadata"))
        user = body["user"]["id"]
        key = view_key(view)
        now = self.ctx.clock.now()
        with self.ctx.db.session() as session:
            service = find_service(session=session, name=about.service)
            timezone = service.team.timezone
        read, problems = read_request(view["state"]["values"], timezone)
        if read is None:
            ack(response_action="errors", errors=block_errors(problems))
            return
        experiments, schedule, hold, notes = read
        plan = GameDayPlan(
            experiments=experiments,
            starts_at=schedule.starts_at,
            duration_minutes=schedule.duration_minutes,
            hold_seconds=hold,
            notes=notes,
        )
        with self.ctx.db.session() as session:
            if was_claimed(session=session, key=key):
                ack()  # Slack retried a submission that was stored: close the modal again
                return
        preview, late = self._preview(about.service, plan, token=key)
        try:
            with self.ctx.db.session() as session:
                claim(session=session, key=key, now=now)  # first: the write lock, at once
                gameday = request_gameday(
                    session=session,
                    service=about.service,
                    plan=plan,
                    requested_by=user,
                    now=now,
                    admins=self._admins,
                    approval_ttl=self._ttl,
                    preview=preview,
                )
                ref = gameday.key
        except RequestInvalid as invalid:
            ack(response_action="errors", errors=block_errors(invalid.problems))
            return
        except IntegrityError:
            if not self._claimed(key):
                raise
            ack()  # a concurrent attempt of this submission recorded it
            return
        self.ctx.outbox_ready()
        ack()
        if late is not None:
            late.then(lambda outcome: self._previewed(ref, key, about.service, plan, outcome))

    def _preview(
        self, service: str, plan: GameDayPlan, *, token: str
    ) -> tuple[dict[str, Any], OutOfTime[Targets] | None]:
        """What the experiments would hit now (unknown experiments are the plan check's to
        refuse), the cluster asked within the ack's budget. When the budget runs out: a preview
        pending under `token`, and the lookup going on, whose answer `_previewed` stores."""
        catalogue = load_catalogue()
        with self.ctx.db.session() as session:
            found = find_service(session=session, name=service)
            context, namespace, selector = (
                found.cluster_context or self.ctx.settings.kube_context,
                found.namespace,
                found.selector,
            )
        late: OutOfTime[Targets] | None = None
        try:
            report, error = self.budget.deadline().run(
                lambda: discover_targets(
                    self.ctx.cluster, context=context, namespace=namespace, selector=selector
                )
            )
        except OutOfTime as out:
            report, error, late = None, None, out
        preview = self._preview_from(
            service, plan, (report, error), pending=token if late else None, catalogue=catalogue
        )
        return preview, late

    def _preview_from(
        self,
        service: str,
        plan: GameDayPlan,
        targets: Targets,
        *,
        pending: str | None = None,
        catalogue: Catalogue | None = None,
    ) -> dict[str, Any]:
        catalogue = catalogue or load_catalogue()
        with self.ctx.db.session() as session:
            return preview_from(
                find_service(session=session, name=service),
                [e for e in plan.experiments if e in catalogue.templates],
                targets[0],
                error=targets[1],
                default_context=self.ctx.settings.kube_context,
                hold_seconds=plan.hold_seconds,
                max_blast_radius=self.ctx.settings.max_blast_radius_percent,
                now=self.ctx.clock.now(),
                pending=pending,
                catalogue=catalogue,
            )

    def _previewed(
        self,
        ref: str,
        token: str,
        service: str,
        plan: GameDayPlan,
        outcome: Callable[[], Targets],
    ) -> None:
        """A preview the cluster answered after the ack: onto the game day and its message."""
        try:
            preview = self._preview_from(service, plan, outcome())
        except Exception:  # a bug must not leave the message saying "in a moment" for ever
            log.exception("the preview of game day %s failed", ref)
            preview = {"taken_at": self.ctx.clock.now().isoformat(), "error": "the preview failed"}
        with self.ctx.db.session() as session:
            written = record_preview(
                session=session,
                ref=ref,
                token=token,
                preview=preview,
                now=self.ctx.clock.now(),
                admins=self._admins,
            )
        if written:
            self.ctx.outbox_ready()

    # --- the approval message's buttons -----------------------------------------------------

    def approve(self, body: dict[str, Any], respond: Responder, _client: WebClient) -> None:
        self._decide(approve, body, respond)

    def open_reject(self, body: dict[str, Any], respond: Responder, client: WebClient) -> None:
        def modal(session: Session, gameday: GameDay, user: str) -> dict[str, Any] | None:
            check_decider(session, gameday, user, self._admins)
            if gameday.status is not GameDayStatus.PENDING:
                respond(
                    **Reply.markdown(
                        f"Game day {gameday.key} is {gameday.status.value} already."
                    ).as_response(),
                    replace_original=False,
                )
                return None
            return reject_modal(gameday)

        self._open_modal(body, client, modal)

    def submit_reject(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        about = GameDayModal.load(view.get("private_metadata"))
        self._ack_decision(
            ack,
            GameDayBlock.REASON,
            lambda session: reject(
                session=session,
                ref=str(about.gameday),
                user_id=body["user"]["id"],
                reason=read_reason(view["state"]["values"]),
                now=self.ctx.clock.now(),
                admins=self._admins,
            ),
        )

    # --- /chaos gamedays and its buttons ------------------------------------------------------

    def list(self, request: CommandRequest) -> Reply:
        arg = request.args[0] if request.args else None
        with self.ctx.db.session() as session:
            team: Team | None = None
            if arg is None:
                team = team_of_channel(session=session, channel_id=request.channel_id)
            if arg and arg.lower() != "all":
                rows = upcoming(session=session, service=arg)
                heading = f"Upcoming game days of {arg}"
            elif team is not None:
                rows = upcoming(session=session, team_id=team.id)
                heading = f"Upcoming game days of team {team.name}"
            else:
                rows = upcoming(session=session)
                heading = "Upcoming game days"
            decides = decides_on(
                session=session, user_id=request.user_id, gamedays=rows, admins=self._admins
            )
            manageable = {
                g.key for g in rows if request.user_id == g.requested_by or g.id in decides
            }
            message = gamedays_list(rows, heading=heading, manageable=manageable)
        return Reply(text=message["text"], blocks=message["blocks"])

    def cancel(self, body: dict[str, Any], respond: Responder, _client: WebClient) -> None:
        self._decide(cancel, body, respond)

    def open_reschedule(self, body: dict[str, Any], respond: Responder, client: WebClient) -> None:
        def modal(session: Session, gameday: GameDay, user: str) -> dict[str, Any]:
            check_may_change(session, gameday, user, self._admins, "reschedule")
            return reschedule_modal(gameday, response_url=body.get("response_url"))

        self._open_modal(body, client, modal)

    def submit_reschedule(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        about = GameDayModal.load(view.get("private_metadata"))
        now = self.ctx.clock.now()
        with self.ctx.db.session() as session:
            gameday = find_gameday(session=session, ref=str(about.gameday))
            timezone, experiments, hold = (
                gameday.timezone,
                tuple(gameday.experiments),
                gameday.hold_seconds,
            )
            service, ref = gameday.service.name, gameday.key
            schedule, problems = read_schedule(view["state"]["values"], timezone)
        if schedule is None:
            ack(response_action="errors", errors=block_errors(problems))
            return
        token = view_key(view)
        moved_plan = GameDayPlan(
            experiments=experiments,
            starts_at=schedule.starts_at,
            duration_minutes=schedule.duration_minutes,
            hold_seconds=hold,
        )
        preview, late = self._preview(service, moved_plan, token=token)
        moved = self._ack_decision(
            ack,
            GameDayBlock.DATE,
            lambda session: reschedule(
                session=session,
                ref=str(about.gameday),
                user_id=body["user"]["id"],
                starts_at=schedule.starts_at,
                duration_minutes=schedule.duration_minutes,
                now=now,
                admins=self._admins,
                approval_ttl=self._ttl,
                preview=preview,
            ),
        )
        if moved and late is not None:
            late.then(lambda outcome: self._previewed(ref, token, service, moved_plan, outcome))

    # --- helpers --------------------------------------------------------------------------------

    def _decide(
        self, decide: Callable[..., Decision], body: dict[str, Any], respond: Responder
    ) -> None:
        """A button that decides at once (Approve, Cancel): the game day is its value."""
        with self.ctx.db.session() as session:
            decision = decide(
                session=session,
                ref=body["actions"][0]["value"],
                user_id=body["user"]["id"],
                now=self.ctx.clock.now(),
                admins=self._admins,
            )
        self._decided(decision, respond)

    def _open_modal(
        self,
        body: dict[str, Any],
        client: WebClient,
        modal: Callable[[Session, GameDay, str], dict[str, Any] | None],
    ) -> None:
        """A button that opens a modal about the game day it names (its value): `modal` checks
        the person who clicked and builds the view, or answers them and gives None."""
        with self.ctx.db.session() as session:
            gameday = find_gameday(session=session, ref=body["actions"][0]["value"])
            view = modal(session, gameday, body["user"]["id"])
        if view is not None:
            client.views_open(trigger_id=body["trigger_id"], view=view)

    def _ack_decision(
        self, ack: Ack, block: GameDayBlock, decide: Callable[[Session], Decision]
    ) -> bool:
        """A modal that decides (Reject, Reschedule): a refusal goes back onto `block`.
        Whether the game day changed."""
        try:
            with self.ctx.db.session() as session:
                decision = decide(session)
        except RequestInvalid as invalid:
            ack(response_action="errors", errors=block_errors(invalid.problems))
            return False
        except NotAllowedToDecide as refused:
            ack(response_action="errors", errors={block.value: str(refused)})
            return False
        if not decision.changed:
            ack(response_action="errors", errors={block.value: decision.message})
            return False
        self._after_change()
        ack()
        return True

    def _decided(self, decision: Decision, respond: Responder) -> None:
        if decision.changed:
            self._after_change()
        icon = ":white_check_mark:" if decision.changed else ":information_source:"
        respond(
            **Reply.markdown(f"{icon} {escape(decision.message)}").as_response(),
            replace_original=False,
        )

    def _after_change(self) -> None:
        self.ctx.outbox_ready()
        self.ctx.schedule_changed()

    def _claimed(self, key: str) -> bool:
        with self.ctx.db.session() as session:
            return was_claimed(session=session, key=key)
