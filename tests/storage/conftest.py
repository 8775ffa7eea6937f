"""Makes the Store contract suite (``contract.py``) importable from the backend
test modules: ``tests/`` has no packages, so put this folder on sys.path, and
let pytest rewrite its asserts as it does for test modules."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.register_assert_rewrite("contract")
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
