"""How many of a service's pods an experiment disrupts: a share of them, or every one.

One rule, read from an experiment's parameters, serves preflight's blast-radius check, the
game-day preview and the library's marking. An experiment with a `percent` or `count`
parameter disrupts that share of the matched pods. One with neither acts on every matched pod:
by design (a network policy, a scale or a limit on the whole workload), or because it takes
out the nodes or the zone they run on, which are picked when it runs; either way the
blast-radius check counts all of the service's pods.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["SHARE_PARAMETERS", "affected_pods", "every_pod_reason"]

SHARE_PARAMETERS = ("percent", "count")

_CAP = (
    "the blast-radius check counts all of the service's pods and it runs only where the cap is 100%"
)
_EVERY_POD = {
    "nodes": f"it takes out the nodes the service's pods run on (picked when it runs), so {_CAP}",
    "zones": f"it takes out a whole zone, so {_CAP}",
}
_BY_DESIGN = (
    "it acts on every pod of the service by design, so it runs only where the blast-radius cap "
    "is 100%"
)


def affected_pods(parameters: Mapping[str, Any], live: int) -> int:
    """How many of the service's `live` pods a run with these parameters disrupts."""
    percent = parameters.get("percent")
    if isinstance(percent, int | float) and percent > 0:
        return min(live, math.ceil(live * float(percent) / 100))
    if isinstance(parameters.get("count"), int):
        return min(live, int(parameters["count"]))
    return live


def every_pod_reason(category: str, parameters: Iterable[str]) -> str | None:
    """Why an experiment of this category with these parameters (names) disrupts every pod of
    a service, or None when a percent or count parameter limits it."""
    if any(name in SHARE_PARAMETERS for name in parameters):
        return None
    return _EVERY_POD.get(category, _BY_DESIGN)
