"""The core stays pure: no I/O, no framework, no storage import in bocage.domain or the
history core (bocage.history: codec, durations, aggregation, retention)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "bocage"
PURE = (PACKAGE / "domain", PACKAGE / "history")
FORBIDDEN = {"sqlite3", "psycopg", "fastapi", "starlette", "httpx", "socket", "subprocess",
             "requests", "uvicorn", "bocage.storage", "bocage.api", "asyncio", "threading"}


def test_domain_imports_nothing_impure() -> None:
    paths = [path for folder in PURE for path in folder.glob("*.py")]
    assert paths
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in FORBIDDEN), (
                    f"{path.name} imports {name}"
                )
