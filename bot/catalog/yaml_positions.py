"""YAML text to plain JSON-like values, remembering the line of every mapping key and list item.

Built on PyYAML's safe loader, but constructing values from its composed nodes itself, so that
every problem is reported with a line instead of surfacing as an exception from the middle of
PyYAML: duplicate keys and keys that are not text (YAML 1.1 reads `on:` as true), dates and
other values JSON cannot hold, unknown tags. Aliases are refused: nested aliases expand
exponentially, and a declaration never needs them.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

__all__ = ["KeyPath", "YamlDocument", "YamlProblem", "load_yaml_documents"]

# A path into a document: mapping keys and list indexes, ("spec", "probes", 0, "url").
KeyPath = tuple[str | int, ...]

# Deeper than any declaration; a bound keeps the recursion of the builder (and PyYAML) in check.
_MAX_DEPTH = 32

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _TIMESTAMP, _MERGE = (f"{_TAG}{t}" for t in ("map", "seq", "timestamp", "merge"))
_UNSTORABLE = "holds a NUL character or a lone surrogate, which cannot be stored"


@dataclass(frozen=True)
class YamlProblem:
    """Something wrong at a line: YAML syntax, or a value chaosbot's documents cannot hold."""

    line: int
    path: KeyPath
    message: str


@dataclass(frozen=True, kw_only=True)
class YamlDocument:
    """One document of the stream: its value, the line of every key and item, its problems.

    A value with problems has None where the problem was.
    """

    value: Any
    line: int
    lines: Mapping[KeyPath, int]
    problems: tuple[YamlProblem, ...] = ()

    def line_of(self, path: KeyPath) -> int:
        """The line of `path`, or of its nearest ancestor present in the document."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, self.line)


def load_yaml_documents(text: str) -> tuple[list[YamlDocument], list[YamlProblem]]:
    """Every non-empty document of `text`, and the syntax error that ended the stream, if any.

    The documents before a syntax error are still returned.
    """
    documents: list[YamlDocument] = []
    problems: list[YamlProblem] = []
    lines = _Lines(text)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        while loader.check_node():
            node = loader.get_node()
            if node is None or (node.tag == _NULL and node.value == ""):
                continue  # an empty document, as after a trailing `---`
            builder = _Builder(loader, lines)
            value = builder.value(node, (), 0)
            documents.append(
                YamlDocument(
                    value=value,
                    line=lines.at(node.start_mark.index),
                    lines=builder.lines,
                    problems=tuple(builder.problems),
                )
            )
    except yaml.MarkedYAMLError as exc:
        problems.append(_syntax_problem(exc, lines))
    except ReaderError as exc:
        line = lines.at(exc.position)
        problems.append(YamlProblem(line, (), f"character #x{exc.character:04x} is not allowed"))
    except RecursionError:
        line = loader.line + 1 if loader is not None else 1
        problems.append(YamlProblem(line, (), f"nested more than {_MAX_DEPTH} levels deep"))
    finally:
        if loader is not None:
            loader.dispose()
    return documents, problems


class _Lines:
    """Line numbers as editors count them.

    Lines end at \\n, \\r\\n or \\r. PyYAML's marks also end them at NEL, LS and PS (YAML 1.1),
    which editors show within a line. A position past the last line is on the last line.
    """

    def __init__(self, text: str) -> None:
        self._starts = [0, *(m.end() for m in re.finditer(r"\r\n|\r|\n", text))]
        self._last = bisect.bisect_right(self._starts, len(text.rstrip("\r\n")))

    def at(self, index: int) -> int:
        """The line of the character at `index`."""
        return min(bisect.bisect_right(self._starts, index), self._last)


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing aliases before it resolves them."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            raise ComposerError(
                None,
                None,
                "aliases (*name) are not supported: write the value out",
                self.current_event.start_mark,  # the event check_event just looked at
            )
        return super().compose_node(parent, index)


def _syntax_problem(exc: yaml.MarkedYAMLError, lines: _Lines) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    line = lines.at(mark.index) if mark is not None else 1
    context_line = lines.at(exc.context_mark.index) if exc.context_mark is not None else line
    message = exc.problem or "invalid YAML"
    if exc.context and context_line != line:
        message = f"{message} ({exc.context} on line {context_line})"
    elif exc.context:
        message = f"{message} ({exc.context})"
    return YamlProblem(line, (), f"invalid YAML: {message}")


class _Builder:
    """Builds one document's value from its nodes, recording lines and problems."""

    def __init__(self, loader: _Loader, text_lines: _Lines) -> None:
        self.loader = loader
        self.text_lines = text_lines
        self.lines: dict[KeyPath, int] = {}
        self.problems: list[YamlProblem] = []

    def fail(self, node: Node, path: KeyPath, message: str) -> None:
        self.problems.append(YamlProblem(self.line(node), path, message))

    def line(self, node: Node) -> int:
        return self.text_lines.at(node.start_mark.index)

    def value(self, node: Node, path: KeyPath, depth: int) -> Any:
        self.lines.setdefault(path, self.line(node))
        if depth > _MAX_DEPTH:
            self.fail(node, path, f"nested more than {_MAX_DEPTH} levels deep")
            return None
        if isinstance(node, MappingNode) and node.tag == _MAP:
            return self.mapping(node, path, depth)
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            return [
                self.value(item, (*path, index), depth + 1) for index, item in enumerate(node.value)
            ]
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        self.fail(node, path, f"the YAML type {_show_tag(node.tag)} is not supported")
        return None

    def mapping(self, node: MappingNode, path: KeyPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                self.fail(key_node, path, "merge keys (<<) are not supported: write the keys out")
                continue
            if not (isinstance(key_node, ScalarNode) and key_node.tag == _STR):
                shown = repr(key_node.value) if isinstance(key_node, ScalarNode) else "this key"
                self.fail(key_node, path, f"{shown} is not text: put the key in quotes")
                continue
            key = key_node.value
            if not _storable(key):
                self.fail(key_node, path, f"{key!r} {_UNSTORABLE}")
                continue
            if key in result:
                first = self.lines[(*path, key)]
                self.fail(key_node, (*path, key), f"duplicate key (first on line {first})")
                continue
            self.lines[(*path, key)] = self.line(key_node)
            result[key] = self.value(value_node, (*path, key), depth + 1)
        return result

    def scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        if node.tag == _STR:
            if not _storable(node.value):
                self.fail(node, path, f"{node.value!r} {_UNSTORABLE}")
                return None
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
            self.fail(node, path, f"the YAML type {_show_tag(node.tag)} is not supported")
            return None
        try:
            value = construct(node)
        except (ValueError, KeyError):
            self.fail(node, path, f"{node.value!r} is not a valid {_show_tag(node.tag)}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(node, path, f"{node.value!r} is not a finite number")
            return None
        return value


def _storable(text: str) -> bool:
    """Whether a database can store the text: no NUL, no lone surrogate (YAML's "\\ud800")."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _show_tag(tag: str) -> str:
    """A tag as it is written in YAML: `!!binary`, `!custom`."""
    return f"!!{tag.removeprefix(_TAG)}" if tag.startswith(_TAG) else tag
