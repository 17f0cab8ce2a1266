"""Grafana annotations of game days' runs, posted by the worker that ends the run, to the Grafana
API test server; never for blind drills, and a Grafana that refuses them never breaks a run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update

from bot.runs.models import Run, RunEvent
from bot.runs.states import RunStatus, Trigger
from bot.testing.grafana import GrafanaApiServer
from tests.fixtures.engine import Engine


@pytest.fixture
def grafana() -> Iterator[GrafanaApiServer]:
    server = GrafanaApiServer()
    yield server
    server.close()


def run_as(engine: Engine, grafana: GrafanaApiServer, trigger: Trigger, *, token: str) -> int:
    """A run of the minimal fault with `trigger`, played to its end by a worker process that
    knows Grafana (with `token`)."""
    run_id, _ = engine.create(hold=0.1)
    with engine.db.session() as session:
        session.execute(update(Run).where(Run.id == run_id).values(trigger=trigger))
    engine.env.update(CHAOSBOT_GRAFANA_URL=grafana.url + "/", CHAOSBOT_GRAFANA_TOKEN=token)
    assert engine.run(run_id) == 0
    return run_id


def ms(engine: Engine, run_id: int) -> tuple[int, int]:
    """When the run injected and ended, in milliseconds since the epoch."""
    with engine.db.session() as session:
        injected = session.scalar(
            select(func.min(RunEvent.at)).where(
                RunEvent.run_id == run_id, RunEvent.status == RunStatus.INJECTING
            )
        )
        run = session.get(Run, run_id)
        assert injected is not None and run is not None and run.finished_at is not None
        return int(injected.timestamp() * 1000), int(run.finished_at.timestamp() * 1000)


def test_a_game_days_run_is_one_annotated_region_from_injection_to_its_end(
    engine: Engine, grafana: GrafanaApiServer
) -> None:
    run_id = run_as(engine, grafana, Trigger.GAMEDAY, token=grafana.token)
    assert engine.status(run_id) is RunStatus.COMPLETED
    [call] = grafana.calls
    assert (call.method, call.path, call.status) == ("POST", "/api/annotations", 200)
    assert call.authorization == f"Bearer {grafana.token}"
    start, end = ms(engine, run_id)
    assert (call.body["time"], call.body["timeEnd"]) == (start, end)
    assert start < end
    assert call.body["tags"] == [
        "chaosbot",
        "team:payments",
        "service:checkout",
        "experiment:blackhole",
    ]
    assert "blackhole on checkout: completed" in call.body["text"]
    # A dashboard's tag-based annotation query finds it.
    assert [
        a["id"] for a in grafana.annotations if {"chaosbot", "team:payments"} <= set(a["tags"])
    ] == [1]


def test_a_blind_drills_run_is_never_annotated(engine: Engine, grafana: GrafanaApiServer) -> None:
    run_id = run_as(engine, grafana, Trigger.BLIND, token=grafana.token)
    assert engine.status(run_id) is RunStatus.COMPLETED
    assert grafana.calls == []


def test_a_grafana_that_refuses_the_token_does_not_touch_the_run(
    engine: Engine, grafana: GrafanaApiServer
) -> None:
    run_id = run_as(engine, grafana, Trigger.GAMEDAY, token="glsa_not_the_right_token_at_all")
    assert engine.status(run_id) is RunStatus.COMPLETED
    assert [c.status for c in grafana.calls] == [401]
    assert grafana.annotations == []
