"""Schemathesis against /openapi.json: generated requests on every operation, as the
platform administrator (so requests reach the handlers) and anonymously. No 5xx, and
every error is NGSI-LD problem details. Bounded here (BOCAGE_FUZZ_EXAMPLES, default 10
per operation); `make fuzz` runs many more."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.domain.access import ROOT, Grant
from bocage.settings import Settings
from bocage.storage.sqlite import SQLiteStore

EXAMPLES = int(os.environ.get("BOCAGE_FUZZ_EXAMPLES", "10"))


@pytest.fixture
def fuzz_app(tmp_path: Path) -> Iterator[Any]:
    tmp = tmp_path  # an app is started once: a fresh one per test
    store = SQLiteStore(tmp / "bocage.db")
    app = create_app(Settings(database_url=f"sqlite:///{tmp}/bocage.db",
                              chirpstack_secret="cs", tts_secret="tts",
                              login_rate_per_minute=1_000_000), store)
    _, key = app.state.security.create_key([Grant("admin", ROOT)], name="fuzz", by="fuzz")
    app.state.fuzz_key = key
    yield app
    store.close()


def check_problem(response: Any, case: Any) -> None:
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, f"{where} -> {response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        kind = response.headers.get("content-type", "")
        kind = kind[0] if isinstance(kind, list) else kind
        assert kind.startswith("application/problem+json"), f"{where} -> {kind}"
        body = response.json()
        assert body["status"] == response.status_code and body["type"].startswith("https://")
        assert "Traceback" not in response.text


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests(fuzz_app: Any, mode: GenerationMode) -> None:
    """Valid-by-schema and invalid-by-schema requests, on every operation, with and
    without credentials. (schemathesis's own pytest plugin does not run under this pytest
    version, so its strategies drive hypothesis directly.)"""
    api = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    # one client, one app start (a generated call of its own would restart the app)
    client = TestClient(fuzz_app, raise_server_exceptions=False)
    client.__enter__()
    admin = {"Authorization": f"Bearer {fuzz_app.state.fuzz_key}"}
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            for headers in (admin, {}):
                kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
                kwargs.pop("timeout", None)
                kwargs.pop("allow_redirects", None)
                if isinstance(kwargs.get("data"), bytes | str):  # a raw body
                    kwargs["content"] = kwargs.pop("data")
                client.cookies.clear()
                for name, value in (kwargs.pop("cookies", None) or {}).items():
                    client.cookies.set(name, value)
                check_problem(client.request(**kwargs), case)

        try:
            run()
        except Unsatisfiable:  # nothing can be invalid about it (no parameter, no body)
            assert mode is GenerationMode.NEGATIVE, operation.label
    client.__exit__(None, None, None)
