"""A blind drill's life: planned a day ahead, fired (or skipped) when due, answered like an
incident, revealed when its run ends.

Each step locks the drill's row first, so a trigger and the reconciler, or two clicks on two
replicas, change it once. Every message goes through the outbox in the same transaction.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.alerts.service import first_matching
from bot.catalog.models import Service
from bot.catalog.spec import Alerting
from bot.drills.alert import duration_text, severity_of, symptom_of
from bot.drills.conversation import DrillChange, DrillEvent, conversation
from bot.drills.models import Detection, Drill, DrillStatus
from bot.drills.planner import plan_day
from bot.drills.policy import drills_of, in_window
from bot.drills.service import audit, injected_at, locked, new_drill_key, responders
from bot.errors import ChaosbotError
from bot.findings.auto import record_slow_response, record_undetected
from bot.gamedays.models import GameDay, GameDayStatus
from bot.gamedays.timing import zone
from bot.runs.flows import record_run
from bot.runs.models import Freeze, Run, RunMeasurement
from bot.runs.service import freezes_covering, kill_switch_engaged, measurements_of
from bot.runs.states import ACTIVE, TERMINAL, RunStatus, Trigger

__all__ = [
    "DrillOver",
    "acknowledge",
    "active",
    "announce",
    "due",
    "escalate",
    "fire",
    "plan_ahead",
    "redispatch",
    "resolve",
    "runs_under_way",
    "settle",
]

PLAN_DAYS = 2  # today and tomorrow, on each team's clock
REDISPATCH_AFTER = timedelta(minutes=2)
# Tries of a batch of new drills whose keys clash with stored ones (each draws new keys).
KEY_ATTEMPTS = 5
_HAPPENS = (DrillStatus.PLANNED, DrillStatus.ACTIVE, DrillStatus.REVEALED)


class DrillOver(ChaosbotError):
    """A button of an incident that is already closed."""

    def __init__(self) -> None:
        super().__init__("This incident is closed.")


# --- planning ---------------------------------------------------------------------------------


def plan_ahead(*, session: Session, now: datetime, rng: random.Random) -> list[Drill]:
    """Draw the drills of today and tomorrow for every opted-in service that has no plan yet;
    the drills drawn (written, not in the session).

    A day is drawn once: a day without a drill keeps a `none` row. A time drawn for today that
    is already past (the first plan of a newly opted-in service) is no drill, not a moved one.
    """
    services = session.scalars(
        select(Service)
        .where(Service.blind_enabled.is_(True), Service.offboarded_at.is_(None))
        .order_by(Service.id)
    ).all()
    if not services:
        return []
    ids = [s.id for s in services]
    start = now.date() - timedelta(days=1)
    drawn_days = session.execute(
        select(
            Drill.id, Drill.service_id, Drill.day, Drill.status, Drill.policy, Drill.planned_at
        ).where(Drill.service_id.in_(ids), Drill.day >= start)
    ).all()
    freezes = session.scalars(select(Freeze).where(Freeze.ends_at > now)).all()
    opt_ins = {service.id: drills_of(service) for service in services}
    fingerprints = {id_: o.fingerprint for id_, o in opt_ins.items() if o is not None}
    # Days still ahead drawn under an opt-in that has changed since are drawn again.
    redraw = [
        row.id
        for row in drawn_days
        if row.status in (DrillStatus.NONE, DrillStatus.PLANNED)
        and (row.planned_at is None or row.planned_at > now)
        and row.policy != fingerprints.get(row.service_id, row.policy)
    ]
    if redraw:
        session.execute(delete(Drill).where(Drill.id.in_(redraw)))
    planned_days = {(row.service_id, row.day) for row in drawn_days if row.id not in set(redraw)}
    previous = dict(
        session.execute(
            select(Drill.service_id, func.max(Drill.planned_at))
            .where(Drill.service_id.in_(ids), Drill.status.in_(_HAPPENS))
            .group_by(Drill.service_id)
        ).all()
    )
    drawn: list[dict[str, Any]] = []
    for service in services:
        opt_in = opt_ins[service.id]
        if opt_in is None:
            continue
        today = now.astimezone(zone(opt_in.policy.window.timezone)).date()
        frozen = [(f.starts_at, f.ends_at) for f in freezes if f.team_id in (None, service.team_id)]
        last = previous.get(service.id)
        for offset in range(PLAN_DAYS):
            day = today + timedelta(days=offset)
            if (service.id, day) in planned_days:
                continue
            moment = plan_day(opt_in.policy, day, rng=rng, previous=last, freezes=frozen)
            row = {
                "key": new_drill_key(),
                "service_id": service.id,
                "day": day,
                "status": DrillStatus.NONE,
                "planned_at": None,
                "experiment": None,
                "duration_minutes": int(opt_in.duration.total_seconds() // 60),
                "planned_when": now,
                "policy": opt_in.fingerprint,
            }
            if moment is not None and moment > now:
                row["status"], row["planned_at"] = DrillStatus.PLANNED, moment
                row["experiment"] = rng.choice(opt_in.experiments)
                last = moment
            drawn.append(row)
    # One batched INSERT for every service's days (the ORM would send one per row here).
    if drawn:
        _insert_drawn(session, drawn)
    return [Drill(**row) for row in drawn]


def _insert_drawn(session: Session, rows: list[dict[str, Any]]) -> None:
    """One INSERT of the drawn days. A drill a day per opted-in service fills the short key
    space enough for a new key to clash with a stored one now and then, which would fail the
    whole batch: the batch is tried in a savepoint and drawn again with new keys."""
    for attempt in range(KEY_ATTEMPTS):
        keys: set[str] = set()
        for row in rows:
            while row["key"] in keys:  # twice in the batch
                row["key"] = new_drill_key()
            keys.add(row["key"])
        try:
            with session.begin_nested():
                session.execute(insert(Drill).execution_options(render_nulls=True), rows)
            return
        except IntegrityError:
            if attempt == KEY_ATTEMPTS - 1:
                raise
            for row in rows:
                row["key"] = new_drill_key()


# --- firing -----------------------------------------------------------------------------------


def due(*, session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(
            select(Drill.id).where(Drill.status == DrillStatus.PLANNED, Drill.planned_at <= now)
        ).all()
    )


def active(*, session: Session) -> list[int]:
    return list(session.scalars(select(Drill.id).where(Drill.status == DrillStatus.ACTIVE)).all())


def fire(
    *, session: Session, drill_id: int, now: datetime, grace: timedelta, default_context: str | None
) -> int | None:
    """Start a due drill if it is still eligible: its run, and the alert. The run id, or None."""
    drill = locked(session, drill_id)
    if drill.status is not DrillStatus.PLANNED or drill.planned_at is None:
        return None
    if drill.planned_at > now:
        return None
    reason = _ineligible(session, drill, now=now, grace=grace)
    service = drill.service
    if reason is None:
        try:
            with session.begin_nested():
                run = record_run(
                    session,
                    service=service,
                    experiment=drill.experiment or "",
                    trigger=Trigger.BLIND,
                    requested_by="chaosbot",
                    now=now,
                    hold_seconds=drill.duration_minutes * 60,
                    default_context=default_context,
                    scheduled_for=drill.planned_at,
                )
        except ChaosbotError as cannot:
            reason = f"could not start: {cannot}"
    if reason is not None:
        drill.status, drill.skip_reason = DrillStatus.SKIPPED, reason
        audit(session, drill, "chaosbot", now, "drill.skipped", {"reason": reason})
        return None
    run.slack_channel = None  # the run's own messages would give the drill away
    drill.run_id, drill.run = run.id, run
    drill.status, drill.dispatched_at = DrillStatus.ACTIVE, now
    drill.severity = severity_of(service.tier)
    drill.slack_channel = service.team.slack_channel_id
    alerting = Alerting.from_document(service.alerting)
    if alerting.matchers and alerting.announce_after_minutes is not None:
        # The team's monitoring gets the first chance: chaosbot's alert waits (announce).
        drill.announce_after_minutes = alerting.announce_after_minutes
    else:
        _raise_alert(session, drill, now=now, latest=None)
    audit(
        session,
        drill,
        "chaosbot",
        now,
        "drill.fired",
        {"run": run.key, "experiment": run.experiment},
    )
    return run.id


def _raise_alert(
    session: Session, drill: Drill, *, now: datetime, latest: RunMeasurement | None
) -> None:
    """chaosbot's own incident alert, quoting only what was measured by now."""
    drill.fired_at = now
    drill.symptom = symptom_of(latest, drill.service.namespace)
    conversation.get().fired(session, drill, now=now)


