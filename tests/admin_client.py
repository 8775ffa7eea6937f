"""A test client that acts as a platform administrator (an API key on ``/``).

The NGSI-LD, ingestion and device tests test semantics, not access control
(tests/security does that), so they run with authentication on, as in
production, with a platform-admin key: the real authentication path, a
pass-through scoped store.
"""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from bocage.domain.access import ROOT, Grant


def admin_key(app: Any) -> str:
    _, key = app.state.security.create_key([Grant("admin", ROOT)], name="tests", by="tests")
    return str(key)


def admin_client(app: Any) -> TestClient:
    return TestClient(app, raise_server_exceptions=False,
                      headers={"Authorization": f"Bearer {admin_key(app)}"})
