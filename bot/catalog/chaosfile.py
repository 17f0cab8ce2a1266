"""chaos.yaml: services declared in a file, read with the line of every field, and written back.

A file holds one or more `Service` documents separated by `---`. Each is checked in three
steps, each reporting every problem it finds: YAML (syntax, duplicate keys, values JSON cannot
hold), structure (chaos.schema.json, the schema editors show), then the rules of
`parse_service_spec`, the validator the onboarding modal uses too. Later steps run on a document
once the earlier ones pass. Every problem is a `LocatedError` naming the file, line and field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.catalog.chaos_schema import chaos_schema, schema_problems
from bot.catalog.spec import CatalogPolicy, FieldError, ServiceSpec, SpecInvalid, to_document
from bot.catalog.spec_parse import parse_service_spec
from bot.catalog.yaml_positions import KeyPath, YamlDocument, load_yaml_documents
from bot.errors import ChaosbotError

__all__ = [
    "API_VERSION",
    "KIND",
    "ChaosDocument",
    "ChaosfileIOError",
    "ChaosfileInvalid",
    "LocatedError",
    "dump_documents",
    "format_path",
    "load_documents",
    "read_chaosfile",
    "write_chaosfile",
]

API_VERSION: str = chaos_schema()["properties"]["apiVersion"]["const"]
KIND: str = chaos_schema()["properties"]["kind"]["const"]

HEADER = """\
# chaos.yaml: services registered with chaosbot, one document per service.
# Apply changes with:
#   chaosbot apply -f chaos.yaml --dry-run   # shows what would change, writes nothing
#   chaosbot apply -f chaos.yaml
# Every field is described in docs/chaos-yaml.md.
"""

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True, kw_only=True)
class LocatedError:
    """One problem, where it is: `chaos.yaml:14: spec.probes[0].url: must be ... URL`."""

    source: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ChaosfileInvalid(ChaosbotError):
    """A chaos.yaml with one or more problems; nothing of it was applied."""

    def __init__(self, errors: Sequence[LocatedError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.source, e.line, e.path, e.message))
        super().__init__("\n".join(str(e) for e in self.errors))


class ChaosfileIOError(ChaosbotError):
    """A chaos.yaml that cannot be read or written."""

    def __init__(self, path: str, *, action: str, reason: str) -> None:
        self.path = path
        super().__init__(f"cannot {action} {path}: {reason}")


@dataclass(frozen=True, kw_only=True)
class ChaosDocument:
    """One valid Service document of a file: the declaration, and where its fields are."""

    spec: ServiceSpec
    source: str
    yaml: YamlDocument

    def locate(self, error: FieldError) -> LocatedError:
        """Place a problem with a field of the declaration (`probes[0].url`) in the file."""
        return _locate(error, source=self.source, document=self.yaml)


def load_documents(text: str, *, source: str, policy: CatalogPolicy) -> list[ChaosDocument]:
    """The Service documents of a chaos.yaml; raises ChaosfileInvalid listing every problem.

    `source` names the file in the errors.
    """
    documents, stream_problems = load_yaml_documents(text)
    errors = [
        LocatedError(source=source, line=p.line, path=format_path(p.path), message=p.message)
        for p in stream_problems
    ]
    loaded: list[ChaosDocument] = []
    for document in documents:
        found = _load(document, source=source, policy=policy)
        if isinstance(found, ChaosDocument):
            loaded.append(found)
        else:
            errors.extend(found)
    errors.extend(_duplicate_names(loaded))
    if not documents and not errors:
        errors.append(
            LocatedError(
                source=source, line=1, path="", message=f"the file holds no {KIND} documents"
            )
        )
    if errors:
        raise ChaosfileInvalid(errors)
    return loaded


def read_chaosfile(path: str, *, policy: CatalogPolicy) -> list[ChaosDocument]:
    """The Service documents of the UTF-8 file at `path` (see load_documents)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ChaosfileIOError(path, action="read", reason=exc.strerror or str(exc)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = LocatedError(source=path, line=line, path="", message="is not UTF-8 text")
        raise ChaosfileInvalid([problem]) from None
    return load_documents(text, source=path, policy=policy)


def dump_documents(specs: Sequence[ServiceSpec]) -> str:
    """A chaos.yaml declaring `specs`, one document each, that load_documents reads back."""
    body = yaml.safe_dump_all(
        [_document(spec) for spec in specs],
        sort_keys=False,
        explicit_start=True,
        allow_unicode=True,
        width=100,
    )
    return HEADER + body


def write_chaosfile(path: str, specs: Sequence[ServiceSpec]) -> None:
    """Write dump_documents(specs) to the file at `path`."""
    try:
        Path(path).write_text(dump_documents(specs), encoding="utf-8")
    except OSError as exc:
        raise ChaosfileIOError(path, action="write", reason=exc.strerror or str(exc)) from None


def format_path(path: KeyPath) -> str:
    """`("spec", "probes", 0, "url")` as `spec.probes[0].url`; the whole document is ""."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _load(
    document: YamlDocument, *, source: str, policy: CatalogPolicy
) -> ChaosDocument | list[LocatedError]:
    def at(line: int, path: KeyPath, message: str) -> LocatedError:
        return LocatedError(source=source, line=line, path=format_path(path), message=message)

    if document.problems:
        return [at(p.line, p.path, p.message) for p in document.problems]
    problems = schema_problems(document.value)
    if problems:
        return [
            at(
                document.line_of(p.path),
                p.path,
                p.message if p.path else f"the document {p.message}",
            )
            for p in problems
        ]
    value: dict[str, Any] = document.value
    raw = {**(value["spec"]), "name": value["metadata"]["name"]}
    try:
        spec = parse_service_spec(raw, policy=policy)
    except SpecInvalid as exc:
        return [_locate(e, source=source, document=document) for e in exc.errors]
    return ChaosDocument(spec=spec, source=source, yaml=document)


def _duplicate_names(documents: list[ChaosDocument]) -> list[LocatedError]:
    first: dict[str, ChaosDocument] = {}
    errors: list[LocatedError] = []
    for document in documents:
        name = document.spec.name
        if name in first:
            line = first[name].yaml.line_of(("metadata", "name"))
            problem = FieldError("name", f"{name} is declared on line {line} already")
            errors.append(document.locate(problem))
        else:
            first[name] = document
    return errors


def _locate(error: FieldError, *, source: str, document: YamlDocument) -> LocatedError:
    path = _document_path(error.path)
    return LocatedError(
        source=source, line=document.line_of(path), path=format_path(path), message=error.message
    )


def _document_path(spec_path: str) -> KeyPath:
    """A declaration's field path (`probes[0].url`, `name`) as a path into the document."""
    parts: list[str | int] = [
        int(index) if index else key for key, index in _PATH_PART.findall(spec_path)
    ]
    if parts == ["name"]:
        return ("metadata", "name")
    return ("spec", *parts)


def _document(spec: ServiceSpec) -> dict[str, Any]:
    body = to_document(spec)
    name = body.pop("name")
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": body}
