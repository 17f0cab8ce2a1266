"""App Home: a person's services with their compliance and score, the game days waiting for
their approval, their own open action items, upcoming game days and open findings, each with a
button to act; then the commands."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.catalog.models import Member, Service, ServiceOwner
from bot.compliance.gather import gather
from bot.compliance.policy import Standing
from bot.compliance.report import team_report
from bot.config.compliance_policy import CompliancePolicy
from bot.findings.service import (
    complete_action_item,
    open_action_items,
    open_findings,
    resolve_finding,
)
from bot.gamedays.decisions import approve
from bot.gamedays.models import GameDay, GameDayStatus
from bot.gamedays.rules import awaiting_decision
from bot.gamedays.timing import local_label
from bot.slack.actions import ItemControl, item_line
from bot.slack.blockkit import VIEW_BLOCKS, button, fit_blocks, header, section
from bot.slack.commands import CommandRouter
from bot.slack.errors import ErrorReporter, ack_only
from bot.slack.ids import ActionId
from bot.slack.mrkdwn import escape
from bot.slack.responder import Responder

__all__ = ["HomeTab", "home_view", "personal_blocks", "register"]

log = logging.getLogger(__name__)

MAX_BLOCKS = VIEW_BLOCKS  # a Home tab's limit
_ICONS = {
    Standing.COMPLIANT: ":large_green_circle:",
    Standing.DUE_SOON: ":large_yellow_circle:",
    Standing.OVERDUE: ":red_circle:",
    Standing.FAILING: ":x:",
}


def _my_services(session: Session, user_id: str) -> list[Service]:
    """Services the person owns or approves for, and those of the teams they belong to."""
    owned = select(ServiceOwner.service_id).where(ServiceOwner.slack_user_id == user_id)
    teams = select(Member.team_id).where(Member.slack_user_id == user_id)
    rows = session.scalars(
        select(Service)
        .where(
            Service.offboarded_at.is_(None),
            Service.id.in_(owned) | Service.team_id.in_(teams),
        )
        .order_by(Service.name)
    ).all()
    return list(rows)


def personal_blocks(
    session: Session,
    *,
    user_id: str,
    now: datetime,
    admins: frozenset[str],
    policy: CompliancePolicy,
    note: str | None = None,
) -> list[dict[str, Any]]:
    """The person's part of the Home tab."""
    blocks: list[dict[str, Any]] = []
    if note:
        blocks.append(section(note))
    mine = _my_services(session, user_id)
    blocks.append(header("Your services"))
    if not mine:
        blocks.append(section("You own no service yet: `/chaos onboard` registers one."))
    else:
        landscape = gather(session, now=now, team_ids=sorted({s.team_id for s in mine}))
        names = {s.name for s in mine}
        reports = [team_report(landscape, team_id, policy) for team_id in landscape.teams]
        for report in reports:
            for service in report.services:
                if service.name not in names:
                    continue
                state = service.state
                reasons = f": {escape('; '.join(state.reasons))}" if state.reasons else ""
                score = "n/a" if service.score is None else f"{service.score:.0f}"
                text = (
                    f"{_ICONS[state.standing]} *{escape(service.name)}* (tier {service.tier}"
                    f"{', advisory' if state.advisory else ''}) · {state.standing.value}{reasons}"
                    f" · score {score} · {service.open_total} open finding(s)"
                )
                blocks.append(
                    section(text, accessory=button(ActionId.EDIT_SERVICE, "Edit", service.name))
                )
    blocks += _approvals(session, user_id=user_id, admins=admins)
    blocks += _action_items(session, user_id=user_id, now=now)
    blocks += _upcoming(session, mine, now=now)
    blocks += _findings(session, mine)
    return blocks[: MAX_BLOCKS - 20]


def _approvals(session: Session, *, user_id: str, admins: frozenset[str]) -> list[dict[str, Any]]:
    waiting = awaiting_decision(session=session, user_id=user_id, admins=admins)
    if not waiting:
        return []
    blocks = [header("Waiting for your approval")]
    for gameday in waiting[:10]:
        blocks.append(
            section(
                f"`{gameday.key}` *{escape(gameday.service.name)}*: "
                f"{', '.join(gameday.experiments)} on "
                f"{local_label(gameday.starts_at, gameday.timezone)}, asked by "
                f"<@{escape(gameday.requested_by)}>"
            )
        )
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    button(ActionId.HOME_APPROVE_GAMEDAY, "Approve", gameday.key, style="primary"),
                    button(ActionId.REJECT_GAMEDAY, "Reject", gameday.key, style="danger"),
                ],
            }
        )
    return blocks


def _action_items(session: Session, *, user_id: str, now: datetime) -> list[dict[str, Any]]:
    """The person's own open action items, the overdue first, each with Done."""
    rows = open_action_items(session=session, owner=user_id, limit=10)
    if not rows:
        return []
    blocks = [header("Your action items")]
    for item in rows:
        done = button(ActionId.HOME_COMPLETE_ACTION_ITEM, "Done", ItemControl(item.key).dump())
        blocks.append(section(item_line(item, now=now), accessory=done))
    return blocks


