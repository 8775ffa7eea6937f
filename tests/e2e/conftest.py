"""End-to-end fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bocage_process import cli_key, running_bocage


@pytest.fixture(scope="module")
def server_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def server(server_data: Path) -> Iterator[str]:
    with running_bocage("serve", server_data) as base:
        yield base


@pytest.fixture(scope="module")
def http(server: str, server_data: Path) -> Iterator[httpx.Client]:
    """A client with a platform-admin key made by `bocage keys create`, as a user would."""
    key = cli_key(server_data)
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=10) as c:
        yield c