def announce(*, session: Session, drill_id: int, now: datetime) -> bool:
    """Raise the alert of a drill that waited for the team's monitoring, once its time has come
    and only if no alert of the service fired by then; True when it was raised.

    An alert of the team's that fired first is the drill's detection, and chaosbot stays silent.
    """
    drill = locked(session, drill_id)
    run = drill.run
    waiting = drill.announce_after_minutes is not None and drill.fired_at is None
    if drill.status is not DrillStatus.ACTIVE or not waiting or drill.detection is not None:
        return False
    assert drill.announce_after_minutes is not None and run is not None
    injected = injected_at(session, run)
    if injected is None:
        return False  # no fault yet, so nothing to notice yet
    deadline = injected + timedelta(minutes=drill.announce_after_minutes)
    if now < deadline:
        return False
    if _detect(session, drill, since=injected, until=deadline, now=now):
        return False
    checks = measurements_of(session=session, run_id=run.id)
    _raise_alert(session, drill, now=now, latest=checks[-1] if checks else None)
    return True


def _detect(
    session: Session, drill: Drill, *, since: datetime, until: datetime, now: datetime
) -> bool:
    """Record whether an alert of the service started firing from `since` to `until` (the
    first one is the detection); False, and nothing recorded, when the service names none."""
    matchers = Alerting.from_document(drill.service.alerting).matchers
    if not matchers:
        return False
    alert = first_matching(session=session, matchers=matchers, since=since, until=until)
    if alert is None:
        return False
    drill.detection = Detection.DETECTED
    drill.detected_alert, drill.detected_at = alert.alertname, alert.starts_at
    audit(session, drill, "chaosbot", now, "drill.detected", alert.as_fact())
    return True


