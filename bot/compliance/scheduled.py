"""The weekly-digest pass of the reconciler (bot/scheduling/reconciler.py).

It runs on an interval of its own, every few minutes, because Monday 09:00 comes to one team
after another (each in its timezone); a big organisation's digests take a while, so they do not
hold up the tick. A digest goes out once per team and ISO week, whichever replica sends it.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.clock import Clock
from bot.compliance.digest import DigestReport, send_digests
from bot.config.compliance_policy import CompliancePolicy
from bot.db.engine import Database
from bot.scheduling.reconciler import Alarm
from bot.scheduling.steps import guarded

__all__ = ["DIGEST_EVERY", "DigestPass"]

DIGEST_EVERY = 300.0  # seconds


class DigestPass:
    """Sends the weekly digests that are due."""

    name = "weekly digest"

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        policy: CompliancePolicy,
        admin_channel: str | None,
        every: float = DIGEST_EVERY,
    ) -> None:
        self._db, self._clock = db, clock
        self._policy, self._admin_channel = policy, admin_channel
        self.every: float | None = every

    def run(self) -> DigestReport | None:
        """The digests that are due now; None when sending them failed (logged)."""
        now = self._clock.now()
        return guarded(
            self._db,
            "weekly digest",
            lambda s: send_digests(
                s, now=now, policy=self._policy, admin_channel=self._admin_channel
            ),
        )

    def alarms(self) -> Mapping[str, Alarm]:
        return {}
