"""End-to-end fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bocage_process import running_bocage


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_bocage("serve", tmp_path_factory.mktemp("serve")) as base:
        yield base
