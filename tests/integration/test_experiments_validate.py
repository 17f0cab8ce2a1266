"""The library passes the Chaos Toolkit CLI's own `chaos validate`, as templates and rendered.

`chaos validate` runs in subprocesses, concurrently, without its version check, log file or the
user's settings. The rendered experiments are also what `chaosbot experiments render` writes for
a service read from the database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import bot
from bot.catalog.service import save_service
from bot.catalog.spec import CatalogPolicy
from bot.catalog.spec_parse import parse_service_spec
from bot.db.engine import Database
from bot.library.catalogue import load_catalogue
from bot.library.render import render
from tests.fixtures.library import library_main

CHAOS = Path(sys.executable).parent / "chaos"
IDS = sorted(t.id for t in load_catalogue())
PROBES = [
    {"url": "https://checkout.payments.svc/healthz", "expectedStatus": 204, "latencyBudgetMs": 800}
]


@pytest.fixture(scope="module")
def validations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """`chaos validate` of every template, every rendered template and one broken experiment."""
    folder = tmp_path_factory.mktemp("rendered")
    files = {f"template:{t.id}": t.path for t in load_catalogue()}
    for template in load_catalogue():
        document = _rendered(template.id)
        files[f"rendered:{template.id}"] = _write(folder / f"{template.id}.json", document)
    broken = _rendered("pod-kill")
    broken["method"][0]["provider"]["func"] = "no_such_fault"
    files["broken"] = _write(folder / "broken.json", broken)
    settings = folder / "settings.yaml"  # absent: the user's own settings stay out of it
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda path: _validate(path, settings), files.values())
        return dict(zip(files, results, strict=True))


@pytest.mark.parametrize("experiment", IDS)
def test_template_passes_chaos_validate(experiment: str, validations: dict[str, Any]) -> None:
    code, output = validations[f"template:{experiment}"]
    assert code == 0, output
    assert "experiment syntax and semantic look valid" in output


@pytest.mark.parametrize("experiment", IDS)
def test_rendered_experiment_passes_chaos_validate(
    experiment: str, validations: dict[str, Any]
) -> None:
    code, output = validations[f"rendered:{experiment}"]
    assert code == 0, output
    assert "experiment syntax and semantic look valid" in output


def test_chaos_validate_refuses_a_broken_experiment(validations: dict[str, Any]) -> None:
    code, output = validations["broken"]
    assert code != 0
    assert "no_such_fault" in output


@pytest.mark.storage
def test_cli_renders_for_a_registered_service(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = parse_service_spec(
        {
            "name": "checkout",
            "team": "payments",
            "teamChannel": "C0PAYMENTS",
            "tier": 2,
            "cluster": "staging-eu",
            "namespace": "payments",
            "selector": "app=checkout",
            "owners": ["U0ALICE"],
            "probes": PROBES,
            "suite": [{"experiment": "pod-kill", "parameters": {"count": 2}}],
        },
        policy=CatalogPolicy(allowed_namespaces=frozenset({"payments"})),
    )
    with db.session() as session:
        now = datetime(2026, 1, 5, tzinfo=UTC)
        save_service(session=session, spec=spec, selector="app=checkout", actor="test", now=now)
    monkeypatch.setenv("CHAOSBOT_DATABASE_URL", database_url)
    output = tmp_path / "pod-kill.json"
    argv = ["experiments", "render", "pod-kill", "--service", "checkout", "--set", "percent=50"]
    assert library_main([*argv, "--run-id", "r-1", "-o", str(output)]) == 0
    document = json.loads(output.read_text())
    configuration = document["configuration"]
    assert configuration["namespace"] == "payments"
    assert configuration["label_selector"] == "app=checkout"
    assert configuration["run_id"] == "r-1"
    assert (configuration["count"], configuration["percent"]) == (2, 50)  # suite, then --set
    assert document["secrets"] == {"kubernetes": {"KUBERNETES_CONTEXT": "staging-eu"}}
    [probe] = document["steady-state-hypothesis"]["probes"]
    assert probe["tolerance"] == 204 and probe["provider"]["arguments"]["timeout"] == 0.8
    code, text = _validate(output, tmp_path / "settings.yaml")
    assert code == 0, text


def _rendered(experiment: str) -> dict[str, Any]:
    return render(
        load_catalogue().get(experiment),
        namespace="payments",
        label_selector="app=checkout,tier in (web)",
        probes=PROBES,
        run_id="r-5f2c9a1b7e",
        hold_seconds=30,
        context="staging-eu",
    )


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _validate(path: Path, settings: Path) -> tuple[int, str]:
    command = [str(CHAOS), "--no-version-check", "--no-log-file", "--settings", str(settings)]
    # `chaos` imports the providers from the chaosbot these tests run (not another checkout's).
    env = {**os.environ, "PYTHONPATH": str(Path(bot.__file__).parents[1])}
    result = subprocess.run(
        [*command, "validate", str(path)], capture_output=True, text=True, timeout=60, env=env
    )
    return result.returncode, result.stdout + result.stderr
