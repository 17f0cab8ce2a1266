"""YAML text to plain JSON-like values, remembering the line of every mapping key and list item.

Built on PyYAML's safe loader, but constructing values from its composed nodes itself, so that
every problem is reported with a line instead of surfacing as an exception from the middle of
PyYAML: duplicate keys and keys that are not text (YAML 1.1 reads `on:` as true), dates and
other values JSON cannot hold, unknown tags. Aliases are refused: nested aliases expand
exponentially, and a declaration never needs them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

__all__ = ["MAX_DEPTH", "Path", "YamlDocument", "YamlProblem", "load_yaml_documents"]

# A path into a document: mapping keys and list indexes, ("spec", "probes", 0, "url").
Path = tuple[str | int, ...]

MAX_DEPTH = 32

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _TIMESTAMP = f"{_TAG}map", f"{_TAG}seq", f"{_TAG}timestamp"


@dataclass(frozen=True)
class YamlProblem:
    """Something wrong at a line: YAML syntax, or a value chaosbot's documents cannot hold."""

    line: int
    path: Path
    message: str


@dataclass(frozen=True, kw_only=True)
class YamlDocument:
    """One document of the stream: its value and the line of every key and item in it."""

    value: Any
    line: int
    lines: Mapping[Path, int]

    def line_of(self, path: Path) -> int:
        """The line of `path`, or of its nearest ancestor present in the document."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, self.line)


def load_yaml_documents(text: str) -> tuple[list[YamlDocument], list[YamlProblem]]:
    """Every non-empty document of `text`, and every problem found in them.

    A syntax error ends the stream there: the documents before it are still returned.
    """
    documents: list[YamlDocument] = []
    problems: list[YamlProblem] = []
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        while loader.check_node():
            node = loader.get_node()
            if node is None or (node.tag == _NULL and node.value == ""):
                continue  # an empty document, as after a trailing `---`
            builder = _Builder(loader)
            value = builder.value(node, (), 0)
            documents.append(
                YamlDocument(value=value, line=node.start_mark.line + 1, lines=builder.lines)
            )
            problems.extend(builder.problems)
    except yaml.MarkedYAMLError as exc:
        problems.append(_syntax_problem(exc))
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        problems.append(YamlProblem(line, (), f"character #x{exc.character:04x} is not allowed"))
    except RecursionError:
        line = loader.line + 1 if loader is not None else 1
        problems.append(YamlProblem(line, (), f"nested more than {MAX_DEPTH} levels deep"))
    finally:
        if loader is not None:
            loader.dispose()
    return documents, problems


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing aliases before it resolves them."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ComposerError(
                None,
                None,
                "aliases (*name) are not supported: write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def _syntax_problem(exc: yaml.MarkedYAMLError) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    message = exc.problem or "invalid YAML"
    if exc.context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
        message = f"{message} ({exc.context} on line {exc.context_mark.line + 1})"
    elif exc.context:
        message = f"{message} ({exc.context})"
    return YamlProblem(line, (), f"invalid YAML: {message}")


class _Builder:
    """Builds one document's value from its nodes, recording lines and problems."""

    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.lines: dict[Path, int] = {}
        self.problems: list[YamlProblem] = []

    def fail(self, node: Node, path: Path, message: str) -> None:
        self.problems.append(YamlProblem(node.start_mark.line + 1, path, message))

    def value(self, node: Node, path: Path, depth: int) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if depth > MAX_DEPTH:
            self.fail(node, path, f"nested more than {MAX_DEPTH} levels deep")
            return None
        if isinstance(node, MappingNode) and node.tag == _MAP:
            return self.mapping(node, path, depth)
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            return [
                self.value(item, (*path, index), depth + 1) for index, item in enumerate(node.value)
            ]
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        self.fail(node, path, f"the YAML type {node.tag} is not supported")
        return None

    def mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not (isinstance(key_node, ScalarNode) and key_node.tag == _STR):
                shown = repr(key_node.value) if isinstance(key_node, ScalarNode) else "this key"
                self.fail(key_node, path, f"{shown} is not text: put the key in quotes")
                continue
            key = key_node.value
            if key in result:
                first = self.lines[(*path, key)]
                self.fail(key_node, (*path, key), f"duplicate key (first on line {first})")
                continue
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = self.value(value_node, (*path, key), depth + 1)
        return result

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        if node.tag == _STR:
            return node.value
        if node.tag == _TIMESTAMP:
            self.fail(node, path, f"{node.value!r} is read as a date: put it in quotes")
            return None
        construct = {
            _NULL: self.loader.construct_yaml_null,
            _BOOL: self.loader.construct_yaml_bool,
            _INT: self.loader.construct_yaml_int,
            _FLOAT: self.loader.construct_yaml_float,
        }.get(node.tag)
        if construct is None:
            self.fail(node, path, f"the YAML type {node.tag} is not supported")
            return None
        try:
            value = construct(node)
        except (ValueError, KeyError):
            self.fail(node, path, f"{node.value!r} is not a valid {node.tag.removeprefix(_TAG)}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(node, path, f"{node.value!r} is not a finite number")
            return None
        return value
