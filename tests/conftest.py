"""Shared pytest configuration: the fixtures live in tests/fixtures, one module per concern."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.slack",
    "tests.fixtures.kube",
    "tests.fixtures.db",
    "tests.fixtures.bot",
    "tests.fixtures.services",
    "tests.fixtures.engine",
    "tests.fixtures.gamedays",
    "tests.fixtures.canary",
    "tests.fixtures.prometheus",
    "tests.fixtures.alertmanager",
    "tests.fixtures.logs",
]
