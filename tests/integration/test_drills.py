"""Blind drills against a moved clock and seeded randomness: planned inside the windows, fired
only when still eligible, answered like incidents, revealed with the measures."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.audit.models import AuditEvent
from bot.catalog.service import find_service
from bot.clock import FrozenClock
from bot.db.engine import Database
from bot.drills.flows import DrillOver, acknowledge, escalate, plan_ahead, resolve
from bot.drills.models import Drill, DrillStatus
from bot.drills.scheduled import DrillPass
from bot.gamedays.decisions import approve
from bot.gamedays.timing import zone
from bot.outbox.models import OutboxMessage
from bot.runs.freezes import freeze
from bot.runs.service import engage_kill_switch, transition
from bot.runs.states import RunStatus, Trigger
from tests.fixtures.bot import ALICE, BOB, START
from tests.fixtures.drills import opt_in
from tests.fixtures.gamedays import ADMINS, ask, manual_scheduler, register_service
from tests.fixtures.runs import plan_adhoc

BERLIN = zone("Europe/Berlin")


class Harness:
    """The scheduler with its drill pass on a frozen clock; `start_run` records what it got."""

    def __init__(self, db: Database, seed: int = 7) -> None:
        self.db = db
        self.clock = FrozenClock(START)
        self.started: list[int] = []
        self.drills = DrillPass(
            db=db,
            clock=self.clock,
            grace=timedelta(minutes=30),
            start_run=self.started.append,
            rng=random.Random(seed),
        )
        self.scheduler = manual_scheduler(db, self.clock, self.started.append, drills=self.drills)

    def at(self, moment: datetime) -> None:
        self.clock.advance(moment - self.clock.now())

    def plan(self) -> None:
        """Only the planning step of a pass (a simulation of days, without firing)."""
        with self.db.session() as session:
            plan_ahead(session=session, now=self.clock.now(), rng=self.drills.rng)

    def tick(self) -> Any:
        return self.scheduler.reconcile().drills

    def planned(self) -> list[Drill]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(Drill)
                    .where(Drill.status == DrillStatus.PLANNED)
                    .order_by(Drill.planned_at)
                )
            )

    def drill(self, key: str) -> Drill:
        with self.db.session() as session:
            drill = session.scalars(select(Drill).where(Drill.key == key)).one()
            drill.run  # noqa: B018 - loaded with the session open
            return drill

    def fire_next(self) -> Drill:
        """Move the clock to the next planned drill and run the pass; the drill, as it is then."""
        upcoming = self.planned()[0]
        assert upcoming.planned_at is not None
        self.at(upcoming.planned_at)
        self.tick()
        return self.drill(upcoming.key)

    def worker(self, run_id: int, *, injected_after: timedelta) -> None:
        """What a worker does to a run up to its hold (reached `injected_after` from now)."""
        steps = (
            (RunStatus.PREFLIGHT, timedelta(0)),
            (RunStatus.INJECTING, timedelta(0)),
            (RunStatus.HOLDING, injected_after),
        )
        with self.db.session() as session:
            for step, after in steps:
                transition(
                    session=session,
                    run_id=run_id,
                    to=step,
                    now=self.clock.now() + after,
                    message=step,
                )

    def end_run(self, run_id: int, status: RunStatus = RunStatus.COMPLETED) -> None:
        with self.db.session() as session:
            for step in (RunStatus.ROLLING_BACK, status):
                transition(
                    session=session, run_id=run_id, to=step, now=self.clock.now(), message=step
                )

    def messages(self, key: str) -> list[OutboxMessage]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.dedupe_key.like(f"drill:{key}:%"))
                    .order_by(OutboxMessage.id)
                )
            )


@pytest.fixture
def harness(db: Database) -> Harness:
    register_service(db, tier=2)
    opt_in(db)
    return Harness(db)


def _local(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment.astimezone(BERLIN)


# --- planning ---------------------------------------------------------------------------------


def test_the_planner_draws_today_and_tomorrow_once_inside_the_window(harness: Harness) -> None:
    report = harness.tick()
    planned = harness.planned()
    assert [d.key for d in planned] == report.planned
    assert planned, "mean 1 day: every workday has a drill (unless today's time is past)"
    for drill in planned:
        local = _local(drill.planned_at)
        assert time(10) <= local.time() < time(16)
        assert local.weekday() < 5
        assert drill.experiment == "pod-kill"
        assert drill.planned_at is not None and drill.planned_at > START
    with harness.db.session() as session:
        days = session.execute(select(Drill.day, Drill.status)).all()
    assert sorted(d for d, _ in days) == [date(2026, 11, 30), date(2026, 12, 1)]
    assert harness.tick().planned == []  # drawn once: the next pass adds nothing
    with harness.db.session() as session:
        assert len(session.scalars(select(Drill)).all()) == 2


def test_new_drill_keys_that_clash_are_drawn_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drill's key is short (inc- and six hex digits) and a drill is drawn per service and
    day, so a new key can be one already stored, or drawn twice in one batch: the batch is
    drawn again instead of the pass failing."""
    harness.plan()
    with harness.db.session() as session:
        stored = sorted(session.scalars(select(Drill.key)).all())
    assert len(stored) == 2
    fresh = (f"inc-{n:06x}" for n in itertools.count(0xF00000))
    drawn = iter([stored[0], stored[0], stored[1], stored[1]])
    monkeypatch.setattr("bot.drills.flows.new_drill_key", lambda: next(drawn, None) or next(fresh))
    harness.at(START + timedelta(days=2))
    harness.plan()
    with harness.db.session() as session:
        keys = session.scalars(select(Drill.key)).all()
    assert len(keys) == 4 == len(set(keys))
    assert set(stored) < set(keys)


