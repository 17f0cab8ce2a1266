"""How a probe's output reads, in the watch's checks and in the probe's own failure.

Kept apart from the providers so that the watch (which every rendered experiment and the run
messages load) reads outputs without importing the clients the providers need.
"""

from __future__ import annotations

__all__ = ["pods_reading"]


def pods_reading(ready: int, desired: int, percent: float) -> str:
    """ "3 of 6 pods ready (50%)": a pods probe's reading."""
    return f"{ready} of {desired} pods ready ({percent:g}%)"
