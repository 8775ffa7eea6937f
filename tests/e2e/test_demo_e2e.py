"""`bocage demo` serves example equipment, and keeps it across restarts."""

from __future__ import annotations

from pathlib import Path

import httpx
from bocage_process import running_bocage


def demo_keys(data: Path) -> dict[str, str]:
    """The keys `bocage demo` wrote beside its database (``export BOCAGE_ADMIN_KEY=...``)."""
    keys = {}
    for line in (data / "demo-keys.env").read_text().splitlines():
        name, _, key = line.removeprefix("export ").partition("=")
        keys[name] = key
    return keys


def test_demo_serves_example_equipment_and_restarts_cleanly(tmp_path: Path) -> None:
    previous: dict[str, str] = {}
    for _ in range(2):  # a second start must not duplicate or fail
        with running_bocage("demo", tmp_path) as base:
            api = f"{base}/ngsi-ld/v1"
            keys = demo_keys(tmp_path)
            admin = {"Authorization": f"Bearer {keys['BOCAGE_ADMIN_KEY']}"}
            agent = {"Authorization": f"Bearer {keys['BOCAGE_AGENT_KEY']}"}
            # anonymous callers see open data only
            assert set(httpx.get(f"{api}/types").json()["typeList"]) == {
                "ParkingSite", "EVChargingStation"}
            types = httpx.get(f"{api}/types", headers=admin).json()["typeList"]
            assert {"Streetlight", "WasteContainer", "ParkingSite"} <= set(types)
            r = httpx.get(f"{api}/entities", headers=admin,
                          params={"type": "WasteContainer", "q": "fillingLevel>0.5"})
            assert [e["id"] for e in r.json()] == ["urn:ngsi-ld:WasteContainer:01202-0001"]
            ambe = httpx.get(f"{api}/entities", headers=admin, params={
                "scopeQ": "/FR/01/240100883/01004", "count": "true", "limit": 0})
            assert ambe.headers["NGSILD-Results-Count"] == "4"
            # the agent of Ambérieu sees Ambérieu's 4 entities, not Lagnieu's bin
            mine = httpx.get(f"{api}/entities", headers=agent,
                             params={"count": "true", "limit": 0})
            assert mine.headers["NGSILD-Results-Count"] == "4"
            near = httpx.get(f"{api}/entities", headers=admin, params={
                "georel": "near;maxDistance==500", "geometry": "Point",
                "coordinates": "[5.3445,45.8990]"})
            assert [e["id"] for e in near.json()] == ["urn:ngsi-ld:WasteContainer:01202-0001"]
            assert "location" in near.json()[0]
            # the keys of the previous start were revoked
            for old in previous.values():
                r = httpx.get(f"{api}/entities", headers={"Authorization": f"Bearer {old}"})
                assert r.status_code == 401
            previous = keys
