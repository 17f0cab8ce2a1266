"""Who sees the drill plan, and where."""

from __future__ import annotations

import pytest

from bot.config import Settings, load_settings
from bot.errors import SettingsError
from bot.slack.drills import NotAPlatformAdmin, NotTheAdminChannel, check_may_see_plan

ADMIN = "U0ADMIN"


def test_only_platform_admins_and_only_in_the_admin_channel() -> None:
    settings = Settings(platform_admins=frozenset({ADMIN}), admin_channel="C0PLATFORM")
    check_may_see_plan(settings, user=ADMIN, channel="C0PLATFORM")
    with pytest.raises(NotAPlatformAdmin):
        check_may_see_plan(settings, user="U0ALICE", channel="C0PLATFORM")
    with pytest.raises(NotTheAdminChannel, match="C0PLATFORM"):
        check_may_see_plan(settings, user=ADMIN, channel="C0PAYMENTS")


def test_without_an_admin_channel_an_admin_sees_it_anywhere() -> None:
    check_may_see_plan(Settings(platform_admins=frozenset({ADMIN})), user=ADMIN, channel="C0X")


def test_the_admin_channel_setting_is_a_channel_id() -> None:
    assert load_settings({"CHAOSBOT_ADMIN_CHANNEL": "C0PLATFORM"}).admin_channel == "C0PLATFORM"
    with pytest.raises(SettingsError, match="CHAOSBOT_ADMIN_CHANNEL"):
        load_settings({"CHAOSBOT_ADMIN_CHANNEL": "#platform"})


def test_a_worker_starts_on_its_bots_moved_clock() -> None:
    from datetime import UTC, datetime, timedelta

    from bot.clock import FrozenClock, SystemClock, clock_from_env, offset_env

    ahead = FrozenClock(datetime.now(UTC) + timedelta(days=5))
    worker = clock_from_env(offset_env(ahead))
    assert abs(worker.now() - ahead.now()) < timedelta(seconds=5)
    assert offset_env(SystemClock()) == {}
    assert isinstance(clock_from_env({}), SystemClock)
