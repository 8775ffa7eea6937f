"""The foundation's acceptance scenario, against a real `bocage serve` process.

A Smart Data Models WasteContainer is created with its @context served on
loopback (as a user's own context server would), read back intact, and found by
q and geoQ — exactly as an integrator would do it with curl.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sdm"
SYSTEM = {"createdAt", "modifiedAt"}


def _strip_system(value: object) -> object:
    if isinstance(value, dict):
        return {k: _strip_system(v) for k, v in value.items() if k not in SYSTEM}
    return value


def _offset_point(lon: float, lat: float, km: float) -> tuple[float, float]:
    """A point `km` kilometres due north."""
    return lon, lat + km / 111.195


def test_wastecontainer_round_trip_q_and_geo(
        server: str, http: httpx.Client, context_server: str) -> None:
    ctx_url = f"{context_server}/sdm/wastemanagement-context.jsonld"
    entity = json.loads((FIXTURES / "wastecontainer-example-normalized.jsonld").read_text())
    entity["@context"] = [ctx_url]
    api = f"{server}/ngsi-ld/v1"

    r = http.post(f"{api}/entities", json=entity,
                   headers={"Content-Type": "application/ld+json"})
    assert r.status_code == 201, r.text

    link = f'<{ctx_url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    got = http.get(f"{api}/entities/{entity['id']}", headers={"Link": link})
    assert got.status_code == 200, got.text
    expected = {k: v for k, v in entity.items() if k != "@context"}
    assert _strip_system(got.json()) == expected

    # the terms really were expanded with the SDM context, not the default vocabulary
    raw = http.get(f"{api}/entities/{entity['id']}").json()
    assert "https://smartdatamodels.org/dataModel.WasteManagement/binFullnessThreshold" in raw

    def query(**params: str) -> list[str]:
        resp = http.get(f"{api}/entities", params={"type": "WasteContainer", **params},
                         headers={"Link": link})
        assert resp.status_code == 200, resp.text
        return [e["id"] for e in resp.json()]

    assert query(q="binFullnessThreshold>50") == [entity["id"]]
    assert query(q="binFullnessThreshold>90") == []

    lon, lat = entity["location"]["value"]["coordinates"]
    near = f"[{lon + 0.001},{lat}]"
    assert query(georel="near;maxDistance==2000", geometry="Point", coordinates=near) == [
        entity["id"]]
    far_lon, far_lat = _offset_point(lon, lat, 80)
    assert math.isclose(far_lat - lat, 0.7195, rel_tol=1e-3)
    far = f"[{far_lon},{far_lat}]"
    assert query(georel="near;maxDistance==2000", geometry="Point", coordinates=far) == []