def _ineligible(session: Session, drill: Drill, *, now: datetime, grace: timedelta) -> str | None:
    """Why the drill may not fire now, or None. Checked again at the moment it is due."""
    assert drill.planned_at is not None
    service = drill.service
    late = now - drill.planned_at
    if late > grace:
        return f"chaosbot was not running when it was due ({duration_text(late)} late)"
    opt_in = drills_of(service)
    if opt_in is None:
        return "the service is no longer opted in to blind drills"
    if drill.experiment not in opt_in.experiments:
        return f"{drill.experiment} may no longer run blind against it"
    if not in_window(opt_in.policy, drill.planned_at):
        return "the time is no longer inside the service's drill window"
    if kill_switch_engaged(session=session) is not None:
        return "the kill switch is engaged"
    frozen = freezes_covering(session=session, team_id=service.team_id, at=now)
    if frozen:
        return f"frozen: {frozen[0].reason}"
    gameday = session.scalar(
        select(GameDay.key).where(
            GameDay.service_id == service.id,
            (GameDay.status == GameDayStatus.RUNNING)
            | (
                (GameDay.status == GameDayStatus.APPROVED)
                & (GameDay.starts_at < now + timedelta(minutes=drill.duration_minutes))
            ),
        )
    )
    if gameday is not None:
        return f"game day {gameday} of the service is running or about to"
    busy = session.scalar(
        select(Run.key).where(
            Run.service_id == service.id,
            Run.status.in_([*ACTIVE, RunStatus.SCHEDULED]),
        )
    )
    if busy is not None:
        return f"run {busy} of the service is under way"
    return None


def runs_under_way(*, session: Session, team_id: int | None) -> list[int]:
    """Runs of drills under way, of one team (or all): a declared real incident halts them."""
    query = (
        select(Run.id)
        .join(Drill, Drill.run_id == Run.id)
        .where(Drill.status == DrillStatus.ACTIVE, Run.status.not_in(list(TERMINAL)))
    )
    if team_id is not None:
        query = query.join(Service, Service.id == Drill.service_id).where(
            Service.team_id == team_id
        )
    return list(session.scalars(query).all())


def redispatch(*, session: Session, now: datetime) -> list[int]:
    """Runs of active drills handed to a worker that never started (the bot died in between)."""
    stale = session.scalars(
        select(Drill)
        .join(Run, Run.id == Drill.run_id)
        .where(
            Drill.status == DrillStatus.ACTIVE,
            Run.status == RunStatus.SCHEDULED,
            Drill.dispatched_at < now - REDISPATCH_AFTER,
        )
    ).all()
    for drill in stale:
        drill.dispatched_at = now
    return [d.run_id for d in stale if d.run_id is not None]


