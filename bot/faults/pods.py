"""Pod faults: kill some of a service's pods (chaosk8s's terminate_pods) and wait for recovery.

Killing pods creates and changes nothing: the workload's controller replaces them. The paired
rollback therefore waits until the service's workloads have all their replicas Ready again, so
a run only ends once the service has recovered, or fails when it does not.
"""

from __future__ import annotations

import time
from typing import Any

from chaosk8s.pod.actions import terminate_pods
from chaoslib.exceptions import ActivityFailed

from bot.faults.args import as_float, as_int, label_selector_object
from bot.faults.kube import Kube, Secrets
from bot.faults.workloads import is_ready, is_rolled_out, service_pods, workloads_of

__all__ = ["kill_pods", "wait_for_pods_ready"]

POLL_SECONDS = 1.0


def kill_pods(
    namespace: str,
    label_selector: str,
    count: Any = 1,
    percent: Any = 0,
    grace_period_seconds: Any = -1,
    secrets: Secrets = None,
) -> list[str]:
    """Delete `count` random pods of the service, or `percent` of them when percent > 0.

    grace_period_seconds -1 keeps each pod's own grace period; 0 kills at once.
    """
    label_selector_object(label_selector)  # refuses an empty selector before anything happens
    share = as_int(percent, "percent")
    mode, quantity = ("percentage", share) if share > 0 else ("fixed", as_int(count, "count"))
    killed: list[str] = terminate_pods(
        label_selector=label_selector,
        ns=namespace,
        rand=True,
        mode=mode,
        qty=quantity,
        grace_period=as_int(grace_period_seconds, "grace_period_seconds"),
        secrets=dict(secrets or {}),
    )
    if not killed:
        raise ActivityFailed(f"no pod in {namespace} matches {label_selector}: nothing was killed")
    return killed


def wait_for_pods_ready(
    namespace: str, label_selector: str, timeout_seconds: Any = 300, secrets: Secrets = None
) -> dict[str, Any]:
    """Wait until the service's workloads have every replica Ready (without one: every pod)."""
    kube = Kube(secrets)
    limit = as_float(timeout_seconds, "timeout_seconds")
    started = time.monotonic()
    while True:
        workloads = [obj for _, obj in workloads_of(kube, namespace, label_selector)]
        pods = service_pods(kube, namespace, label_selector)
        ready = sum(1 for p in pods if is_ready(p))
        recovered = all(map(is_rolled_out, workloads)) if workloads else ready == len(pods)
        if recovered:
            return {"ready": ready, "seconds": round(time.monotonic() - started, 3)}
        if time.monotonic() - started >= limit:
            raise ActivityFailed(
                f"{ready} pods matching {label_selector} in {namespace} were Ready after "
                f"{limit:g}s; the workloads want more"
            )
        time.sleep(POLL_SECONDS)
