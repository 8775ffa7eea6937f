"""`bocage demo` serves example equipment, and keeps it across restarts."""

from __future__ import annotations

from pathlib import Path

import httpx
from bocage_process import running_bocage


def test_demo_serves_example_equipment_and_restarts_cleanly(tmp_path: Path) -> None:
    for _ in range(2):  # a second start must not duplicate or fail
        with running_bocage("demo", tmp_path) as base:
            api = f"{base}/ngsi-ld/v1"
            types = httpx.get(f"{api}/types").json()["typeList"]
            assert {"Streetlight", "WasteContainer", "ParkingSite"} <= set(types)
            r = httpx.get(f"{api}/entities", params={"type": "WasteContainer",
                                                     "q": "fillingLevel>0.5"})
            assert [e["id"] for e in r.json()] == ["urn:ngsi-ld:WasteContainer:01202-0001"]
            ambe = httpx.get(f"{api}/entities", params={"scopeQ": "/FR/01/240100883/01004",
                                                        "count": "true", "limit": 0})
            assert ambe.headers["NGSILD-Results-Count"] == "4"
            near = httpx.get(f"{api}/entities", params={
                "georel": "near;maxDistance==500", "geometry": "Point",
                "coordinates": "[5.3445,45.8990]"})
            assert [e["id"] for e in near.json()] == ["urn:ngsi-ld:WasteContainer:01202-0001"]
            assert "location" in near.json()[0]