def settle(*, session: Session, drill_id: int, now: datetime) -> bool:
    """Reveal the drill once its run has ended (rolled back): the alert becomes its story."""
    drill = locked(session, drill_id)
    run = drill.run
    if drill.status is not DrillStatus.ACTIVE or run is None or run.status not in TERMINAL:
        return False
    drill.injected_at = injected_at(session, run)
    drill.rolled_back_at = run.finished_at or now
    drill.status, drill.revealed_at = DrillStatus.REVEALED, now
    injected = drill.injected_at
    monitored = bool(Alerting.from_document(drill.service.alerting).matchers)
    # Whether the team's monitoring noticed the fault while it was in place.
    if (
        monitored
        and injected is not None
        and drill.detection is None
        and not _detect(session, drill, since=injected, until=drill.rolled_back_at, now=now)
    ):
        drill.detection = Detection.MISSED
        record_undetected(session, run, drill_key=drill.key, drill_id=drill.id, now=now)
    if drill.fired_at is None:
        # chaosbot never raised its alert (the team's monitoring did): the reveal is new.
        conversation.get().fired(session, drill, now=now)
    else:
        conversation.get().changed(session, drill, DrillChange(event=DrillEvent.REVEALED), now=now)
    audit(session, drill, "chaosbot", now, "drill.revealed", _measures(drill))
    if drill.fired_at is not None:
        acknowledged_after = (
            drill.acknowledged_at - drill.fired_at if drill.acknowledged_at else None
        )
        record_slow_response(
            session,
            run,
            acknowledged_after=acknowledged_after,
            drill_key=drill.key,
            drill_id=drill.id,
            now=now,
        )
    return True


def _measures(drill: Drill) -> dict[str, int | str | None]:
    def seconds(end: datetime | None, start: datetime | None) -> int | None:
        return None if end is None or start is None else int((end - start).total_seconds())

    return {
        "run_status": drill.run.status.value if drill.run else None,
        "time_to_acknowledge_s": seconds(drill.acknowledged_at, drill.fired_at),
        "time_to_detect_s": seconds(drill.acknowledged_at, drill.injected_at),
        "time_to_resolve_s": seconds(drill.resolved_at, drill.injected_at),
        "monitoring": drill.detection.value if drill.detection else None,
        "time_to_alert_s": seconds(drill.detected_at, drill.injected_at),
    }


# --- the incident buttons ---------------------------------------------------------------------


def acknowledge(*, session: Session, ref: str, user: str, now: datetime) -> bool:
    """Record the first acknowledgement; False when someone was quicker."""
    drill = _open(session, ref)
    if drill.acknowledged_at is not None:
        return False
    drill.acknowledged_at, drill.acknowledged_by = now, user
    conversation.get().changed(
        session, drill, DrillChange(event=DrillEvent.ACKNOWLEDGED, actor=user), now=now
    )
    audit(session, drill, user, now, "drill.acknowledged")
    return True


def escalate(*, session: Session, ref: str, user: str, now: datetime) -> Sequence[str]:
    """Page the service's owners and the team's admins in the thread; who was paged."""
    drill = _open(session, ref)
    if drill.escalated_at is not None:
        return ()
    drill.escalated_at, drill.escalated_by = now, user
    paged = responders(session, drill)
    conversation.get().changed(
        session, drill, DrillChange(event=DrillEvent.ESCALATED, actor=user, paged=paged), now=now
    )
    audit(session, drill, user, now, "drill.escalated", {"paged": list(paged)})
    return paged


def resolve(*, session: Session, ref: str, user: str, now: datetime) -> int | None:
    """Record the resolution (and an acknowledgement, if none came first).

    Returns the run to halt: a resolved incident is mitigated, so chaosbot rolls its fault back
    now rather than at the end of the drill's duration. None when it was resolved already.
    """
    drill = _open(session, ref)
    if drill.resolved_at is not None:
        return None
    drill.resolved_at, drill.resolved_by = now, user
    if drill.acknowledged_at is None:
        drill.acknowledged_at, drill.acknowledged_by = now, user
    conversation.get().changed(
        session, drill, DrillChange(event=DrillEvent.RESOLVED, actor=user), now=now
    )
    audit(session, drill, user, now, "drill.resolved")
    run = drill.run
    return run.id if run is not None and run.status not in TERMINAL else None


def _open(session: Session, ref: str) -> Drill:
    drill = locked(session, ref)
    if drill.status is not DrillStatus.ACTIVE:
        raise DrillOver()
    return drill
