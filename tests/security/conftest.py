"""The security tests reuse the Store contract suite and its helpers (tests/storage)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.register_assert_rewrite("contract")
_STORAGE = str(Path(__file__).parents[1] / "storage")
if _STORAGE not in sys.path:
    sys.path.insert(0, _STORAGE)
