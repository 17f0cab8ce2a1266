"""The three PATCH flavours of the Kubernetes API: JSON patch, JSON merge patch, strategic merge.

- ``application/json-patch+json``: RFC 6902 (add, remove, replace, move, copy, test).
- ``application/merge-patch+json``: RFC 7386 (objects merge, ``null`` deletes, lists replace).
- ``application/strategic-merge-patch+json``: an approximation of Kubernetes' strategic merge
  patch. The real server reads a patch strategy and merge key per field from the Go types
  (containers merge on ``name``, container ports on ``containerPort``, conditions on ``type``,
  tolerations replace...). Here a list merges by ``name`` when every item of both the patch list
  and the stored list is an object with a string ``name`` (containers, env, volumes, named
  ports...); every other list is replaced as in a merge patch. The ``$patch: delete`` directive
  removes a named list item or a map, ``$patch: replace`` replaces a map; other ``$``
  directives (``$setElementOrder``, ``$retainKeys``...) are ignored.
"""

from __future__ import annotations

import copy
from typing import Any

from bot.testing.kube.model import ApiError, JsonObject

__all__ = [
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "PatchError",
    "apply_patch",
    "json_patch",
    "merge_patch",
    "strategic_merge_patch",
]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


class PatchError(ValueError):
    """A patch that cannot be applied to the document."""


def apply_patch(
    content_type: str | None, target: JsonObject, patch: Any, *, strategic: bool = True
) -> JsonObject:
    """The object a PATCH request produces, or an ApiError as the real server answers it.

    strategic=False refuses strategic merge patches, as the server does for custom resources.
    """
    accepted = [JSON_PATCH, MERGE_PATCH] + ([STRATEGIC_MERGE_PATCH] if strategic else [])
    if content_type not in accepted:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(accepted)}",
        )
    if content_type == JSON_PATCH and not isinstance(patch, list):
        raise ApiError.bad_request("a JSON patch must be a list of operations")
    if content_type != JSON_PATCH and not isinstance(patch, dict):
        raise ApiError.bad_request("a merge patch must be a JSON object")
    try:
        if content_type == JSON_PATCH:
            result = json_patch(target, patch)
        elif content_type == MERGE_PATCH:
            result = merge_patch(target, patch)
        else:
            result = strategic_merge_patch(target, patch)
    except PatchError as error:
        raise ApiError(
            422,
            "Invalid",
            f"the server rejected our request due to an error in our request: {error}",
        ) from None
    if not isinstance(result, dict):
        raise ApiError(422, "Invalid", "the patched document is not an object")
    return result


# --- RFC 6902 -------------------------------------------------------------------------------


def json_patch(document: Any, operations: list[Any]) -> Any:
    """Apply RFC 6902 operations to a copy of the document."""
    result = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise PatchError(f"malformed operation {operation!r}")
        result = _apply_operation(result, operation)
    return result


def _apply_operation(document: Any, operation: JsonObject) -> Any:
    path = _pointer(operation["path"])
    match operation["op"]:
        case "add":
            return _add(document, path, copy.deepcopy(_value(operation)))
        case "remove":
            return _remove(document, path)
        case "replace":
            _get(document, path)  # replace requires the target to exist
            return _add(_remove(document, path), path, copy.deepcopy(_value(operation)))
        case "move":
            source = _pointer(operation.get("from", ""))
            value = _get(document, source)
            return _add(_remove(document, source), path, value)
        case "copy":
            source = _pointer(operation.get("from", ""))
            return _add(document, path, copy.deepcopy(_get(document, source)))
        case "test":
            if _get(document, path) != _value(operation):
                raise PatchError(f"test operation failed at {operation['path']}")
            return document
    raise PatchError(f"unknown operation {operation['op']!r}")


def _value(operation: JsonObject) -> Any:
    if "value" not in operation:
        raise PatchError(f"operation {operation['op']} at {operation['path']} needs a value")
    return operation["value"]


def _pointer(text: Any) -> list[str]:
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise PatchError(f"invalid JSON pointer {text!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in text.split("/")[1:]]


def _index(container: list[Any], token: str, *, insert: bool) -> int:
    if token == "-" and insert:
        return len(container)
    if not token.isdigit():
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not insert):
        raise PatchError(f"array index {index} out of range")
    return index


def _get(document: Any, path: list[str]) -> Any:
    current = document
    for token in path:
        if isinstance(current, dict) and token in current:
            current = current[token]
        elif isinstance(current, list):
            current = current[_index(current, token, insert=False)]
        else:
            raise PatchError(f"doc is missing path: /{'/'.join(path)}")
    return current


def _add(document: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _get(document, path[:-1])
    if isinstance(parent, dict):
        parent[path[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, path[-1], insert=True), value)
    else:
        raise PatchError(f"cannot add at /{'/'.join(path)}")
    return document


def _remove(document: Any, path: list[str]) -> Any:
    if not path:
        return None
    parent = _get(document, path[:-1])
    if isinstance(parent, dict) and path[-1] in parent:
        del parent[path[-1]]
    elif isinstance(parent, list):
        parent.pop(_index(parent, path[-1], insert=False))
    else:
        raise PatchError(f"doc is missing path: /{'/'.join(path)}")
    return document


# --- RFC 7386 -------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch: objects merge recursively, null deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- strategic merge (approximate, see the module docstring) -----------------------------------


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch: a merge patch whose lists of named objects merge by name."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return _without_directives(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            result.pop(key, None)
        elif _named_list(value) and _named_list(result.get(key)):
            result[key] = _merge_named(result[key], value)
        elif isinstance(value, dict):
            result[key] = strategic_merge_patch(result.get(key), value)
        else:
            result[key] = _without_directives(value)
    return result


def _named_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in value)
    )


def _merge_named(current: list[JsonObject], patch: list[JsonObject]) -> list[JsonObject]:
    result = copy.deepcopy(current)
    for item in patch:
        names = [existing["name"] for existing in result]
        if item.get("$patch") == "delete":
            result = [existing for existing in result if existing["name"] != item["name"]]
        elif item["name"] in names:
            position = names.index(item["name"])
            result[position] = strategic_merge_patch(result[position], item)
        else:
            result.append(_without_directives(item))
    return result


def _without_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_without_directives(item) for item in value]
    return value
