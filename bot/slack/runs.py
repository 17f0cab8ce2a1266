"""Slack surface of the run engine: halting a run, or every run, at once."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.service import Subject
from bot.catalog.access import check_may_freeze
from bot.catalog.models import Member, ServiceOwner, Team
from bot.catalog.service import NotAllowed, can_manage, find_service, team_of_channel
from bot.drills.flows import runs_under_way
from bot.errors import ChaosbotError
from bot.gamedays.timing import local_label
from bot.library.catalogue import load_catalogue
from bot.library.render import coerce_parameter
from bot.runs.flows import DEFAULT_HOLD_SECONDS, plan_run
from bot.runs.freezes import (
    INCIDENT_FREEZE,
    active_freezes,
    end_freezes,
    freeze,
    parse_duration,
)
from bot.runs.service import engage_kill_switch, find_run, release_kill_switch
from bot.runs.states import Trigger
from bot.runs.supervisor import AbortResult, abort_all, abort_run
from bot.slack.commands import CommandRequest
from bot.slack.ids import ActionId
from bot.slack.mrkdwn import escape
from bot.slack.replies import Reply
from bot.slack.responder import Responder
from bot.slack.surface import Surface

__all__ = ["may_halt", "register"]

_KILL_SWITCH = Subject("platform", "killswitch")

MAX_HOLD_SECONDS = 3600


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 0 < value <= MAX_HOLD_SECONDS:
        raise ChaosbotError(f"`hold` is seconds between 1 and {MAX_HOLD_SECONDS}, got `{text}`.")
    return value


class NotAllowedToHalt(ChaosbotError):
    def __init__(self) -> None:
        super().__init__(
            "Only people chaosbot knows (a service owner or a member of a team) can halt runs."
        )


def may_halt(*, session: Session, user_id: str, admins: frozenset[str]) -> bool:
    """Halting is always safe, so anyone chaosbot knows may do it: owners, team members, admins."""
    if user_id in admins:
        return True
    owner = session.scalar(
        select(ServiceOwner.id).where(ServiceOwner.slack_user_id == user_id).limit(1)
    )
    member = session.scalar(select(Member.id).where(Member.slack_user_id == user_id).limit(1))
    return owner is not None or member is not None


def register(surface: Surface) -> None:
    """`/chaos abort RUN|all` and the Abort button on every running run's message."""
    context = surface.context

    def abort_command(request: CommandRequest) -> Reply:
        if len(request.args) != 1:
            raise ChaosbotError(
                "Usage: `/chaos abort RUN` (the id on the run's message) or `/chaos abort all`."
            )
        _check_allowed(request.user_id)
        now = context.clock.now()
        if request.args[0].lower() == "all":
            results = abort_all(
                db=context.db,
                by=request.user_id,
                now=now,
                roll_back=context.roll_back,
                executor=context.executor,
            )
            if not results:
                return Reply.markdown("No run is in progress: nothing to halt.", in_channel=True)
            keys = ", ".join(f"`{r.run_key}`" for r in results)
            return Reply.markdown(
                f":octagonal_sign: <@{request.user_id}> halted every run: {keys}. Rollbacks are running.",
                in_channel=True,
            )
        return _halted(
            abort_run(
                db=context.db,
                ref=request.args[0],
                by=request.user_id,
                now=now,
                roll_back=context.roll_back,
                executor=context.executor,
            ),
            request.user_id,
        )

    def _check_allowed(user_id: str) -> None:
        with context.db.session() as session:
            if not may_halt(
                session=session, user_id=user_id, admins=context.settings.platform_admins
            ):
                raise NotAllowedToHalt()

    def _halted(result: AbortResult, user_id: str) -> Reply:
        if result.rolling_back:
            return Reply.markdown(
                f":octagonal_sign: <@{user_id}> halted run `{result.run_key}`: its worker was "
                "gone, so chaosbot is rolling it back now.",
                in_channel=True,
            )
        return Reply.markdown(
            f":octagonal_sign: <@{user_id}> halted run `{result.run_key}`; its rollbacks are running.",
            in_channel=True,
        )

    surface.subcommand(
        "abort", "/chaos abort RUN|all", "halt a run, or every run, now", abort_command
    )

    def kill_switch_command(request: CommandRequest) -> Reply:
        """`/chaos killswitch on REASON` halts everything and refuses new runs; `off` lifts it."""
        if request.user_id not in context.settings.platform_admins:
            raise ChaosbotError(
                "Only platform admins (CHAOSBOT_PLATFORM_ADMINS) can flip the kill switch."
            )
        action = request.args[0].lower() if request.args else ""
        reason = " ".join(request.args[1:]).strip()
        now = context.clock.now()
        if action == "on" and reason:
            with context.db.session() as session:
                engage_kill_switch(session=session, by=request.user_id, now=now, reason=reason)
                _KILL_SWITCH.record(
                    session, request.user_id, now, "killswitch.engaged", {"reason": reason}
                )
            halted = abort_all(
                db=context.db,
                by=request.user_id,
                now=now,
                roll_back=context.roll_back,
                executor=context.executor,
            )
            return Reply.markdown(
                f":rotating_light: <@{request.user_id}> engaged the kill switch: {escape(reason)}. "
                f"No run starts until it is lifted; {len(halted)} running halted.",
                in_channel=True,
            )
        if action == "off":
            with context.db.session() as session:
                release_kill_switch(session=session, by=request.user_id, now=now)
                _KILL_SWITCH.record(session, request.user_id, now, "killswitch.released")
            return Reply.markdown(
                f":large_green_circle: <@{request.user_id}> lifted the kill switch.",
                in_channel=True,
            )
        raise ChaosbotError("Usage: `/chaos killswitch on REASON` or `/chaos killswitch off`.")

    surface.subcommand(
        "killswitch",
        "/chaos killswitch on REASON|off",
        "stop every run and refuse new ones (platform admins)",
        kill_switch_command,
    )

    def _channel_team(request: CommandRequest) -> Team:
        with context.db.session() as session:
            team = team_of_channel(session=session, channel_id=request.channel_id)
            if team is None:
                raise ChaosbotError(
                    "This channel is no team's: freeze from the team's channel, or "
                    "`/chaos freeze all DURATION REASON` (platform admins) for everything."
                )
            session.expunge(team)
            return team

    def freeze_command(request: CommandRequest) -> Reply:
        """`/chaos freeze [all] DURATION REASON`; without arguments, the freezes in force."""
        now = context.clock.now()
        if not request.args:
            with context.db.session() as session:
                rows = active_freezes(session=session, now=now)
                teams = {t.id: t for t in session.scalars(select(Team))}
                lines = [
                    f"• {'everything' if f.team_id is None else 'team ' + escape(teams[f.team_id].name)}"
                    f" until {local_label(f.ends_at, teams[f.team_id].timezone if f.team_id else 'UTC')}"
                    f" (<@{escape(f.created_by)}>: {escape(f.reason)})"
                    for f in rows
                ]
            if not lines:
                return Reply.markdown("No freeze is in force.")
            return Reply.markdown(":snowflake: Freezes in force:\n" + "\n".join(lines))
        everything = request.args[0].lower() == "all"
        args = request.args[1:] if everything else request.args
        if len(args) < 2:
            raise ChaosbotError(
                "Usage: `/chaos freeze DURATION REASON` (this channel's team) or "
                "`/chaos freeze all DURATION REASON`, for example `/chaos freeze 4h release week`."
            )
        duration = parse_duration(args[0])
        team = None if everything else _channel_team(request)
        _check_may_freeze(request.user_id, team)
        with context.db.session() as session:
            row = freeze(
                session=session,
                team=team,
                duration=duration,
                reason=" ".join(args[1:]),
                by=request.user_id,
                now=now,
            )
            until = local_label(row.ends_at, team.timezone if team else "UTC")
        who = "everything" if team is None else f"team *{escape(team.name)}*"
        return Reply.markdown(
            f":snowflake: <@{request.user_id}> froze {who} until {until}: "
            f"{escape(' '.join(args[1:]))}. No run, game day or blind drill starts until then; "
            "`/chaos unfreeze` lifts it.",
            in_channel=True,
        )

    def unfreeze_command(request: CommandRequest) -> Reply:
        everything = bool(request.args) and request.args[0].lower() == "all"
        team = None if everything else _channel_team(request)
        _check_may_freeze(request.user_id, team)
        with context.db.session() as session:
            ended = end_freezes(
                session=session, team=team, by=request.user_id, now=context.clock.now()
            )
        if not ended:
            return Reply.markdown("No freeze of this scope is in force.")
        who = "everything" if team is None else f"team *{escape(team.name)}*"
        return Reply.markdown(
            f":sunny: <@{request.user_id}> lifted the freeze of {who}.", in_channel=True
        )

    def incident_command(request: CommandRequest) -> Reply:
        """`/chaos incident [all] REASON`: a real incident; pause everything chaos for a while."""
        everything = bool(request.args) and request.args[0].lower() == "all"
        reason = " ".join(request.args[1:] if everything else request.args).strip()
        if not reason:
            raise ChaosbotError(
                "Usage: `/chaos incident REASON` (this channel's team) or `/chaos incident all "
                "REASON`, for example `/chaos incident INC-4711 checkout errors`."
            )
        team = None if everything else _channel_team(request)
        _check_may_freeze(request.user_id, team)
        now = context.clock.now()
        with context.db.session() as session:
            row = freeze(
                session=session,
                team=team,
                duration=INCIDENT_FREEZE,
                reason=f"real incident: {reason}",
                by=request.user_id,
                now=now,
            )
            until = local_label(row.ends_at, team.timezone if team else "UTC")
            halted = runs_under_way(session=session, team_id=team.id if team else None)
        by = f"{request.user_id} (real incident declared)"
        for run_id in halted:
            abort_run(
                db=context.db,
                ref=run_id,
                by=by,
                now=now,
                roll_back=context.roll_back,
                executor=context.executor,
            )
        context.schedule_changed()
        who = "everything" if team is None else f"team *{escape(team.name)}*"
        rolled = f" {len(halted)} drill(s) under way are being rolled back." if halted else ""
        return Reply.markdown(
            f":rotating_light: <@{request.user_id}> declared a real incident: {escape(reason)}. "
            f"No run, game day or blind drill of {who} starts until {until}; `/chaos unfreeze` "
            f"when it is over.{rolled}",
            in_channel=True,
        )

    surface.subcommand(
        "incident",
        "/chaos incident [all] REASON",
        "a real incident: pause runs, game days and drills (4 h) and roll back drills under way",
        incident_command,
    )

    def _check_may_freeze(user_id: str, team: Team | None) -> None:
        with context.db.session() as session:
            check_may_freeze(
                session=session,
                team=team,
                user_id=user_id,
                admins=context.settings.platform_admins,
            )

    surface.subcommand(
        "freeze",
        "/chaos freeze [all] DURATION REASON",
        "pause runs, game days and drills of this channel's team (or all); no arguments: list",
        freeze_command,
    )
    surface.subcommand(
        "unfreeze", "/chaos unfreeze [all]", "lift this channel's team's freeze", unfreeze_command
    )

    def run_command(request: CommandRequest) -> Reply:
        """`/chaos run SERVICE EXPERIMENT [name=value ...] [hold=SECONDS]`: an ad hoc run."""
        if len(request.args) < 2:
            raise ChaosbotError(
                "Usage: `/chaos run SERVICE EXPERIMENT [name=value ...] [hold=SECONDS]`, "
                "for example `/chaos run checkout pod-kill count=1 hold=120`."
            )
        service, experiment, *settings = request.args
        template = load_catalogue().get(experiment)
        overrides: dict[str, Any] = {}
        hold = DEFAULT_HOLD_SECONDS
        for item in settings:
            name, equals, text = item.partition("=")
            if not equals:
                raise ChaosbotError(f"`{item}` is not `name=value`.")
            if name == "hold":
                hold = _seconds(text)
            else:
                overrides[name] = coerce_parameter(template, name, text)
        with context.db.session() as session:
            row = find_service(session=session, name=service)
            if not can_manage(session=session, service=row, user_id=request.user_id):
                raise NotAllowed("run experiments against", service)
            channel = row.team.slack_channel_id
        planned = plan_run(
            context.db,
            service=service,
            experiment=template.id,
            trigger=Trigger.ADHOC,
            requested_by=request.user_id,
            now=context.clock.now(),
            overrides=overrides,
            hold_seconds=hold,
            default_context=context.settings.kube_context,
        )
        context.start_run(planned.run_id)
        return Reply.markdown(
            f":rocket: Run `{planned.key}` of `{template.id}` against `{service}` is starting; "
            f"follow it (and abort it) in <#{channel}>."
        )

    surface.subcommand(
        "run",
        "/chaos run SERVICE EXPERIMENT [name=value ...]",
        "run one experiment now (owners)",
        run_command,
    )

    def abort_button(body: dict[str, Any], respond: Responder, _client: WebClient) -> None:
        user = body["user"]["id"]
        _check_allowed(user)
        key = body["actions"][0]["value"]
        with context.db.session() as session:
            find_run(session=session, ref=key)
        result = abort_run(
            db=context.db,
            ref=key,
            by=user,
            now=context.clock.now(),
            roll_back=context.roll_back,
            executor=context.executor,
        )
        respond(**_halted(result, user).as_response(), replace_original=False)

    surface.button(ActionId.ABORT_RUN, abort_button)
