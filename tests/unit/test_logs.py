from __future__ import annotations

import logging

import pytest

from bot.logs import REDACTED, RedactingFilter

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
