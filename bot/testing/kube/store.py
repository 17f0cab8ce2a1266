"""The in-memory object database behind the Kubernetes API test server."""

from __future__ import annotations

import copy
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.testing.kube.model import RESOURCES, JsonObject, now_rfc3339

__all__ = [
    "ObjectStore",
    "controller_uid",
    "delete_object",
    "is_terminating",
    "owner_reference",
    "stamp_new",
]


class ObjectStore:
    """Objects keyed by resource, namespace and name, with a cluster-wide resourceVersion counter.

    Everything that reads or writes holds `lock` (re-entrant, so a write can run the
    controllers before releasing it). Callers never mutate a stored dict in place: they copy,
    change, and `put` the copy, which is what bumps the resourceVersion.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._objects: dict[str, dict[tuple[str, str], JsonObject]] = {
            rt.plural: {} for rt in RESOURCES
        }
        self._revision = 0

    @property
    def revision(self) -> str:
        """The newest resourceVersion handed out (what a list reports)."""
        return str(self._revision)

    def get(self, plural: str, namespace: str | None, name: str) -> JsonObject | None:
        """The stored object, or None; the dict is the store's own, so do not mutate it."""
        return self._objects[plural].get((namespace or "", name))

    def objects(self, plural: str, namespace: str | None = None) -> list[JsonObject]:
        """The stored objects of a resource (in one namespace, or all), ordered by namespace/name."""
        table = self._objects[plural]
        return [table[key] for key in sorted(table) if namespace is None or key[0] == namespace]

    def put(self, plural: str, obj: JsonObject) -> JsonObject:
        """Store obj under a new resourceVersion and return it."""
        self._revision += 1
        metadata = obj["metadata"]
        metadata["resourceVersion"] = str(self._revision)
        self._objects[plural][(metadata.get("namespace") or "", metadata["name"])] = obj
        return obj

    def update(self, plural: str, obj: JsonObject) -> bool:
        """Store obj if it differs from the stored version (so no-op writes keep their version)."""
        metadata = obj["metadata"]
        current = self.get(plural, metadata.get("namespace"), metadata["name"])
        if current is not None and _without_version(current) == _without_version(obj):
            return False
        self.put(plural, obj)
        return True

    def remove(self, plural: str, namespace: str | None, name: str) -> JsonObject | None:
        """Delete an object and return it (None if it was not there)."""
        return self._objects[plural].pop((namespace or "", name), None)

    def uids(self) -> set[str]:
        """The uid of every stored object (the garbage collector's view of who exists)."""
        return {
            obj["metadata"]["uid"] for table in self._objects.values() for obj in table.values()
        }


def _without_version(obj: JsonObject) -> JsonObject:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": None}}


def stamp_new(obj: JsonObject) -> JsonObject:
    """Give a new object the fields the server assigns at creation (uid, timestamp, generation)."""
    metadata = obj.setdefault("metadata", {})
    metadata["uid"] = str(uuid.uuid4())
    metadata["creationTimestamp"] = now_rfc3339()
    metadata["generation"] = 1
    for server_owned in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
        metadata.pop(server_owned, None)
    return obj


def owner_reference(owner: JsonObject) -> JsonObject:
    """A controller ownerReference pointing at owner."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_uid(obj: JsonObject) -> str | None:
    """The uid of the object's controlling owner, if it has one."""
    references: list[Any] = obj["metadata"].get("ownerReferences") or []
    for reference in references:
        if reference.get("controller"):
            return str(reference["uid"])
    return None


def is_terminating(obj: JsonObject) -> bool:
    """Whether the object has been asked to go away."""
    return bool(obj["metadata"].get("deletionTimestamp"))


def delete_object(
    store: ObjectStore, plural: str, obj: JsonObject, grace_seconds: int = 0
) -> JsonObject | None:
    """Delete obj as the API server does: at once, or, while metadata.finalizers hold it, by
    marking it terminating (deletionTimestamp now plus the grace period, and
    deletionGracePeriodSeconds) and returning the marked object.

    A second delete of an object already terminating changes nothing. The object goes when an
    update empties its finalizers (the simulated kubelet's part of a graceful delete is instant).
    """
    metadata = obj["metadata"]
    if not metadata.get("finalizers"):
        store.remove(plural, metadata.get("namespace"), metadata["name"])
        return None
    if is_terminating(obj):
        return obj
    marked = copy.deepcopy(obj)
    deadline = datetime.now(UTC) + timedelta(seconds=max(0, grace_seconds))
    marked["metadata"]["deletionTimestamp"] = deadline.strftime("%Y-%m-%dT%H:%M:%SZ")
    marked["metadata"]["deletionGracePeriodSeconds"] = max(0, grace_seconds)
    return store.put(plural, marked)
