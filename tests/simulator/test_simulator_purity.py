"""The simulator's core modules stay pure: no I/O, no threads, no store, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIMULATOR = Path(__file__).parents[2] / "bocage" / "simulator"
PURE = ("admin", "geography", "rand", "territory", "sun", "weather", "profiles", "scenario",
        "energy", "environment",
        "envelope", "schedule", "encoding")
FORBIDDEN = {"sqlite3", "psycopg", "fastapi", "starlette", "httpx", "socket", "subprocess",
             "uvicorn", "asyncio", "threading", "time", "os", "pathlib", "importlib",
             "bocage.storage", "bocage.api", "bocage.ingest", "bocage.simulator.sinks",
             "bocage.simulator.runner", "bocage.simulator.seeding",
             "bocage.simulator.communes"}


@pytest.mark.parametrize("module", PURE)
def test_core_module_imports_nothing_impure(module: str) -> None:
    tree = ast.parse((SIMULATOR / f"{module}.py").read_text())
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert not any(name == f or name.startswith(f + ".") for f in FORBIDDEN), (
                f"{module}.py imports {name}")
