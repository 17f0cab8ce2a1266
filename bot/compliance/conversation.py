"""What the weekly digest tells people, as facts: the interface compliance talks through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from bot.compliance.report import OrgReport, TeamReport
from bot.ports import Port

__all__ = ["DigestConversation", "DueDigests", "OrgDigest", "conversation"]


@dataclass(frozen=True, kw_only=True)
class OrgDigest:
    report: OrgReport
    week: str  # ISO week, "2026-W49"
    channel: str  # the platform channel


@dataclass(frozen=True, kw_only=True)
class DueDigests:
    """The digests due in one pass: each team's report with its ISO week, and the org's."""

    teams: Sequence[tuple[TeamReport, str]]
    org: OrgDigest | None


class DigestConversation(Protocol):
    def send(self, session: Session, digests: DueDigests, *, now: datetime, chart: bool) -> int:
        """Queue the digests in `session` (with a score chart when `chart`); the number of
        messages queued. A digest queued before must fail the transaction."""


conversation: Port[DigestConversation] = Port("digest conversation")