def test_over_many_simulated_weeks_the_tables_keep_the_mean(db: Database) -> None:
    """Day by day for 40 weeks, through the tables, the number of drills is 1 per mean days."""
    register_service(db, tier=2)
    opt_in(db, mean_days=4, weekdays=("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    harness = Harness(db, seed=11)
    days = 280
    for offset in range(days):
        harness.at(datetime(2026, 11, 30, 5, 0, tzinfo=UTC) + timedelta(days=offset + 1))
        harness.plan()
    with db.session() as session:
        rows = session.scalars(select(Drill).order_by(Drill.day)).all()
        planned = [d for d in rows if d.status is DrillStatus.PLANNED]
    assert len({d.day for d in rows}) == days + 1  # every day drawn, none twice
    # Binomial(280, 1/4): mean 70, sd 7.2; a wrong probability (1/3 or 1/5) lands far outside.
    assert 52 <= len(planned) <= 88
    for drill in planned:
        local = _local(drill.planned_at)
        assert local.date() == drill.day and time(10) <= local.time() < time(16)


def test_holidays_and_freezes_have_no_drills(db: Database) -> None:
    register_service(db, tier=2)
    opt_in(db, holiday_country="DE")
    harness = Harness(db)
    with db.session() as session:
        team = find_service(session=session, name="checkout").team
        freeze(
            session=session,
            team=team,
            duration=timedelta(days=40),
            reason="peak season",
            by=ALICE,
            now=START + timedelta(days=3),
        )
    for offset in range(60):
        harness.at(datetime(2026, 11, 30, 5, 0, tzinfo=UTC) + timedelta(days=offset))
        harness.plan()
    frozen_until = START + timedelta(days=43)
    for drill in harness.planned():
        assert drill.planned_at is not None
        assert not (START + timedelta(days=3) <= drill.planned_at < frozen_until)
        assert drill.day not in (date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1))
    assert harness.planned(), "days after the freeze still have drills"


def test_spacing_counts_across_days(db: Database) -> None:
    register_service(db, tier=2)
    opt_in(db, spacing_hours=72, weekdays=("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    harness = Harness(db)
    for offset in range(30):
        harness.at(datetime(2026, 11, 30, 5, 0, tzinfo=UTC) + timedelta(days=offset))
        harness.plan()
    moments = [d.planned_at for d in harness.planned() if d.planned_at]
    assert len(moments) >= 5
    assert all(b - a >= timedelta(hours=72) for a, b in itertools.pairwise(moments))


# --- firing -----------------------------------------------------------------------------------


def test_it_fires_once_at_its_minute_with_an_alert_that_does_not_say_drill(
    harness: Harness,
) -> None:
    harness.tick()
    upcoming = harness.planned()[0]
    assert upcoming.planned_at is not None
    harness.at(upcoming.planned_at - timedelta(seconds=1))
    assert harness.tick().fired == []
    harness.at(upcoming.planned_at)
    assert harness.drills.fire_drill(upcoming.id) is not None  # its date job
    assert harness.tick().fired == []  # the reconciler, a moment later: already fired
    drill = harness.drill(upcoming.key)
    assert drill.status is DrillStatus.ACTIVE and drill.run is not None
    assert harness.started == [drill.run.id]
    assert drill.run.trigger is Trigger.BLIND and drill.run.experiment == "pod-kill"
    assert drill.run.slack_channel is None  # the run posts nothing of its own
    assert drill.run.document["configuration"]["hold_seconds"] == 30 * 60  # its duration
    (alert,) = harness.messages(drill.key)
    shown = str(alert.payload).lower()
    assert alert.payload["channel"] == "C0PAYMENTS"
    assert "sev3" in shown and "checkout" in shown and "no symptom measured yet" in shown
    assert "failing" not in shown  # nothing was measured: no symptom is claimed
    assert "drill" not in shown and "pod-kill" not in shown and "chaos" not in shown
    assert "incident_acknowledge" in shown and "incident_escalate" in shown


@pytest.mark.parametrize(
    "obstacle",
    ["freeze", "kill switch", "game day", "opted out", "another run", "late", "window"],
)
def test_at_its_minute_it_is_checked_again_and_skipped_with_the_reason(
    harness: Harness, obstacle: str
) -> None:
    harness.tick()
    upcoming = harness.planned()[0]
    assert upcoming.planned_at is not None
    moment = upcoming.planned_at
    with harness.db.session() as session:
        service = find_service(session=session, name="checkout")
        if obstacle == "freeze":
            freeze(
                session=session,
                team=service.team,
                duration=timedelta(hours=1),
                reason="real incident INC-1",
                by=ALICE,
                now=moment - timedelta(minutes=1),
            )
        elif obstacle == "kill switch":
            engage_kill_switch(session=session, by=ALICE, now=moment, reason="stop")
        elif obstacle == "opted out":
            service.blind_enabled = False
        elif obstacle == "window":
            service.blind_window = {**(service.blind_window or {}), "weekdays": ["sat"]}
    if obstacle == "game day":
        key = ask(harness.db, now=START, starts_at=moment + timedelta(minutes=10))
        with harness.db.session() as session:
            approve(session=session, ref=key, user_id=BOB, now=START, admins=ADMINS)
    if obstacle == "another run":
        plan_adhoc(harness.db, experiment="container-kill")
    harness.at(moment + (timedelta(minutes=31) if obstacle == "late" else timedelta(0)))
    report = harness.drills.reconcile(harness.clock.now())
    assert report.fired == [] and report.skipped == [upcoming.key]
    drill = harness.drill(upcoming.key)
    expected = {
        "freeze": "frozen: real incident INC-1",
        "kill switch": "kill switch",
        "game day": "game day gd-",
        "opted out": "no longer opted in",
        "another run": "of the service is under way",
        "late": "was not running when it was due",
        "window": "no longer inside",
    }[obstacle]
    assert drill.status is DrillStatus.SKIPPED and expected in (drill.skip_reason or "")
    assert harness.messages(upcoming.key) == []  # the team hears nothing of a skipped drill
    assert harness.started == []


# --- the incident -----------------------------------------------------------------------------


def test_acknowledge_resolve_and_reveal_with_the_measures(harness: Harness) -> None:
    harness.tick()
    drill = harness.fire_next()
    assert drill.run_id is not None and drill.fired_at is not None
    fired = drill.fired_at
    harness.worker(drill.run_id, injected_after=timedelta(seconds=20))
    harness.at(fired + timedelta(minutes=2))
    with harness.db.session() as session:
        assert acknowledge(session=session, ref=drill.key, user=ALICE, now=harness.clock.now())
    with harness.db.session() as session:
        assert not acknowledge(session=session, ref=drill.key, user=BOB, now=harness.clock.now())
    with harness.db.session() as session:
        paged = escalate(session=session, ref=drill.key, user=ALICE, now=harness.clock.now())
    assert list(paged) == [ALICE, BOB]
    harness.at(fired + timedelta(minutes=5))
    with harness.db.session() as session:
        to_halt = resolve(session=session, ref=drill.key, user=BOB, now=harness.clock.now())
    assert to_halt == drill.run_id  # mitigated: chaosbot rolls the fault back now
    harness.at(fired + timedelta(minutes=5, seconds=30))
    harness.end_run(drill.run_id, RunStatus.ABORTED)
    harness.scheduler.run_finished(drill.run_id)  # the worker exited
    revealed = harness.drill(drill.key)
    assert revealed.status is DrillStatus.REVEALED
    assert revealed.injected_at == fired + timedelta(seconds=20)
    assert revealed.rolled_back_at == fired + timedelta(minutes=5, seconds=30)
    last = harness.messages(drill.key)
    update = [m for m in last if m.method == "chat.update"][-1]
    shown = str(update.payload["blocks"])
    assert "This was a blind drill" in shown and "pod-kill" in shown
    assert "time to acknowledge 2m 00s, time to detect 1m 40s" in shown
    assert "time to resolve 4m 40s" in shown
    assert "rolled back by chaosbot" in shown and "drill_record_findings" in shown
    assert "escalated by" in shown
    with harness.db.session() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "drill.revealed")
        ).one()
    assert event.detail["time_to_acknowledge_s"] == 120
    assert event.detail["time_to_detect_s"] == 100
    assert event.detail["time_to_resolve_s"] == 280
    with harness.db.session() as session, pytest.raises(DrillOver):
        acknowledge(session=session, ref=drill.key, user=ALICE, now=harness.clock.now())


def test_nobody_answers_the_fault_is_rolled_back_anyway_and_the_reveal_says_so(
    harness: Harness,
) -> None:
    harness.tick()
    drill = harness.fire_next()
    assert drill.run_id is not None and drill.fired_at is not None
    harness.worker(drill.run_id, injected_after=timedelta(seconds=5))
    harness.at(drill.fired_at + timedelta(minutes=30, seconds=10))  # the hold ran out
    harness.end_run(drill.run_id, RunStatus.COMPLETED)
    assert harness.tick().revealed == [drill.key]  # the reconciler reveals it too
    shown = str([m.payload for m in harness.messages(drill.key)][-2])
    assert "Nobody acknowledged it within its 30 minutes" in shown
    assert "rolled back anyway" in shown and "the steady state held" in shown
    assert harness.tick().revealed == []


def test_a_hand_over_lost_with_the_bot_is_handed_out_again(harness: Harness) -> None:
    harness.tick()
    drill = harness.fire_next()
    assert harness.started == [drill.run_id]
    harness.at(harness.clock.now() + timedelta(minutes=3))
    harness.tick()
    assert harness.started == [drill.run_id, drill.run_id]


def test_each_planned_drill_has_a_date_job(harness: Harness) -> None:
    harness.tick()
    wanted = harness.drills.jobs_wanted()
    assert {f"drill:{d.key}" for d in harness.planned()} == set(wanted)
    assert {at for at, _ in wanted.values()} == {d.planned_at for d in harness.planned()}


def test_a_changed_opt_in_redraws_the_days_ahead(db: Database) -> None:
    register_service(db, tier=2)
    opt_in(db, mean_days=365)  # hardly ever
    harness = Harness(db, seed=3)
    harness.tick()
    with db.session() as session:
        before = {d.day: d.key for d in session.scalars(select(Drill))}
    opt_in(db, mean_days=1, hours="00:00-24:00", weekdays=("sat", "sun", "mon", "tue"))
    harness.tick()
    with db.session() as session:
        after = {d.day: (d.key, d.status) for d in session.scalars(select(Drill))}
    assert set(after) == set(before)
    assert all(after[day][0] != key for day, key in before.items())  # drawn again
    tomorrow = after[date(2026, 12, 1)]
    assert tomorrow[1] is DrillStatus.PLANNED  # mean 1: a drill every window day
    harness.tick()
    with db.session() as session:
        again = {d.day: d.key for d in session.scalars(select(Drill))}
    assert again == {day: key for day, (key, _) in after.items()}  # unchanged opt-in: kept
