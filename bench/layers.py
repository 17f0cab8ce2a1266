"""Measure the package graph of `bot`: arrows that point up the layers, mutual package pairs,
the largest file. `python bench/layers.py` prints the figures; the contract itself is checked by
import-linter in CI (pyproject.toml, [tool.importlinter]), whose layers this reads; `--coarse`
measures with the three coarse layers the figures were first taken with."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "bot"
PYPROJECT = ROOT.parent / "pyproject.toml"
# The coarse layers this was first measured with (issue 14), top to bottom; with --coarse.
COARSE = [
    {"cli", "serve", "demo", "app", "web", "__main__", "context", "testing", "tables", "wiring"},
    {"slack", "k8s", "scheduling", "reports", "probes", "faults", "schedule"},
    {"catalog", "library", "runs", "gamedays", "drills", "findings", "compliance", "audit"},
]


def contract_layers() -> list[set[str]]:
    """The layers of import-linter's contract in pyproject.toml, as package names."""
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in config if c.get("id") == "layers")
    return [
        {name.strip().removeprefix("bot.") for name in re.split(r"[:|]", layer)} for layer in layers
    ]


# Top to bottom; a package not named is a shared leaf, at the bottom.
LAYERS = COARSE if "--coarse" in sys.argv else contract_layers()


def _layer(package: str) -> int:
    for index, names in enumerate(LAYERS):
        if package in names:
            return index
    return len(LAYERS)


def _package(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    return rel.parts[0]


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = ["bot", *rel.parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "bot" or name.startswith("bot.")}


def main() -> None:
    files = [p for p in ROOT.rglob("*.py") if "migrations" not in p.parts]
    arrows: set[tuple[str, str]] = set()
    packages: set[tuple[str, str]] = set()
    for path in files:
        source = _module(path)
        for target in imports(path):
            arrows.add((source, target))
            parts = target.split(".")
            if len(parts) > 1 and parts[1] != _package(path):
                packages.add((_package(path), parts[1]))
    up = sorted((a, b) for a, b in packages if _layer(b) < _layer(a))
    module_up = [
        (a, b)
        for a, b in arrows
        if len(b.split(".")) > 1 and _layer(b.split(".")[1]) < _layer(a.split(".")[1])
    ]
    mutual = sorted({tuple(sorted(p)) for p in packages if (p[1], p[0]) in packages})
    largest = max(files, key=lambda p: len(p.read_text().splitlines()))
    print(f"module arrows: {len(arrows)}; pointing up a layer: {len(module_up)}")
    print(f"package arrows pointing up: {len(up)}: {up}")
    print(f"mutual package pairs: {len(mutual)}: {mutual}")
    print(
        f"largest file: {largest.relative_to(ROOT.parent)} ({len(largest.read_text().splitlines())} lines)"
    )


if __name__ == "__main__":
    main()