def _upcoming(session: Session, mine: list[Service], *, now: datetime) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(GameDay)
        .where(
            GameDay.service_id.in_([s.id for s in mine]),
            GameDay.status.in_([GameDayStatus.APPROVED, GameDayStatus.PENDING]),
            GameDay.starts_at < now + timedelta(days=30),
        )
        .order_by(GameDay.starts_at)
    ).all()
    if not rows:
        return []
    lines = [
        f"• `{g.key}` {escape(g.service.name)}: {local_label(g.starts_at, g.timezone)} "
        f"({g.status.value})"
        for g in rows[:10]
    ]
    return [header("Upcoming game days"), section("\n".join(lines))]


def _findings(session: Session, mine: list[Service]) -> list[dict[str, Any]]:
    rows = open_findings(session=session, service_ids=[s.id for s in mine], limit=10)
    if not rows:
        return []
    blocks = [header("Open findings")]
    for finding in rows:
        blocks.append(
            section(
                f"`{finding.key}` *{escape(finding.service.name)}*: {escape(finding.title)} "
                f"({finding.severity.value})",
                accessory=button(ActionId.HOME_RESOLVE_FINDING, "Resolve", finding.key),
            )
        )
    return blocks


def home_view(
    router: CommandRouter, personal: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The Home tab: the person's part, then the commands."""
    return {
        "type": "home",
        "blocks": fit_blocks(
            [header("chaosbot"), *(personal or []), {"type": "divider"}, *router.help().blocks],
            VIEW_BLOCKS,
        ),
    }


class HomeTab:
    """A person's Home tab, published from the current state, with a line on top saying what
    their last button did (also how any button on the tab is answered: it has no response_url)."""

    def __init__(
        self,
        *,
        router: CommandRouter,
        personal: Callable[[str, str | None], list[dict[str, Any]]] | None = None,
    ) -> None:
        self._router = router
        self._personal = personal

    def publish(self, client: WebClient, user: str, note: str | None = None) -> None:
        blocks: list[dict[str, Any]] | None = None
        if self._personal is not None:
            try:
                blocks = self._personal(user, note)
            except Exception:
                # The commands are still worth showing when the person's part cannot be read.
                log.exception("could not read the App Home of %s", user)
                blocks = [section(note)] if note else []
                blocks.append(section(":warning: Your services could not be read just now."))
        client.views_publish(user_id=user, view=home_view(self._router, blocks))


def register(
    app: App,
    *,
    home: HomeTab,
    reporter: ErrorReporter,
    approve_for: Callable[[str, str], str] | None = None,
    resolve_for: Callable[[str, str], str] | None = None,
    done_for: Callable[[str, str], str] | None = None,
) -> None:
    """Publish the Home tab whenever someone opens it, and after each of its buttons (a refusal
    or an error is shown on the tab by the reporter, as for any button there)."""

    def publish_home(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") != "home":
            return
        home.publish(client, event["user"])

    def acting(act: Callable[[str, str], str] | None) -> Callable[..., None]:
        def handler(body: dict[str, Any], _respond: Responder, client: WebClient) -> None:
            user, value = body["user"]["id"], body["actions"][0]["value"]
            home.publish(client, user, act(value, user) if act is not None else None)

        return reporter.reported(handler)

    app.event("app_home_opened")(ack=ack_only, lazy=[publish_home])
    app.action(ActionId.HOME_APPROVE_GAMEDAY.value)(ack=ack_only, lazy=[acting(approve_for)])
    app.action(ActionId.HOME_RESOLVE_FINDING.value)(ack=ack_only, lazy=[acting(resolve_for)])
    app.action(ActionId.HOME_COMPLETE_ACTION_ITEM.value)(ack=ack_only, lazy=[acting(done_for)])


def home_actions(
    session_factory: Callable[[], Any], *, now: Callable[[], datetime], admins: frozenset[str]
) -> tuple[Callable[[str, str], str], Callable[[str, str], str], Callable[[str, str], str]]:
    """Approve, Resolve and Done as the Home tab's buttons do them: a line to show above the
    tab."""

    def approve_for(key: str, user: str) -> str:
        with session_factory() as session:
            decision = approve(session=session, ref=key, user_id=user, now=now(), admins=admins)
        icon = ":white_check_mark:" if decision.changed else ":information_source:"
        return f"{icon} {escape(decision.message)}"

    def resolve_for(key: str, user: str) -> str:
        with session_factory() as session:
            finding = resolve_finding(
                session=session, ref=key, user_id=user, now=now(), admins=admins
            )
            return f":white_check_mark: Resolved `{finding.key}`: {escape(finding.title)}"

    def done_for(value: str, user: str) -> str:
        with session_factory() as session:
            item, _ = complete_action_item(
                session=session,
                ref=ItemControl.load(value).item,
                user_id=user,
                now=now(),
                admins=admins,
            )
            return f":white_check_mark: Done: `{item.key}` {escape(item.text)}"

    return approve_for, resolve_for, done_for
