"""A Chaos Toolkit probe tolerance for numbers with one bound or two, and how it reads.

chaostoolkit-lib's own `range` tolerance needs both ends, and JSON (the journal, the run row) has
no infinity to leave one open: a probe of "at most 0.01" or "at least 66% of pods ready" uses
`within_bounds` as a probe tolerance instead, named by `bounds_text` so the watch can quote what
it expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["FUNC", "MODULE", "bounds_text", "tolerance", "within_bounds"]

MODULE = "bot.probes.tolerance"
FUNC = "within_bounds"


def within_bounds(
    value: Any = None,  # chaostoolkit-lib passes it; the default lets `chaos validate` pass
    min: float | None = None,
    max: float | None = None,
    target: str | None = None,
) -> bool:
    """Whether value (or value[target], for a probe whose output is a mapping) is a number at
    least min and at most max."""
    if target is not None and isinstance(value, Mapping):
        value = value.get(target)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return False
    return (min is None or value >= min) and (max is None or value <= max)


def bounds_text(min: float | None, max: float | None, unit: str = "") -> str:
    """`<= 0.01`, `>= 66%`, or `between 0.5 and 0.9`."""
    if min is not None and max is not None:
        return f"between {min:g}{unit} and {max:g}{unit}"
    if max is not None:
        return f"<= {max:g}{unit}"
    if min is not None:
        return f">= {min:g}{unit}"
    raise ValueError("bounds need min, max or both")


def tolerance(
    min: float | None,
    max: float | None,
    *,
    target: str | None = None,
    unit: str = "",
) -> dict[str, Any]:
    """A hypothesis probe's tolerance: chaostoolkit-lib's `range` when both bounds are given,
    else a probe tolerance calling within_bounds, named by what it expects."""
    if min is not None and max is not None:
        document: dict[str, Any] = {"type": "range", "range": [min, max]}
        if target is not None:
            document["target"] = target
        return document
    arguments: dict[str, Any] = {k: v for k, v in (("min", min), ("max", max)) if v is not None}
    if target is not None:
        arguments["target"] = target
    return {
        "type": "probe",
        "name": bounds_text(min, max, unit),
        "provider": {"type": "python", "module": MODULE, "func": FUNC, "arguments": arguments},
    }
