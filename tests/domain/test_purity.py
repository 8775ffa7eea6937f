"""The core stays pure: no I/O, no framework, no storage import in bocage.domain."""

from __future__ import annotations

import ast
from pathlib import Path

DOMAIN = Path(__file__).parents[2] / "bocage" / "domain"
FORBIDDEN = {"sqlite3", "psycopg", "fastapi", "starlette", "httpx", "socket", "subprocess",
             "requests", "uvicorn", "bocage.storage", "bocage.api", "asyncio", "threading"}


def test_domain_imports_nothing_impure() -> None:
    for path in DOMAIN.glob("*.py"):
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
