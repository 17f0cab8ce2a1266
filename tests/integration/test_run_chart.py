"""At the end of a run, its thread gets one PNG of what the steady-state watch measured: a worker
process runs a fault against the Kubernetes API test server, the service's health endpoint (a
real HTTP server on 127.0.0.1) breaks mid-hold, and the bot's outbox pump uploads the chart to
the Slack test server."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from bot.clock import offset_env
from bot.outbox.models import OutboxMessage
from bot.reports.drawing import FAILURE
from bot.reports.run_chart import layout_of
from bot.runs.charts import phases_of, series_of
from bot.runs.service import measurements_of
from bot.runs.states import TERMINAL, RunStatus
from bot.slack.run_chart import SlackRunChart, chart_key
from bot.testing.slack.workspace import Upload
from tests.fixtures.bot import TEAM_CHANNEL, RunningBot
from tests.fixtures.engine import Engine, Health

EVERY = 0.2  # seconds between checks


@pytest.fixture
def slack_engine(engine: Engine, running_bot: RunningBot) -> Engine:
    """Workers that post to the Slack test server the bot uses, on the bot's clock."""
    engine.env.update(
        SLACK_BOT_TOKEN=running_bot.slack.bot_token,
        SLACK_API_URL=running_bot.slack.base_url,
        SLACK_SIGNING_SECRET="unused-by-workers",
        **offset_env(running_bot.clock),
    )
    return engine


def _after_the_run(bot: RunningBot, engine: Engine, run_id: int) -> None:
    """The bot's (frozen) clock moves past the run's end, so what the run queued is due."""
    finished = engine.row(run_id).finished_at
    assert finished is not None
    bot.clock.advance(max(timedelta(0), finished - bot.clock.now()) + timedelta(seconds=1))


def _uploads(bot: RunningBot, count: int, timeout: float = 20) -> list[Upload]:
    deadline = time.monotonic() + timeout
    while len(bot.slack.uploads) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return bot.slack.uploads


def _chart_rows(engine: Engine, key: str) -> list[OutboxMessage]:
    with engine.db.session() as session:
        return list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == chart_key(key)))
        )


def test_a_halted_run_gets_one_chart_of_its_checks_in_its_thread(
    slack_engine: Engine, running_bot: RunningBot, health: Health
) -> None:
    bot, engine = running_bot, slack_engine
    run_id, key = engine.create(hold=60, watch_every=EVERY, fail_after=2)
    process = engine.start(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    time.sleep(4 * EVERY)  # healthy checks first
    health.status = 503
    assert engine.wait_for(run_id, *TERMINAL, timeout=30) is RunStatus.HALTED
    assert process.wait(timeout=30) == 5
    _after_the_run(bot, engine, run_id)

    [upload] = _uploads(bot, 1)
    run = engine.row(run_id)
    assert run.slack_ts is not None
    assert (upload.channel, upload.thread_ts) == (TEAM_CHANNEL, run.slack_ts)
    assert upload.filename == f"steady-state-{key}.png"
    assert upload.initial_comment is not None and f"`{key}`" in upload.initial_comment

    # The image is the chart of the run's stored checks: its failed ones red, in the hold.
    with engine.db.session() as session:
        measurements = list(measurements_of(session=session, run_id=run_id))
    injected = next(e.at for e in run.events if e.status is RunStatus.INJECTING)
    series = series_of(measurements, start=injected)
    phases = phases_of(run.events, start=injected, end=run.finished_at)
    assert [p.label for p in phases] == ["injection", "hold", "rollback"]
    layout = layout_of(series, phases)
    opened = Image.open(io.BytesIO(upload.data))
    assert opened.format == "PNG" and opened.size == layout.size
    image = opened.convert("RGB")
    left, top, right, bottom = layout.plots[0]
    red_x = {
        x
        for x in range(left, right + 1)
        for y in range(top, bottom + 1)
        if _is(image.getpixel((x, y)), FAILURE)
    }
    failed = [p.seconds for p in series[0].points if not p.ok]
    assert len(failed) >= 2
    hold = next(p for p in phases if p.label == "hold")
    assert min(red_x) >= layout.x(hold.start) - 4  # nothing failed before the hold
    for seconds in failed:
        assert any(abs(x - layout.x(seconds)) <= 2 for x in red_x)

    # Heard again (a rollback replay, another process): still one chart.
    SlackRunChart(db=engine.db).run_updated(run_id, RunStatus.HALTED, "again")
    assert len(_chart_rows(engine, key)) == 1
    bot.clock.advance(timedelta(minutes=1))
    time.sleep(2.5)  # more than one pass of the pump
    assert len(bot.slack.uploads) == 1


def test_a_run_without_measurements_gets_no_chart(
    slack_engine: Engine, running_bot: RunningBot
) -> None:
    bot, engine = running_bot, slack_engine
    run_id, key = engine.create(hold=0.3)  # no watch: nothing measured
    assert engine.run(run_id) == 0
    assert engine.status(run_id) is RunStatus.COMPLETED
    assert engine.row(run_id).slack_ts is not None  # it has a message, but nothing to chart
    _after_the_run(bot, engine, run_id)
    assert _chart_rows(engine, key) == []
    time.sleep(2.5)
    assert bot.slack.uploads == []


def _is(pixel: object, colour: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) <= 40 for a, b in zip(pixel, colour, strict=True))
