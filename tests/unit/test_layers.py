"""The layers hold, and the check that guards them fails when a domain module imports Slack.

The contracts are import-linter's, in pyproject.toml; .ci/run runs `lint-imports` too. The second
test proves the check is not vacuous: the same contracts, run on a copy of the package with one
domain module importing the Slack adapter, must break.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_package_keeps_its_layers() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_domain_module_importing_slack_breaks_the_check(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    states = tmp_path / "bot" / "runs" / "states.py"
    states.write_text(states.read_text() + "\nimport bot.slack.blockkit  # noqa\n")
    result = _lint_imports(tmp_path)
    assert result.returncode == 1
    assert "bot.runs.states -> bot.slack.blockkit" in result.stdout
