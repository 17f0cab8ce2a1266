from __future__ import annotations

import io
import json
import logging

import pytest

from bot.config import load_settings
from bot.errors import SettingsError
from bot.logs import REDACTED, RedactingFilter, configure_logging, log_context

TOKEN = "xoxb-1111-2222-abcdefabcdef"


def test_secrets_are_scrubbed_from_messages_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.redaction")
    caplog.handler.addFilter(RedactingFilter([TOKEN]))
    logger.warning("token is %s", TOKEN)
    try:
        raise RuntimeError(f"bad token {TOKEN}")
    except RuntimeError:
        logger.exception("failed")
    text = caplog.text
    assert TOKEN not in text
    assert text.count(REDACTED) >= 2


def test_json_lines_carry_the_ids_of_the_work_under_way_and_no_secret() -> None:

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    written = io.StringIO()
    configure_logging("INFO", [TOKEN], log_format="json", stream=written)
    logger = logging.getLogger("bot.test")
    try:
        with log_context(gameday_id=7):
            with log_context(run_id=3, run_key="r-0123456789"):
                logger.info("holding with %s", TOKEN)
            logger.warning("between runs")
        logger.info("idle")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    run, between, idle = (json.loads(line) for line in written.getvalue().splitlines())
    assert run == {
        "time": run["time"],
        "level": "INFO",
        "logger": "bot.test",
        "message": f"holding with {REDACTED}",
        "gameday_id": 7,
        "run_id": 3,
        "run_key": "r-0123456789",
    }
    assert (between["gameday_id"], between["level"]) == (7, "WARNING")
    assert "run_id" not in between
    assert not {"run_id", "gameday_id", "drill_id"} & set(idle)


def test_an_unknown_log_format_is_refused() -> None:
    assert load_settings({"CHAOSBOT_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(SettingsError, match="CHAOSBOT_LOG_FORMAT"):
        load_settings({"CHAOSBOT_LOG_FORMAT": "xml"})
