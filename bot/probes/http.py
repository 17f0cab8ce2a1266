"""The one HTTP client of steady-state probes, and its Chaos Toolkit provider `probe_http`.

A probe checks its URL (`check_probe_url`, with the host resolved), connects to an address
that check returned (urllib3 pinned to it; the name is only the Host header and the TLS server
name), follows no redirect and reads no body: its output is the status and the latency, so
nothing a service answers reaches a run's journal. Settings come from the environment when the
probe runs (the worker's, or yours under `chaos run`), so an experiment cannot loosen them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import urllib3
from chaoslib.exceptions import ActivityFailed
from urllib3.exceptions import HTTPError

from bot.config import load_settings
from bot.errors import SettingsError
from bot.probes.target import ProbePolicy, ProbeRefused, ProbeTarget, check_probe_url

__all__ = ["ProbeFailed", "ProbeResult", "get", "probe_http"]

USER_AGENT = "chaosbot-probe"


class ProbeFailed(ProbeRefused):
    """The probe was sent and got no acceptable answer (no connection, a redirect, too slow)."""


@dataclass(frozen=True, kw_only=True)
class ProbeResult:
    """What a probe keeps of an answer: its status and how long it took."""

    status: int
    latency_ms: int

    def as_output(self) -> dict[str, int]:
        """The activity's output in the journal (chaostoolkit's int tolerance reads `status`)."""
        return {"status": self.status, "latency_ms": self.latency_ms}


def probe_http(url: str, timeout: float = 1.0) -> dict[str, int]:
    """GET url, with chaosbot's probe rules, within timeout seconds (the latency budget).

    The output is {"status", "latency_ms"}; a `tolerance: 200` compares the status. A refused
    URL, a redirect, no answer or one slower than the budget fails the probe with its reason.
    """
    try:
        policy = ProbePolicy.from_settings(load_settings())
        return get(url, policy=policy, timeout=float(timeout)).as_output()
    except (ProbeRefused, SettingsError) as error:
        raise ActivityFailed(f"probe of {url!r} failed: {error}") from None


def get(url: str, *, policy: ProbePolicy, timeout: float) -> ProbeResult:
    """The status and latency of GET url, or ProbeRefused/ProbeFailed with the reason."""
    if not 0 < timeout <= 60:
        raise ProbeRefused(f"timeout must be between 0 and 60 seconds, got {timeout:g}")
    started = time.monotonic()
    target = check_probe_url(url, policy)
    budget = timeout - (time.monotonic() - started)
    if budget <= 0:
        raise ProbeFailed(f"resolving {target.host} took longer than the budget of {timeout:g} s")
    status, location = _send(target, budget)
    latency_ms = round((time.monotonic() - started) * 1000)
    if 300 <= status < 400:
        raise ProbeFailed(f"answered {status}, a redirect to {location!r}: probes follow none")
    if latency_ms > timeout * 1000:
        raise ProbeFailed(f"answered {status} in {latency_ms} ms, over its {timeout:g} s budget")
    return ProbeResult(status=status, latency_ms=latency_ms)


def _send(target: ProbeTarget, timeout: float) -> tuple[int, str | None]:
    """The status (and Location) of GET target's path, from the first checked address that
    answers."""
    problems = []
    for address in target.addresses or ():
        pool: urllib3.HTTPConnectionPool
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                str(address),
                target.port,
                server_hostname=target.host.rstrip("."),
                assert_hostname=target.host.rstrip("."),
                timeout=urllib3.Timeout(total=timeout),
                retries=False,
                maxsize=1,
            )
        else:
            pool = urllib3.HTTPConnectionPool(
                str(address),
                target.port,
                timeout=urllib3.Timeout(total=timeout),
                retries=False,
                maxsize=1,
            )
        try:
            response = pool.urlopen(
                "GET",
                target.path,
                headers={"Host": target.netloc, "User-Agent": USER_AGENT},
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
        except HTTPError as error:
            problems.append(f"{address}: {_reason(error)}")
            continue
        finally:
            pool.close()
        # The body is never read: a probe keeps the status and nothing the service said.
        response.close()
        location = response.headers.get("Location")
        return response.status, location[:200] if location else None
    raise ProbeFailed("no answer (" + "; ".join(problems or ["no address"]) + ")")


def _reason(error: HTTPError) -> str:
    reason = getattr(error, "reason", None) or error
    return type(reason).__name__ + (f": {reason}" if str(reason) else "")
