"""The resilience score of a service, 0 to 100, and its week-by-week trend.

    score = 100 * sum(risk(e) * passed(e) * 0.5 ** (age(e) / 90 days)) / sum(risk(e))

over the experiments e of the service (its suite, and any experiment it has a verdict for):

- risk(e) is the library's risk of the experiment: low 1, medium 2, high 3 (a resilient
  service is one that survives its riskier experiments);
- passed(e) is 1 when the latest verdict of e (as of the day scored) is a pass (the run
  completed: the steady state held before and after), 0 when it deviated or failed, and 0 when e
  was never run; aborted and dry runs give no verdict;
- a pass decays with the age of that verdict, halving every 90 days: a service must keep
  proving itself, and a year-old pass is worth a sixteenth of a fresh one.

A service with no experiment in its suite and no verdict has no score (None).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["HALF_LIFE_DAYS", "RISK_WEIGHT", "Verdict", "score", "trend"]

RISK_WEIGHT: Mapping[str, float] = {"low": 1.0, "medium": 2.0, "high": 3.0}
HALF_LIFE_DAYS = 90.0


@dataclass(frozen=True)
class Verdict:
    experiment: str
    passed: bool
    at: datetime


def score(
    suite: Iterable[str],
    verdicts: Sequence[Verdict],
    *,
    risks: Mapping[str, str],
    as_of: datetime,
) -> float | None:
    """The score as of `as_of` (verdicts after it are ignored)."""
    latest: dict[str, Verdict] = {}
    for verdict in verdicts:
        if verdict.at > as_of:
            continue
        known = latest.get(verdict.experiment)
        if known is None or verdict.at > known.at:
            latest[verdict.experiment] = verdict
    return _score(set(suite), latest, risks=risks, as_of=as_of)


def trend(
    suite: Iterable[str],
    verdicts: Sequence[Verdict],
    *,
    risks: Mapping[str, str],
    week_ends: Sequence[datetime],
) -> list[float | None]:
    """The score at each of `week_ends` (oldest first), as `score` gives it.

    The verdicts are read once, oldest first, each week taking up where the one before left off
    (a digest scores every service at eight week ends).
    """
    experiments = set(suite)
    ordered = sorted(verdicts, key=lambda v: v.at)  # stable: the first of equal times wins
    scores: dict[int, float | None] = {}
    latest: dict[str, Verdict] = {}
    read = 0
    for index in sorted(range(len(week_ends)), key=lambda i: week_ends[i]):
        end = week_ends[index]
        while read < len(ordered) and ordered[read].at <= end:
            verdict = ordered[read]
            known = latest.get(verdict.experiment)
            if known is None or verdict.at > known.at:
                latest[verdict.experiment] = verdict
            read += 1
        scores[index] = _score(experiments, latest, risks=risks, as_of=end)
    return [scores[index] for index in range(len(week_ends))]


def _score(
    suite: set[str], latest: Mapping[str, Verdict], *, risks: Mapping[str, str], as_of: datetime
) -> float | None:
    """The score of the experiments of `suite` and `latest` (each one's latest verdict)."""
    experiments = suite | set(latest)
    if not experiments:
        return None
    earned = total = 0.0
    for experiment in experiments:
        weight = RISK_WEIGHT.get(risks.get(experiment, "medium"), 2.0)
        total += weight
        last = latest.get(experiment)
        if last is not None and last.passed:
            age_days = (as_of - last.at).total_seconds() / 86400
            earned += weight * 0.5 ** (age_days / HALF_LIFE_DAYS)
    return round(100 * earned / total, 1)
