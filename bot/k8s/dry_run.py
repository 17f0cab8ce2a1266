"""Server-side dry runs: every write the run's faults make goes to the API with `dryRun=All`.

The API server then validates and admits each write exactly as it would for real (PDBs,
quotas, schemas) and persists nothing, so the list of writes is exactly what the run would
touch. This is process-wide, which is why only a dry run's own worker process turns it on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from kubernetes.client import rest

__all__ = ["server_side_dry_run"]

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_lock = threading.Lock()


@contextmanager
def server_side_dry_run() -> Iterator[list[str]]:
    """Within the block, writes carry dryRun=All; yields the list of writes, as they happen."""
    writes: list[str] = []
    original = rest.RESTClientObject.request

    def request(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if method.upper() in _WRITES:
            url = f"{url}{'&' if '?' in url else '?'}dryRun=All"
            writes.append(_describe(method, url, kwargs.get("body")))
        return original(self, method, url, *args, **kwargs)

    with _lock:
        rest.RESTClientObject.request = request  # type: ignore[method-assign]
        try:
            yield writes
        finally:
            rest.RESTClientObject.request = original  # type: ignore[method-assign]


def _describe(method: str, url: str, body: Any) -> str:
    """`delete pods payments/checkout-1` from `DELETE .../namespaces/payments/pods/checkout-1`."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    verb = {"POST": "create", "PUT": "replace", "PATCH": "patch", "DELETE": "delete"}[
        method.upper()
    ]
    namespace = ""
    if "namespaces" in parts and parts.index("namespaces") + 2 < len(parts):
        index = parts.index("namespaces")
        namespace = parts[index + 1] + "/"
        parts = parts[index + 2 :]
    else:
        # /api/v1/nodes/x or /apis/group/version/kind/x
        parts = parts[2:] if parts[0] == "api" else parts[3:]
    if parts[-1] == "eviction":
        return f"evict pod {namespace}{parts[1]}"
    name = "/".join(parts[1:])
    if not name and isinstance(body, dict):
        name = str(body.get("metadata", {}).get("name", ""))
    return f"{verb} {parts[0]} {namespace}{name}".rstrip()
